#!/usr/bin/env bash
# Benchmarks of internal/pattern: indicator loading (Parse + Validate +
# Compile of the one-comparison shapes the detection engine loads by the
# million; target <= 1.5 us each), parse rate, single-pattern evaluation
# (reference Match as the baseline against Compiled.MatchObservation), a
# stateful window, and 100k equality indicators indexed by anchors checked
# against 1M observations (versus a naive scan baseline). Prints medians of
# COUNT runs (default 5).
set -euo pipefail
cd "$(dirname "$0")/.."
count="${COUNT:-5}"
out="$(go test -run '^$' -bench 'PatternLoad|Parse|Validate|Match|AnchorIndex|NaiveScan' -benchmem -count "$count" ./internal/pattern/)"
echo "$out" | awk '
/^Benchmark/ {
	name=$1; sub(/-[0-9]+$/, "", name)
	v[name]=v[name] " " $3
	if ($6 == "cpu-ns/op") c[name]=c[name] " " $5
}
function median(s,    a, k, i, j, t) {
	k=split(substr(s, 2), a, " ")
	for (i=1;i<=k;i++) for (j=i+1;j<=k;j++) if (a[j]+0<a[i]+0) {t=a[i];a[i]=a[j];a[j]=t}
	return (k%2)?a[(k+1)/2]:(a[k/2]+a[k/2+1])/2
}
END {
	for (n in v) {
		split(substr(v[n], 2), a, " ")
		k=length(a)
		for (i=1;i<=k;i++) for (j=i+1;j<=k;j++) if (a[j]+0<a[i]+0) {t=a[i];a[i]=a[j];a[j]=t}
		med=(k%2)?a[(k+1)/2]:(a[k/2]+a[k/2+1])/2
		m[n]=med
		printf "%-32s median %12.1f ns/op  (%.0f/s)\n", n, med, 1e9/med
	}
	for (n in c)
		printf "%-32s median %12.1f cpu-ns/op (on-CPU time of the thread)\n", n, median(c[n])
	if (m["BenchmarkMatchReference"] && m["BenchmarkMatchObservation"])
		printf "MatchObservation speed-up over reference Match: %.1fx\n", m["BenchmarkMatchReference"]/m["BenchmarkMatchObservation"]
	if (m["BenchmarkNaiveScan"] && m["BenchmarkAnchorIndex"])
		printf "anchor index vs naive scan of 100k indicators: %.0fx faster per observation\n", m["BenchmarkNaiveScan"]*100/m["BenchmarkAnchorIndex"]
	if (m["BenchmarkAnchorIndex"])
		printf "1M observations against 100k indicators: %.2f s\n", m["BenchmarkAnchorIndex"]*1e6/1e9
	worst=0
	for (n in m) if (n ~ /^BenchmarkPatternLoad\// && m[n] > worst) worst=m[n]
	if (worst)
		printf "loading 1M indicators on one core (slowest shape): %.2f s\n", worst*1e6/1e9
}' | sort
