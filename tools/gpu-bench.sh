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
echo "== 10M neurons, 1B synapses (large.ini scaled), Vulkan, no trace"
build/src/npusim run scenarios/large.ini --backend=vulkan --no-trace --bursts=200 --json --quiet \
    --set "network.area cortex.size=1000x100x100" >"$out/10m.json" 2>"$out/10m.err"
echo "exit $?"; cat "$out/10m.err" | tail -3
python3 -c "
import json,sys; j=json.load(open(sys.argv[1]))
print(f\"10M: build {j['build_seconds']:.1f} s, {j['bursts']} bursts, {1e6/j['bursts_per_second']:.0f} us/burst, {j['events_per_second']:.3e} events/s, {j['fires']/j['bursts']/j['neurons']*100:.2f}% firing, device {j.get('device_seconds')}\")" "$out/10m.json"
