# Shared by ab.sh and w12.sh: reading RESULT lines and taking medians (awk, mawk-compatible).

# Reads the key=value fields of a RESULT line from field `from` on into the globals
# ns (wall ns per operation), cpu (CPU ns per operation) and chk (the check: "ok" or not).
function parse_result(from,   i, kv) {
  ns = ""; cpu = ""; chk = "none"
  for (i = from; i <= NF; i++) {
    split($i, kv, "=")
    if (kv[1] == "ns_per_op") ns = kv[2]
    if (kv[1] == "cpu_ns_per_op") cpu = kv[2]
    if (kv[1] == "check") chk = kv[2]
  }
}

# The median of arr[k, 1..n[k]] (n: the global count per key); 0 when there is none.
function med(k, arr,   m, i, j, t, a) {
  m = n[k]; if (m == 0) return 0
  for (i = 1; i <= m; i++) a[i] = arr[k, i]
  for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
  return (m % 2) ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
}
