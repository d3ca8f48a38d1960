#!/usr/bin/env python3
"""End-to-end tests of `npusim diff`, `info` and `export`.

usage: test_trace_commands.py NPUSIM MKTRACE

Traces are written by tests/mktrace (the writer API), so these tests do not
depend on `npusim run`; a trace from run reads the same way.
"""
import json
import os
import struct
import subprocess
import sys
import tempfile

NPUSIM, MKTRACE = sys.argv[1], sys.argv[2]
TMP = tempfile.mkdtemp(prefix="npu_trace_cmds.")
FAILURES = []

AREAS = ["--neurons=40", "--area=in:0:2:3:2", "--area=v 1:12:4:1:1",
         "--area=out,x:20:5:2:2"]


def path(name):
    return os.path.join(TMP, name)


def mktrace(name, bursts, *opts, end="complete"):
    p = path(name)
    if os.path.exists(p):
        os.unlink(p)
    subprocess.run([MKTRACE, p, *AREAS, f"--end={end}", *opts, *bursts], check=True)
    return p


def npusim(*args):
    r = subprocess.run([NPUSIM, *args], capture_output=True, text=True)
    return r.returncode, r.stdout, r.stderr


def check(cond, what, detail=""):
    if not cond:
        FAILURES.append(what)
        print(f"FAIL: {what}\n{detail}", file=sys.stderr)
    else:
        print(f"ok: {what}")


BURSTS = ["-", "0:1.5,5:-0,21:1e-40", "-", "12:2,39:3.25"]

a = mktrace("a.trace", BURSTS, "--potentials", "--backend=cpu", "--set=scenario.power=1")
same = mktrace("same.trace", BURSTS, "--potentials", "--backend=vulkan", "--device=gpu0",
               "--program=other")
ids_differ = mktrace("ids.trace", ["-", "0:1.5,5:-0,21:1e-40", "-", "12:2,38:3.25"],
                     "--potentials")
mp_differ = mktrace("mp.trace", ["-", "0:1.5,5:0,21:1e-40", "-", "12:2,39:3.25"],
                    "--potentials")
no_pot = mktrace("nopot.trace", BURSTS)
short = mktrace("short.trace", BURSTS[:3], "--potentials", end="none")
longer = mktrace("long.trace", BURSTS + ["-"], "--potentials")
other_layout = subprocess.run([MKTRACE, path("layout.trace"), "--neurons=40",
                               "--area=in:0:12:1:1", "--area=v 1:12:4:1:1",
                               "--area=out,x:20:5:2:2", "--potentials", *BURSTS], check=True)

# --- diff ---
rc, out, err = npusim("diff", a, same)
check(rc == 0, "diff: same fires, different metadata -> 0", out + err)
check("same fires" in out, "diff: says same fires", out)

rc, out, err = npusim("diff", a, ids_differ)
check(rc == 1, "diff: different ids -> 1", out + err)
check("differ at burst 4" in out and "only in A (1): 39" in out and "only in B (1): 38" in out,
      "diff: names the burst and the ids", out)

rc, out, err = npusim("diff", a, mp_differ)
check(rc == 1, "diff: -0 vs 0 potential -> 1", out + err)
check("differ at burst 2" in out and "neuron 5: A -0 (0x80000000)  B 0 (0x00000000)" in out,
      "diff: prints both potentials and their bits", out)

rc, out, err = npusim("diff", "--quiet", a, mp_differ)
check(rc == 1 and out == "", "diff --quiet: exit code only", out)

rc, out, err = npusim("diff", a, no_pot)
check(rc == 0 and "comparing neuron ids only" in out, "diff: one without potentials -> ids only",
      out + err)

rc, out, err = npusim("diff", a, short)
check(rc == 1, "diff: cut-short trace -> 1", out + err)
check("B is cut short" in out and "A has 4 bursts" in out and "B has 3" in out,
      "diff: says which is cut short", out)

rc, out, err = npusim("diff", longer, a)
check(rc == 1 and "A has 5 bursts" in out, "diff: longer trace -> 1", out + err)

rc, out, err = npusim("diff", a, path("layout.trace"))
check(rc == 1 and "area tables differ" in out, "diff: area tables differ -> 1", out + err)

rc, out, err = npusim("diff", a, path("missing.trace"))
check(rc == 4 and "missing.trace" in err, "diff: missing file -> 4 (io)", out + err)

rc, out, err = npusim("diff", a)
check(rc == 2, "diff: one argument -> 2 (usage)", out + err)

with open(a, "rb") as f:
    data = bytearray(f.read())
corrupt = path("corrupt.trace")
data[-30] ^= 0x10
with open(corrupt, "wb") as f:
    f.write(data)
rc, out, err = npusim("diff", a, corrupt)
check(rc == 5 and "corrupt" in err, "diff: corrupt trace -> 5", out + err)

# --- info ---
rc, out, err = npusim("info", "--json", a)
check(rc == 0, "info --json: exit 0", out + err)
try:
    j = json.loads(out)
    check(j["bursts"] == 4 and j["total_fires"] == 5 and j["complete"] is True
          and j["end"] == "complete" and j["backend"] == "cpu"
          and j["overrides"] == ["scenario.power=1"] and j["potentials"] is True
          and j["network"]["digest"] == "0000000000001234" and j["error"] is None,
          "info --json: header and totals", out)
    ar = {x["name"]: x for x in j["areas"]}
    check(ar["in"]["fires"] == 2 and ar["in"]["first_fire_burst"] == 2
          and ar["in"]["last_fire_burst"] == 2 and ar["v 1"]["fires"] == 1
          and ar["v 1"]["first_fire_burst"] == 4 and ar["out,x"]["fires"] == 2
          and abs(ar["out,x"]["rate"] - 2 / (4 * 20)) < 1e-12,
          "info --json: per-area fires, rate, first and last", out)
except (ValueError, KeyError) as e:
    check(False, "info --json parses", f"{e}\n{out}")

rc, out, err = npusim("info", short, "--json")
j = json.loads(out)
check(rc == 0 and j["complete"] is False and j["end"] == "cut_short" and j["last_burst"] == 3,
      "info: cut short at burst 3", out + err)

rc, out, err = npusim("info", mktrace("intr.trace", BURSTS[:2], end="interrupted"))
check(rc == 0 and "interrupted after burst 2" in out, "info: interrupted", out + err)

rc, out, err = npusim("info", corrupt)
check(rc == 5 and "network digest" in out and "corrupt" in err,
      "info: corrupt -> prints what was read, exit 5", out + err)
rc, out, err = npusim("info", "--json", corrupt)
check(rc == 5 and json.loads(out)["error"]["code"] == 5, "info --json: corrupt -> error object",
      out + err)

newer = path("newer.trace")
with open(a, "rb") as f:
    data = bytearray(f.read())
data[8] = 2
with open(newer, "wb") as f:
    f.write(data)
rc, out, err = npusim("info", newer)
check(rc == 5 and "trace format version 2 is newer than this npusim reads (1)" in err,
      "info: newer version refused", out + err)

# --- export ---
rc, out, err = npusim("export", a, "--format=csv")
expect = ("burst,neuron,area,x,y,z,mp\n"
          "2,0,in,0,0,0,1.5\n"
          "2,5,in,1,2,0,-0\n"
          "2,21,\"out,x\",1,0,0,%s\n"
          "4,12,v 1,0,0,0,2\n"
          "4,39,\"out,x\",4,1,1,3.25\n") % ("%.9g" % struct.unpack("<f", struct.pack("<f", 1e-40))[0])
check(rc == 0 and out == expect, "export csv: exact rows", f"{out!r}\n{expect!r}\n{err}")

rc, out, err = npusim("export", no_pot, "--format=csv")
check(rc == 0 and out.splitlines()[1] == "2,0,in,0,0,0,", "export csv: empty mp without potentials",
      out + err)

outfile = path("spikes.txt")
rc, out, err = npusim("export", a, "--format=bmtk", "-o", outfile)
with open(outfile) as f:
    got = f.read()
expect = ("timestamps population node_ids\n"
          "2 in 0\n2 in 5\n2 out,x 1\n4 v_1 0\n4 out,x 19\n")
check(rc == 0 and got == expect and out == "" and "v_1" in err,
      "export bmtk: layout, names without spaces", f"{got!r}\n{expect!r}\n{err}")

rc, out, err = npusim("export", short, "--format=csv")
check(rc == 0 and "cut short" in err and out.count("\n") == 4,
      "export: cut short -> rows there are, warning, exit 0", out + err)

rc, out, err = npusim("export", corrupt, "--format=csv")
check(rc == 5, "export: corrupt -> 5", out + err)

if os.access("/dev/full", os.W_OK):
    rc, out, err = npusim("export", a, "--format=csv", "-o", "/dev/full")
    check(rc == 4 and "/dev/full" in err, "export: full disk -> 4 (io)", out + err)

rc, out, err = npusim("export", a)
check(rc == 2, "export: no --format -> 2 (usage)", out + err)
rc, out, err = npusim("export", a, "--format=xml")
check(rc == 2, "export: bad --format -> 2 (usage)", out + err)

# --- a run killed with SIGKILL after flushing burst 3 ---
killed = path("killed.trace")
r = subprocess.run([MKTRACE, killed, *AREAS, "--potentials", "--kill-after=3", *BURSTS])
check(r.returncode == -9, "mktrace --kill-after: killed by SIGKILL", str(r.returncode))
rc, out, err = npusim("info", "--json", killed)
j = json.loads(out) if rc == 0 else {}
check(rc == 0 and j.get("end") == "cut_short" and j.get("last_burst") == 3,
      "info: killed run reads as cut short at burst 3", out + err)
rc, out, err = npusim("diff", killed, short)
check(rc == 0, "diff: killed run equals the same bursts cut short", out + err)

# --- the writer refuses to overwrite ---
r = subprocess.run([MKTRACE, a, "-"], capture_output=True, text=True)
check(r.returncode == 4 and "exists" in r.stderr, "writer: existing file refused", r.stderr)

if FAILURES:
    print(f"{len(FAILURES)} failed; files kept in {TMP}", file=sys.stderr)
    sys.exit(1)
subprocess.run(["rm", "-rf", TMP], check=True)
print("all trace command tests passed")
