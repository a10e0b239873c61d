package pattern

import (
	"fmt"
	"reflect"
	"testing"
	"time"
)

func TestPatternAnchors(t *testing.T) {
	tests := []struct {
		pattern   string
		stateless bool
		want      []Anchor
	}{
		{"[ipv4-addr:value = '1.2.3.4']", true, []Anchor{{"ipv4-addr", "value", AnchorEqual, "1.2.3.4", LitString}}},
		{"[file:hashes.'SHA-256' = 'ab']", true, []Anchor{{"file", "hashes.'SHA-256'", AnchorEqual, "ab", LitString}}},
		{"[ipv4-addr:value ISSUBSET '10.1.2.3/8']", true, []Anchor{{"ipv4-addr", "value", AnchorCIDR, "10.0.0.0/8", LitString}}},
		{"[ipv6-addr:value ISSUBSET 'fe80::1/10']", true, []Anchor{{"ipv6-addr", "value", AnchorCIDR, "fe80::/10", LitString}}},
		{"[domain-name:value = 'a' OR url:value = 'b']", true, []Anchor{
			{"domain-name", "value", AnchorEqual, "a", LitString}, {"url", "value", AnchorEqual, "b", LitString}}},
		{"[file:name LIKE 'x%' AND file:size = 5]", true, []Anchor{{"file", "size", AnchorEqual, "5", LitInt}}},
		{"[file:name IN ('a', 'b')]", true, []Anchor{{"file", "name", AnchorEqual, "a", LitString}, {"file", "name", AnchorEqual, "b", LitString}}},
		{"[file:name != 'a']", true, []Anchor{{"file", "name", AnchorOther, "", 0}}},
		{"[file:name NOT = 'a']", true, []Anchor{{"file", "name", AnchorOther, "", 0}}},
		{"[artifact:payload_bin = 'a']", true, []Anchor{{"artifact", "payload_bin", AnchorOther, "", 0}}},
		{"[network-traffic:dst_ref.value = '1.2.3.4']", true, []Anchor{{"network-traffic", "dst_ref.value", AnchorEqual, "1.2.3.4", LitString}}},
		{"[a:b = 1] AND [c:d MATCHES 'x']", false, []Anchor{{"a", "b", AnchorEqual, "1", LitInt}}},
		{"[a:b = 1] OR [c:d = 'x'] WITHIN 5 SECONDS", false, []Anchor{{"a", "b", AnchorEqual, "1", LitInt}, {"c", "d", AnchorEqual, "x", LitString}}},
		{"[a:b = 1] REPEATS 2 TIMES", false, []Anchor{{"a", "b", AnchorEqual, "1", LitInt}}},
	}
	for _, tt := range tests {
		p, err := Parse(tt.pattern)
		if err != nil {
			t.Fatal(err)
		}
		c, err := Compile(p)
		if err != nil {
			t.Fatalf("%s: %v", tt.pattern, err)
		}
		if c.Stateless() != tt.stateless {
			t.Errorf("%s: stateless %v", tt.pattern, c.Stateless())
		}
		if !reflect.DeepEqual(c.Anchors(), tt.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tt.pattern, c.Anchors(), tt.want)
		}
	}
}

func TestPatternCompileErrors(t *testing.T) {
	for _, s := range []string{
		"[a:b MATCHES '(']",
		"[a:b IN (1, 'x')]",
		"[a:b = t'2021-02-30T00:00:00Z']",
		"[a:b = 1] WITHIN 0 SECONDS",
		"[a:b = 1] REPEATS 0 TIMES",
	} {
		p, err := Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Compile(p); err == nil {
			t.Errorf("%s: compiled", s)
		}
	}
}

func obsOf(objs ...Object) Observation {
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	return Observation{FirstObserved: t0, LastObserved: t0, NumberObserved: 1, Objects: objs}
}

func TestPatternMatchObservationEngine(t *testing.T) {
	ip := func(v string) Object {
		return Object{ID: "ip", Type: "ipv6-addr", Props: map[string]any{"type": "ipv6-addr", "value": v}}
	}
	tests := []struct {
		pattern string
		obs     Observation
		want    bool
	}{
		{"[ipv6-addr:value ISSUBSET 'fe80::/10']", obsOf(ip("fe80::1")), true},
		{"[ipv6-addr:value ISSUBSET 'fe80::/10']", obsOf(ip("2001:db8::1")), false},
		{"[ipv6-addr:value ISSUBSET 'fe80::/10']", obsOf(ip("not an address")), false},
		{"[ipv6-addr:value = 'fe80::1']", obsOf(ip("fe80::1")), true},
		{"[ipv6-addr:value = 'fe80::1']", Observation{NumberObserved: 0, Objects: []Object{ip("fe80::1")}}, false},
	}
	for _, tt := range tests {
		p, _ := Parse(tt.pattern)
		c, err := Compile(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.MatchObservation(&tt.obs); got != tt.want {
			t.Errorf("%s on %v: got %v", tt.pattern, tt.obs.Objects, got)
		}
	}
}

func TestPatternCompiledMatchWindow(t *testing.T) {
	p, _ := Parse("([domain-name:value = 'a.com'] FOLLOWEDBY [domain-name:value = 'b.com']) WITHIN 10 SECONDS")
	c, err := Compile(p)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	dn := func(v string, at time.Duration) Observation {
		return Observation{FirstObserved: t0.Add(at), LastObserved: t0.Add(at), NumberObserved: 1,
			Objects: []Object{{ID: "d", Type: "domain-name", Props: map[string]any{"value": v}}}}
	}
	if !c.Match([]Observation{dn("a.com", 0), dn("b.com", 5*time.Second)}) {
		t.Error("in-window sequence did not match")
	}
	if c.Match([]Observation{dn("a.com", 0), dn("b.com", 20*time.Second)}) {
		t.Error("out-of-window sequence matched")
	}
	if c.Match([]Observation{dn("b.com", 0), dn("a.com", 5*time.Second)}) {
		t.Error("reversed sequence matched")
	}
}

// anchorKey is how a detection engine would key an equality index.
type anchorKey struct{ typ, path, value string }

// TestLargeAnchorIndex checks the indexing approach end to end at scale.
func TestPatternLargeAnchorIndex(t *testing.T) {
	if testing.Short() {
		t.Skip("scale test")
	}
	idx, compiled := buildIndex(t, 100_000)
	hits := 0
	for i := 0; i < 1_000_000; i++ {
		o := syntheticObservation(i)
		for _, cand := range idx[anchorKey{"ipv4-addr", "value", o.Objects[0].Props["value"].(string)}] {
			if compiled[cand].MatchObservation(&o) {
				hits++
			}
		}
	}
	// Observations i with i%10 == 0 carry an address whose indicator
	// exists (addresses 0..99999 are indicators, observations cycle over
	// 0..999999 in steps that hit one in ten).
	if hits != 100_000 {
		t.Errorf("hits = %d, want 100000", hits)
	}
}

func ipString(n int) string {
	return fmt.Sprintf("10.%d.%d.%d", (n>>16)&255, (n>>8)&255, n&255)
}

func buildIndex(t testing.TB, n int) (map[anchorKey][]int, []*Compiled) {
	idx := make(map[anchorKey][]int, n)
	compiled := make([]*Compiled, 0, n)
	for i := 0; i < n; i++ {
		p, err := Parse(fmt.Sprintf("[ipv4-addr:value = '%s']", ipString(i*10)))
		if err != nil {
			t.Fatal(err)
		}
		c, err := Compile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range c.Anchors() {
			k := anchorKey{a.ObjectType, a.Path, a.Value}
			idx[k] = append(idx[k], len(compiled))
		}
		compiled = append(compiled, c)
	}
	return idx, compiled
}

func syntheticObservation(i int) Observation {
	return obsOf(Object{ID: "0", Type: "ipv4-addr", Props: map[string]any{"type": "ipv4-addr", "value": ipString(i)}})
}

// TestFastPathAgrees checks the stateless fast path against the general
// evaluator (engine semantics) on every corpus pattern and observation.
func TestPatternFastPathAgrees(t *testing.T) {
	obs := loadObservations(t, "observed21.json", Version21)
	for _, c := range readCases(t, "match21.txt") {
		p, err := Parse(c.pattern)
		if err != nil {
			continue
		}
		comp, err := Compile(p)
		if err != nil || !comp.Stateless() {
			continue
		}
		for i := range obs {
			ev := &evaluator{obs: obs[i : i+1], engine: true, preds: comp.preds}
			want, _ := ev.run(p.Root)
			if got := comp.MatchObservation(&obs[i]); got != want {
				t.Errorf("%s on observation %d: fast path %v, evaluator %v", c.pattern, i, got, want)
			}
		}
	}
}
