package detect

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jointcell/jointcell/internal/stix"
)

// TestAggregation: many matches of one indicator in a window make one
// sighting with their count, first_seen/last_seen from the events' own
// times, and at most MaxRefs observed-data, each with its SCOs.
func TestAggregation(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var clock atomic.Pointer[time.Time]
	clock.Store(&now)
	var c collector
	const identity = "identity--0a3e7a56-3d6a-4a5c-9f5e-ff2f6e0c1a11"
	agg := NewAggregator(AggregatorConfig{Identity: identity, Window: time.Minute, MaxRefs: 3, Now: func() time.Time { return *clock.Load() }}, c.emit)
	ind := "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"
	for i := 0; i < 50; i++ {
		ev := ecsEvent(t, fmt.Sprintf(`{"@timestamp":"2025-01-01T00:00:%02dZ","source.ip":"192.0.2.1","destination.ip":"198.51.100.%d","destination.port":443}`, 59-i, i%5))
		if err := agg.Add(ind, ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := agg.Tick(); err != nil {
		t.Fatal(err)
	}
	if n := len(c.ofType("sighting")); n != 0 {
		t.Fatalf("sighting emitted before the window ended: %d", n)
	}
	later := now.Add(61 * time.Second)
	clock.Store(&later)
	if err := agg.Tick(); err != nil {
		t.Fatal(err)
	}
	s := c.ofType("sighting")
	if len(s) != 1 {
		t.Fatalf("%d sightings, want 1", len(s))
	}
	checks := map[string]any{
		"count": float64(50), "sighting_of_ref": ind, "created_by_ref": identity,
		"first_seen": "2025-01-01T00:00:10.000Z", "last_seen": "2025-01-01T00:00:59.000Z",
	}
	for k, want := range checks {
		if s[0][k] != want {
			t.Errorf("%s = %v, want %v", k, s[0][k], want)
		}
	}
	if w, _ := s[0]["where_sighted_refs"].([]any); len(w) != 1 || w[0] != identity {
		t.Errorf("where_sighted_refs = %v", s[0]["where_sighted_refs"])
	}
	refs, _ := s[0]["observed_data_refs"].([]any)
	od := c.ofType("observed-data")
	if len(refs) != 3 || len(od) != 3 {
		t.Fatalf("%d refs, %d observed-data; want 3 each", len(refs), len(od))
	}
	// Every object referenced is emitted, before what references it.
	seen := map[string]bool{}
	for _, o := range c.objs {
		for _, r := range referencedIDs(o) {
			if !seen[r] && r != ind && r != identity {
				t.Errorf("%s references %s before it was emitted", o["id"], r)
			}
		}
		seen[o["id"].(string)] = true
	}
	// SCO ids are the deterministic ones (STIX 2.1 §2.9).
	for _, o := range c.objs {
		if o["type"] == "ipv4-addr" {
			raw, _ := stixJSON(o)
			want, err := stix.SCOIDFromJSON(raw)
			if err != nil || want != o["id"] {
				t.Errorf("ipv4-addr id %v, want %v (%v)", o["id"], want, err)
			}
		}
	}
	validateAll(t, c.raws)
	// The next match opens a new window; Flush emits it at shutdown.
	if err := agg.Add(ind, ecsEvent(t, `{"@timestamp":"2025-01-01T00:02:00Z","source.ip":"192.0.2.1"}`)); err != nil {
		t.Fatal(err)
	}
	if err := agg.Flush(); err != nil {
		t.Fatal(err)
	}
	if n := len(c.ofType("sighting")); n != 2 {
		t.Fatalf("after flush %d sightings, want 2", n)
	}
}

func referencedIDs(o map[string]any) []string {
	var out []string
	for k, v := range o {
		switch x := v.(type) {
		case string:
			if len(k) > 4 && k[len(k)-4:] == "_ref" {
				out = append(out, x)
			}
		case []any:
			if len(k) > 5 && k[len(k)-5:] == "_refs" {
				for _, e := range x {
					if s, ok := e.(string); ok {
						out = append(out, s)
					}
				}
			}
		}
	}
	return out
}

// TestStatefulWindow: a FOLLOWEDBY pattern within a window matches when both
// observations arrive in order, once, and not when they are too far apart.
func TestStatefulWindow(t *testing.T) {
	ix := NewIndex(CompilePattern, IndexConfig{}, nil)
	id := "indicator--44444444-4444-4444-8444-444444444444"
	ix.Update([]Indicator{mustIndicator(indicatorJSON(id,
		"([domain-name:value = 'stage1.test'] FOLLOWEDBY [ipv4-addr:value = '203.0.113.66']) WITHIN 60 SECONDS",
		"2024-01-01T00:00:00.000Z", nil))})
	m := ix.NewMatcher()
	step := func(line string) []string {
		return append([]string(nil), m.Match(ecsEvent(t, line))...)
	}
	if got := step(`{"@timestamp":"2025-01-01T00:00:00Z","dns.question.name":"stage1.test"}`); len(got) != 0 {
		t.Fatalf("first half matched: %v", got)
	}
	if got := step(`{"@timestamp":"2025-01-01T00:00:05Z","source.ip":"10.9.9.9"}`); len(got) != 0 {
		t.Fatalf("unrelated event matched: %v", got)
	}
	if got := step(`{"@timestamp":"2025-01-01T00:00:30Z","destination.ip":"203.0.113.66"}`); len(got) != 1 || got[0] != id {
		t.Fatalf("sequence did not match: %v", got)
	}
	// The window was consumed: the second half alone does not match again.
	if got := step(`{"@timestamp":"2025-01-01T00:00:31Z","destination.ip":"203.0.113.66"}`); len(got) != 0 {
		t.Fatalf("matched twice: %v", got)
	}
	// Too far apart.
	step(`{"@timestamp":"2025-01-01T01:00:00Z","dns.question.name":"stage1.test"}`)
	if got := step(`{"@timestamp":"2025-01-01T01:05:00Z","destination.ip":"203.0.113.66"}`); len(got) != 0 {
		t.Fatalf("matched outside WITHIN: %v", got)
	}
}

// TestStatefulWindowBounded: a window never holds more than WindowEvents.
func TestStatefulWindowBounded(t *testing.T) {
	ix := NewIndex(CompilePattern, IndexConfig{WindowEvents: 8}, nil)
	id := "indicator--55555555-5555-4555-8555-555555555555"
	ix.Update([]Indicator{mustIndicator(indicatorJSON(id, "[ipv4-addr:value = '203.0.113.1'] REPEATS 1000 TIMES", "2024-01-01T00:00:00.000Z", nil))})
	m := ix.NewMatcher()
	for i := 0; i < 100; i++ {
		m.Match(ecsEvent(t, fmt.Sprintf(`{"@timestamp":"2025-01-01T00:00:%02dZ","source.ip":"203.0.113.1"}`, i%60)))
	}
	e := ix.fullByID(id)
	if e == nil || e.win == nil {
		t.Fatal("no window")
	}
	if n := len(e.win.obs); n > 8 {
		t.Fatalf("window holds %d observations, bound is 8", n)
	}
}

// TestEvidenceValidates: the observed-data and SCOs built from every event
// of every testdata corpus pass stix.Validate (strict adds deterministic
// ids, which must hold too).
func TestEvidenceValidates(t *testing.T) {
	for _, f := range []Format{FormatECS, FormatZeek, FormatEVE, FormatSTIX} {
		var c collector
		agg := NewAggregator(AggregatorConfig{Identity: "identity--0a3e7a56-3d6a-4a5c-9f5e-ff2f6e0c1a11", MaxRefs: 1000}, c.emit)
		dec, _ := NewDecoder(f)
		data, err := os.ReadFile(filepath.Join("testdata", string(f)+".jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, line := range bytes.Split(data, []byte("\n")) {
			_ = dec.Decode(line, func(ev *Event) {
				n++
				if err := agg.Add(fmt.Sprintf("indicator--%08d-0000-4000-8000-000000000000", n), ev); err != nil {
					t.Fatal(err)
				}
			})
		}
		if err := agg.Flush(); err != nil {
			t.Fatal(err)
		}
		if len(c.ofType("sighting")) != n || n == 0 {
			t.Fatalf("%s: %d sightings for %d events", f, len(c.ofType("sighting")), n)
		}
		validateAll(t, c.raws)
	}
}
