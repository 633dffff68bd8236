#!/usr/bin/env bash
# Overhead of handle-ownership tracking (goro_hook::HANDLE_TRACKING): builds the
# bench harness twice from this tree, with tracking (the default) and without
# (RUSTFLAGS="--cfg goro_no_tracking", own target dir so the two builds do not
# invalidate each other), then runs both and Go interleaved with ab.sh.
# In ab.sh's table "before" is the build WITHOUT tracking and "after" the one
# WITH it, so `aft/bef` is the tracking's cost (1.03 = 3 % slower with it).
#
# usage: benches/compare/overhead.sh GO_BIN [REPS]
#   GO_BIN: `cd benches/compare/go && GOTOOLCHAIN=local GOFLAGS=-mod=mod GOPROXY=off go build -o /tmp/go-bench .`
#   REPS: runs of each workload per build (default 5)
# env: OVERHEAD_QUICK=1 runs tiny sizes (checks that the script works, numbers meaningless).
set -eu
gobin=$1 reps=${2:-5}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
out=$(mktemp -d /tmp/goro-overhead.XXXXXX)

cargo build --release -p goro-bench-compare
cp target/release/goro-bench-compare "$out/on"
RUSTFLAGS="${RUSTFLAGS:-} --cfg goro_no_tracking" CARGO_TARGET_DIR=target/no-tracking \
  cargo build --release -p goro-bench-compare
cp target/no-tracking/release/goro-bench-compare "$out/off"

if [ "${OVERHEAD_QUICK:-0}" = 1 ]; then
  sk=10000 pp=20000 sp=50000
else
  sk=1000000 pp=1000000 sp=4000000
fi
echo "tracking off = before, on = after (binaries in $out)"
bash benches/compare/ab.sh "$out/off" "$out/on" "$gobin" "$reps" 2 \
  skynet:$sk pingpong_go_w2:$pp spsc_go_w2:$sp
bash benches/compare/ab.sh "$out/off" "$out/on" "$gobin" "$reps" 1 \
  pingpong_go_w1:$pp spsc_go_w1:$sp
