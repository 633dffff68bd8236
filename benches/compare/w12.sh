#!/usr/bin/env bash
# 1 vs 2 workers: the Go-shaped channel programs on goro (NAME_w1 / NAME_w2; select4_go
# with --workers 1 / 2) and in Go (GOMAXPROCS=1 / 2), run in turn (interleaved); medians of
# wall / CPU ns per operation, the 2-over-1 ratios and goro over Go, all from one run.
# usage: benches/compare/w12.sh GORO_BIN GO_BIN REPS
#   GORO_BIN: target/release/goro-bench-compare (copied aside)
#   GO_BIN: `cd benches/compare/go && GOTOOLCHAIN=local GOFLAGS=-mod=mod GOPROXY=off go build -o /tmp/go-bench .`
set -u
bin=$1 gobin=$2 reps=$3
for r in $(seq "$reps"); do
  for spec in pingpong_go:1000000 spsc_go:4000000 mpmc_go:2000000 select4_go:1000000; do
    p=${spec%%:*} n=${spec##*:}
    wu=$(( n / 10 ))
    for k in 1 2; do
      if [ "$p" = select4_go ]; then
        o=$("$bin" run --system goro --workload "$p" --n "$n" --warmup "$wu" --workers "$k" 2>/dev/null | grep RESULT)
      else
        o=$("$bin" run --system goro --workload "${p}_w$k" --n "$n" --warmup "$wu" 2>/dev/null | grep RESULT)
      fi
      echo "goro $p $k $o"
      o=$(GOMAXPROCS=$k "$gobin" -workload "$p" -n="$n" -warmup="$wu" 2>/dev/null | grep RESULT | tail -1)
      echo "go $p $k $o"
    done
  done
done | awk "$(cat "$(dirname "$0")/results.awk")"'
{ s=$1; p=$2; k=$3; parse_result(4)
  key=p" "s" "k; ps[p]=1; if (chk!="ok") { bad[key]=1; next } n[key]++; v[key,n[key]]=ns; cc[key,n[key]]=cpu }
END { printf "%-12s %15s %15s %15s %15s %8s %6s %8s %8s\n","program","goro 1w","goro 2w","Go 1","Go 2","goro2/1","Go2/1","2w/Go","cpu/Go"
  for (p in ps) { a=med(p" goro 1",v); b=med(p" goro 2",v); c=med(p" go 1",v); d=med(p" go 2",v); bc=med(p" goro 2",cc); dc=med(p" go 2",cc)
    printf "%-12s %7.4g/%-7.4g %7.4g/%-7.4g %7.4g/%-7.4g %7.4g/%-7.4g %8.2f %6.2f %8.2f %8.2f%s\n",p,a,med(p" goro 1",cc),b,bc,c,med(p" go 1",cc),d,dc,(a?b/a:0),(c?d/c:0),(d?b/d:0),(dc?bc/dc:0),((p" goro 1") in bad || (p" goro 2") in bad)?" GORO-CHECK-FAIL":"" } }'
