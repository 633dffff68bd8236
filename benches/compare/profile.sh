#!/usr/bin/env bash
# Where the time goes: a flat CPU profile of one system on one workload.
#
#   benches/compare/profile.sh WORKLOAD [SYSTEM] [N] [TOP]
#
# Uses `perf record -e cpu-clock` (a software event: works in containers and VMs
# without hardware counters; Debian's linux-perf package), falling back to
# valgrind's callgrind when perf is missing or refuses. Prints the TOP symbols
# by self time, then the split by thread. Builds the release binary first.
#
# MODE=stat  instead: `perf stat` of software events and the futex / write
#            (eventfd: waking a worker parked in the driver) / epoll_wait
#            syscalls, i.e. how often workers park and get woken.
# MODE=sched instead: per thread, time on CPU vs time runnable but waiting for
#            a CPU (/proc/PID/task/TID/schedstat, sampled until exit) and
#            voluntary/involuntary switches: tells goro parking (voluntary)
#            from a loaded machine (run-queue wait, involuntary).
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

case "${MODE:-profile}" in
stat)
    exec perf stat -e task-clock,context-switches,cpu-migrations,page-faults,syscalls:sys_enter_futex,syscalls:sys_enter_write,syscalls:sys_enter_epoll_wait \
        "$bin" "${args[@]}"
    ;;
sched)
    set +e
    "$bin" "${args[@]}" &
    pid=$!
    declare -A last
    # Sample until the process is gone or a zombie (whose threads are gone).
    while [[ -r /proc/$pid/stat && $(awk '{print $3}' /proc/"$pid"/stat 2>/dev/null) != Z ]]; do
        for t in /proc/"$pid"/task/*; do
            st=$(cat "$t/schedstat" 2>/dev/null) || continue
            c=$(cat "$t/comm" 2>/dev/null | tr -d ' ')
            sw=$(awk '/^(non)?voluntary_ctxt_switches/ {printf "%s ", $2}' "$t/status" 2>/dev/null)
            [[ -n $st && -n $c ]] && last[${t##*/}]="$c $st $sw"
        done
        sleep 0.02
    done
    wait "$pid"
    printf '%-8s %-18s %12s %16s %10s %10s\n' tid thread on_cpu_ms runq_wait_ms voluntary involuntary
    for k in "${!last[@]}"; do
        read -r c oncpu wait _slices vol invol <<<"${last[$k]}"
        printf '%-8s %-18s %12d %16d %10s %10s\n' "$k" "$c" $((oncpu / 1000000)) $((wait / 1000000)) "${vol:-?}" "${invol:-?}"
    done
    exit 0
    ;;
esac

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
if command -v perf >/dev/null && perf record -q -e cpu-clock -F 4000 -o "$out/perf.data" "$bin" "${args[@]}"; then
    perf report -i "$out/perf.data" --no-children --stdio --sort symbol 2>/dev/null |
        grep -E '^ +[0-9]' | head -n "$top"
    perf report -i "$out/perf.data" --no-children --stdio --sort comm 2>/dev/null |
        grep -E '^ +[0-9]' | head -n 8
else
    echo "perf unavailable; using callgrind (slow: pass a small N)" >&2
    valgrind --tool=callgrind --callgrind-out-file="$out/cg.out" "$bin" "${args[@]}"
    callgrind_annotate "$out/cg.out" 2>/dev/null | grep -E '^ *[0-9,]+ ' | head -n "$top"
fi
