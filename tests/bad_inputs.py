#!/usr/bin/env python3
"""Runs the bad-input corpus in tests/bad/ against the built npusim.

usage: bad_inputs.py NPUSIM SOURCE_ROOT

Each case of tests/bad/cases.txt names a file, the exit code npusim must
give and a fragment its message must hold (see the header of cases.txt).
Beyond the code and the fragment, every case checks that:
  - npusim did not crash (a signal, exit >= 128) and did not exit 0;
  - the error is one line on stderr (warnings and the usage hint aside);
  - a `run` case left no trace that reads back as a complete run.
The corpus is copied to a temporary directory and run from there, so the
messages name the files as `FILE:LINE:` relative to it.
"""
import concurrent.futures
import os
import shlex
import shutil
import subprocess
import sys
import tempfile

NPUSIM = os.path.abspath(sys.argv[1])
SRC = os.path.abspath(sys.argv[2])
BAD = os.path.join(SRC, "tests", "bad")
MIN_CASES = 40
JOBS = max(2, os.cpu_count() or 1)  # the cases are process starts: run them side by side
VALID = {"ok_net.ini", "s_ok.ini"}
AUX = ["rows_big.csv"]  # valid files the --set cases start from


def generated(name, path):
    """Files that are better written here than kept in git."""
    if name == "n_long_line.ini":
        data = "; n_long_line.ini\n[area a]\nthreshold = " + "1" * 70000 + "\nsize = 1x1x1\n"
    elif name == "n_long_comment.ini":
        data = "; n_long_comment.ini\n[area a]\n; " + "x" * 65600 + "\nsize = 1x1x1\n"
    elif name == "rows_big.csv":
        data = "source,target,weight,psp,type\n" + "0,1,1,1,1\n" * 70000
    elif name == "n_missing.ini":
        return  # the point is that it does not exist
    else:
        raise SystemExit(f"cases.txt: no generator for gen:{name}")
    with open(path, "w") as f:
        f.write(data)


def parse_cases(path):
    cases = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            extra = []
            if " || " in line:
                line, args = line.split(" || ", 1)
                extra = shlex.split(args)
            parts = line.split(None, 3)
            if len(parts) != 4 or parts[0] not in ("network", "run") or not parts[2].isdigit():
                raise SystemExit(f"cases.txt:{n}: expected KIND FILE EXIT FRAGMENT [|| ARGS]")
            kind, name, code, frag = parts
            cases.append((n, kind, name, int(code), frag.strip(), extra))
    return cases


def trace_is_valid(path):
    """True when a file at path reads back as a finished trace."""
    if not os.path.exists(path):
        return False
    r = subprocess.run([NPUSIM, "info", path], capture_output=True, text=True)
    return r.returncode == 0 and "status:          complete" in r.stdout


def damaged_traces(tmp):
    """Damaged copies of a small real trace, made here: cut short, one bit
    flipped, and a newer format version.  `info` and `export` must never
    crash, never call a damaged trace complete, and say what is wrong.

    Every cut and every bit flip is checked in-process by test_trace.c,
    where it costs microseconds; here each check is two process starts, so
    this samples: every offset in the first 96 bytes (the fixed header),
    the last 32 (the end record) and 128 spread over the rest."""
    good = os.path.join(tmp, "good.trace")
    r = subprocess.run([NPUSIM, "run", os.path.join(SRC, "scenarios", "quickstart.ini"), "--bursts=6",
                        f"--out={good}", "--backend=cpu", "--quiet"], capture_output=True, text=True)
    if r.returncode != 0:
        return 0, [f"damaged traces: could not make one: {r.stderr.strip()}"]
    data = open(good, "rb").read()
    size = len(data)
    offsets = sorted(set(range(min(96, size))) | set(range(max(0, size - 32), size))
                     | set(range(0, size, max(1, size // 128))))

    def check(job):
        n, label, blob, ok = job
        bad = os.path.join(tmp, f"damaged{n}.trace")
        with open(bad, "wb") as f:
            f.write(blob)
        try:
            for cmd in (["info", bad], ["export", bad, "--format=csv"]):
                r = subprocess.run([NPUSIM, *cmd], capture_output=True, text=True, errors="replace")
                why = ok(r)
                if r.returncode < 0 or r.returncode >= 128:
                    why = f"CRASH: exit {r.returncode}"
                if why:
                    return f"trace {label}, {cmd[0]}: {why}\n    stderr: {r.stderr.strip()}"
            return None
        finally:
            os.unlink(bad)

    def cut(r):
        if r.returncode == 0 and "complete" not in r.stdout.split("status:")[-1][:40]:
            return None     # read up to the cut, not called complete
        if r.returncode == 5 and "cut short" in r.stderr:
            return None     # cut inside the header
        if r.returncode == 0 and "cut short" in r.stderr:
            return None     # export warns
        return f"exit {r.returncode}, expected a cut-short report"

    def corrupt(r):
        if r.returncode == 5 and r.stderr.strip():
            return None
        return f"exit {r.returncode}, expected 5 (corrupt) with a message"

    def newer_version(r):
        if r.returncode == 5 and "newer than this npusim reads" in r.stderr:
            return None
        return f"exit {r.returncode}, expected 5 naming the newer version"

    jobs = []
    for n in offsets:
        jobs.append((len(jobs), f"cut at byte {n} of {size}", data[:n], cut))
    for n in offsets:
        blob = bytearray(data)
        blob[n] ^= 1 << (n % 8)
        jobs.append((len(jobs), f"bit {n % 8} of byte {n} flipped", bytes(blob), corrupt))
    newer = bytearray(data)
    newer[8:12] = (2).to_bytes(4, "little")
    jobs.append((len(jobs), "of format version 2", bytes(newer), newer_version))
    with concurrent.futures.ThreadPoolExecutor(JOBS) as pool:
        failed = [f for f in pool.map(check, jobs) if f]
    return len(jobs) - len(failed), failed


def run_case(tmp, work, case):
    """One corpus case; returns None when it passed, else what went wrong."""
    lineno, kind, name, code, frag, extra = case
    label = f"cases.txt:{lineno} {kind} {name} {' '.join(extra)}".rstrip()
    if name.startswith("gen:"):
        name = name[4:]
    out = os.path.join(tmp, f"out{lineno}.trace")
    if kind == "network":
        cmd = [NPUSIM, "network", name, *extra]
    else:
        cmd = [NPUSIM, "run", name, f"--out={out}", "--backend=cpu", *extra]
    try:
        r = subprocess.run(cmd, cwd=work, capture_output=True, timeout=60,
                           errors="replace", text=True)
    except subprocess.TimeoutExpired:
        return f"{label}: timed out"
    errors = [l for l in r.stderr.splitlines()
              if l.strip() and "warning:" not in l and not l.startswith("(see `npusim help")]
    problems = []
    if r.returncode < 0 or r.returncode >= 128:
        problems.append(f"CRASH: exit {r.returncode}")
    elif r.returncode == 0:
        problems.append("accepted (exit 0)")
    if r.returncode != code:
        problems.append(f"exit {r.returncode}, expected {code}")
    if frag not in r.stderr:
        problems.append(f"message lacks {frag!r}")
    if len(errors) != 1:
        problems.append(f"expected a one-line error, got {len(errors)} lines")
    elif not errors[0].startswith("npusim"):
        problems.append("error line does not start with 'npusim'")
    if r.stdout.strip():
        problems.append("printed on stdout")
    if kind == "run" and trace_is_valid(out):
        problems.append("left a complete trace behind")
    if problems:
        return f"{label}: " + "; ".join(problems) + f"\n    stderr: {r.stderr.strip()}"
    return None


def main():
    tmp = tempfile.mkdtemp(prefix="npu_bad.")
    work = os.path.join(tmp, "bad")
    shutil.copytree(BAD, work)
    for aux in AUX:     # data files that cases refer to, too big for git
        generated(aux, os.path.join(work, aux))
    cases = parse_cases(os.path.join(BAD, "cases.txt"))
    passed, failed = 0, []

    covered = {c[2] for c in cases}
    for f in sorted(os.listdir(BAD)):
        if f.endswith(".ini") and f not in VALID and f not in covered:
            failed.append(f"{f}: in tests/bad/ but has no case in cases.txt")

    for case in cases:     # generated inputs first: the cases then run side by side
        if case[2].startswith("gen:"):
            generated(case[2][4:], os.path.join(work, case[2][4:]))
    with concurrent.futures.ThreadPoolExecutor(JOBS) as pool:
        results = list(pool.map(lambda c: run_case(tmp, work, c), cases))
    failed += [f for f in results if f]
    passed += sum(1 for f in results if not f)

    p, f = damaged_traces(tmp)
    passed += p
    failed += f

    if len(cases) < MIN_CASES:
        failed.append(f"only {len(cases)} cases, expected at least {MIN_CASES}")
    for f in failed:
        print(f"FAIL: {f}", file=sys.stderr)
    shutil.rmtree(tmp, ignore_errors=True)
    print(f"{passed} passed, {len(failed)} failed ({len(cases)} cases)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
