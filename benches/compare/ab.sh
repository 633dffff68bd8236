#!/usr/bin/env bash
# A/B: two goro-bench-compare builds (before, after) and the Go program, run in turn
# (interleaved), medians of wall and CPU ns per operation; the ratios are from one run.
# usage: benches/compare/ab.sh BEFORE_BIN AFTER_BIN GO_BIN REPS WORKERS workload:n [workload:n ...]
#   BEFORE_BIN/AFTER_BIN: target/release/goro-bench-compare of each build (copied aside)
#   GO_BIN: `cd benches/compare/go && GOTOOLCHAIN=local GOFLAGS=-mod=mod GOPROXY=off go build -o /tmp/go-bench .`
# Go gets the workload name without a _wN suffix (GOMAXPROCS=WORKERS sets its cores).
set -u
before=$1 after=$2 gobin=$3 reps=$4 workers=$5; shift 5
export GOMAXPROCS=$workers
for spec in "$@"; do
  w=${spec%%:*}; n=${spec##*:}; wu=$(( n / 10 ))
  for r in $(seq "$reps"); do
    for sys in before after go; do
      case $sys in
        before) out=$("$before" run --system goro --workload "$w" --n "$n" --warmup "$wu" --workers "$workers" 2>/dev/null | grep RESULT);;
        after)  out=$("$after"  run --system goro --workload "$w" --n "$n" --warmup "$wu" --workers "$workers" 2>/dev/null | grep RESULT);;
        go)     gw=$(echo "$w" | sed -E "s/_w[0-9]+$//"); out=$("$gobin" -workload "$gw" -n="$n" -warmup="$wu" 2>/dev/null | grep RESULT | tail -1);;
      esac
      echo "$sys $w $out"
    done
  done
done | awk "$(cat "$(dirname "$0")/results.awk")"'
{ sys=$1; w=$2; parse_result(3)
  k=w" "sys; ws[w]=1; if(chk!="ok"){bad[k]=1; next} n[k]++; v[k,n[k]]=ns; c[k,n[k]]=cpu }
END { printf "%-22s %16s %16s %16s %8s %8s %8s\n","workload","before wall/cpu","after wall/cpu","go wall/cpu","aft/bef","bef/Go","aft/Go";
  for(w in ws){b=med(w" before",v);a=med(w" after",v);g=med(w" go",v);
    printf "%-22s %8.4g/%-7.4g %8.4g/%-7.4g %8.4g/%-7.4g %8.2f %8.2f %8.2f  n=%d/%d/%d%s%s\n",w,b,med(w" before",c),a,med(w" after",c),g,med(w" go",c),(b?a/b:0),(g?b/g:0),(g?a/g:0),n[w" before"],n[w" after"],n[w" go"],((w" after") in bad)?" AFTER-CHECK-FAIL":"",((w" go") in bad)?" (go check fail)":"" } }'
