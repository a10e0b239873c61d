package retention

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jointcell/jointcell/internal/audit"
	"github.com/jointcell/jointcell/internal/stix"
	"github.com/jointcell/jointcell/internal/store"
)

// fakeStore keeps versions in memory with the subset of the store
// semantics retention relies on: Versions "all", AddedAfter paging, and
// deletion of one exact version or of all versions of an object.
type fakeStore struct {
	mu    sync.Mutex
	colls []store.Collection
	vs    map[string][]store.Version
	fail  error
}

func (s *fakeStore) ListCollections(context.Context) ([]store.Collection, error) {
	return s.colls, nil
}

func (s *fakeStore) Query(_ context.Context, coll string, f store.Filter) (store.Page, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !slices.Equal(f.Versions, []string{"all"}) || f.Readers != nil || f.Limit <= 0 {
		return store.Page{}, fmt.Errorf("unexpected filter %+v", f)
	}
	var p store.Page
	for _, v := range s.vs[coll] {
		if !v.DateAdded.After(f.AddedAfter) {
			continue
		}
		if len(p.Versions) == f.Limit {
			p.More = true
			break
		}
		p.Versions = append(p.Versions, v)
	}
	return p, nil
}

func (s *fakeStore) DeleteVersions(_ context.Context, coll, id string, f store.Filter) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return 0, s.fail
	}
	n := 0
	s.vs[coll] = slices.DeleteFunc(s.vs[coll], func(v store.Version) bool {
		hit := v.Object.ID == id && (len(f.Versions) == 0 || slices.Contains(f.Versions, v.Object.Version()))
		if hit {
			n++
		}
		return hit
	})
	if n == 0 {
		return 0, store.ErrNotFound
	}
	return n, nil
}

type fakeAudit struct {
	mu      sync.Mutex
	entries []audit.Entry
}

func (a *fakeAudit) Append(_ context.Context, e audit.Entry) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.entries = append(a.entries, e)
	return nil
}

// fakeClock advances only when told to.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	c.waiters = append(c.waiters, waiter{c.now.Add(d), ch})
	return ch
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(c.now) {
			w.ch <- c.now
		} else {
			kept = append(kept, w)
		}
	}
	c.waiters = kept
}

func (c *fakeClock) pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.waiters)
}

const (
	red   = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"
	green = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
)

var t0 = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

func version(t *testing.T, typ string, n int, added time.Time, extra string) store.Version {
	t.Helper()
	raw := fmt.Sprintf(`{"type":%q,"spec_version":"2.1","id":"%s--00000000-0000-4000-8000-%012d","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-%02dT00:00:00.000Z"%s}`,
		typ, typ, n, 1+n%28, extra)
	o, err := stix.DecodeObject([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	return store.Version{Object: o, DateAdded: added}
}

func TestOnce(t *testing.T) {
	day := 24 * time.Hour
	s := &fakeStore{
		colls: []store.Collection{{ID: "c1", Alias: "short"}, {ID: "c2"}},
		vs: map[string][]store.Version{
			"c1": {
				version(t, "malware", 1, t0, ""),                                               // 45 days: over 30
				version(t, "malware", 2, t0.Add(20*day), ""),                                   // 25 days: kept
				version(t, "malware", 3, t0.Add(30*day), `,"object_marking_refs":["`+red+`"]`), // 15 days: over red's 7
				version(t, "malware", 4, t0.Add(40*day), `,"object_marking_refs":["`+red+`"]`), // 5 days: kept
			},
			"c2": {
				version(t, "malware", 5, t0, ""),                                                        // no collection limit: kept
				version(t, "malware", 6, t0, `,"object_marking_refs":["`+green+`","`+red+`"]`),          // red: gone
				version(t, "indicator", 7, t0.Add(44*day), `,"valid_until":"2024-02-01T00:00:00Z"`),     // expired
				version(t, "indicator", 8, t0.Add(44*day), `,"valid_until":"2024-12-01T00:00:00.000Z"`), // valid
				version(t, "indicator", 9, t0.Add(44*day), `,"valid_until":"not a time"`),               // kept
				version(t, "malware", 10, t0.Add(44*day), `,"valid_until":"2024-02-01T00:00:00Z"`),      // not an indicator
			},
		},
	}
	// Page boundaries inside the data: a smaller page is not configurable,
	// so add enough filler to cross one.
	for i := range pageSize + 3 {
		s.vs["c2"] = append(s.vs["c2"], version(t, "malware", 100+i, t0.Add(44*day+time.Duration(i+1)*time.Second), ""))
	}
	s.vs["c2"] = append(s.vs["c2"], version(t, "indicator", 99, t0.Add(45*day), `,"valid_until":"2024-01-02T00:00:00Z"`))
	for _, vs := range s.vs {
		sort.SliceStable(vs, func(i, j int) bool { return vs[i].DateAdded.Before(vs[j].DateAdded) })
	}
	cfg, err := ParseConfig([]byte(`{"collections":{"short":"30d"},"markings":{"` + red + `":"168h"},"expire_indicators":true}`))
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{now: t0.Add(45*day + time.Hour)}
	a := &fakeAudit{}
	n, err := New(s, a, cfg, clock, nil).Once(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	gone := []string{"malware--00000000-0000-4000-8000-000000000001", "malware--00000000-0000-4000-8000-000000000003",
		"malware--00000000-0000-4000-8000-000000000006", "indicator--00000000-0000-4000-8000-000000000007",
		"indicator--00000000-0000-4000-8000-000000000099"}
	if n != len(gone) {
		t.Errorf("purged %d, want %d", n, len(gone))
	}
	var audited []string
	for _, e := range a.entries {
		if e.Action != audit.ActionPurge || e.Actor != "system" || e.Outcome != audit.OutcomeOK || !e.Time.Equal(clock.Now()) || len(e.IDs) != 1 {
			t.Errorf("bad audit entry %+v", e)
		}
		audited = append(audited, e.IDs[0])
	}
	slices.Sort(audited)
	slices.Sort(gone)
	if !slices.Equal(audited, gone) {
		t.Errorf("audited %v, want %v", audited, gone)
	}
	for _, vs := range s.vs {
		for _, v := range vs {
			if slices.Contains(gone, v.Object.ID) {
				t.Errorf("%s still stored", v.Object.ID)
			}
		}
	}
	if got := len(s.vs["c1"]) + len(s.vs["c2"]); got != 4+6+pageSize+3+1-len(gone) {
		t.Errorf("%d versions left", got)
	}
	for _, e := range a.entries {
		if e.IDs[0] == "malware--00000000-0000-4000-8000-000000000003" && !strings.Contains(e.Detail, red) {
			t.Errorf("detail should name the marking: %q", e.Detail)
		}
	}
}

func TestDeleteFailureIsAudited(t *testing.T) {
	s := &fakeStore{colls: []store.Collection{{ID: "c"}}, vs: map[string][]store.Version{"c": {version(t, "malware", 1, t0, "")}},
		fail: errors.New("disk full")}
	a := &fakeAudit{}
	_, err := New(s, a, Config{Collections: map[string]time.Duration{"c": time.Hour}}, &fakeClock{now: t0.Add(2 * time.Hour)}, nil).Once(context.Background())
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("err = %v", err)
	}
	if len(a.entries) != 1 || a.entries[0].Outcome != audit.OutcomeError {
		t.Fatalf("entries %+v", a.entries)
	}
}

func TestRunEveryInterval(t *testing.T) {
	s := &fakeStore{colls: []store.Collection{{ID: "c"}}, vs: map[string][]store.Version{"c": {
		version(t, "malware", 1, t0, ""),
		version(t, "malware", 2, t0.Add(90*time.Minute), ""),
	}}}
	clock := &fakeClock{now: t0.Add(61 * time.Minute)}
	a := &fakeAudit{}
	job := New(s, a, Config{Interval: 30 * time.Minute, Collections: map[string]time.Duration{"c": time.Hour}}, clock, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- job.Run(ctx) }()
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(time.Millisecond)
		}
	}
	count := func() int { a.mu.Lock(); defer a.mu.Unlock(); return len(a.entries) }
	waitFor("first pass", func() bool { return clock.pending() == 1 })
	if count() != 1 {
		t.Fatalf("first pass purged %d", count())
	}
	clock.Advance(29 * time.Minute) // not yet an interval
	time.Sleep(10 * time.Millisecond)
	if count() != 1 {
		t.Fatal("ran before the interval")
	}
	clock.Advance(2 * time.Hour) // the second version is now 2h31m old... after the wait fires
	waitFor("second pass", func() bool { return count() == 2 })
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop")
	}
}

func TestParseConfig(t *testing.T) {
	c, err := ParseConfig([]byte(`{"interval":"15m","collections":{"a":"90d","b":"12h"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Interval != 15*time.Minute || c.Collections["a"] != 90*24*time.Hour || c.Collections["b"] != 12*time.Hour {
		t.Errorf("%+v", c)
	}
	for _, bad := range []string{
		`{"interval":"soon"}`,
		`{"collections":{"a":"-1h"}}`,
		`{"collections":{"a":"0d"}}`,
		`{"markings":{"tlp-red":"1d"}}`,
		`{"colections":{}}`,
		`{"collections":{"a":"xd"}}`,
	} {
		if _, err := ParseConfig([]byte(bad)); err == nil {
			t.Errorf("ParseConfig(%s) accepted", bad)
		}
	}
}
