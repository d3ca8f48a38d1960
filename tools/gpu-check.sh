#!/bin/sh
# The real-GPU check, run on the device machine (see shared DEVICE.md):
# exact arithmetic and the random-network comparison on the GPU, then every
# scenario on the CPU and on Vulkan with the traces diffed, then timings.
# Prints a short table last; full logs go to $OUT (or /tmp/gpu-check).
#   tools/gpu-check.sh [LARGE_BURSTS]
set -u
cd "$(dirname "$0")/.."
out=${OUT:-/tmp/gpu-check}
mkdir -p "$out"
N=build/src/npusim
large_bursts=${1:-100}
# The device has no Khronos validation layer (CI runs the tests with it).
. tools/gpu-env.sh

$N devices | tee "$out/devices.txt"
echo "== arithmetic on the device"
build/tests/test_vk_arith >"$out/arith.log" 2>&1; echo "vk-arith exit $?"
tail -3 "$out/arith.log"
echo "== checkbackends"
build/tests/checkbackends --seed=1 --iterations=200 >"$out/checkbackends.log" 2>&1
echo "checkbackends exit $?"; tail -3 "$out/checkbackends.log"

row() {  # scenario backend extra-args...
    s=$1; b=$2; shift 2
    $N run "scenarios/$s.ini" --backend=$b --out="$out/$s.$b.trace" --force --json --quiet "$@" \
        >"$out/$s.$b.json" 2>"$out/$s.$b.err"
    rc=$?
    python3 - "$out/$s.$b.json" "$s" "$b" "$rc" <<'PY' >>"$out/table.txt"
import json, sys
path, s, b, rc = sys.argv[1:]
try:
    j = json.load(open(path))
    print(f"{s:13} {b:7} {j['bursts']:7} {j['fires']:11} {j['build_seconds']:7.2f} {j['wall_seconds']:8.3f} "
          f"{j['bursts_per_second']:10.1f} {j['events_per_second']:10.3e}  {j['device'][:40]}")
except Exception as e:
    print(f"{s:13} {b:7} failed (exit {rc})")
PY
}

: >"$out/table.txt"
for s in quickstart sensorimotor probes large; do
    extra=""
    [ $s = large ] && extra="--bursts=$large_bursts"
    row $s cpu $extra
    row $s vulkan $extra
    $N diff "$out/$s.cpu.trace" "$out/$s.vulkan.trace" >"$out/$s.diff" 2>&1
    echo "diff $s: exit $? $(tail -1 "$out/$s.diff")" >>"$out/diffs.txt"
done
# Throughput without trace writing, and with batch sizes forced.
for k in 1 16 64; do
    $N run scenarios/large.ini --backend=vulkan --no-trace --bursts=1000 --batch=$k --json --quiet \
        >"$out/large.batch$k.json" 2>&1
    python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print(f'large vulkan --batch=$k no trace: {j[\"bursts_per_second\"]:.1f} bursts/s, {j[\"events_per_second\"]:.3e} events/s')" \
        "$out/large.batch$k.json" >>"$out/diffs.txt" 2>&1
done
echo
echo "scenario      backend  bursts       fires   build     wall   bursts/s   events/s  device"
cat "$out/table.txt"
cat "$out/diffs.txt"
