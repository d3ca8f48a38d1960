#!/bin/sh
# Builds the libFuzzer targets with clang (ASan + UBSan) in build-fuzz and
# runs each for SECONDS (default 600), growing the corpus in a scratch copy.
# Crashes are copied to tests/fuzz/crashes/TARGET/ to become regression
# inputs of the fuzz-replay tests.
#   tools/fuzz.sh [SECONDS] [TARGET...]     targets: network scenario set trace
set -eu
cd "$(dirname "$0")/.."
secs=${1:-600}
[ $# -gt 0 ] && shift
targets=${*:-network scenario set trace}
if [ ! -f build-fuzz/build.ninja ]; then
    CC=clang meson setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false \
        -Dvulkan=disabled -Dtests=false >/dev/null
fi
ninja -C build-fuzz >/dev/null
for t in $targets; do
    work=build-fuzz/corpus-$t
    mkdir -p "$work" "tests/fuzz/crashes/$t" build-fuzz/artifacts-$t
    cp -n tests/fuzz/corpus/$t/* "$work"/ 2>/dev/null || true
    echo "fuzz: $t for $secs s" >&2
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    build-fuzz/tests/fuzz/fuzz_$t -max_total_time="$secs" -max_len=65536 -rss_limit_mb=2048 \
        -artifact_prefix=build-fuzz/artifacts-$t/ -print_final_stats=1 "$work" \
        >build-fuzz/fuzz-$t.log 2>&1 || true
    grep -E '^stat::(number_of_executed_units|peak_rss_mb)|cov:' build-fuzz/fuzz-$t.log | tail -3 >&2
    for f in build-fuzz/artifacts-$t/*; do
        [ -e "$f" ] && cp "$f" "tests/fuzz/crashes/$t/" && echo "fuzz: $t found $f" >&2
    done
done
