#!/usr/bin/env python3
"""End-to-end tests of the experiment tools: tools/sweep, tools/plot,
`npusim info --json` activity series and `npusim export --format=sonata`.

usage: tools.py NPUSIM SOURCE_ROOT sweep|plot|sonata

sweep:  a 2x2 grid x 2 seeds on a tiny scenario: results.csv rows and
        columns; resume (all skipped; a deleted and a cut-short trace rerun,
        nothing else); --emit=parallel and --emit=slurm files; --diff-backends
        with cpu,cpu; a failing run reported; info --json activity sums.
plot:   tools/plot and sweep --plot make PNGs; skipped (77) when no python3
        here can import matplotlib.
sonata: the export read back with h5dump against the CSV export; skipped
        (77) without h5dump; a build without HDF5 must refuse with exit 2.
Python standard library only.
"""
import csv
import glob
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile

NPUSIM = os.path.abspath(sys.argv[1])
SRC = os.path.abspath(sys.argv[2])
MODE = sys.argv[3]
SWEEP = os.path.join(SRC, "tools", "sweep")
PLOT = os.path.join(SRC, "tools", "plot")
TMP = tempfile.mkdtemp(prefix=f"npu_tools_{MODE}.")
SKIP = 77
FAILED = []

NET = """[network]
name = tiny
seed = 5
[area power]
size = 1x1x1
power = true
threshold = 1
refractory = 1
[area a]
size = 4x4x1
threshold = 1
leak = 0.2
[area b]
size = 2x2x1
threshold = 2
[connect power -> a]
rule = all_to_all
weight = 1
psp = 1
[connect a -> b]
rule = random
probability = 0.5
weight = 1
psp = 1
"""
SCN = """[scenario]
network = tiny.ini
bursts = 40
power = 1.5
seed = 1
backend = cpu
[stimulus noise]
area = a
neurons = random 0.3
potential = 1.2
"""
GRID = ["--grid", "network.area b.threshold=1,2", "--grid", "scenario.power=0.5,1.5"]


def check(cond, what, detail=""):
    if cond:
        print(f"ok: {what}")
    else:
        FAILED.append(what)
        print(f"FAIL: {what}\n{detail}".rstrip(), file=sys.stderr)


def run(cmd, **kw):
    return subprocess.run(cmd, cwd=TMP, capture_output=True, text=True, timeout=300, **kw)


def sweep(*args, python=sys.executable):
    return run([python, SWEEP, os.path.join(TMP, "tiny.scn.ini"), "--npusim", NPUSIM, *args])


def rows(outdir):
    with open(os.path.join(outdir, "results.csv"), newline="") as f:
        return list(csv.DictReader(f))


def setup():
    with open(os.path.join(TMP, "tiny.ini"), "w") as f:
        f.write(NET)
    with open(os.path.join(TMP, "tiny.scn.ini"), "w") as f:
        f.write(SCN)


def test_sweep():
    out = os.path.join(TMP, "sw")
    r = sweep(*GRID, "--seeds", "1-2", "--backends", "cpu", "-j", "4", "-o", out)
    check(r.returncode == 0, "sweep 2x2 grid x 2 seeds: exit 0", r.stderr)
    rs = rows(out)
    check(len(rs) == 8, "results.csv: 8 rows", f"{len(rs)} rows")
    cols = list(rs[0].keys()) if rs else []
    want = ["run", "status", "exit_code", "network.area b.threshold", "scenario.power", "seed",
            "backend", "fires", "bursts", "synaptic_events", "wall_seconds", "network_digest",
            "host_seconds.trace", "rate_power", "rate_a", "rate_b", "fires_a"]
    check(all(c in cols for c in want), "results.csv: override, seed, backend, summary and "
          "rate_AREA columns", f"missing {[c for c in want if c not in cols]}")
    check(all(r["status"] == "complete" and r["bursts"] == "40" for r in rs),
          "results.csv: every run complete, 40 bursts", str(rs[:1]))
    points = {(r["network.area b.threshold"], r["scenario.power"], r["seed"]) for r in rs}
    check(len(points) == 8, "results.csv: every grid point and seed once", str(points))
    low = {float(r["rate_power"]) for r in rs if r["scenario.power"] == "0.5"}
    high = {float(r["rate_power"]) for r in rs if r["scenario.power"] == "1.5"}
    check(len(low) == 1 and high == {0.5} and low.pop() < 0.5,
          "results.csv: the power neuron's rate follows scenario.power (1.5: every other burst)",
          f"{low} {high}")
    names = [r["run"] for r in rs]
    check(all(os.path.exists(os.path.join(out, n + ext)) for n in names for ext in
              (".trace", ".json", ".log")), "one trace, summary and log per run", str(names))
    check(len(set(names)) == 8 and all("/" not in n and " " not in n for n in names),
          "run names unique, no spaces or slashes", str(names))

    mtimes = {p: os.stat(p).st_mtime_ns for p in glob.glob(os.path.join(out, "*.trace"))}
    r = sweep(*GRID, "--seeds", "1-2", "-o", out)
    check(r.returncode == 0 and "0 ran, 8 already done" in r.stderr, "resume: all 8 skipped",
          r.stderr)
    check(all(os.stat(p).st_mtime_ns == t for p, t in mtimes.items()),
          "resume: no trace rewritten", "")
    check(len(rows(out)) == 8, "resume: results.csv still has all 8 rows", "")

    gone, short = (os.path.join(out, names[i] + ".trace") for i in (1, 6))
    os.unlink(gone)
    size = os.path.getsize(short)
    with open(short, "r+b") as f:
        f.truncate(size // 2)
    info = run([NPUSIM, "info", short, "--json"])
    check(json.loads(info.stdout)["end"] == "cut_short", "the truncated trace reads as cut short",
          info.stdout + info.stderr)
    r = sweep(*GRID, "--seeds", "1-2", "-o", out)
    ran = sorted(line.split("] ", 1)[1].split(":")[0] for line in r.stderr.splitlines()
                 if ": ran," in line)
    check(r.returncode == 0 and ran == sorted([names[1], names[6]]),
          "resume: exactly the deleted and the cut-short runs rerun", r.stderr)
    check(os.path.getsize(short) == size, "resume: the cut-short trace is whole again", "")

    # --emit: nothing runs; the job list is what a cluster would run.
    em = os.path.join(TMP, "em")
    r = sweep(*GRID, "--seeds", "1-2", "-o", em, "--emit=parallel")
    jobs = open(os.path.join(em, "jobs.txt")).read().splitlines() if r.returncode == 0 else []
    check(r.returncode == 0 and len(jobs) == 8 and "--sshloginfile" in r.stderr,
          "--emit=parallel: 8 job lines, mentions --sshloginfile", r.stderr)
    try:
        toks = [shlex.split(j) for j in jobs]
        check(all(t[0] == NPUSIM and t[1] == "run" and "--quiet" in t and "--json" in t
                  for t in toks), "--emit=parallel: each line parses with shlex, npusim run --json "
              "--quiet", jobs[0] if jobs else "")
    except ValueError as e:
        check(False, "--emit=parallel: lines parse with shlex", str(e))
    check(not glob.glob(os.path.join(em, "*.trace")), "--emit: runs nothing", "")
    hlp = run([sys.executable, SWEEP, "--help"])
    check("--sshloginfile" in hlp.stdout, "sweep --help mentions parallel --sshloginfile", "")
    r = sweep(*GRID, "--seeds", "1-2", "-o", em, "--emit=slurm")
    script = os.path.join(em, "sweep.slurm")
    text = open(script).read() if os.path.exists(script) else ""
    check(r.returncode == 0 and "#SBATCH --array=0-7" in text and "SLURM_ARRAY_TASK_ID" in text,
          "--emit=slurm: a job array 0-7 over the job list", text + r.stderr)
    n = run(["bash", "-n", script])
    check(n.returncode == 0, "--emit=slurm: bash -n accepts the script", n.stderr)
    t = run(["bash", script], env={**os.environ, "SLURM_ARRAY_TASK_ID": "3"})
    check(t.returncode == 0 and len(glob.glob(os.path.join(em, "*.json"))) == 1,
          "array task 3 runs one job and saves its summary", t.stdout + t.stderr)
    r = sweep(*GRID, "--seeds", "1-2", "-o", em)
    check(r.returncode == 0 and "7 ran, 1 already done" in r.stderr,
          "the sweep after a job ran elsewhere: collects it, runs the other 7", r.stderr)

    dfo = os.path.join(TMP, "diff")
    r = sweep(*GRID, "--seeds", "1", "--backends", "cpu,cpu", "--diff-backends", "-o", dfo)
    rs = rows(dfo)
    check(r.returncode == 0 and len(rs) == 8 and "DIFFERENT" not in r.stderr,
          "--diff-backends cpu,cpu: exit 0, no difference", r.stderr)
    check(sorted({x["same_as_cpu"] for x in rs}) == ["reference", "yes"],
          "--diff-backends: same_as_cpu is yes for every second run", str([x["same_as_cpu"] for x in rs]))

    bad = os.path.join(TMP, "bad")
    r = sweep("--grid", "scenario.power=1,abc", "-o", bad)
    rs = rows(bad)
    st = {x["scenario.power"]: (x["status"], x["exit_code"], x["error"]) for x in rs}
    check(r.returncode == 3 and st.get("1", ("",))[0] == "complete" and st.get("abc", ("",))[0]
          == "failed" and st["abc"][1] == "3" and "abc" in st["abc"][2],
          "a failing run: status failed, its exit code and message in results.csv; sweep exit 3",
          f"{r.returncode} {st}\n{r.stderr}")
    r = sweep("--grid", "nodot=1", "-o", bad)
    check(r.returncode == 2, "sweep: a bad --grid is a usage error (exit 2)", r.stderr)

    # info --json activity: sums to the total fires at any resolution.
    trace = os.path.join(out, names[0] + ".trace")
    for series, width in ((1000, 1), (7, 6), (1, 40)):
        r = run([NPUSIM, "info", trace, "--json", f"--series={series}"])
        d = json.loads(r.stdout)
        check(r.returncode == 0 and sum(d["activity"]) == d["total_fires"]
              and d["activity_bin_bursts"] == width and len(d["activity"]) == -(-40 // width),
              f"info --json --series={series}: {-(-40 // width)} bins of {width} bursts summing "
              "to total_fires", r.stdout[-400:])
    r = run([NPUSIM, "info", trace, "--series=0"])
    check(r.returncode == 2, "info --series=0: usage error", r.stderr)


def matplotlib_python():
    for py in (sys.executable, "/usr/bin/python3"):
        if py and os.access(py, os.X_OK) and \
                subprocess.run([py, "-c", "import matplotlib, numpy"], capture_output=True).returncode == 0:
            return py
    return None


def test_plot():
    py = matplotlib_python()
    if not py:
        r = run([sys.executable, PLOT, "x.trace", "-o", "x.png", "--npusim", NPUSIM])
        check(r.returncode != 0 and "python3-matplotlib" in r.stderr,
              "plot without matplotlib: says how to install it", r.stderr)
        print("skip: no python3 with matplotlib (apt-get install python3-matplotlib)")
        return SKIP
    r = run([NPUSIM, "run", "tiny.scn.ini", "--out=t.trace", "--quiet", "--force"])
    check(r.returncode == 0, "run the tiny scenario", r.stderr)
    for extra, what in (((), "dots"), (("--max-dots=0",), "histogram")):
        png = os.path.join(TMP, f"t-{what}.png")
        r = run([py, PLOT, "t.trace", "-o", png, "--npusim", NPUSIM, *extra])
        size = os.path.getsize(png) if os.path.exists(png) else 0
        check(r.returncode == 0 and size > 5000 and open(png, "rb").read(8) == b"\x89PNG\r\n\x1a\n",
              f"plot ({what}): a PNG over 5 KB", f"{size} bytes\n{r.stderr}")
    svg = os.path.join(TMP, "t.svg")
    r = run([py, PLOT, "t.trace", "-o", svg, "--npusim", NPUSIM])
    check(r.returncode == 0 and "<svg" in open(svg).read(2000), "plot: an SVG", r.stderr)
    r = run([py, PLOT, "missing.trace", "-o", "m.png", "--npusim", NPUSIM])
    check(r.returncode == 4 and not os.path.exists(os.path.join(TMP, "m.png")),
          "plot: a missing trace is npusim's exit 4, no picture", r.stderr)
    out = os.path.join(TMP, "swp")
    r = sweep("--grid", "scenario.power=0.5,1,1.5", "--seeds", "1-2", "-o", out, "--plot", python=py)
    pngs = glob.glob(os.path.join(out, "rate_vs_*.png"))
    check(r.returncode == 0 and len(pngs) == 1 and os.path.getsize(pngs[0]) > 5000,
          "sweep --plot: rate against scenario.power", r.stderr)
    return 0


def test_sonata():
    r = run([NPUSIM, "run", "tiny.scn.ini", "--out=s.trace", "--quiet", "--force"])
    check(r.returncode == 0, "run the tiny scenario", r.stderr)
    r = run([NPUSIM, "export", "s.trace", "--format=sonata", "-o", "s.h5"])
    if r.returncode == 2 and "no HDF5 support" in r.stderr:
        check("libhdf5-dev" in r.stderr and not os.path.exists(os.path.join(TMP, "s.h5")),
              "export --format=sonata without HDF5: exit 2, says how to get it", r.stderr)
        return 0
    check(r.returncode == 0, "export --format=sonata: exit 0", r.stderr)
    r2 = run([NPUSIM, "export", "s.trace", "--format=sonata"])
    check(r2.returncode == 2, "export --format=sonata without -o: usage error", r2.stderr)
    h5dump = shutil.which("h5dump")
    if not h5dump:
        print("skip: no h5dump to read the file back (apt-get install hdf5-tools)")
        return SKIP
    attrs = run([h5dump, "-A", "s.h5"]).stdout
    flat = " ".join(attrs.split())
    check('ATTRIBUTE "magic" { DATATYPE H5T_STD_U32LE DATASPACE SCALAR DATA { (0): 2682 } }' in flat,
          "sonata: root magic 0x0A7A as uint32", attrs[:600])
    check('ATTRIBUTE "version" { DATATYPE H5T_STD_U32LE DATASPACE SIMPLE { ( 2 ) / ( 2 ) } '
          'DATA { (0): 0, 1 } }' in flat, "sonata: root version [0, 1]", attrs[:600])
    check(flat.count("(0): by_time") == 3 and flat.count('(0): "ms"') == 3,
          "sonata: every population sorted by_time, timestamps in ms", attrs)

    csv_out = run([NPUSIM, "export", "s.trace", "--format=csv"]).stdout.splitlines()[1:]
    bases = {"power": 0, "a": 1, "b": 17}
    want = {k: ([], []) for k in bases}
    for line in csv_out:
        burst, neuron, area = line.split(",")[:3]
        want[area][0].append(float(burst))
        want[area][1].append(int(neuron) - bases[area])

    def dataset(name, conv):
        path = os.path.join(TMP, "ds.txt")
        d = run([h5dump, "-y", "-w", "0", "-d", name, "-o", path, "s.h5"])
        if d.returncode != 0:
            return None
        text = open(path).read().replace(",", " ").split()
        return [conv(v) for v in text]

    for area in bases:
        ts = dataset(f"/spikes/{area}/timestamps", float)
        ids = dataset(f"/spikes/{area}/node_ids", int)
        check(ts == want[area][0] and ids == want[area][1] and len(ts) > 0,
              f"sonata: /spikes/{area} reads back as the CSV export ({len(want[area][0])} spikes)",
              f"ts {ts[:10] if ts else ts}\nwant {want[area][0][:10]}\nids {ids[:10] if ids else ids}")
    dt = run([h5dump, "-H", "s.h5"]).stdout
    dtf = " ".join(dt.split())
    check('DATASET "node_ids" { DATATYPE H5T_STD_U64LE' in dtf
          and 'DATASET "timestamps" { DATATYPE H5T_IEEE_F64LE' in dtf,
          "sonata: node_ids uint64, timestamps float64", dt[:800])
    return 0


def main():
    setup()
    rc = {"sweep": lambda: test_sweep() or 0, "plot": test_plot, "sonata": test_sonata}[MODE]()
    if FAILED:
        print(f"{len(FAILED)} failed: {FAILED}", file=sys.stderr)
        return 1
    shutil.rmtree(TMP, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
