#!/usr/bin/env bash
# Where the time goes: a flat CPU profile of one system on one workload.
#
#   benches/compare/profile.sh WORKLOAD [SYSTEM] [N] [TOP]
#
# Uses `perf record -e cpu-clock` (a software event: works in containers and VMs
# without hardware counters; Debian's linux-perf package), falling back to
# valgrind's callgrind when perf is missing or refuses. Prints the TOP symbols
# by self time. Builds the release binary first.
set -euo pipefail

workload=${1:?usage: profile.sh WORKLOAD [SYSTEM] [N] [TOP]}
system=${2:-goro}
n=${3:-}
top=${4:-12}

here=$(cd "$(dirname "$0")" && pwd)
cargo build --release -q -p goro-bench-compare --manifest-path "$here/Cargo.toml"
target=${CARGO_TARGET_DIR:-$(cd "$here/../.." && pwd)/target}
bin="$target/release/goro-bench-compare"
args=(run --system "$system" --workload "$workload" --workers "${WORKERS:-2}")
if [[ -n "$n" ]]; then args+=(--n "$n" --warmup 0); fi

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
if command -v perf >/dev/null && perf record -q -e cpu-clock -F 4000 -o "$out/perf.data" "$bin" "${args[@]}"; then
    perf report -i "$out/perf.data" --no-children --stdio --sort symbol 2>/dev/null |
        grep -E '^ +[0-9]' | head -n "$top"
else
    echo "perf unavailable; using callgrind (slow: pass a small N)" >&2
    valgrind --tool=callgrind --callgrind-out-file="$out/cg.out" "$bin" "${args[@]}"
    callgrind_annotate "$out/cg.out" 2>/dev/null | grep -E '^ *[0-9,]+ ' | head -n "$top"
fi
