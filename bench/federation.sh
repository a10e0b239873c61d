#!/usr/bin/env bash
# Benchmarks of federation (internal/federation, through two real cell
# processes on loopback, see cmd/jointcell/federation_e2e_test.go):
#
#   BenchmarkFederationLatency  time from an acknowledged POST in cell A to
#                               the object being visible in cell B
#                               (p50-ms, p99-ms; target p99 < 1000 ms)
#   BenchmarkFederationCatchUp  objects per second B pulls after an outage
#                               (objects/s, target >= 50000), each cell's
#                               CPU per object, and the baseline of the
#                               same run: a plain TAXII pull of the same
#                               objects from A by one of its users
#                               (pull-objects/s, and A's CPU per object for
#                               it: no signing, verification or storing);
#                               with ids in order and scattered like
#                               random UUIDs; objects/write is how
#                               many objects B stored per transaction
#                               (waiting pages are merged), and
#                               B-peak-MB B's peak resident memory
#   BenchmarkSign, BenchmarkVerify  the per-object provenance cost of one
#                               object signed alone
#   BenchmarkSignBatch, BenchmarkVerifyBatch  the same for pages signed as
#                               one batch (one ed25519 signature per page)
#   BenchmarkCanonicalize       RFC 8785 canonical form of a ~1 KB object
#   BenchmarkStorePage          the receiving cell alone, in process: decode,
#                               verify, validate, admit and store a page of
#                               1000 signed objects (objects/s)
#   BenchmarkAddVersionsAt      the store alone: a transaction of 1000
#                               objects with their provenance and the link
#                               checkpoint, ids in order or scattered
#
# With JOINTCELL_BENCH_PROFILE=DIR the catch-up benchmark also writes CPU
# profiles of both cells (DIR/A.prof, DIR/B.prof).
#
# Prints the median of COUNT runs of each metric.
#
# Usage: bench/federation.sh [COUNT] [SAMPLES] [BACKLOG]
#   COUNT    runs of each benchmark (default 3)
#   SAMPLES  POSTs timed per latency run (default 200)
#   BACKLOG  objects waiting for B after its outage (default 20000)
set -euo pipefail
cd "$(dirname "$0")/.."

count=${1:-3}
samples=${2:-200}
backlog=${3:-20000}
out=$(mktemp)
trap 'rm -f "$out"' EXIT

echo "# federation benchmarks, count=$count, latency samples=$samples, backlog=$backlog" >&2
go test ./internal/stix/ -run '^$' -bench 'BenchmarkCanonicalize' -count "$count" | tee -a "$out" >&2
go test ./internal/federation/ -run '^$' -bench 'BenchmarkSign|BenchmarkVerify' -count "$count" | tee -a "$out" >&2
go test ./internal/federation/ -run '^$' -bench 'BenchmarkStorePage' -benchtime 50x -count "$count" | tee -a "$out" >&2
go test ./internal/store/sqlite/ -run '^$' -bench 'BenchmarkAddVersionsAt' -benchtime 30x -count "$count" | tee -a "$out" >&2
go test ./cmd/jointcell/ -run '^$' -bench 'BenchmarkFederationLatency' -benchtime "${samples}x" -count "$count" -timeout 1h | tee -a "$out" >&2
go test ./cmd/jointcell/ -run '^$' -bench 'BenchmarkFederationCatchUp' -benchtime "${backlog}x" -count "$count" -timeout 1h | tee -a "$out" >&2

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
	printf "\n%-36s %-12s %14s\n", "benchmark", "metric", "median"
	for (k = 1; k <= keys; k++) {
		split(order[k], p, SUBSEP)
		printf "%-36s %-12s %14.3f\n", p[1], p[2], median(order[k])
	}
	for (k = 1; k <= keys; k++) {
		split(order[k], p, SUBSEP)
		if (p[1] !~ /^BenchmarkFederationCatchUp/ || p[2] != "objects/s") continue
		ck = p[1] SUBSEP "objects/s"; pk = p[1] SUBSEP "pull-objects/s"
		ak = p[1] SUBSEP "A-cpu-µs/obj"; bk = p[1] SUBSEP "B-cpu-µs/obj"
		if (pk in seen) printf "\n%s: catch-up / plain TAXII pull of the same objects: %.3f\n", p[1], median(ck) / median(pk)
		if ((ak in seen) && (bk in seen)) printf "%s: the most two cores allow at A+B = %.1f µs of CPU per object: %.0f objects/s\n", p[1], median(ak) + median(bk), 2e6 / (median(ak) + median(bk))
	}
}' "$out"
