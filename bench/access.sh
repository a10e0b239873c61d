#!/usr/bin/env bash
# Read-path cost of the access policy: one TAXII page (store.Query with
# limit 100 on a 10 000-object SQLite collection, then Policy.Present on
# every version) for an organisation's reader versus an admin (no
# visibility restriction, no redaction). The "interleaved" sub-benchmark
# alternates the two in one loop, so load on the machine affects both
# alike; this script prints the medians of its ratios over several runs.
#
#   member/admin        whole page, policy on / admin   (target < 1.10)
#   query-member/admin  store.Query alone: visibility pushed into SQL
#   present-share       Present's cost for the member, as a share of the admin page
#
# Then the ingest side: Add Objects through the TAXII handler with 1000-
# object envelopes, with the real policy (policy, AdmitBatch: one history
# query per 500 ids) and with a policy that admits everything (pass);
# objects/cpu-s is the steadier number on a shared machine (target: policy
# >= 50k objects/s).
#
# usage: bench/access.sh [count]   (default 7)
set -euo pipefail
cd "$(dirname "$0")/.."
count="${1:-7}"
out="$(go test -run '^$' -bench '^BenchmarkReadPolicy$/^interleaved$' -benchtime=200x -count "$count" ./internal/access/)"
echo "$out" | grep '^Benchmark' >&2
echo "$out" | awk '
/^BenchmarkReadPolicy\/interleaved/ {
	for (i = 3; i < NF; i += 2) v[$(i + 1)] = v[$(i + 1)] " " $i
}
function median(s,   a, n, i, j, t) {
	n = split(s, a, " ")
	for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
	return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
END { for (k in v) printf "%-20s median %12.3f\n", k, median(v[k]) }' | sort

out="$(go test -run '^$' -bench '^BenchmarkIngestPolicy$/^(policy|pass)$/^envelope=1000$' -benchtime=30x -count "$count" ./internal/access/)"
echo "$out" | grep '^Benchmark' >&2
echo "$out" | awk '
/^BenchmarkIngestPolicy\// {
	split($1, name, "/")
	for (i = 3; i < NF; i += 2) if ($(i + 1) ~ /^objects/) v[name[2] " " $(i + 1)] = v[name[2] " " $(i + 1)] " " $i
}
function median(s,   a, n, i, j, t) {
	n = split(s, a, " ")
	for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
	return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
END { for (k in v) printf "ingest %-22s median %12.0f\n", k, median(v[k]) }' | sort
