#!/usr/bin/env python3
"""End-to-end tests of the built npusim binary.

usage: e2e.py NPUSIM SOURCE_ROOT

Runs the real binary in a temporary directory: the quickstart scenario and
its JSON summary, exact fire patterns of tiny hand-written networks
(expectations worked out from shared/SEMANTICS.md, float32 values computed
here with struct rounding), --set, --bursts, --seed, --backend, network
export and reload, the help texts and exit codes, and runs stopped by
SIGKILL and SIGINT.  Python standard library only.
"""
import hashlib
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

NPUSIM = os.path.abspath(sys.argv[1])
SRC = os.path.abspath(sys.argv[2])
QUICK = os.path.join(SRC, "scenarios", "quickstart.ini")
QUICK_NET = os.path.join(SRC, "configs", "quickstart.ini")
TMP = tempfile.mkdtemp(prefix="npu_e2e.")
PASSED = 0
FAILED = []

NEURONS_HEADER = ("neuron,area,x,y,z,threshold,threshold_limit,leak,refractory,consecutive_fire_limit,"
                  "snooze,excitability,mp_charge_accumulation,power,mp_driven_psp,psp_uniform_distribution")
SYNAPSES_HEADER = "source,target,weight,psp,type"
Q = 65536
U32 = 0xffffffff


def check(cond, what, detail=""):
    global PASSED
    if cond:
        PASSED += 1
        print(f"ok: {what}")
    else:
        FAILED.append(what)
        print(f"FAIL: {what}\n{detail}".rstrip(), file=sys.stderr)


def npusim(*args, timeout=120):
    r = subprocess.run([NPUSIM, *args], cwd=TMP, capture_output=True, text=True, timeout=timeout)
    return r.returncode, r.stdout, r.stderr


def path(name):
    return os.path.join(TMP, name)


def write(name, text):
    with open(path(name), "w") as f:
        f.write(text)
    return path(name)


def sha(name):
    with open(path(name), "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def f32(x):
    """x rounded to binary32 (round to nearest even)."""
    return struct.unpack("<f", struct.pack("<f", x))[0]


def cand(p):
    """A potential from a file as the dynamics see it: Q16, then float32."""
    return f32(round(p * Q) / Q)   # round() on a float is half-even, like the loader


def fires(trace):
    """[(burst, neuron, mp)] of a trace, through `npusim export --format=csv`."""
    rc, out, err = npusim("export", trace, "--format=csv")
    if rc != 0:
        raise RuntimeError(f"export {trace}: exit {rc}: {err}")
    lines = out.splitlines()
    assert lines[0] == "burst,neuron,area,x,y,z,mp", lines[0]
    rows = []
    for line in lines[1:]:
        f = line.split(",")
        rows.append((int(f[0]), int(f[1]), f32(float(f[-1]))))
    return rows


def simulate(name, network, bursts, power=0.0, stimuli="", extra=()):
    """Writes NAME.ini and NAME.scn.ini, runs them on the CPU and returns the fires."""
    write(f"{name}.ini", network)
    write(f"{name}.scn.ini",
          f"[scenario]\nnetwork = {name}.ini\nbursts = {bursts}\npower = {power}\nbackend = cpu\n"
          + stimuli)
    rc, out, err = npusim("run", f"{name}.scn.ini", f"--out={name}.trace", "--force", "--quiet", *extra)
    if rc != 0:
        raise RuntimeError(f"run {name}: exit {rc}: {err}")
    return fires(f"{name}.trace")


def check_fires(got, want, what):
    check(got == want, what, f"  want {want}\n  got  {got}")


def case(fn):
    """Runs one test function; an exception is a failure, not an abort."""
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - report and go on
        check(False, f"{fn.__name__}: raised {type(e).__name__}: {e}")
    return fn


# ---------------------------------------------------------------------------
# The quickstart scenario

JSON_FIELDS = ["status", "bursts", "fires", "synaptic_events", "wall_seconds", "bursts_per_second",
               "events_per_second", "backend", "device", "trace", "network_digest", "scenario_digest",
               "areas"]


@case
def quickstart_json():
    rc, out, err = npusim("run", QUICK, "--out=q1.trace", "--backend=cpu", "--json")
    check(rc == 0, "run quickstart --json: exit 0", err)
    d = json.loads(out)
    missing = [k for k in JSON_FIELDS if k not in d]
    check(not missing, "run --json: has every summary field", f"missing {missing}")
    check(d["status"] == "complete" and d["bursts"] == 200 and d["fires"] > 0,
          "run --json: complete, 200 bursts, some fires", out)
    check(d["trace"] == "q1.trace" and d["backend"] == "cpu", "run --json: trace and backend", out)
    check(d.get("device_local_bytes", 0) is None and d.get("device_host_visible_bytes", 0) is None,
          "run --json: no device memory on the CPU (null)", out)
    check(all(re.fullmatch(r"[0-9a-f]{16}", d[k]) for k in ("network_digest", "scenario_digest")),
          "run --json: digests are 16 hex digits", out)
    check([a["name"] for a in d["areas"]] == ["power", "retina", "v1", "motor"]
          and all("fires" in a and "rate" in a for a in d["areas"])
          and sum(a["fires"] for a in d["areas"]) == d["fires"],
          "run --json: areas with fires and rate, summing to fires", out)
    power = d["areas"][0]
    check(power["fires"] == 100 and power["rate"] == 0.5,
          "run --json: the power neuron (power 1.5, refractory 1) fires every other burst", out)


@case
def testing_knobs_refuse_bad_values():
    # the environment's testing knobs take only their documented values:
    # anything else is a usage error that names the variable
    for var, bad in (("NPUSIM_CPU_DENSE", "sometimes"), ("NPUSIM_CPU_UNITS", "int8"),
                     ("NPUSIM_CPU_ISA", "sse9"), ("NPUSIM_CPU_SPLIT", "neurons"),
                     ("NPUSIM_GEN_THREADS", "0"),
                     ("NPUSIM_GEN_THREADS", "2x")):
        old = os.environ.get(var)
        os.environ[var] = bad
        try:
            rc, out, err = npusim("run", QUICK, "--no-trace", "--backend=cpu")
        finally:
            if old is None:
                del os.environ[var]
            else:
                os.environ[var] = old
        check(rc == 2 and var in err, f"{var}={bad}: exit 2 naming it", f"exit {rc}: {err}")


@case
def quickstart_quiet_and_repeatable():
    rc, out, err = npusim("run", QUICK, "--out=q2.trace", "--backend=cpu", "--quiet")
    check(rc == 0 and out == "", "run --quiet: exit 0, nothing on stdout", out + err)
    rc, out, err = npusim("diff", "q1.trace", "q2.trace")
    check(rc == 0, "two quickstart runs: identical bursts (diff exit 0)", out + err)


@case
def quickstart_force():
    before = sha("q2.trace")
    mtime = os.stat(path("q2.trace")).st_mtime_ns
    rc, out, err = npusim("run", QUICK, "--out=q2.trace", "--backend=cpu", "--bursts=5")
    check(rc != 0 and "--force" in err, "existing trace: refused, message mentions --force", err)
    check(sha("q2.trace") == before and os.stat(path("q2.trace")).st_mtime_ns == mtime,
          "existing trace: left unchanged", "")
    rc, out, err = npusim("run", QUICK, "--out=q2.trace", "--backend=cpu", "--bursts=5", "--force",
                          "--quiet")
    check(rc == 0 and sha("q2.trace") != before, "--force: overwrites the trace", err)
    rc, out, err = npusim("info", "q2.trace", "--json")
    check(rc == 0 and json.loads(out)["bursts"] == 5, "--force: the new trace has the new run", out + err)


# ---------------------------------------------------------------------------
# Exact fire patterns of tiny networks

@case
def power_refractory():
    # power 1.5 >= threshold 1 every burst; refractory 1 blocks every other burst.
    got = simulate("power", "[area p]\nsize = 1x1x1\npower = true\nthreshold = 1\nrefractory = 1\n",
                   bursts=8, power=1.5)
    check_fires(got, [(b, 0, 1.5) for b in (1, 3, 5, 7)], "power 1.5, refractory 1: fires 1,3,5,7")


CHAIN = """[area a]
size = 1x1x1
power = true
threshold = 1
[area b]
size = 1x1x1
threshold = {thr}
[connect a -> b]
rule = all_to_all
weight = 2
psp = 3
"""


@case
def chain_exact_threshold():
    # a fires every burst; weight*psp = 6 = b's threshold: b fires one burst later.
    got = simulate("chain", CHAIN.format(thr=6), bursts=4, power=1)
    want = [(1, 0, 1.0), (2, 0, 1.0), (2, 1, 6.0), (3, 0, 1.0), (3, 1, 6.0), (4, 0, 1.0), (4, 1, 6.0)]
    check_fires(got, want, "chain a->b, weight*psp == threshold: b fires from burst 2")


@case
def chain_accumulates():
    # threshold 6.5: 6 does not fire, stays (no leak), 12 fires; then again.
    got = [r for r in simulate("chain2", CHAIN.format(thr=6.5), bursts=6, power=1) if r[1] == 1]
    check_fires(got, [(3, 1, 12.0), (5, 1, 12.0)], "chain a->b below threshold: accumulates, fires at 12")


@case
def inhibition():
    net = """[area a]
size = 1x1x1
power = true
[area c]
size = 1x1x1
power = true
[area b]
size = 1x1x1
threshold = 6
leak = 1
[connect a -> b]
rule = one_to_one
weight = 2
psp = 3
[connect c -> b]
rule = one_to_one
weight = 1
psp = 1
type = {type}
"""
    got = simulate("inhib", net.format(type="inhibitory"), bursts=5, power=1)
    check_fires([r for r in got if r[1] == 2], [], "inhibitory synapse: 6 - 1 < threshold, b never fires")
    check(len([r for r in got if r[1] in (0, 1)]) == 10, "inhibitory synapse: the sources fire every burst",
          str(got))
    got = simulate("excit", net.format(type="excitatory"), bursts=3, power=1)
    check_fires([r for r in got if r[1] == 2], [(2, 2, 7.0), (3, 2, 7.0)],
                "same synapse excitatory: b fires with 6 + 1")


@case
def consecutive_limit_snooze():
    # cfl 2, snooze 1, refractory 0: fire, fire (cfc hits 2: countdown 1),
    # blocked (countdown reaches 0, cfc reset), and again.
    net = "[area n]\nsize = 1x1x1\npower = true\nthreshold = 1\nconsecutive_fire_limit = 2\nsnooze = 1\n"
    got = simulate("cfl", net, bursts=9, power=1)
    check_fires(got, [(b, 0, 1.0) for b in (1, 2, 4, 5, 7, 8)], "consecutive_fire_limit 2 + snooze 1")


@case
def consecutive_limit_no_leak():
    # cfl 2, snooze 0: the third burst passes the threshold but hits the
    # limit: cfc reset, no fire and no leak, so mp 1 carries to burst 4 (2).
    net = ("[area n]\nsize = 1x1x1\npower = true\nthreshold = 1\nconsecutive_fire_limit = 2\n"
           "snooze = 0\nleak = 0.5\n")
    got = simulate("cfl0", net, bursts=8, power=1)
    want = [(1, 0, 1.0), (2, 0, 1.0), (4, 0, 2.0), (5, 0, 1.0), (7, 0, 2.0), (8, 0, 1.0)]
    check_fires(got, want, "consecutive_fire_limit without snooze: blocked burst keeps mp (no leak)")


def stim(name, area, potential, bursts, neurons="all"):
    return (f"[stimulus {name}]\narea = {area}\nneurons = {neurons}\npotential = {potential}\n"
            f"bursts = {bursts}\n")


@case
def threshold_limit_window():
    # window [1, 2]; leak 1 clears what does not fire.
    net = "[area n]\nsize = 1x1x1\nthreshold = 1\nthreshold_limit = 2\nleak = 1\n"
    stims = stim("s1", "n", 1.5, "1") + stim("s2", "n", 2.5, "2") + stim("s3", "n", 2.0, "3") + \
        stim("s4", "n", 0.5, "4")
    got = simulate("window", net, bursts=4, stimuli=stims)
    check_fires(got, [(1, 0, 1.5), (3, 0, 2.0)], "threshold_limit: 1.5 and 2.0 fire, 2.5 and 0.5 do not")


@case
def charge_accumulation():
    c = cand(0.6)
    net = "[area n]\nsize = 1x1x1\nthreshold = 1\nmp_charge_accumulation = {acc}\n"
    stims = stim("s", "n", 0.6, "1-6")
    got = simulate("acc", net.format(acc="true"), bursts=6, stimuli=stims)
    check_fires(got, [(b, 0, f32(c + c)) for b in (2, 4, 6)], "mp_charge_accumulation=true: 0.6+0.6 fires")
    got = simulate("noacc", net.format(acc="false"), bursts=6, stimuli=stims)
    check_fires(got, [], "mp_charge_accumulation=false: mp reset every burst, never fires")


def leaky_neuron(bursts, stim_at, potential, threshold, leak):
    """Reference for one neuron with no refractory: float32 step by step."""
    keep = f32(1.0 - f32(leak))
    c, mp, out = cand(potential), 0.0, []
    for b in range(1, bursts + 1):
        if b not in stim_at:
            continue          # not a candidate: untouched, no leak
        mp = f32(mp + c)
        if mp >= f32(threshold):
            out.append((b, 0, mp))
            mp = 0.0
        else:
            mp = f32(mp * keep)
    return out


@case
def leak_accumulates():
    want = leaky_neuron(40, set(range(1, 41)), 0.3, 1.0, 0.1)
    check(len(want) >= 5 and all(mp != 1.0 for _, _, mp in want), "leak reference: non-trivial", str(want))
    net = "[area n]\nsize = 1x1x1\nthreshold = 1\nleak = 0.1\n"
    got = simulate("leak", net, bursts=40, stimuli=stim("s", "n", 0.3, "1-40"))
    check_fires(got, want, "leak 0.1, input 0.3 each burst: float32 mp exact")


@case
def non_candidates_do_not_leak():
    # 0.7 at bursts 1 and 5, leak 0.5: 0.35 is kept through bursts 2-4
    # (no input, no leak), so burst 5 reaches 1.05 and fires.
    want = leaky_neuron(6, {1, 5}, 0.7, 1.0, 0.5)
    check(want and want[0][0] == 5, "no-leak reference fires at 5", str(want))
    net = "[area n]\nsize = 1x1x1\nthreshold = 1\nleak = 0.5\n"
    got = simulate("noleak", net, bursts=6, stimuli=stim("s", "n", 0.7, "1, 5"))
    check_fires(got, want, "a neuron with no input does not leak")


def pcg(x):
    s = (x * 747796405 + 2891336453) & U32
    w = (((s >> ((s >> 28) + 4)) ^ s) * 277803737) & U32
    return ((w >> 22) ^ w) & U32


@case
def excitability_draw():
    n, bursts, exc = 8, 12, f32(0.3)
    want, mp = [], [0.0] * n
    for b in range(1, bursts + 1):
        for i in range(n):
            mp[i] = f32(mp[i] + 1.0)
            u = f32(float(pcg((i * 2654435761 + b * 1597334677) & U32))) * 2.0 ** -32
            if u < exc:
                want.append((b, i, mp[i]))
                mp[i] = 0.0
    check(0 < len(want) < n * bursts, "excitability reference: some fire, some do not", str(want))
    net = f"[area n]\nsize = {n}x1x1\npower = true\nthreshold = 0.5\nexcitability = 0.3\n"
    got = simulate("exc", net, bursts=bursts, power=1)
    check_fires(got, want, "excitability 0.3: fires exactly where the pcg draw says")


@case
def psp_rules():
    # psp_uniform_distribution = false: 1*1 split over 3 targets,
    # (65536 + 1) / 3 = 21845 in Q16.
    net = """[area a]
size = 1x1x1
power = true
psp_uniform_distribution = false
[area b]
size = 3x1x1
threshold = 0
leak = 1
[connect a -> b]
rule = all_to_all
weight = 1
psp = 1
"""
    got = [r for r in simulate("split", net, bursts=2, power=1) if r[0] == 2 and r[1] > 0]
    check_fires(got, [(2, i, 21845 / Q) for i in (1, 2, 3)], "psp_uniform_distribution=false: split by 3")
    # mp_driven_psp: a fires with mp 2.5, which rounds half away to psp 3.
    net = """[area a]
size = 1x1x1
power = true
mp_driven_psp = true
[area b]
size = 1x1x1
threshold = 3
leak = 1
[connect a -> b]
rule = all_to_all
weight = 1
psp = 1
"""
    got = simulate("mpdriven", net, bursts=3, power=2.5)
    check_fires(got, [(1, 0, 2.5), (2, 0, 2.5), (2, 1, 3.0), (3, 0, 2.5), (3, 1, 3.0)],
                "mp_driven_psp: psp is the source's mp 2.5 rounded to 3")


# ---------------------------------------------------------------------------
# --set, --bursts, --seed, --backend

def run_json(*args):
    rc, out, err = npusim("run", QUICK, "--backend=cpu", "--no-trace", "--json", *args)
    return rc, (json.loads(out) if rc == 0 and out else None), err


def area_fires(d, name):
    return next(a["fires"] for a in d["areas"] if a["name"] == name)


@case
def set_overrides():
    rc, base, err = run_json()
    check(rc == 0, "baseline --no-trace --json", err)
    rc, d, err = run_json("--set", "scenario.power=0")
    check(rc == 0 and area_fires(d, "power") == 0 and area_fires(base, "power") > 0,
          "--set scenario.power=0: the power area stops firing", err)
    check(d["scenario_digest"] != base["scenario_digest"], "--set changes the scenario digest", "")
    rc, d, err = run_json("--set", "stimulus flash.potential=0")
    check(rc == 0 and area_fires(d, "retina") < area_fires(base, "retina"),
          "--set \"stimulus flash.potential=0\": fewer retina fires", err)
    rc, d, err = run_json("--set", "network.area retina.threshold=100")
    check(rc == 0 and area_fires(d, "retina") == 0 and d["network_digest"] != base["network_digest"],
          "--set \"network.area retina.threshold=100\": retina silent, new network digest", err)
    for arg in ("scenario.nonexistent=1", "network.area retina.nonexistent=1",
                "stimulus flash.nonexistent=1"):
        rc, d, err = run_json("--set", arg)
        check(rc == 3 and f"--set {arg}" in err, f"--set {arg}: exit 3 naming the --set", err)
    for arg in ("scenario.power", "power=1", "scenario.=1"):
        rc, d, err = run_json("--set", arg)
        check(rc == 2, f"malformed --set {arg}: exit 2", err)


@case
def bursts_and_seed():
    rc, d, err = run_json("--bursts=17")
    check(rc == 0 and d["bursts"] == 17, "--bursts=17: 17 bursts", err)
    rc, d, err = run_json("--bursts=0")
    check(rc == 0 and d["bursts"] == 0 and d["fires"] == 0, "--bursts=0: an empty run", err)
    rc, out, err = npusim("run", QUICK, "--backend=cpu", "--out=s7.trace", "--seed=7", "--quiet")
    check(rc == 0, "--seed=7 runs", err)
    rc, out, err = npusim("diff", "q1.trace", "s7.trace", "--quiet")
    check(rc == 0, "--seed=7 (the scenario's own) gives the same fires", out + err)
    rc, out, err = npusim("run", QUICK, "--backend=cpu", "--out=s8.trace", "--seed=8", "--json")
    check(rc == 0 and json.loads(out)["seed"] == 8, "--seed=8: seed 8 in the summary", err)
    rc, out, err = npusim("diff", "q1.trace", "s8.trace", "--quiet")
    check(rc == 1, "--seed=8 changes the random stimulus (diff exit 1)", out + err)


@case
def backends():
    rc, out, err = npusim("run", QUICK, "--backend=vulkan", "--out=vk.trace", "--quiet")
    if rc == 0:
        rc2, o2, e2 = npusim("diff", "q1.trace", "vk.trace")
        check(rc2 == 0, "--backend=vulkan: same fires as cpu", o2 + e2)
    else:
        check(rc == 6 and "ulkan" in err and len(err.strip().splitlines()) == 1,
              "--backend=vulkan without Vulkan or a device: exit 6, one clear line", f"exit {rc}: {err}")
        check(not os.path.exists(path("vk.trace")), "--backend=vulkan failing: no trace written", "")
    rc, out, err = npusim("run", QUICK, "--backend=auto", "--out=auto.trace", "--json")
    check(rc == 0 and json.loads(out)["backend"] in ("cpu", "vulkan"), "--backend=auto runs", err)
    rc, out, err = npusim("diff", "q1.trace", "auto.trace")
    check(rc == 0, "--backend=auto: same fires as cpu", out + err)


# ---------------------------------------------------------------------------
# network --export, reloaded through rule = file

@case
def network_export_reload():
    rc, out, err = npusim("network", QUICK_NET, "--export=exp", "--json")
    check(rc == 0, "network --export --json: exit 0", err)
    d = json.loads(out)
    with open(path("exp/neurons.csv")) as f:
        neurons = f.read().splitlines()
    with open(path("exp/synapses.csv")) as f:
        synapses = f.read().splitlines()
    check(neurons[0] == NEURONS_HEADER, "neurons.csv header", neurons[0])
    check(synapses[0] == SYNAPSES_HEADER, "synapses.csv header", synapses[0])
    check(len(neurons) == d["neurons"] + 1 and len(synapses) == d["synapses"] + 1,
          "export: one row per neuron and per synapse", f"{len(neurons)} {len(synapses)} {d}")
    with open(QUICK_NET) as f:
        text = f.read()
    areas_only = text[:text.index("[connect")]
    write("reload.ini", areas_only + "[connect * -> *]\nrule = file\nfile = exp/synapses.csv\n")
    rc, out, err = npusim("network", "reload.ini", "--json")
    check(rc == 0 and json.loads(out)["digest"] == d["digest"],
          "areas + [connect * -> *] rule = file of the export: same digest", out + err)
    rc, out2, err = npusim("network", "reload.ini", "--export=exp2")
    same = rc == 0 and all(open(path(f"exp/{n}")).read() == open(path(f"exp2/{n}")).read()
                           for n in ("neurons.csv", "synapses.csv"))
    check(same, "re-export of the reloaded network: identical CSVs", err)


@case
def long_lines():
    # The documented limit is 65536 bytes a line; inih's own default is 200.
    coords = "; ".join(f"{x},{y},0" for y in range(8) for x in range(8))
    net = "; " + "c" * 60000 + "\n[area a]\nsize = 8x8x1\n"
    rc, out, err = npusim("network", write("longline.ini", net))
    check(rc == 0, "a 60000-byte comment line is accepted", err)
    write("longline.scn.ini", "[scenario]\nnetwork = longline.ini\nbursts = 1\n"
          + stim("s", "a", 1, "1", neurons=coords))
    rc, out, err = npusim("run", "longline.scn.ini", "--no-trace", "--backend=cpu", "--json")
    check(rc == 0 and json.loads(out)["fires"] == 64, f"a {len(coords)}-byte coordinate list is accepted",
          err)


# ---------------------------------------------------------------------------
# Help, version, usage errors

@case
def help_and_usage():
    rc, out, err = npusim("--version")
    check(rc == 0 and re.fullmatch(r"npusim \d+\.\d+\.\d+\S*\n", out), "--version", out + err)
    rc, out, err = npusim("--help")
    check(rc == 0 and all(c in out for c in ("run", "diff", "info", "export", "network", "exit codes")),
          "--help lists the commands and exit codes", out + err)
    rc, out, err = npusim("help", "run")
    check(rc == 0 and "--backend" in out and "--set" in out and "exit codes" in out, "help run", out + err)
    rc, out, err = npusim("run", "--help")
    check(rc == 0 and "usage: npusim run" in out, "run --help", out + err)
    rc, out, err = npusim("frobnicate")
    check(rc == 2 and "frobnicate" in err, "unknown command: exit 2", err)
    rc, out, err = npusim("help", "frobnicate")
    check(rc == 2, "help for an unknown command: exit 2", err)
    rc, out, err = npusim()
    check(rc == 2, "no command: exit 2", err)
    rc, out, err = npusim("run", QUICK, "--frobnicate")
    check(rc == 2 and "--frobnicate" in err, "run: unknown option: exit 2", err)
    rc, out, err = npusim("network", QUICK_NET, "--frobnicate")
    check(rc == 2, "network: unknown option: exit 2", err)
    rc, out, err = npusim("run")
    check(rc == 2, "run without a scenario: exit 2", err)
    rc, out, err = npusim("run", QUICK, "--no-trace", "--out=x.trace")
    check(rc == 2, "run --no-trace --out: exit 2", err)


# ---------------------------------------------------------------------------
# Runs stopped by a signal

BIG_NET = """[network]
name = big
seed = 1
[area a]
size = 50000x1x1
threshold = 1
refractory = 1
[connect a -> a]
rule = random
fanout = 20
weight = 1
psp = 1
"""
BIG_SCN = """[scenario]
network = big.ini
bursts = 100000
backend = cpu
[stimulus kick]
area = a
neurons = random 0.1
potential = 1
bursts = 1-100000/7
"""


def start_big(trace, min_bytes=1 << 20, limit_s=60):
    """Starts the big run and returns it once its trace holds min_bytes
    (a fixed sleep would race the network build on a slow machine)."""
    p = subprocess.Popen([NPUSIM, "run", "big.scn.ini", f"--out={trace}", "--quiet"], cwd=TMP,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit_s and p.poll() is None:
        if os.path.exists(path(trace)) and os.path.getsize(path(trace)) >= min_bytes:
            break
        time.sleep(0.02)
    return p


@case
def killed_runs():
    write("big.ini", BIG_NET)
    write("big.scn.ini", BIG_SCN)
    p = start_big("killed.trace")
    alive = p.poll() is None
    p.send_signal(signal.SIGKILL)
    p.communicate()
    check(alive and p.returncode == -signal.SIGKILL, "SIGKILL mid-run", f"returncode {p.returncode}")
    rc, out, err = npusim("info", "killed.trace", "--json")
    info = json.loads(out) if rc == 0 else {}
    check(rc == 0 and info.get("end") == "cut_short" and 0 < info.get("bursts", 0) < 100000,
          "killed trace: info reports it cut short", out + err)
    rc, out, err = npusim("info", "killed.trace")
    check(rc == 0 and "cut short" in out, "killed trace: info text says cut short", out + err)
    rc, out, err = npusim("export", "killed.trace", "--format=csv")
    rows = out.splitlines()
    check(rc == 0 and len(rows) > 1 and int(rows[-1].split(",")[0]) == info.get("bursts"),
          "killed trace: export reads its complete bursts", err)

    p = start_big("int.trace")
    alive = p.poll() is None
    p.send_signal(signal.SIGINT)
    try:
        _, err = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        _, err = p.communicate()
    check(alive and p.returncode == 9 and "interrupted" in err, "SIGINT: exit 9, says interrupted",
          f"returncode {p.returncode}: {err}")
    rc, out, err = npusim("info", "int.trace", "--json")
    info = json.loads(out) if rc == 0 else {}
    check(rc == 0 and info.get("end") == "interrupted" and 0 < info.get("bursts", 0) < 100000,
          "SIGINT: the trace's end record says interrupted", out + err)
    rc, out, err = npusim("export", "int.trace", "--format=bmtk")
    check(rc == 0 and len(out.splitlines()) > 1, "SIGINT: the trace exports", err)


@case
def state_probes():
    """[record] potentials_of: the mp of the probed neurons after every burst,
    exported with --probes; only candidates change (and leak); diff names the
    first burst and neuron where two runs' probes part."""
    net = "[area a]\nsize = 3x1x1\nthreshold = 10\nleak = 0.5\n"
    stim = ("[record]\npotentials_of = a\n"
            "[stimulus s]\narea = a\nneurons = 0,0,0\npotential = 1\nbursts = 1-2\n")
    simulate("probe", net, 4, stimuli=stim)
    rc, out, err = npusim("export", "probe.trace", "--format=csv", "--probes")
    rows = [l.split(",") for l in out.splitlines()]
    check(rc == 0 and rows[0] == ["burst", "neuron", "mp"] and len(rows) == 1 + 4 * 3,
          "probes: export --probes writes burst,neuron,mp for every burst and probe", out + err)
    got = {(int(b), int(n)): f32(float(m)) for b, n, m in rows[1:]}
    half = f32(cand(1) * f32(0.5))                       # burst 1: (0 + 1) * keep
    again = f32(f32(half + cand(1)) * f32(0.5))          # burst 2: (0.5 + 1) * keep
    want = {(1, 0): half, (2, 0): again, (3, 0): again, (4, 0): again}
    for b in range(1, 5):
        for n in (1, 2):
            want[(b, n)] = 0.0
    check(got == want, "probes: values by hand (non-candidates keep their mp, no leak)",
          f"  want {want}\n  got  {got}")
    simulate("probe2", net.replace("leak = 0.5", "leak = 0.25"), 4, stimuli=stim)
    rc, out, err = npusim("diff", "probe.trace", "probe2.trace")
    check(rc == 1 and "probe potentials first differ at burst 1, neuron 0" in out,
          "probes: diff names the first burst and neuron where probes differ", out + err)
    rc, out, err = npusim("export", "probe.trace", "--format=bmtk", "--probes")
    check(rc == 2, "probes: --probes with another format is a usage error", err)


@case
def file_size_limit():
    """A full disk mid-run (here a file-size limit, which makes write() fail
    with EFBIG): exit 4 naming the trace, and a trace that reads back up to
    its last complete burst and says it was cut short."""
    if not shutil.which("prlimit"):
        return
    write("big.ini", BIG_NET)
    write("big.scn.ini", BIG_SCN)
    p = subprocess.run(["prlimit", "--fsize=300000", NPUSIM, "run", "big.scn.ini", "--out=fsize.trace",
                        "--quiet", "--bursts=2000"], cwd=TMP, capture_output=True, text=True, timeout=300)
    check(p.returncode == 4 and "fsize.trace" in p.stderr and "write" in p.stderr,
          "file-size limit: exit 4, the write error is reported", f"{p.returncode}: {p.stderr}")
    rc, out, err = npusim("info", "fsize.trace", "--json")
    info = json.loads(out) if rc == 0 else {}
    check(rc == 0 and info.get("end") == "cut_short" and 0 < info.get("bursts", 0) < 2000,
          "file-size limit: the trace reads back, cut short", out + err)


def main():
    shutil.rmtree(TMP, ignore_errors=True)
    print(f"{PASSED} passed, {len(FAILED)} failed")
    for f in FAILED:
        print(f"  failed: {f}", file=sys.stderr)
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
