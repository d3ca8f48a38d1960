#!/bin/sh
# The Vulkan benchmark on the device machine: tools/bench.py on the standard
# workloads, then the 10M-neuron, 1B-synapse case.  Table on stdout, JSON in
# $OUT (or /tmp/gpu-bench).
set -u
cd "$(dirname "$0")/.."
out=${OUT:-/tmp/gpu-bench}
mkdir -p "$out"
. tools/gpu-env.sh
python3 tools/bench.py --backends vulkan --reps 3 --bursts ${BENCH_BURSTS:-1000} \
    --json-out "$out/bench-vulkan.json"
# 10M runs land in a fast or a slow state of the device (about 1.47 against
# 2.0-2.8 ms per burst; docs/performance.md, eighth session), so one run
# says little: BENCH_10M_RUNS runs, each printed, then their median.
runs=${BENCH_10M_RUNS:-3}
echo "== 10M neurons, 1B synapses (large.ini scaled), Vulkan, no trace, $runs runs"
r=1
while [ $r -le "$runs" ]; do
    build/src/npusim run scenarios/large.ini --backend=vulkan --no-trace --bursts=200 --json \
        --quiet --set "network.area cortex.size=1000x100x100" >"$out/10m-$r.json" 2>"$out/10m-$r.err" ||
        { echo "run $r: exit $?: $(tail -1 "$out/10m-$r.err")"; }
    r=$((r + 1))
done
python3 - "$out" "$runs" <<'PY'
import json, statistics, sys
out, runs = sys.argv[1], int(sys.argv[2])
us = []
for r in range(1, runs + 1):
    try:
        j = json.load(open(f"{out}/10m-{r}.json"))
    except (OSError, ValueError):
        continue
    us.append(1e6 / j["bursts_per_second"])
    print(f"10M run {r}: build {j['build_seconds']:.1f} s, {j['bursts']} bursts, {us[-1]:.0f} us/burst, "
          f"{j['events_per_second']:.3e} events/s, {j['fires']/j['bursts']/j['neurons']*100:.2f}% firing")
if us:
    print(f"10M: median {statistics.median(us):.0f} us/burst of {len(us)} runs "
          f"(range {min(us):.0f}-{max(us):.0f})")
PY
