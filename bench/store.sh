#!/usr/bin/env bash
# Benchmarks of the SQLite store: ingest (objects per second, wall and per
# CPU-second) and page latency (p50/p99, CPU per page) on a large
# collection, each run COUNT times; prints the median of every metric, the
# ingest as a ratio of a raw insert of the same bytes and the page latency
# as a ratio of a raw page read, both measured in the same run. On a shared
# machine the CPU metrics and the ratios are the steadier numbers.
#
#   bench/store.sh                      # 1M-version fixture, 5 runs
#   JOINTCELL_BENCH_OBJECTS=200000 COUNT=3 bench/store.sh
#
# The fixture is built once (it takes a while for a million versions) and
# cached in $TMPDIR as jointcell-bench-<size>-<schema>.db.
set -euo pipefail

cd "$(dirname "$0")/.."
export JOINTCELL_BENCH_OBJECTS="${JOINTCELL_BENCH_OBJECTS:-1000000}"
COUNT="${COUNT:-5}"
ADD_BENCHTIME="${ADD_BENCHTIME:-100x}"
QUERY_BENCHTIME="${QUERY_BENCHTIME:-300x}"
out="$(mktemp)"
trap 'rm -f "$out"' EXIT

echo "store benchmarks: $JOINTCELL_BENCH_OBJECTS versions, count $COUNT, $(nproc) CPUs" >&2
go test ./internal/store/sqlite/ -run '^$' -bench 'BenchmarkAddVersions' \
	-benchtime "$ADD_BENCHTIME" -count "$COUNT" -timeout 60m | tee -a "$out" >&2
go test ./internal/store/sqlite/ -run '^$' -bench 'BenchmarkQueryPage' \
	-benchtime "$QUERY_BENCHTIME" -count "$COUNT" -timeout 120m | tee -a "$out" >&2

# Each benchmark line is: name iterations ns/op, then value unit pairs.
awk '
function median(key,    n, i, j, t, v) {
	n = split(vals[key], v, " ")
	for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j-1] + 0 > v[j] + 0; j--) { t = v[j]; v[j] = v[j-1]; v[j-1] = t }
	return (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}
/^Benchmark/ {
	name = $1; sub(/-[0-9]+$/, "", name)
	if (!(name in seen)) { seen[name] = 1; order[++names] = name }
	for (i = 3; i + 1 <= NF; i += 2) {
		key = name SUBSEP $(i + 1)
		if (!(key in vals)) units[name] = units[name] " " $(i + 1)
		vals[key] = vals[key] " " $i
	}
}
END {
	printf "\n%-52s %s\n", "benchmark (median of runs)", "metrics"
	for (k = 1; k <= names; k++) {
		name = order[k]; line = ""
		n = split(substr(units[name], 2), u, " ")
		for (i = 1; i <= n; i++) {
			m = median(name SUBSEP u[i])
			line = line sprintf((m >= 100 ? "  %12.0f %s" : "  %12.4g %s"), m, u[i])
		}
		printf "%-52s%s\n", name, line
	}
	printf "\ningest as a ratio of a raw insert of the same bytes (same run; objects/s and objects/cpu-s)\n"
	for (k = 1; k <= names; k++) {
		name = order[k]
		if (name !~ /AddVersions.*\/store$/) continue
		base = name; sub(/\/store$/, "/baseline", base)
		if (!((base SUBSEP "objects/s") in vals)) continue
		line = sprintf("%-52s  wall x%.2f", name, median(name SUBSEP "objects/s") / median(base SUBSEP "objects/s"))
		if ((name SUBSEP "objects/cpu-s") in vals && (base SUBSEP "objects/cpu-s") in vals)
			line = line sprintf("  cpu x%.2f", median(name SUBSEP "objects/cpu-s") / median(base SUBSEP "objects/cpu-s"))
		print line
	}
	printf "\npage latency as a ratio of a raw page read (same run, p50, p99 and CPU per page)\n"
	for (k = 1; k <= names; k++) {
		name = order[k]
		if (name !~ /QueryPage/ || name ~ /baseline/) continue
		base = name; sub(/\/[^\/]*$/, "/baseline", base)
		if (!((base SUBSEP "p50-ms") in vals)) continue
		line = sprintf("%-52s  p50 x%.2f  p99 x%.2f", name,
			median(name SUBSEP "p50-ms") / median(base SUBSEP "p50-ms"),
			median(name SUBSEP "p99-ms") / median(base SUBSEP "p99-ms"))
		if ((name SUBSEP "cpu-ms/page") in vals && (base SUBSEP "cpu-ms/page") in vals)
			line = line sprintf("  cpu x%.2f", median(name SUBSEP "cpu-ms/page") / median(base SUBSEP "cpu-ms/page"))
		print line
	}
}' "$out"
