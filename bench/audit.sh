#!/usr/bin/env bash
# Audit log benchmarks: runs them several times and prints the median of
# each, and durable appends as a ratio of a bare write+fsync of the same
# line measured in the same run (the disk's floor).
#
#   bench/audit.sh [COUNT] [BENCHTIME]     defaults: 5 and 1s
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-5}
benchtime=${2:-1s}
out=$(go test -run '^$' -bench . -benchtime "$benchtime" -count "$count" ./internal/audit/)
echo "$out" | grep -E '^(goos|goarch|cpu):' || true
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
	for (k in v) { m[k] = median(v[k]); printf "%-28s median %14.0f ns/op\n", k, m[k] }
	b = m["BenchmarkWriteSyncBaseline"]
	if (b > 0) {
		printf "Append (one caller)  / write+fsync baseline: %.2fx\n", m["BenchmarkAppend"] / b
		printf "Append (32 callers)  / write+fsync baseline: %.3fx  (%.0f entries/s)\n", m["BenchmarkAppendParallel"] / b, 1e9 / m["BenchmarkAppendParallel"]
	}
}' | sort
