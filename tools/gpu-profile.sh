#!/bin/sh
# Where a Vulkan run's time goes, on the device machine: bursts/s and the
# host's share (stimuli, submit, collect = wait + checks, trace = accounting
# and hand-over to the writer thread) for a few sizes and batch settings,
# then the per-part device profile of the bench workloads.
set -u
cd "$(dirname "$0")/.."
. tools/gpu-env.sh
N=build/src/npusim
printf '%-22s %-8s %6s %9s %10s %8s %8s %8s %8s %8s\n' case backend bursts "burst/s" "events/s" device stimuli submit collect trace
one() {  # label backend args...
    label=$1; b=$2; shift 2
    $N run scenarios/large.ini --backend=$b --json --quiet --force "$@" >/tmp/p.json 2>/tmp/p.err ||
        { echo "$label $b failed: $(cat /tmp/p.err)"; return; }
    python3 - "$label" "$b" <<'PY'
import json, sys
j = json.load(open("/tmp/p.json")); h = j["host_seconds"]; w = j["wall_seconds"]
dev = j.get("device_seconds")
print(f"{sys.argv[1]:22} {sys.argv[2]:8} {j['bursts']:6} {j['bursts_per_second']:9.1f} {j['events_per_second']:10.3e} "
      + (f"{dev/w*100:7.1f}% " if dev is not None else "       - ")
      + " ".join(f"{h[k]/w*100:7.1f}%" for k in ("stimuli", "submit", "collect", "trace")))
PY
}
one "1M no trace" vulkan --no-trace --bursts=300
one "1M no trace batch 1" vulkan --no-trace --bursts=300 --batch=1
one "1M trace" vulkan --out=/tmp/p.trace --bursts=300
one "1M no stimulus" vulkan --no-trace --bursts=300 --set "stimulus drive.bursts=1"
one "100k no trace" vulkan --no-trace --bursts=1000 --set "network.area cortex.size=100x100x10"
one "10k no trace" vulkan --no-trace --bursts=3000 --set "network.area cortex.size=100x10x10"
one "1M cpu no trace" cpu --no-trace --bursts=50
for size in 10k 100k 1m; do
    echo "== per-kernel (NPUSIM_VK_PROFILE=1), bench-$size, 1000 bursts, no trace"
    NPUSIM_VK_PROFILE=1 $N run scenarios/bench-$size.ini --backend=vulkan --no-trace --bursts=1000 \
        --quiet 2>&1 | tail -6
done
