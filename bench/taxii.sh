#!/usr/bin/env bash
# Benchmarks of the TAXII handler (internal/taxii): ingest throughput
# (objects per second of wall and of CPU time) and page latency (p50/p99,
# CPU per page) on a large collection, each next to its store-only
# baseline measured in the same run. Prints the median of COUNT runs and
# the handler/store ratios; on a shared machine the CPU metrics and the
# ratios are the steadier numbers.
#
# Usage: bench/taxii.sh [COUNT] [OBJECTS]
#   COUNT    runs of each benchmark (default 5)
#   OBJECTS  versions in the collection paged by BenchmarkPage (default 1000000)
set -euo pipefail
cd "$(dirname "$0")/.."

count=${1:-5}
objects=${2:-1000000}
out=$(mktemp)
trap 'rm -f "$out"' EXIT

echo "# BenchmarkIngest and BenchmarkPage, count=$count, collection of $objects versions" >&2
JOINTCELL_BENCH_OBJECTS=$objects go test ./internal/taxii/ -run '^$' \
	-bench 'BenchmarkIngest|BenchmarkPage' -benchtime 2s -count "$count" -timeout 2h | tee "$out" >&2

# Median of each metric per benchmark, then the ratios.
awk '
/^Benchmark/ {
	name = $1; sub(/-[0-9]+$/, "", name)
	for (i = 3; i < NF; i += 2) {
		key = name SUBSEP $(i+1)
		n[key]++; v[key, n[key]] = $i
		if (!(key in seen)) { seen[key] = 1; order[++keys] = key }
	}
}
function median(key,   m, i, j, t, a) {
	m = n[key]
	for (i = 1; i <= m; i++) a[i] = v[key, i] + 0
	for (i = 2; i <= m; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
	return (m % 2) ? a[(m+1)/2] : (a[m/2] + a[m/2+1]) / 2
}
END {
	printf "\n%-48s %-10s %14s\n", "benchmark", "metric", "median"
	for (k = 1; k <= keys; k++) {
		split(order[k], p, SUBSEP)
		if (p[2] == "B/op" || p[2] == "allocs/op") continue
		med[p[1], p[2]] = median(order[k])
		printf "%-48s %-10s %14.3f\n", p[1], p[2], med[p[1], p[2]]
	}
	printf "\nhandler / store-only baseline (same run):\n"
	for (k = 1; k <= keys; k++) {
		split(order[k], p, SUBSEP)
		if (p[1] !~ /\/handler\//) continue
		base = p[1]; sub(/\/handler\//, "/store/", base)
		if (!((base, p[2]) in med) || med[base, p[2]] == 0) continue
		printf "  %-44s %-10s %8.2f\n", p[1], p[2], med[p[1], p[2]] / med[base, p[2]]
	}
}' "$out"
