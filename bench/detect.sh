#!/usr/bin/env bash
# Detection benchmarks over one set of generated data: 1M indicators (30%
# IPv4, 10% IPv6 CIDR, 25% domain, 15% URL, 20% SHA-256, all equality or
# ISSUBSET patterns) and ECS events of which about 1% hit an indicator.
#
#  1. go test benchmarks (the same generator for both): BenchmarkDecodeECS,
#     the baseline (decoding alone, no index), and BenchmarkDetectECS
#     (decoding and matching against the 1M-indicator index), both on all
#     cores, in events/s and CPU ns per event; BenchmarkLoadIndex: index
#     load time (wall and CPU) and heap bytes per indicator.
#  2. end to end, `jointcell detect` over EVENTS generated ECS lines: the
#     baseline with a one-indicator index (reading, decoding, the
#     pipeline), then with the 1M indicators (load time as logged, events/s
#     as printed, CPU per event = process CPU time minus that of a run that
#     only loads the indicators, divided by EVENTS).
#
# Every figure is the median of COUNT runs. On a shared machine wall-clock
# rates follow the other load; CPU time per event is the steadier figure.
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
# metric BENCH UNIT: the values of one metric of one benchmark in bench.txt
metric() { grep "^Benchmark$1-" "$tmp/bench.txt" | awk -v m="$2" '{for (i=2;i<=NF;i++) if ($i==m) print $(i-1)}'; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || uptime; }

echo "== $(nproc) CPUs, load average $(loadavg), $(go version)"
echo "== go test benchmarks (indicators=$INDICATORS, count=$COUNT)"
DETECT_BENCH_INDICATORS=$INDICATORS go test -run '^$' -bench 'DecodeECS|DetectECS|LoadIndex' \
	-benchtime 2s -count "$COUNT" -timeout 60m ./internal/detect | tee "$tmp/bench.txt"
for b in DecodeECS DetectECS; do
	echo "median $b: $(metric $b events/s | median) events/s, $(metric $b cpu-ns/event | median) CPU ns/event"
done
awk -v a="$(metric DetectECS events/s | median)" -v b="$(metric DecodeECS events/s | median)" \
	'BEGIN { if (b > 0) printf "ratio detect/decode-only: %.2f\n", a/b }'
echo "median LoadIndex: $(metric LoadIndex load-s | median) s ($(metric LoadIndex load-cpu-s | median) s CPU), $(metric LoadIndex bytes/indicator | median) bytes/indicator"

echo "== end to end: jointcell detect, $INDICATORS indicators, $EVENTS ECS events (load average $(loadavg))"
go build -o "$tmp/jointcell" ./cmd/jointcell
go run ./internal/detect/cmd/detectgen -indicators "$INDICATORS" -events "$EVENTS" -dir "$tmp"
head -n 1 "$tmp/indicators.jsonl" >"$tmp/one.jsonl"
: >"$tmp/none.jsonl"
have_time=0
if [ -x /usr/bin/time ]; then have_time=1; fi
# run NAME INDICATORS EVENTS: one detect run; appends "events/s load-s cpu-s" to NAME.txt
run() {
	local name=$1 inds=$2 evs=$3
	if [ "$have_time" = 1 ]; then
		/usr/bin/time -f "%U %S" -o "$tmp/time.txt" "$tmp/jointcell" detect --indicators "$inds" --events "$evs" \
			--format ecs >/dev/null 2>"$tmp/log.txt"
	else
		"$tmp/jointcell" detect --indicators "$inds" --events "$evs" --format ecs >/dev/null 2>"$tmp/log.txt"
		echo "0 0" >"$tmp/time.txt"
	fi
	grep '^detect:' "$tmp/log.txt" >&2
	local rate load cpu
	rate=$(grep -o '[0-9]* events/s' "$tmp/log.txt" | awk '{print $1}')
	load=$(grep -o 'seconds=[0-9.]*' "$tmp/log.txt" | cut -d= -f2)
	cpu=$(awk '{print $1+$2}' "$tmp/time.txt")
	echo "$rate ${load:-0} $cpu" >>"$tmp/$name.txt"
}
for i in $(seq "$COUNT"); do
	run base "$tmp/one.jsonl" "$tmp/events.jsonl"
	run full "$tmp/indicators.jsonl" "$tmp/events.jsonl"
	run loadonly "$tmp/indicators.jsonl" "$tmp/none.jsonl"
done
col() { awk -v c="$2" '{print $c}' "$tmp/$1.txt" | median; }
base_cpu=$(col base 3)
full_cpu=$(col full 3)
load_cpu=$(col loadonly 3)
echo "median end-to-end baseline (1 indicator): $(col base 1) events/s, $(awk -v c="$base_cpu" -v n="$EVENTS" 'BEGIN {printf "%.0f", c*1e9/n}') CPU ns/event"
echo "median end-to-end with $INDICATORS indicators: $(col full 1) events/s, $(awk -v c="$full_cpu" -v l="$load_cpu" -v n="$EVENTS" 'BEGIN {printf "%.0f", (c-l)*1e9/n}') CPU ns/event, load $(col full 2) s ($load_cpu s CPU)"
if [ "$have_time" = 0 ]; then echo "(no /usr/bin/time: CPU figures are 0)"; fi
