#!/usr/bin/env bash
# Benchmarks STIX decoding and validation (internal/stix) and prints the
# median of several runs, with the ratio against a baseline measured in the
# same run: encoding/json into map[string]any, which validates nothing.
#
# Usage: bench/stix.sh [COUNT] [BENCHTIME]   (defaults: 7 runs of 1s)
set -euo pipefail
cd "$(dirname "$0")/.."
count="${1:-7}"
benchtime="${2:-1s}"
out="$(mktemp)"
trap 'rm -f "$out"' EXIT

# Rounds are interleaved (baseline and candidates back to back, COUNT
# times) so that a change of machine load affects all of them alike.
go test -c -o "$out.test" ./internal/stix/
trap 'rm -f "$out" "$out.test"' EXIT
for _ in $(seq "$count"); do
	(cd internal/stix && "$out.test" -test.run '^$' -test.bench 'DecodeValidate|BaselineUnmarshalMap' -test.benchtime "$benchtime") | tee -a "$out" >&2
done

awk '
/^Benchmark/ {
	name = $1; sub(/-[0-9]+$/, "", name)
	for (i = 2; i < NF; i++) {
		if ($(i+1) == "objects/s") { v[name, ++n[name]] = $i }
		if ($(i+1) == "objects/cpu-s") { c[name, ++nc[name]] = $i }
	}
}
function median(name, cpu,   k, j, t, m, a) {
	m = cpu ? nc[name] : n[name]
	for (k = 1; k <= m; k++) a[k] = cpu ? c[name, k] : v[name, k]
	for (k = 1; k <= m; k++) for (j = k + 1; j <= m; j++) if (a[j] < a[k]) { t = a[k]; a[k] = a[j]; a[j] = t }
	return (m % 2) ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
}
END {
	base = median("BenchmarkBaselineUnmarshalMap", 0)
	cbase = median("BenchmarkBaselineUnmarshalMap", 1)
	printf "%-32s %12s %8s %14s %8s\n", "benchmark (median of runs)", "objects/s", "x base", "objects/cpu-s", "x base"
	for (name in n) {
		m = median(name, 0); cm = median(name, 1)
		printf "%-32s %12.0f %8.2f %14.0f %8.2f\n", name, m, (base > 0 ? m / base : 0), cm, (cbase > 0 ? cm / cbase : 0)
	}
}' "$out"
