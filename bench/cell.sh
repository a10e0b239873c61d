#!/usr/bin/env bash
# Cell plumbing benchmarks: the metrics middleware against the same handler
# without it (measured in the same run), route classification, metric
# updates, and authentication from the cache. Prints the median of COUNT
# runs of each.
#
#   bench/cell.sh [COUNT] [BENCHTIME]     defaults: 5 and 1s
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-5}
benchtime=${2:-1s}
out=$(go test -run '^$' -bench . -benchtime "$benchtime" -count "$count" \
	./internal/cell/ ./internal/metrics/ ./internal/auth/)
echo "$out" | grep -E '^(goos|goarch|cpu):' | sort -u || true
echo "$out" | awk '
/^Benchmark/ {
	name = $1; sub(/-[0-9]+$/, "", name)
	for (i = 3; i < NF; i++) if ($(i+1) == "ns/op") v[name] = v[name] " " $i
}
function median(s,    a, n, i, j, t) {
	n = split(s, a, " ")
	for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
END {
	for (k in v) { m[k] = median(v[k]); printf "%-34s median %10.1f ns/op\n", k, m[k] }
	b = m["BenchmarkHandlerBaseline"]
	if (b > 0) printf "instrumented / baseline handler: %.2fx (+%.0f ns per request)\n", m["BenchmarkHandlerInstrumented"] / b, m["BenchmarkHandlerInstrumented"] - b
}' | sort
