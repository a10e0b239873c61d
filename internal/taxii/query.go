package taxii

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// endpoint names the endpoints that take query parameters; each accepts a
// different subset of the TAXII 2.1 §3.4 filters.
type endpoint string

const (
	epManifest endpoint = "manifest" // TAXII 2.1 §5.3
	epObjects  endpoint = "objects"  // §5.4
	epObject   endpoint = "object"   // §5.6
	epDelete   endpoint = "delete"   // §5.7
	epVersions endpoint = "versions" // §5.8
)

// Query parameter names (TAXII 2.1 §3.4).
const (
	paramAddedAfter  = "added_after"
	paramLimit       = "limit"
	paramNext        = "next"
	paramID          = "match[id]"
	paramType        = "match[type]"
	paramVersion     = "match[version]"
	paramSpecVersion = "match[spec_version]"
)

// supported lists the parameters each endpoint understands. Parameters
// outside the list (including match[] fields this server does not
// implement) are ignored, as TAXII 2.1 §3.4.2 asks of a server that does
// not support a filter; a supported parameter that is malformed is a 400.
var supported = map[endpoint][]string{
	epManifest: {paramAddedAfter, paramLimit, paramNext, paramID, paramType, paramVersion, paramSpecVersion},
	epObjects:  {paramAddedAfter, paramLimit, paramNext, paramID, paramType, paramVersion, paramSpecVersion},
	epObject:   {paramAddedAfter, paramLimit, paramNext, paramVersion, paramSpecVersion},
	epDelete:   {paramVersion, paramSpecVersion},
	epVersions: {paramAddedAfter, paramLimit, paramNext, paramSpecVersion},
}

// query is a parsed, validated set of TAXII filters.
type query struct {
	AddedAfter   time.Time // zero when absent
	Limit        int       // 0 when absent
	Next         string
	IDs          []string
	Types        []string
	Versions     []string
	SpecVersions []string
}

// hasFilter reports whether the request carried any filter that a next
// cursor binds (everything but limit and next).
func (q query) hasFilter() bool {
	return !q.AddedAfter.IsZero() || len(q.IDs)+len(q.Types)+len(q.Versions)+len(q.SpecVersions) > 0
}

// canonical is a deterministic form of the bound filter: values sorted and
// de-duplicated so that two spellings of the same query compare equal.
func (q query) canonical() boundFilter {
	b := boundFilter{
		IDs:          sortedSet(q.IDs),
		Types:        sortedSet(q.Types),
		Versions:     sortedSet(q.Versions),
		SpecVersions: sortedSet(q.SpecVersions),
	}
	if !q.AddedAfter.IsZero() {
		b.AddedAfter = q.AddedAfter.UnixMicro()
	}
	return b
}

func sortedSet(v []string) []string {
	if len(v) == 0 {
		return nil
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return slices.Compact(s)
}

// parseQuery parses a raw query string for an endpoint. Every error is an
// *apiError of kind errBadFilter naming the parameter.
func parseQuery(rawQuery string, ep endpoint) (query, error) {
	var q query
	values, err := url.ParseQuery(rawQuery)
	if err != nil {
		return q, newError(errBadFilter, "the query string is malformed")
	}
	for _, name := range supported[ep] {
		vs, ok := values[name]
		if !ok {
			continue
		}
		// A repeated parameter is ambiguous (is it AND or OR?); TAXII 2.1
		// §3.4 expresses OR with commas, so repetition is refused.
		if len(vs) != 1 {
			return q, newError(errBadFilter, "%s is repeated; separate values with commas", name)
		}
		v := vs[0]
		if v == "" {
			return q, newError(errBadFilter, "%s is empty", name)
		}
		switch name {
		case paramAddedAfter:
			t, ok := parseTimestamp(v)
			if !ok {
				return q, newError(errBadFilter, "added_after is not a UTC timestamp such as 2021-06-10T00:00:00.000Z")
			}
			q.AddedAfter = t
		case paramLimit:
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return q, newError(errBadFilter, "limit must be a positive integer")
			}
			q.Limit = n
		case paramNext:
			q.Next = v
		case paramID:
			if q.IDs, err = splitList(name, v, validID); err != nil {
				return q, err
			}
		case paramType:
			if q.Types, err = splitList(name, v, validType); err != nil {
				return q, err
			}
		case paramVersion:
			if q.Versions, err = splitList(name, v, validVersion); err != nil {
				return q, err
			}
		case paramSpecVersion:
			if q.SpecVersions, err = splitList(name, v, validSpecVersion); err != nil {
				return q, err
			}
		}
	}
	return q, nil
}

// splitList splits a comma-separated OR list (TAXII 2.1 §3.4.2) and checks
// every value.
func splitList(name, v string, valid func(string) bool) ([]string, error) {
	parts := strings.Split(v, ",")
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if p == "" || !valid(p) {
			return nil, newError(errBadFilter, "%s has an invalid value %q", name, truncate(p, 80))
		}
		parts[i] = p
	}
	return parts, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// parseTimestamp parses a STIX/TAXII timestamp (RFC 3339 in UTC with a
// trailing Z, any fractional precision; STIX 2.1 §3.2).
func parseTimestamp(v string) (time.Time, bool) {
	if !strings.HasSuffix(v, "Z") || len(v) < len("2006-01-02T15:04:05Z") || v[10] != 'T' {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, false
	}
	return t.UTC(), true
}

// validType accepts a STIX type name (STIX 2.1 §3.1: lowercase letters,
// digits and hyphens, 3 to 250 characters).
func validType(s string) bool {
	if len(s) < 3 || len(s) > 250 {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// validID accepts a STIX identifier: type--UUID (STIX 2.1 §2.9).
func validID(s string) bool {
	t, u, ok := strings.Cut(s, "--")
	return ok && validType(t) && validUUID(u)
}

func validUUID(u string) bool {
	if len(u) != 36 {
		return false
	}
	for i, c := range []byte(u) {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// validVersion accepts first, last, all or a timestamp (TAXII 2.1 §3.4.2).
func validVersion(s string) bool {
	if s == "first" || s == "last" || s == "all" {
		return true
	}
	_, ok := parseTimestamp(s)
	return ok
}

// validSpecVersion accepts a STIX spec_version such as 2.0 or 2.1.
func validSpecVersion(s string) bool {
	a, b, ok := strings.Cut(s, ".")
	return ok && isDigits(a) && isDigits(b)
}

func isDigits(s string) bool {
	if s == "" || len(s) > 4 {
		return false
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
