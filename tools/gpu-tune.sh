#!/bin/sh
# Tuning knobs of the Vulkan backend, on the device machine: bursts/s of the
# bench workloads (no trace) under several environment settings, run
# interleaved (A B C A B C ...) so drift hits every setting alike.  Prints
# the median and the range of each.
#   tools/gpu-tune.sh "SIZES" REPS "label=ENV=V,ENV=V" ...
#   tools/gpu-tune.sh "100k 1m" 5 base= big=NPUSIM_VK_FILL_GROUPS=8192
# BIN=path in a setting runs that binary instead of build/src/npusim (a
# build of other kernels: a kernel's unused code still costs it registers,
# so variants are compared as separate builds).
# With TUNE_TRACE=1 the runs write the trace (ids and potentials, to /tmp)
# instead of --no-trace.
# With TUNE_PROFILE=1 it reports the device's busy time per burst under
# NPUSIM_VK_PROFILE=1 (every part timed alone: stable to 0.1 us, unlike
# the wall time, but not the unprofiled total).
set -u
cd "$(dirname "$0")/.."
. tools/gpu-env.sh
sizes=$1; reps=$2; shift 2
res=$(mktemp)
for size in $sizes; do
    bursts=3000; [ "$size" = 1m ] && bursts=1000
    r=0
    while [ $r -lt "$reps" ]; do
        for cfg in "$@"; do
            label=${cfg%%=*}; envs=""; bin=build/src/npusim
            for kv in $(echo "${cfg#*=}" | tr ',' ' '); do
                case $kv in BIN=*) bin=${kv#BIN=} ;; *) envs="$envs $kv" ;; esac
            done
            trace=--no-trace
            [ "${TUNE_TRACE:-0}" = 1 ] && trace="--out=/tmp/tune.trace --force"
            env NPUSIM_VK_PROFILE=${TUNE_PROFILE:-0} $envs "$bin" run \
                "scenarios/bench-$size.ini" --backend=vulkan $trace \
                --bursts=$bursts --json --quiet >/tmp/t.json 2>/tmp/t.err ||
                { echo "$size $label failed: $(tail -1 /tmp/t.err)"; continue; }
            python3 - "$size" "$label" >>"$res" <<'PY'
import json, re, sys
j = json.load(open("/tmp/t.json"))
m = re.search(r"([0-9.]+) us/burst", open("/tmp/t.err").read())
v = float(m.group(1)) if m else 1e6 / j["bursts_per_second"]
print(sys.argv[1], sys.argv[2], v)
PY
        done
        r=$((r + 1))
    done
done
python3 - "$res" <<'PY'
import sys, statistics, collections
d = collections.OrderedDict()
for line in open(sys.argv[1]):
    s, l, v = line.split(); d.setdefault((s, l), []).append(float(v))
print(f"{'size':6} {'setting':14} {'runs':>4} {'median us/burst':>16} {'min':>8} {'max':>8}")
for (s, l), v in d.items():
    print(f"{s:6} {l:14} {len(v):4} {statistics.median(v):16.1f} {min(v):8.1f} {max(v):8.1f}")
PY
