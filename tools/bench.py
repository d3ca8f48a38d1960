#!/usr/bin/env python3
"""npusim benchmark: runs `npusim run --json` on the standard workloads.

Workloads: scenarios/bench-{10k,100k,1m}.ini (N neurons, 100 random
outgoing synapses each, a random sensory drive keeping about 2.4% of the
neurons firing per burst), on each backend, with the trace on (ids and
potentials) and off (--no-trace).  Per case: one warm-up run, then
--reps runs; rates are medians.  Peak host memory is the largest
ru_maxrss of the runs (os.wait4 gives each child's own).

A benchmark, not a test: it never fails on a time.  Python 3 standard
library only.

  tools/bench.py [--npusim PATH] [--sizes 10k,100k,1m] [--backends cpu,vulkan]
                 [--reps 3] [--bursts 100] [--threads N] [--json-out FILE]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIZES = ["10k", "100k", "1m"]


def run(cmd):
    """Runs cmd; returns (exit code, stdout, stderr)."""
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def run_rss(cmd):
    """Like run(), but with the child's own peak RSS (bytes), via wait4."""
    with tempfile.TemporaryFile() as fo, tempfile.TemporaryFile() as fe:
        p = subprocess.Popen(cmd, stdout=fo, stderr=fe)
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        fo.seek(0)
        fe.seek(0)
        return p.returncode, fo.read().decode(), fe.read().decode(), ru.ru_maxrss * 1024


def find_npusim(arg):
    if arg:
        return arg
    for p in ("build/src/npusim", "build/npusim"):
        full = os.path.join(ROOT, p)
        if os.access(full, os.X_OK):
            return full
    sys.exit("bench.py: npusim not found; build it or pass --npusim PATH")


def backend_works(npusim, backend):
    scn = os.path.join(ROOT, "scenarios", "bench-10k.ini")
    rc, _, _ = run([npusim, "run", scn, "--backend=" + backend, "--bursts=1", "--no-trace", "--quiet"])
    return rc == 0


def network_info(npusim, size):
    cfg = os.path.join(ROOT, "configs", "bench-%s.ini" % size)
    rc, out, err = run([npusim, "network", cfg, "--json"])
    if rc != 0:
        sys.exit("bench.py: npusim network %s failed: %s" % (cfg, err.strip()))
    return json.loads(out)


def bench_case(npusim, size, backend, trace, args, tmpdir):
    scn = os.path.join(ROOT, "scenarios", "bench-%s.ini" % size)
    cmd = [npusim, "run", scn, "--backend=" + backend, "--json", "--bursts=%d" % args.bursts]
    if args.threads:
        cmd.append("--threads=%d" % args.threads)
    tpath = os.path.join(tmpdir, "bench.trace")
    cmd += ["--out=" + tpath, "--force"] if trace else ["--no-trace"]
    runs = []
    for k in range(args.warmup + args.reps):
        rc, out, err, rss = run_rss(cmd)
        if rc != 0:
            return {"error": err.strip() or "exit %d" % rc}
        d = json.loads(out)
        d["peak_rss_bytes"] = rss
        d["trace_bytes"] = os.path.getsize(tpath) if trace else 0
        if k >= args.warmup:
            runs.append(d)
    med = lambda key: statistics.median(r[key] for r in runs)
    last = runs[-1]
    per_burst = med("wall_seconds") / max(last["bursts"], 1)
    return {
        "device": last["device"],
        "neurons": last["neurons"],
        "synapses": last["synapses"],
        "bursts": last["bursts"],
        "fires_per_burst": last["fires"] / max(last["bursts"], 1),
        "firing_fraction": last["fires"] / max(last["bursts"] * last["neurons"], 1),
        "build_seconds": med("build_seconds"),
        "seconds_per_burst": per_burst,
        "bursts_per_second": med("bursts_per_second"),
        "events_per_second": med("events_per_second"),
        # Neuron-bursts simulated per second (N x bursts/s), the usual
        # convention: every neuron's state is advanced by every burst, the
        # candidates' by step 6 and the others' by being left as they are.
        "neuron_updates_per_second": last["neurons"] * med("bursts_per_second"),
        "peak_rss_bytes": max(r["peak_rss_bytes"] for r in runs),
        # Memory the backend allocated through the device's API (None on
        # the CPU): device-local (network and state) and host-visible
        # (upload and readback buffers, pinned for the device).
        "device_local_bytes": last.get("device_local_bytes"),
        "device_host_visible_bytes": last.get("device_host_visible_bytes"),
        "device_bytes_per_synapse": (last["device_local_bytes"] / last["synapses"])
        if last.get("device_local_bytes") is not None and last["synapses"] else None,
        "trace_bytes_per_fire": (last["trace_bytes"] / last["fires"]) if trace and last["fires"] else None,
        "host_seconds": last["host_seconds"],
        "runs_seconds_per_burst": [r["wall_seconds"] / max(r["bursts"], 1) for r in runs],
    }


def fmt_time(s):
    return "%.1f us" % (s * 1e6) if s < 1e-3 else "%.2f ms" % (s * 1e3)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--npusim", help="the npusim binary (default: build/src/npusim)")
    ap.add_argument("--sizes", default=",".join(SIZES), help="comma list of 10k,100k,1m")
    ap.add_argument("--backends", help="comma list (default: every backend that works here)")
    ap.add_argument("--reps", type=int, default=3, help="measured runs per case (median)")
    ap.add_argument("--warmup", type=int, default=1, help="unmeasured runs first")
    ap.add_argument("--bursts", type=int, default=100)
    ap.add_argument("--threads", type=int, default=0, help="CPU threads (default: npusim's)")
    ap.add_argument("--trace", choices=["both", "on", "off"], default="both")
    ap.add_argument("--json-out", help="write the results as JSON here")
    args = ap.parse_args()

    npusim = find_npusim(args.npusim)
    sizes = [s.strip().lower() for s in args.sizes.split(",") if s.strip()]
    for s in sizes:
        if s not in SIZES:
            sys.exit("bench.py: unknown size %r (expected %s)" % (s, ",".join(SIZES)))
    if args.backends:
        backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    else:
        backends = [b for b in ("cpu", "vulkan") if backend_works(npusim, b)]
    traces = {"both": [True, False], "on": [True], "off": [False]}[args.trace]

    try:
        load = os.getloadavg()
    except OSError:
        load = None
    results = {"npusim": npusim, "cpus": os.cpu_count(), "loadavg_before": load,
               "bursts": args.bursts, "reps": args.reps, "cases": []}
    hdr = "%-5s %-7s %-5s %8s %10s %10s %10s %10s %9s %9s %8s %8s %8s %8s" % (
        "size", "backend", "trace", "build s", "per burst", "bursts/s", "events/s",
        "updates/s", "fire %", "peak MiB", "B/syn", "dev MiB", "dev B/syn", "B/fire")
    print(hdr)
    print("-" * len(hdr))
    with tempfile.TemporaryDirectory() as tmpdir:
        for size in sizes:
            net = network_info(npusim, size)
            bps = net["bytes"] / net["synapses"] if net["synapses"] else 0.0
            for backend in backends:
                for trace in traces:
                    r = bench_case(npusim, size, backend, trace, args, tmpdir)
                    r.update({"size": size, "backend": backend, "trace": trace,
                              "network_bytes": net["bytes"], "bytes_per_synapse": bps})
                    results["cases"].append(r)
                    if "error" in r:
                        print("%-5s %-7s %-5s error: %s" % (size, backend, "on" if trace else "off", r["error"]))
                        continue
                    dev = r["device_local_bytes"]
                    print("%-5s %-7s %-5s %8.2f %10s %10.0f %10.3g %10.3g %9.2f %9.0f %8.2f %8s %8s %8s" % (
                        size, backend, "on" if trace else "off", r["build_seconds"],
                        fmt_time(r["seconds_per_burst"]), r["bursts_per_second"],
                        r["events_per_second"], r["neuron_updates_per_second"],
                        100 * r["firing_fraction"],
                        r["peak_rss_bytes"] / 2**20, bps,
                        "%.0f" % (dev / 2**20) if dev is not None else "-",
                        "%.2f" % r["device_bytes_per_synapse"] if dev is not None else "-",
                        "%.2f" % r["trace_bytes_per_fire"] if r["trace_bytes_per_fire"] else "-"),
                        flush=True)
    try:
        results["loadavg_after"] = os.getloadavg()
    except OSError:
        pass
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(results, f, indent=2)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
