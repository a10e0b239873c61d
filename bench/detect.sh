#!/usr/bin/env bash
# Detection benchmarks: decode + index match throughput with 1M indicators
# (IPv4, IPv6 CIDR, domain, URL, SHA-256), bytes per indicator, index load
# time, and the end-to-end `jointcell detect` over 10M generated ECS events.
# Prints the median of COUNT runs of each metric.
#
# Usage: bench/detect.sh            (COUNT=5 INDICATORS=1000000 EVENTS=10000000)
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${COUNT:-5}
INDICATORS=${INDICATORS:-1000000}
EVENTS=${EVENTS:-10000000}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) {print "n/a"} else if (NR%2) {print a[(NR+1)/2]} else {print (a[NR/2]+a[NR/2+1])/2}}'; }

echo "== go test benchmarks (indicators=$INDICATORS, count=$COUNT, GOMAXPROCS=$(nproc))"
DETECT_BENCH_INDICATORS=$INDICATORS go test -run '^$' -bench 'DecodeECS|DetectECS|LoadIndex' \
	-benchtime 2s -count "$COUNT" -timeout 60m ./internal/detect | tee "$tmp/bench.txt"
for b in DecodeECS DetectECS; do
	v=$(grep "^Benchmark$b-" "$tmp/bench.txt" | awk '{for (i=1;i<=NF;i++) if ($i=="events/s") print $(i-1)}' | median)
	echo "median $b: $v events/s"
done
dec=$(grep "^BenchmarkDecodeECS-" "$tmp/bench.txt" | awk '{for (i=1;i<=NF;i++) if ($i=="events/s") print $(i-1)}' | median)
det=$(grep "^BenchmarkDetectECS-" "$tmp/bench.txt" | awk '{for (i=1;i<=NF;i++) if ($i=="events/s") print $(i-1)}' | median)
awk -v a="$det" -v b="$dec" 'BEGIN { if (b > 0) printf "ratio detect/decode-only: %.2f\n", a/b }'
for m in bytes/indicator load-s; do
	v=$(grep "^BenchmarkLoadIndex-" "$tmp/bench.txt" | awk -v m="$m" '{for (i=1;i<=NF;i++) if ($i==m) print $(i-1)}' | median)
	echo "median LoadIndex $m: $v"
done

echo "== end to end: jointcell detect, $INDICATORS indicators, $EVENTS ECS events"
go build -o "$tmp/jointcell" ./cmd/jointcell
go run ./internal/detect/cmd/detectgen -indicators "$INDICATORS" -events "$EVENTS" -dir "$tmp"
for i in $(seq "$COUNT"); do
	"$tmp/jointcell" detect --quiet --indicators "$tmp/indicators.jsonl" --events "$tmp/events.jsonl" --format ecs \
		>/dev/null 2>"$tmp/summary.txt"
	cat "$tmp/summary.txt" >&2
	grep -o '[0-9]* events/s' "$tmp/summary.txt" | awk '{print $1}' >>"$tmp/e2e.txt"
done
echo "median end-to-end: $(median <"$tmp/e2e.txt") events/s"
