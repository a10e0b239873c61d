package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jointcell/jointcell/internal/stix"
	"github.com/jointcell/jointcell/internal/store"
)

// ts returns a STIX timestamp i seconds into 2020.
func ts(i int) string {
	return time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second).Format("2006-01-02T15:04:05.000Z")
}

func testAddDedupeReject(t *testing.T, s store.Store) {
	ctx := context.Background()
	coll := newCollection(t, s)
	id := newID("indicator")
	v1 := object(t, "indicator", id, "2.1", ts(0), ts(0), `"name":"one"`)
	v2 := object(t, "indicator", id, "2.1", ts(0), ts(1), `"name":"two"`)
	dates := add(t, s, coll, public(v1, v2)...)

	// Same id and version, same bytes: a duplicate returning the stored
	// date_added. Same id and version, other bytes: rejected. The same
	// instant written differently is the same version.
	v1Other := object(t, "indicator", id, "2.1", ts(0), ts(0), `"name":"changed"`)
	v1SameInstant := object(t, "indicator", id, "2.1", ts(0), strings.TrimSuffix(ts(0), ".000Z")+"Z", `"name":"one"`)
	v3 := object(t, "indicator", id, "2.1", ts(0), ts(2), `"name":"three"`)
	res, err := s.AddVersions(ctx, coll, public(v1, v1Other, v3, v3, v1SameInstant))
	if err != nil {
		t.Fatal(err)
	}
	want := []store.AddOutcome{store.Duplicate, store.Rejected, store.Added, store.Duplicate, store.Rejected}
	for i, r := range res {
		if r.Outcome != want[i] {
			t.Errorf("result %d: outcome %v (%q), want %v", i, r.Outcome, r.Message, want[i])
		}
	}
	if !res[0].DateAdded.Equal(dates[0]) {
		t.Errorf("duplicate DateAdded = %v, want the stored %v", res[0].DateAdded, dates[0])
	}
	if res[1].Message == "" || res[4].Message == "" {
		t.Errorf("rejected results carry no message: %+v", res)
	}
	if !res[2].DateAdded.After(dates[1]) || !res[3].DateAdded.Equal(res[2].DateAdded) {
		t.Errorf("v3 added at %v, its duplicate in the same batch at %v; want after %v and equal", res[2].DateAdded, res[3].DateAdded, dates[1])
	}
	p := query(t, s, coll, store.Filter{Versions: []string{"all"}})
	if got, want := keys(p.Versions), objKeys(v1, v2, v3); !slices.Equal(got, want) {
		t.Errorf("stored versions %v, want %v", got, want)
	}
	if string(p.Versions[0].Object.Raw) != string(v1.Raw) {
		t.Errorf("v1 stored as %s, want the first bytes %s", p.Versions[0].Object.Raw, v1.Raw)
	}

	// A batch for an unknown collection fails as a whole.
	if _, err := s.AddVersions(ctx, "no-such-collection", public(v1)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("AddVersions to unknown collection: %v, want ErrNotFound", err)
	}
	// An empty batch is fine.
	if res, err := s.AddVersions(ctx, coll, nil); err != nil || len(res) != 0 {
		t.Errorf("AddVersions(nil) = %v, %v", res, err)
	}
}

// testUnversioned checks objects with neither modified nor created (SCOs):
// their version is their date_added, identical bytes dedupe, and other
// bytes become another version.
func testUnversioned(t *testing.T, s store.Store) {
	ctx := context.Background()
	coll := newCollection(t, s)
	id := newID("ipv4-addr")
	a := object(t, "ipv4-addr", id, "2.1", "", "", `"value":"198.51.100.3"`)
	b := object(t, "ipv4-addr", id, "2.1", "", "", `"value":"198.51.100.3","x_seen":2`)
	noSpec := object(t, "ipv4-addr", newID("ipv4-addr"), "", "", "", `"value":"198.51.100.4"`)
	dates := add(t, s, coll, public(a, noSpec)...)
	res, err := s.AddVersions(ctx, coll, public(a, b, b))
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Outcome != store.Duplicate || !res[0].DateAdded.Equal(dates[0]) {
		t.Errorf("identical SCO: %+v, want Duplicate at %v", res[0], dates[0])
	}
	if res[1].Outcome != store.Added || res[2].Outcome != store.Duplicate || !res[2].DateAdded.Equal(res[1].DateAdded) {
		t.Errorf("changed SCO then its duplicate: %+v, %+v", res[1], res[2])
	}

	p := query(t, s, coll, store.Filter{IDs: []string{id}, Versions: []string{"all"}})
	if len(p.Versions) != 2 {
		t.Fatalf("all versions of the SCO: %v", keys(p.Versions))
	}
	first, last := p.Versions[0], p.Versions[1]
	if first.VersionString() != first.DateAdded.UTC().Format(store.TimestampFormat) {
		t.Errorf("SCO version %q, want its date_added %v", first.VersionString(), first.DateAdded)
	}
	for _, tc := range []struct {
		versions []string
		want     []store.Version
	}{
		{nil, []store.Version{last}},
		{[]string{"last"}, []store.Version{last}},
		{[]string{"first"}, []store.Version{first}},
		{[]string{first.VersionString()}, []store.Version{first}},
		{[]string{last.VersionString(), first.VersionString()}, []store.Version{first, last}},
	} {
		p := query(t, s, coll, store.Filter{IDs: []string{id}, Versions: tc.versions})
		if got, want := keys(p.Versions), keys(tc.want); !slices.Equal(got, want) {
			t.Errorf("versions %v: got %v, want %v", tc.versions, got, want)
		}
	}
	// Without spec_version an SCO is STIX 2.1 (optional there).
	p = query(t, s, coll, store.Filter{IDs: []string{noSpec.ID}, SpecVersions: []string{"2.1"}})
	if len(p.Versions) != 1 {
		t.Errorf("SCO without spec_version under match[spec_version]=2.1: %v", keys(p.Versions))
	}
}

func testDateAddedIncreasing(t *testing.T, s store.Store) {
	coll := newCollection(t, s)
	other := newCollection(t, s)
	batch := func(n int) []store.Version {
		objs := make([]stix.Object, n)
		for i := range objs {
			objs[i] = object(t, "indicator", newID("indicator"), "2.1", ts(i), ts(i))
		}
		return public(objs...)
	}
	var all []time.Time
	for range 3 {
		all = append(all, add(t, s, coll, batch(300)...)...)
		add(t, s, other, batch(10)...)
	}
	for i, d := range all {
		if d.Location() != time.UTC || d.Nanosecond()%1000 != 0 {
			t.Fatalf("date_added %v: want UTC at microsecond precision", d)
		}
		if i > 0 && !d.After(all[i-1]) {
			t.Fatalf("date_added %d = %v not after %d = %v", i, d, i-1, all[i-1])
		}
	}
	// Paging with AddedAfter = the last date_added of the page before must
	// visit every version exactly once.
	var seen int
	f := store.Filter{Limit: 7}
	for {
		p := query(t, s, coll, f)
		for _, v := range p.Versions {
			if !v.DateAdded.Equal(all[seen]) {
				t.Fatalf("version %d has date_added %v, AddVersions said %v", seen, v.DateAdded, all[seen])
			}
			seen++
		}
		if !p.More {
			break
		}
		f.AddedAfter = p.Versions[len(p.Versions)-1].DateAdded
	}
	if seen != len(all) {
		t.Errorf("paged through %d versions, want %d", seen, len(all))
	}
}

func testConcurrentWriters(t *testing.T, s store.Store) {
	ctx := context.Background()
	coll := newCollection(t, s)
	const writers, batches, size = 6, 8, 40
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		dates = map[time.Time]string{}
		errs  = make(chan error, writers)
	)
	for w := range writers {
		vs := make([][]store.Version, batches)
		for b := range vs {
			objs := make([]stix.Object, size)
			for i := range objs {
				objs[i] = object(t, "indicator", newID("indicator"), "2.1", ts(w), ts(b*size+i), fmt.Sprintf(`"name":"w%d"`, w))
			}
			vs[b] = public(objs...)
		}
		wg.Go(func() {
			for _, batch := range vs {
				res, err := s.AddVersions(ctx, coll, batch)
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				for i, r := range res {
					if r.Outcome != store.Added {
						errs <- fmt.Errorf("writer %d: %s: %v %s", w, batch[i].Object.ID, r.Outcome, r.Message)
					}
					if prev, dup := dates[r.DateAdded]; dup {
						errs <- fmt.Errorf("date_added %v given to %s and %s", r.DateAdded, prev, batch[i].Object.ID)
					}
					dates[r.DateAdded] = batch[i].Object.ID
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var got []store.Version
	f := store.Filter{Limit: 64}
	for {
		p := query(t, s, coll, f)
		got = append(got, p.Versions...)
		if !p.More {
			break
		}
		f.AddedAfter = p.Versions[len(p.Versions)-1].DateAdded
	}
	checkOrder(t, got)
	if len(got) != writers*batches*size {
		t.Fatalf("stored %d versions, want %d", len(got), writers*batches*size)
	}
	for _, v := range got {
		if dates[v.DateAdded] != v.Object.ID {
			t.Fatalf("%s stored at %v, AddVersions reported it for %q", v.Object.ID, v.DateAdded, dates[v.DateAdded])
		}
	}
}

// filterFixture is a collection with several versions and spec versions.
type filterFixture struct {
	coll               string
	a1, a2, a3         stix.Object // indicator, three 2.1 versions
	b1, b2, b3         stix.Object // malware: 2.0 (no spec_version), 2.0, then 2.1
	c                  stix.Object // marking-definition: created only
	d                  stix.Object // tool, one 2.1 version
	dates              map[string]time.Time
	added              []stix.Object // in date_added order
	aID, bID, cID, dID string
}

func newFilterFixture(t *testing.T, s store.Store) *filterFixture {
	f := &filterFixture{coll: newCollection(t, s), dates: map[string]time.Time{}}
	f.aID, f.bID, f.cID, f.dID = newID("indicator"), newID("malware"), newID("marking-definition"), newID("tool")
	f.a1 = object(t, "indicator", f.aID, "2.1", ts(0), ts(10), `"name":"a"`)
	f.a2 = object(t, "indicator", f.aID, "2.1", ts(0), ts(20), `"name":"a"`)
	f.a3 = object(t, "indicator", f.aID, "2.1", ts(0), ts(30), `"name":"a"`)
	f.b1 = object(t, "malware", f.bID, "", ts(0), ts(5), `"name":"b"`)
	f.b2 = object(t, "malware", f.bID, "", ts(0), ts(40), `"name":"b"`)
	f.b3 = object(t, "malware", f.bID, "2.1", ts(0), ts(25), `"name":"b"`)
	f.c = object(t, "marking-definition", f.cID, "2.1", ts(1), "", `"definition_type":"statement"`)
	f.d = object(t, "tool", f.dID, "2.1", ts(3), ts(20), `"name":"d"`)
	// Arrival order differs from version order on purpose.
	f.added = []stix.Object{f.a2, f.b1, f.c, f.a1, f.b3, f.d, f.a3, f.b2}
	for _, o := range f.added {
		d := add(t, s, f.coll, public(o)...)
		f.dates[objKeys(o)[0]] = d[0]
	}
	return f
}

func (f *filterFixture) date(o stix.Object) time.Time { return f.dates[objKeys(o)[0]] }

func testFilters(t *testing.T, s store.Store) {
	f := newFilterFixture(t, s)
	// inOrder returns the objects sorted the way the store must return
	// them: by date_added.
	inOrder := func(objs ...stix.Object) []string {
		var out []stix.Object
		for _, o := range f.added {
			if slices.ContainsFunc(objs, func(x stix.Object) bool { return x.ID == o.ID && x.Version() == o.Version() }) {
				out = append(out, o)
			}
		}
		return objKeys(out...)
	}
	tests := []struct {
		name   string
		filter store.Filter
		want   []stix.Object
	}{
		{"default: last of latest spec", store.Filter{}, []stix.Object{f.a3, f.b3, f.c, f.d}},
		{"last", store.Filter{Versions: []string{"last"}}, []stix.Object{f.a3, f.b3, f.c, f.d}},
		{"first among latest spec", store.Filter{Versions: []string{"first"}}, []stix.Object{f.a1, f.b3, f.c, f.d}},
		{"all of latest spec", store.Filter{Versions: []string{"all"}}, []stix.Object{f.a1, f.a2, f.a3, f.b3, f.c, f.d}},
		{"first,last", store.Filter{Versions: []string{"first", "last"}}, []stix.Object{f.a1, f.a3, f.b3, f.c, f.d}},
		{"exact", store.Filter{Versions: []string{ts(20)}}, []stix.Object{f.a2, f.d}},
		{"exact, another spelling of the instant", store.Filter{Versions: []string{"2020-01-01T00:00:20.000000Z"}}, []stix.Object{f.a2, f.d}},
		{"exact, several", store.Filter{Versions: []string{ts(10), ts(30)}}, []stix.Object{f.a1, f.a3}},
		{"exact created-only", store.Filter{Versions: []string{ts(1)}}, []stix.Object{f.c}},
		{"exact of hidden spec version", store.Filter{Versions: []string{ts(40)}}, nil},
		{"exact or first", store.Filter{Versions: []string{ts(20), "first"}}, []stix.Object{f.a1, f.a2, f.b3, f.c, f.d}},
		{"all wins", store.Filter{Versions: []string{"first", "all"}}, []stix.Object{f.a1, f.a2, f.a3, f.b3, f.c, f.d}},
		{"spec 2.0", store.Filter{SpecVersions: []string{"2.0"}}, []stix.Object{f.b2}},
		{"spec 2.0 first", store.Filter{SpecVersions: []string{"2.0"}, Versions: []string{"first"}}, []stix.Object{f.b1}},
		{"spec 2.0 all", store.Filter{SpecVersions: []string{"2.0"}, Versions: []string{"all"}}, []stix.Object{f.b1, f.b2}},
		{"spec 2.0,2.1 last", store.Filter{SpecVersions: []string{"2.0", "2.1"}}, []stix.Object{f.a3, f.b2, f.c, f.d}},
		{"spec 2.0,2.1 first", store.Filter{SpecVersions: []string{"2.1", "2.0"}, Versions: []string{"first"}}, []stix.Object{f.a1, f.b1, f.c, f.d}},
		{"spec 2.0,2.1 all", store.Filter{SpecVersions: []string{"2.0", "2.1"}, Versions: []string{"all"}}, f.added},
		{"spec 2.1 exact 2.0 version", store.Filter{SpecVersions: []string{"2.1"}, Versions: []string{ts(5)}}, nil},
		{"spec unknown", store.Filter{SpecVersions: []string{"3.0"}}, nil},
		{"type", store.Filter{Types: []string{"indicator"}}, []stix.Object{f.a3}},
		{"types", store.Filter{Types: []string{"tool", "malware"}, Versions: []string{"all"}}, []stix.Object{f.b3, f.d}},
		{"type unknown", store.Filter{Types: []string{"campaign"}}, nil},
		{"id", store.Filter{IDs: []string{f.aID}, Versions: []string{"all"}}, []stix.Object{f.a1, f.a2, f.a3}},
		{"ids", store.Filter{IDs: []string{f.cID, f.bID}}, []stix.Object{f.b3, f.c}},
		{"ids and types AND", store.Filter{IDs: []string{f.aID, f.bID}, Types: []string{"malware"}}, []stix.Object{f.b3}},
		{"id and type disjoint", store.Filter{IDs: []string{f.aID}, Types: []string{"malware"}}, nil},
		{"id unknown", store.Filter{IDs: []string{newID("indicator")}}, nil},
		{"added_after applies after selection", store.Filter{AddedAfter: f.date(f.a1), Versions: []string{"first"}}, []stix.Object{f.b3, f.d}},
		{"added_after all", store.Filter{AddedAfter: f.date(f.a1), Versions: []string{"all"}, SpecVersions: []string{"2.0", "2.1"}}, []stix.Object{f.b3, f.d, f.a3, f.b2}},
		{"added_after is strict", store.Filter{AddedAfter: f.date(f.b2), Versions: []string{"all"}, SpecVersions: []string{"2.0"}}, nil},
		{"added_after before all", store.Filter{AddedAfter: f.date(f.a2).Add(-time.Hour), IDs: []string{f.aID}}, []stix.Object{f.a3}},
		{"everything combined", store.Filter{AddedAfter: f.date(f.a2), IDs: []string{f.aID, f.bID, f.dID}, Types: []string{"indicator", "malware"},
			Versions: []string{"first", ts(30)}, SpecVersions: []string{"2.1"}}, []stix.Object{f.a1, f.b3, f.a3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := query(t, s, f.coll, tt.filter)
			if got, want := keys(p.Versions), inOrder(tt.want...); !slices.Equal(got, want) {
				t.Errorf("got %v\nwant %v", got, want)
			}
			if p.More {
				t.Errorf("More = true on a page that holds everything")
			}
			for _, v := range p.Versions {
				if !v.DateAdded.Equal(f.date(v.Object)) {
					t.Errorf("%s: DateAdded %v, stored at %v", keys([]store.Version{v}), v.DateAdded, f.date(v.Object))
				}
			}
		})
	}
}

func testPaging(t *testing.T, s store.Store) {
	coll := newCollection(t, s)
	mk := func(n int) []stix.Object {
		objs := make([]stix.Object, n)
		for i := range objs {
			objs[i] = object(t, "indicator", newID("indicator"), "2.1", ts(i), ts(i))
		}
		return objs
	}
	objs := mk(250)
	add(t, s, coll, public(objs...)...)
	for _, tc := range []struct {
		limit int
		pages []int
	}{
		{100, []int{100, 100, 50}},
		{125, []int{125, 125}},
		{250, []int{250}},
		{251, []int{250}},
		{1000, []int{250}},
		{1, nil}, // 250 pages of one
	} {
		t.Run(fmt.Sprint(tc.limit), func(t *testing.T) {
			if tc.pages == nil {
				for range 250 {
					tc.pages = append(tc.pages, 1)
				}
			}
			f := store.Filter{Limit: tc.limit}
			var got []stix.Object
			for i, want := range tc.pages {
				p := query(t, s, coll, f)
				if len(p.Versions) != want {
					t.Fatalf("page %d: %d versions, want %d", i, len(p.Versions), want)
				}
				if last := i == len(tc.pages)-1; p.More == last {
					t.Fatalf("page %d of %d: More = %v", i, len(tc.pages), p.More)
				}
				for _, v := range p.Versions {
					got = append(got, v.Object)
				}
				f.AddedAfter = p.Versions[len(p.Versions)-1].DateAdded
			}
			if !slices.Equal(objKeys(got...), objKeys(objs...)) {
				t.Errorf("paging did not return every object once, in order")
			}
			// After the last page: empty, no more.
			if p := query(t, s, coll, f); len(p.Versions) != 0 || p.More {
				t.Errorf("past the end: %d versions, More %v", len(p.Versions), p.More)
			}
		})
	}
}

func testInvalidFilters(t *testing.T, s store.Store) {
	ctx := context.Background()
	coll := newCollection(t, s)
	for _, f := range []store.Filter{
		{Limit: 0},
		{Limit: -1},
		{Limit: 10, Versions: []string{"latest"}},
		{Limit: 10, Versions: []string{"2020-13-01T00:00:00Z"}},
		{Limit: 10, Versions: []string{"first", "yesterday"}},
	} {
		if _, err := s.Query(ctx, coll, f); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("Query(%+v): %v, want ErrInvalid", f, err)
		}
	}
	if _, err := s.Query(ctx, "no-such-collection", store.Filter{Limit: 10}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Query on unknown collection: %v, want ErrNotFound", err)
	}
}

func testVisibility(t *testing.T, s store.Store) {
	coll := newCollection(t, s)
	orgA, orgB := store.ReaderOrg("identity--a"), store.ReaderOrg("identity--b")
	v := func(o stix.Object, audience ...string) store.Version {
		return store.Version{Object: o, Audience: audience}
	}
	pub := object(t, "indicator", newID("indicator"), "2.1", ts(0), ts(0))
	onlyA := object(t, "indicator", newID("indicator"), "2.1", ts(0), ts(0))
	onlyB := object(t, "indicator", newID("indicator"), "2.1", ts(0), ts(0))
	both := object(t, "indicator", newID("indicator"), "2.1", ts(0), ts(0))
	wID := newID("report")
	w1 := object(t, "report", wID, "2.1", ts(0), ts(1)) // seen by A
	w2 := object(t, "report", wID, "2.1", ts(0), ts(2)) // seen by B
	w3 := object(t, "report", wID, "2.1", ts(0), ts(3)) // seen by A
	w4 := object(t, "report", wID, "2.1", ts(0), ts(4)) // seen by B
	sID := newID("malware")
	s20 := object(t, "malware", sID, "", ts(0), ts(1)) // 2.0, seen by A
	s21 := object(t, "malware", sID, "2.1", ts(0), ts(2))
	group := store.ReaderGroup("marking-definition--g")
	grp := object(t, "indicator", newID("indicator"), "2.1", ts(0), ts(0))
	add(t, s, coll,
		v(pub, store.ReaderAnyone), v(onlyA, orgA), v(onlyB, orgB), v(both, orgA, orgB),
		v(w1, orgA), v(w2, orgB), v(w3, orgA), v(w4, orgB), v(s20, orgA), v(s21, orgB), v(grp, group))
	// Versions invisible to A at the end, so that a page which ends with
	// A's last visible version must not say More.
	var tail []store.Version
	for range 20 {
		tail = append(tail, v(object(t, "indicator", newID("indicator"), "2.1", ts(0), ts(0)), orgB))
	}
	add(t, s, coll, tail...)

	readersA := []string{store.ReaderAnyone, store.ReaderCommunity, orgA}
	tests := []struct {
		name   string
		filter store.Filter
		want   []stix.Object
	}{
		{"A last", store.Filter{Readers: readersA}, []stix.Object{pub, onlyA, both, w3, s20}},
		{"A first", store.Filter{Readers: readersA, Versions: []string{"first"}}, []stix.Object{pub, onlyA, both, w1, s20}},
		{"A all", store.Filter{Readers: readersA, Versions: []string{"all"}, IDs: []string{wID}}, []stix.Object{w1, w3}},
		{"A exact of a B version", store.Filter{Readers: readersA, Versions: []string{ts(2)}, IDs: []string{wID}}, nil},
		{"A spec 2.1", store.Filter{Readers: readersA, SpecVersions: []string{"2.1"}, IDs: []string{sID}}, nil},
		{"B last", store.Filter{Readers: []string{orgB}, IDs: []string{wID, sID, onlyA.ID, both.ID}}, []stix.Object{both, w4, s21}},
		{"group", store.Filter{Readers: []string{group}}, []stix.Object{grp}},
		{"no reader keys", store.Filter{Readers: []string{}}, nil},
		{"unknown key", store.Filter{Readers: []string{"org:identity--nobody"}}, nil},
		{"admin", store.Filter{IDs: []string{wID, sID}}, []stix.Object{w4, s21}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := query(t, s, coll, tt.filter)
			var want []string
			for _, v := range []stix.Object{pub, onlyA, onlyB, both, w1, w2, w3, w4, s20, s21, grp} {
				if slices.ContainsFunc(tt.want, func(x stix.Object) bool { return x.ID == v.ID && x.Version() == v.Version() }) {
					want = append(want, objKeys(v)...)
				}
			}
			if got := keys(p.Versions); !slices.Equal(got, want) {
				t.Errorf("got %v\nwant %v", got, want)
			}
			if p.More {
				t.Errorf("More = true because of invisible versions")
			}
		})
	}
	// Exactly a page of visible versions followed only by invisible ones.
	f := store.Filter{Readers: readersA, Limit: 5}
	if p := query(t, s, coll, f); len(p.Versions) != 5 || p.More {
		t.Errorf("limit 5 of 5 visible: %d versions, More %v", len(p.Versions), p.More)
	}
	f.Limit = 4
	if p := query(t, s, coll, f); len(p.Versions) != 4 || !p.More {
		t.Errorf("limit 4 of 5 visible: %d versions, More %v", len(p.Versions), p.More)
	}
	// The audience comes back with each version.
	p := query(t, s, coll, store.Filter{IDs: []string{both.ID}})
	if len(p.Versions) != 1 || !sameSet(p.Versions[0].Audience, []string{orgA, orgB}) {
		t.Errorf("audience of %s: %+v", both.ID, p.Versions)
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func testDelete(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := newFilterFixture(t, s)
	all := store.Filter{Versions: []string{"all"}, SpecVersions: []string{"2.0", "2.1"}}
	remaining := func(id string) []string {
		all := all
		all.IDs = []string{id}
		return keys(query(t, s, f.coll, all).Versions)
	}
	del := func(id string, filter store.Filter) (int, error) {
		return s.DeleteVersions(ctx, f.coll, id, filter)
	}
	// One exact version.
	if n, err := del(f.aID, store.Filter{Versions: []string{ts(20)}}); n != 1 || err != nil {
		t.Fatalf("delete a2: %d, %v", n, err)
	}
	if got, want := remaining(f.aID), objKeys(f.a1, f.a3); !slices.Equal(got, want) {
		t.Errorf("after deleting a2: %v, want %v", got, want)
	}
	// "last" is the last before the request.
	if n, err := del(f.aID, store.Filter{Versions: []string{"last"}}); n != 1 || err != nil {
		t.Fatalf("delete last of a: %d, %v", n, err)
	}
	if got, want := remaining(f.aID), objKeys(f.a1); !slices.Equal(got, want) {
		t.Errorf("after deleting the last of a: %v, want %v", got, want)
	}
	// Nothing selected: ErrNotFound.
	if _, err := del(f.aID, store.Filter{Versions: []string{ts(20)}}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("delete of a missing version: %v, want ErrNotFound", err)
	}
	if _, err := del(newID("indicator"), store.Filter{}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("delete of an unknown object: %v, want ErrNotFound", err)
	}
	// Versions invisible to the caller are not deleted.
	if _, err := del(f.bID, store.Filter{Readers: []string{"org:identity--nobody"}}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("delete by someone who sees nothing: %v, want ErrNotFound", err)
	}
	// By spec version; the default is every spec version.
	if n, err := del(f.bID, store.Filter{SpecVersions: []string{"2.0"}}); n != 2 || err != nil {
		t.Fatalf("delete the 2.0 versions of b: %d, %v", n, err)
	}
	if got, want := remaining(f.bID), objKeys(f.b3); !slices.Equal(got, want) {
		t.Errorf("after deleting the 2.0 versions of b: %v, want %v", got, want)
	}
	// Everything of an object, and the rest of the collection is untouched.
	if n, err := del(f.dID, store.Filter{}); n != 1 || err != nil {
		t.Fatalf("delete d: %d, %v", n, err)
	}
	if got := remaining(f.dID); len(got) != 0 {
		t.Errorf("d still stored: %v", got)
	}
	if got, want := keys(query(t, s, f.coll, all).Versions), objKeys(f.c, f.a1, f.b3); !slices.Equal(got, want) {
		t.Errorf("collection after deletes: %v, want %v", got, want)
	}
	if _, err := s.DeleteVersions(ctx, "no-such-collection", f.aID, store.Filter{}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("delete in unknown collection: %v, want ErrNotFound", err)
	}
	// A deleted version can be stored again, with a new date_added.
	d := add(t, s, f.coll, public(f.d)...)
	if !d[0].After(f.date(f.b2)) {
		t.Errorf("re-added %s at %v, not after every earlier date_added", f.dID, d[0])
	}
}

func testRawRoundTrip(t *testing.T, s store.Store) {
	coll := newCollection(t, s)
	raws := []string{
		"{  \"type\" : \"indicator\",\n\t\"spec_version\":\"2.1\",  \"id\":\"" + newID("indicator") + "\",\r\n" +
			"\"created\":\"2016-05-12T08:17:27.123456789Z\",\"modified\":\"2016-05-12T08:17:27.123456789Z\",\n" +
			"\"name\":\"caf\u00e9 \u6f22\u5b57 \\u00e9 \\\"quoted\\\" \U0001F600\",\"pattern\":\"[file:name = 'a\\\\b']\" ,\"x_n\": 1.50e3 }",
		`{"id":"` + newID("identity") + `","type":"identity","spec_version":"2.1","created":"2017-01-01T00:00:00Z","modified":"2017-01-01T00:00:00.1Z","name":"X","object_marking_refs":["marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"],"granular_markings":[{"selectors":["name"],"marking_ref":"marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"},{"selectors":["name"],"lang":"fr"}],"created_by_ref":"identity--a","revoked":true}`,
		`{"type":"file","spec_version":"2.1","id":"` + newID("file") + `","name":"\u0000\ud83d\ude00","hashes":{"SHA-256":"ab"}}`,
	}
	var objs []stix.Object
	for _, r := range raws {
		objs = append(objs, decode(t, r))
	}
	vs := public(objs...)
	vs[1].Origin = "peer-cell"
	add(t, s, coll, vs...)
	p := query(t, s, coll, store.Filter{})
	if len(p.Versions) != len(objs) {
		t.Fatalf("stored %d, got %d back", len(objs), len(p.Versions))
	}
	for i, v := range p.Versions {
		if string(v.Object.Raw) != string(objs[i].Raw) {
			t.Errorf("object %d: bytes differ:\n got %q\nwant %q", i, v.Object.Raw, objs[i].Raw)
		}
		if !sameObject(v.Object, objs[i]) {
			t.Errorf("object %d: decoded fields differ:\n got %+v\nwant %+v", i, v.Object, objs[i])
		}
		if v.Origin != vs[i].Origin {
			t.Errorf("object %d: origin %q, want %q", i, v.Origin, vs[i].Origin)
		}
	}
	if got := p.Versions[0].VersionString(); got != "2016-05-12T08:17:27.123456789Z" {
		t.Errorf("version string %q: the timestamp must be kept as received", got)
	}
	// The long timestamp is matched as an instant.
	p = query(t, s, coll, store.Filter{Versions: []string{"2016-05-12T08:17:27.123456Z"}})
	if len(p.Versions) != 1 || p.Versions[0].Object.ID != objs[0].ID {
		t.Errorf("exact match on the microsecond instant of a nanosecond timestamp: %v", keys(p.Versions))
	}
}

// testLargePaging loads a large collection (one million objects unless
// $JOINTCELL_LARGE_OBJECTS says otherwise) and pages through it.
func testLargePaging(t *testing.T, s store.Store) {
	if testing.Short() {
		t.Skip("large: skipped with -short")
	}
	n := largeSize(t)
	coll := newCollection(t, s)
	ctx := context.Background()
	start := time.Now()
	const batch = 1000
	orgA := store.ReaderOrg("identity--a")
	for i := 0; i < n; i += batch {
		vs := make([]store.Version, 0, batch)
		for j := i; j < min(i+batch, n); j++ {
			aud := []string{store.ReaderAnyone}
			if j%10 == 0 {
				aud = []string{orgA}
			}
			o := object(t, "indicator", fmt.Sprintf("indicator--%08x-2222-4222-8222-%012x", j, j), "2.1", ts(0), ts(j%1000),
				`"name":"large"`, `"pattern":"[ipv4-addr:value = '10.0.0.1']"`, `"pattern_type":"stix"`, `"valid_from":"2020-01-01T00:00:00Z"`)
			vs = append(vs, store.Version{Object: o, Audience: aud})
		}
		res, err := s.AddVersions(ctx, coll, vs)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if r.Outcome != store.Added {
				t.Fatalf("large load: %v %s", r.Outcome, r.Message)
			}
		}
	}
	t.Logf("loaded %d objects in %v", n, time.Since(start))

	start = time.Now()
	f := store.Filter{Limit: 1000, Readers: []string{store.ReaderAnyone, store.ReaderCommunity}}
	var seen, pages int
	var last time.Time
	for {
		p, err := s.Query(ctx, coll, f)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, v := range p.Versions {
			if !v.DateAdded.After(last) {
				t.Fatalf("page %d: date_added %v not after %v", pages, v.DateAdded, last)
			}
			last = v.DateAdded
		}
		seen += len(p.Versions)
		if !p.More {
			break
		}
		if len(p.Versions) != f.Limit {
			t.Fatalf("page %d: %d versions with More, want a full page of %d", pages, len(p.Versions), f.Limit)
		}
		f.AddedAfter = last
	}
	want := n - (n+9)/10
	if seen != want {
		t.Errorf("paged through %d visible versions, want %d", seen, want)
	}
	t.Logf("paged through %d versions in %d pages in %v", seen, pages, time.Since(start))
}

// testLowVisibility pages, as readers who see a small part of a
// collection, through versions spread over many audiences, some of them
// new between two pages: every page is full, in date_added order, and
// holds exactly the versions the reader may see (with types, versions
// and ids filters too).
func testLowVisibility(t *testing.T, s store.Store) {
	coll := newCollection(t, s)
	orgs := make([]string, 12)
	for i := range orgs {
		orgs[i] = store.ReaderOrg(fmt.Sprintf("identity--%d", i))
	}
	group := store.ReaderGroup("marking-definition--low")
	type stored struct {
		o   stix.Object
		aud []string
	}
	var all []stored
	load := func(from, n int, newAudiences bool) {
		var vs []store.Version
		for i := from; i < from+n; i++ {
			var aud []string
			switch {
			case newAudiences && i%7 == 0:
				aud = []string{orgs[i%len(orgs)], group, store.ReaderOrg(fmt.Sprintf("identity--new-%d", i%3))}
			case i%5 == 0:
				aud = []string{orgs[i%len(orgs)], orgs[(i+1)%len(orgs)]}
			case i%3 == 0:
				aud = []string{orgs[i%len(orgs)]}
			default:
				aud = []string{orgs[(i%4)+8], store.ReaderCommunity}
			}
			// Objects of two to four versions, each with its own audience.
			typ := []string{"indicator", "malware", "tool"}[i%3]
			o := object(t, typ, fmt.Sprintf("%s--%08x-3333-4333-8333-000000000000", typ, i/4), "2.1", ts(0), ts(i%4))
			if slices.ContainsFunc(all, func(x stored) bool { return x.o.ID == o.ID && x.o.Modified == o.Modified }) {
				continue
			}
			vs = append(vs, store.Version{Object: o, Audience: aud})
			all = append(all, stored{o, aud})
		}
		add(t, s, coll, vs...)
	}
	load(0, 600, false)

	sees := func(readers, aud []string) bool {
		return slices.ContainsFunc(aud, func(a string) bool { return slices.Contains(readers, a) })
	}
	for _, tc := range []struct {
		name    string
		readers []string
		filter  store.Filter
	}{
		{"one org", []string{orgs[2]}, store.Filter{Versions: []string{"all"}}},
		{"two orgs", []string{orgs[2], orgs[7]}, store.Filter{Versions: []string{"all"}}},
		{"org and group", []string{orgs[5], group}, store.Filter{Versions: []string{"all"}}},
		{"one org, one type", []string{orgs[3]}, store.Filter{Versions: []string{"all"}, Types: []string{"tool"}}},
		{"one org, two types", []string{orgs[3], orgs[4]}, store.Filter{Versions: []string{"all"}, Types: []string{"tool", "malware"}}},
		{"many orgs", orgs[:7], store.Filter{Versions: []string{"all"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.filter
			f.Readers, f.Limit = tc.readers, 7
			var got []string
			var last time.Time
			for pages := 0; ; pages++ {
				if pages == 2 {
					// New audience sets, some visible to the reader, between pages.
					load(1000+len(all), 60, true)
				}
				p := query(t, s, coll, f)
				if p.More && len(p.Versions) != f.Limit {
					t.Fatalf("page %d: %d versions with More", pages, len(p.Versions))
				}
				for _, v := range p.Versions {
					if !v.DateAdded.After(last) {
						t.Fatalf("page %d: not after the previous page", pages)
					}
					last = v.DateAdded
					if !sees(tc.readers, v.Audience) {
						t.Fatalf("page %d: %s with audience %v is not for %v", pages, v.Object.ID, v.Audience, tc.readers)
					}
				}
				got = append(got, keys(p.Versions)...)
				if !p.More {
					break
				}
				f.AddedAfter = last
			}
			var want []string
			for _, x := range all {
				if sees(tc.readers, x.aud) && (len(f.Types) == 0 || slices.Contains(f.Types, x.o.Type)) {
					want = append(want, objKeys(x.o)...)
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("paged %d versions, want %d:\ngot  %v\nwant %v", len(got), len(want), got, want)
			}
			if len(want) <= f.Limit {
				t.Errorf("only %d versions to page through: the test data is not what it should be", len(want))
			}
		})
	}
}
