#!/usr/bin/env bash
# Compares jointcell's pattern matching with the OASIS reference matcher
# (stix2-matcher, Python) on the same shape of input: equality indicators
# `[ipv4-addr:value = '...']` against STIX 2.1 observed-data bundles.
#
# The reference has no index: matching P patterns against O observations
# costs P*O pattern evaluations, so its cost per pair, measured on a sample,
# extrapolates exactly to 100k x 1M. jointcell's figure is measured at that
# size (BenchmarkAnchorIndex: 100k compiled indicators, 1M observations).
#
# Usage: bench/pattern-reference.sh [PATTERNS] [OBSERVATIONS]   (sample, default 100 x 200)
# Needs the reference importable by python3 (`pip install stix2-matcher`),
# or STIX2MATCHER_PATH naming a folder that contains the stix2matcher package.
set -euo pipefail
cd "$(dirname "$0")/.."
np="${1:-100}"
no="${2:-200}"

if ! python3 - "${STIX2MATCHER_PATH:-}" <<'PY' 2>/dev/null; then
import sys
if sys.argv[1]:
    sys.path.insert(0, sys.argv[1])
import stix2matcher.matcher  # noqa: F401
PY
	echo "stix2-matcher is not importable: pip install stix2-matcher, or set STIX2MATCHER_PATH" >&2
	exit 0
fi

ref_us=$(python3 - "${STIX2MATCHER_PATH:-}" "$np" "$no" <<'PY'
import sys, time
if sys.argv[1]:
    sys.path.insert(0, sys.argv[1])
from stix2matcher.matcher import Pattern
n_pat, n_obs = int(sys.argv[2]), int(sys.argv[3])
pats = ["[ipv4-addr:value = '10.%d.%d.%d']" % (i >> 16 & 255, i >> 8 & 255, i & 255) for i in range(n_pat)]
obs = []
for j in range(n_obs):
    sco = "ipv4-addr--%08d-0000-5000-8000-000000000000" % j
    obs.append({"type": "bundle", "id": "bundle--%08d-0000-4000-8000-000000000000" % j, "objects": [
        {"type": "observed-data", "spec_version": "2.1", "id": "observed-data--%08d-0000-4000-8000-000000000000" % j,
         "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z",
         "first_observed": "2024-01-01T00:00:00Z", "last_observed": "2024-01-01T00:00:00Z",
         "number_observed": 1, "object_refs": [sco]},
        {"type": "ipv4-addr", "spec_version": "2.1", "id": sco, "value": "10.0.%d.%d" % (j >> 8 & 255, j & 255)}]})
compiled = [Pattern(p, stix_version="2.1") for p in pats]
t0 = time.process_time()
for p in compiled:
    for b in obs:
        p.match([b])
print("%.3f" % ((time.process_time() - t0) / (n_pat * n_obs) * 1e6))
PY
)

out=$(go test -run '^$' -bench 'AnchorIndex|MatchObservation' -count 3 ./internal/pattern/ 2>/dev/null)
idx_ns=$(echo "$out" | awk '/^BenchmarkAnchorIndex/ {print $3}' | sort -n | sed -n 2p)
one_ns=$(echo "$out" | awk '/^BenchmarkMatchObservation/ {print $3}' | sort -n | sed -n 2p)

awk -v ref="$ref_us" -v idx="$idx_ns" -v one="$one_ns" 'BEGIN {
	printf "reference stix2-matcher: %.1f us CPU per pattern-observation pair\n", ref
	printf "one pattern, one observation: jointcell %.0f ns (Compiled.MatchObservation): %.0fx the reference\n", one, ref * 1000 / one
	refTotal = ref * 1e-6 * 1e5 * 1e6
	ours = idx * 1e-9 * 1e6
	printf "100k indicators x 1M observations: reference %.3g s (extrapolated), jointcell %.2f s: %.3gx\n", refTotal, ours, refTotal / ours
}'
