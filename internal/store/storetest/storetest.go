// Package storetest is the one test suite that every store backend must
// pass: the TAXII 2.1 object semantics (dedupe, date_added, every filter,
// paging and visibility), collections, statuses, principals and settings.
//
// The suite also pins down what the specifications leave to the server, so
// that every backend answers alike:
//
//   - an object with neither modified nor created (an SCO) is versioned by
//     its date_added (TAXII 2.1 §5.3 asks for a value consistent for the
//     server); identical bytes are a Duplicate, other bytes a new version;
//   - timestamps compare as instants at microsecond precision;
//   - an object without spec_version is STIX 2.1 when it has no created
//     (an SCO) and STIX 2.0 otherwise;
//   - spec-version selection happens before version selection, so "first"
//     and "last" pick among the spec versions served;
//   - an object is identified by (id, version) whatever its spec version:
//     other bytes under the same id and version are Rejected.
//
// A backend runs it from its own tests:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { ... a fresh, empty store ... })
//	}
package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jointcell/jointcell/internal/stix"
	"github.com/jointcell/jointcell/internal/store"
)

// Open returns a fresh, empty store for one subtest; the suite closes it.
type Open func(t *testing.T) store.Store

// Run runs the whole suite as subtests. Each subtest gets its own store
// from open.
func Run(t *testing.T, open Open) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"AddDedupeReject", testAddDedupeReject},
		{"Unversioned", testUnversioned},
		{"DateAddedIncreasing", testDateAddedIncreasing},
		{"ConcurrentWriters", testConcurrentWriters},
		{"Filters", testFilters},
		{"Paging", testPaging},
		{"InvalidFilters", testInvalidFilters},
		{"Visibility", testVisibility},
		{"LowVisibility", testLowVisibility},
		{"AgainstModel", testAgainstModel},
		{"Delete", testDelete},
		{"StoredIDs", testStoredIDs},
		{"AuditOutbox", testAuditOutbox},
		{"RawRoundTrip", testRawRoundTrip},
		{"Collections", testCollections},
		{"Statuses", testStatuses},
		{"Organisations", testOrganisations},
		{"Users", testUsers},
		{"Groups", testGroups},
		{"Settings", testSettings},
		{"Closed", testClosed},
		{"TestLargePaging", testLargePaging},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { s.Close() })
			tt.fn(t, s)
		})
	}
}

// ids makes distinct, well-formed STIX ids.
var idCounter atomic.Int64

func newID(typ string) string {
	n := idCounter.Add(1)
	return fmt.Sprintf("%s--%08x-1111-4111-8111-%012x", typ, n, n)
}

// newCollection creates a collection readable by anyone for a test.
func newCollection(t *testing.T, s store.Store) string {
	t.Helper()
	id := strings.TrimPrefix(newID("x"), "x--")
	if err := s.CreateCollection(context.Background(), store.Collection{ID: id, Title: "test " + id, ReadBy: []string{store.ReaderAnyone}}); err != nil {
		t.Fatalf("CreateCollection: %v", err)
	}
	return id
}

// object builds an object from its properties, in this order, as compact
// JSON. Empty strings are left out.
func object(t testing.TB, typ, id, spec, created, modified string, extra ...string) stix.Object {
	t.Helper()
	var b strings.Builder
	b.WriteString(`{"type":` + strconv.Quote(typ))
	if spec != "" {
		b.WriteString(`,"spec_version":` + strconv.Quote(spec))
	}
	b.WriteString(`,"id":` + strconv.Quote(id))
	if created != "" {
		b.WriteString(`,"created":` + strconv.Quote(created))
	}
	if modified != "" {
		b.WriteString(`,"modified":` + strconv.Quote(modified))
	}
	for _, e := range extra {
		b.WriteString("," + e)
	}
	b.WriteString("}")
	return decode(t, b.String())
}

func decode(t testing.TB, raw string) stix.Object {
	t.Helper()
	o, err := stix.DecodeObject([]byte(raw))
	if err != nil {
		t.Fatalf("DecodeObject(%s): %v", raw, err)
	}
	return o
}

// public wraps objects as versions visible to anyone.
func public(objs ...stix.Object) []store.Version {
	vs := make([]store.Version, len(objs))
	for i, o := range objs {
		vs[i] = store.Version{Object: o, Audience: []string{store.ReaderAnyone}}
	}
	return vs
}

// add stores versions and fails unless every one is Added; it returns the
// date_added of each.
func add(t *testing.T, s store.Store, coll string, vs ...store.Version) []time.Time {
	t.Helper()
	res, err := s.AddVersions(context.Background(), coll, vs)
	if err != nil {
		t.Fatalf("AddVersions: %v", err)
	}
	if len(res) != len(vs) {
		t.Fatalf("AddVersions: %d results for %d versions", len(res), len(vs))
	}
	out := make([]time.Time, len(res))
	for i, r := range res {
		if r.Outcome != store.Added {
			t.Fatalf("AddVersions[%d] (%s): outcome %v (%s), want Added", i, vs[i].Object.ID, r.Outcome, r.Message)
		}
		out[i] = r.DateAdded
	}
	return out
}

// query runs a query and fails on error.
func query(t *testing.T, s store.Store, coll string, f store.Filter) store.Page {
	t.Helper()
	if f.Limit == 0 {
		f.Limit = 1000
	}
	p, err := s.Query(context.Background(), coll, f)
	if err != nil {
		t.Fatalf("Query(%+v): %v", f, err)
	}
	checkOrder(t, p.Versions)
	return p
}

// checkOrder fails unless versions are strictly ascending by DateAdded.
func checkOrder(t *testing.T, vs []store.Version) {
	t.Helper()
	for i := 1; i < len(vs); i++ {
		if !vs[i].DateAdded.After(vs[i-1].DateAdded) {
			t.Fatalf("versions %d and %d not strictly ascending by date_added: %v, %v", i-1, i, vs[i-1].DateAdded, vs[i].DateAdded)
		}
	}
}

// keys describes versions as "id@version" for comparisons.
func keys(vs []store.Version) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.Object.ID + "@" + v.VersionString()
	}
	return out
}

func objKeys(objs ...stix.Object) []string {
	out := make([]string, len(objs))
	for i, o := range objs {
		out[i] = o.ID + "@" + o.Version()
	}
	return out
}

func sameObject(a, b stix.Object) bool {
	return string(a.Raw) == string(b.Raw) && a.ID == b.ID && a.Type == b.Type && a.SpecVersion == b.SpecVersion &&
		a.Created == b.Created && a.Modified == b.Modified && a.Revoked == b.Revoked && a.CreatedByRef == b.CreatedByRef &&
		slices.Equal(a.MarkingRefs, b.MarkingRefs) && jsonEqual(a.Granular, b.Granular)
}

// jsonEqual compares values by their JSON, so that nil and empty slices of
// the same content are equal.
func jsonEqual(a, b []stix.GranularMarking) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// largeSize is the number of objects of the TestLarge subtest:
// $JOINTCELL_LARGE_OBJECTS, default one million.
func largeSize(t *testing.T) int {
	if v := os.Getenv("JOINTCELL_LARGE_OBJECTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			t.Fatalf("JOINTCELL_LARGE_OBJECTS=%q: want a positive integer", v)
		}
		return n
	}
	return 1_000_000
}
