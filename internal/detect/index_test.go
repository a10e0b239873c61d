package detect

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func ecsEvent(t *testing.T, line string) *Event {
	t.Helper()
	var out *Event
	d := &ECSDecoder{}
	if err := d.Decode([]byte(line), func(ev *Event) { c := *ev; out = &c }); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestIndexUpdates walks one indicator through its life: added, revised to
// a new pattern, an older version arriving late, revoked; and others that
// expire or become valid later. Each step is checked by matching events.
func TestIndexUpdates(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var clock atomic.Pointer[time.Time]
	clock.Store(&now)
	ix := NewIndex(compileEq, IndexConfig{Now: func() time.Time { return *clock.Load() }}, nil)
	m := ix.NewMatcher()
	evA := ecsEvent(t, `{"@timestamp":"2025-01-01T00:00:00Z","source.ip":"192.0.2.1"}`)
	evB := ecsEvent(t, `{"@timestamp":"2025-01-01T00:00:00Z","source.ip":"192.0.2.2"}`)
	id := "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"
	matches := func(ev *Event) []string { return slices.Clone(m.Match(ev)) }

	steps := []struct {
		name    string
		ind     Indicator
		wantA   []string
		wantB   []string
		wantLen int
	}{
		{"added", mustIndicator(indicatorJSON(id, "[ipv4-addr:value = '192.0.2.1']", "2024-01-01T00:00:00.000Z", nil)), []string{id}, nil, 1},
		{"revised", mustIndicator(indicatorJSON(id, "[ipv4-addr:value = '192.0.2.2']", "2024-02-01T00:00:00.000Z", nil)), nil, []string{id}, 1},
		{"older version ignored", mustIndicator(indicatorJSON(id, "[ipv4-addr:value = '192.0.2.1']", "2024-01-15T00:00:00.000Z", nil)), nil, []string{id}, 1},
		{"revoked", mustIndicator(indicatorJSON(id, "[ipv4-addr:value = '192.0.2.2']", "2024-03-01T00:00:00.000Z", map[string]any{"revoked": true})), nil, nil, 0},
		{"not stix", mustIndicator(indicatorJSON("indicator--0a1b2c3d-0000-4000-8000-000000000001", "alert tcp any any", "2024-03-01T00:00:00.000Z", map[string]any{"pattern_type": "snort"})), nil, nil, 0},
	}
	for _, s := range steps {
		ix.Update([]Indicator{s.ind})
		if got := matches(evA); !slices.Equal(got, s.wantA) {
			t.Errorf("%s: event A matched %v, want %v", s.name, got, s.wantA)
		}
		if got := matches(evB); !slices.Equal(got, s.wantB) {
			t.Errorf("%s: event B matched %v, want %v", s.name, got, s.wantB)
		}
		if ix.Len() != s.wantLen {
			t.Errorf("%s: %d active, want %d", s.name, ix.Len(), s.wantLen)
		}
	}

	// Expiry and future validity, driven by the clock and Sweep.
	exp := "indicator--11111111-1111-4111-8111-111111111111"
	fut := "indicator--22222222-2222-4222-8222-222222222222"
	ix.Update([]Indicator{
		mustIndicator(indicatorJSON(exp, "[ipv4-addr:value = '192.0.2.1']", "2024-01-01T00:00:00.000Z", map[string]any{"valid_until": "2025-01-01T00:00:30Z"})),
		mustIndicator(indicatorJSON(fut, "[ipv4-addr:value = '192.0.2.1']", "2024-01-01T00:00:00.000Z", map[string]any{"valid_from": "2025-01-01T00:00:20Z"})),
	})
	if got := matches(evA); !slices.Equal(got, []string{exp}) {
		t.Errorf("before: %v", got)
	}
	later := now.Add(25 * time.Second)
	clock.Store(&later)
	ix.Sweep()
	if got := matches(evA); len(got) != 2 {
		t.Errorf("after valid_from: %v", got)
	}
	end := now.Add(31 * time.Second)
	clock.Store(&end)
	ix.Sweep()
	if got := matches(evA); !slices.Equal(got, []string{fut}) {
		t.Errorf("after valid_until: %v", got)
	}
	// An indicator already expired is never added.
	ix.Update([]Indicator{mustIndicator(indicatorJSON("indicator--33333333-3333-4333-8333-333333333333", "[ipv4-addr:value = '192.0.2.1']", "2024-01-01T00:00:00.000Z", map[string]any{"valid_until": "2024-06-01T00:00:00Z"}))})
	if got := matches(evA); !slices.Equal(got, []string{fut}) {
		t.Errorf("expired added: %v", got)
	}
}

// TestIndexSameKeyManyIndicators: several indicators on one value, one of
// them with an id that is not a lowercase UUID (kept as a string).
func TestIndexSameKeyManyIndicators(t *testing.T) {
	ix := NewIndex(compileEq, IndexConfig{}, nil)
	ids := []string{"indicator--aaaaaaaa-0000-4000-8000-000000000001", "indicator--AAAAAAAA-0000-4000-8000-000000000002", "indicator--aaaaaaaa-0000-4000-8000-000000000003"}
	var inds []Indicator
	for _, id := range ids {
		inds = append(inds, mustIndicator(indicatorJSON(id, "[domain-name:value = 'evil.example']", "2024-01-01T00:00:00.000Z", nil)))
	}
	ix.Update(inds)
	ev := ecsEvent(t, `{"@timestamp":"2025-01-01T00:00:00Z","dns.question.name":"evil.example"}`)
	got := slices.Clone(ix.NewMatcher().Match(ev))
	slices.Sort(got)
	want := slices.Clone(ids)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	ix.Update([]Indicator{mustIndicator(indicatorJSON(ids[1], "[domain-name:value = 'evil.example']", "2024-02-01T00:00:00.000Z", map[string]any{"revoked": true}))})
	if got := ix.NewMatcher().Match(ev); len(got) != 2 || slices.Contains(got, ids[1]) {
		t.Fatalf("after revoking %s: %v", ids[1], got)
	}
}

// TestIndexConcurrentUpdates matches on several goroutines while indicators
// are added and revoked; run with -race. Every match must be an indicator
// that was active at some point for that value.
func TestIndexConcurrentUpdates(t *testing.T) {
	ix := NewIndex(compileEq, IndexConfig{}, nil)
	const n = 200
	id := func(i int) string { return fmt.Sprintf("indicator--%08x-0000-4000-8000-000000000000", i) }
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := ix.NewMatcher()
			d := &ECSDecoder{}
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				line := fmt.Sprintf(`{"@timestamp":"2025-01-01T00:00:00Z","source.ip":"10.0.%d.%d"}`, (i%n)/256, (i%n)%256)
				_ = d.Decode([]byte(line), func(ev *Event) {
					for _, h := range m.Match(ev) {
						if h != id(i%n) {
							t.Errorf("event %d matched %s", i%n, h)
						}
					}
				})
			}
		}()
	}
	for round := 0; round < 5; round++ {
		var inds []Indicator
		for i := 0; i < n; i++ {
			mod := fmt.Sprintf("2024-01-01T00:00:%02d.000Z", round)
			inds = append(inds, mustIndicator(indicatorJSON(id(i), fmt.Sprintf("[ipv4-addr:value = '10.0.%d.%d']", i/256, i%256), mod, map[string]any{"revoked": round%2 == 1})))
		}
		ix.Update(inds)
	}
	close(stop)
	wg.Wait()
	if ix.Len() != n {
		t.Fatalf("%d active, want %d", ix.Len(), n)
	}
}

// TestIndexChurn adds, revises and revokes thousands of indicators over
// many updates (compact records, chains of several indicators on one key,
// full entries, ids kept as strings, IPv4 and IPv6 blocks), so that
// postings, free lists, the key table and the key filter are reused and
// rebuilt, and checks every round against a model.
func TestIndexChurn(t *testing.T) {
	const nIDs, rounds = 1500, 25
	r := rand.New(rand.NewPCG(5, 6))
	ips := make([]string, 300)
	for i := range ips {
		ips[i] = fmt.Sprintf("10.%d.%d.%d", r.IntN(4), r.IntN(4), r.IntN(256))
	}
	type model struct {
		kind     int // 0 ip =, 1 ip ISSUBSET /24, 2 ipv6 ISSUBSET /64, 3 ip = OR domain =, 4 domain =
		ip, ip6  string
		dom      string
		modified int
	}
	active := map[string]model{}
	defer func(n int) { arenaCompactMin = n }(arenaCompactMin)
	arenaCompactMin = 256 // compact the value arena often
	ix := NewIndex(CompilePattern, IndexConfig{}, nil)
	id := func(i int) string {
		if i%11 == 0 {
			return fmt.Sprintf("indicator--%08X-0000-4000-8000-000000000000", i) // kept as a string
		}
		return fmt.Sprintf("indicator--%08x-0000-4000-8000-000000000000", i)
	}
	for round := 1; round <= rounds; round++ {
		var inds []Indicator
		mod := fmt.Sprintf("2024-01-%02dT00:00:00.000Z", round)
		touched := map[int]bool{} // one version of an id per round: same modified, the first wins
		for k := 0; k < 600; k++ {
			i := r.IntN(nIDs)
			if touched[i] {
				continue
			}
			touched[i] = true
			if r.IntN(4) == 0 {
				inds = append(inds, mustIndicator(indicatorJSON(id(i), "[ipv4-addr:value = '1.1.1.1']", mod, map[string]any{"revoked": true})))
				delete(active, id(i))
				continue
			}
			m := model{kind: r.IntN(5), ip: ips[r.IntN(len(ips))], dom: fmt.Sprintf("d%d.test", r.IntN(200)), modified: round}
			m.ip6 = fmt.Sprintf("2001:db8:%x:%x::1", r.IntN(3), r.IntN(3))
			var p string
			switch m.kind {
			case 0:
				p = fmt.Sprintf("[ipv4-addr:value = '%s']", m.ip)
			case 1:
				p = fmt.Sprintf("[ipv4-addr:value ISSUBSET '%s/24']", m.ip)
			case 2:
				p = fmt.Sprintf("[ipv6-addr:value ISSUBSET '%s/64']", m.ip6)
			case 3:
				p = fmt.Sprintf("[ipv4-addr:value = '%s' OR domain-name:value = '%s']", m.ip, m.dom)
			case 4:
				p = fmt.Sprintf("[domain-name:value = '%s']", m.dom)
			}
			inds = append(inds, mustIndicator(indicatorJSON(id(i), p, mod, nil)))
			active[id(i)] = m
		}
		ix.Update(inds)
		if ix.Len() != len(active) {
			t.Fatalf("round %d: %d active, model %d", round, ix.Len(), len(active))
		}
		mt := ix.NewMatcher()
		for p := 0; p < 60; p++ {
			ip, ip6, dom := ips[r.IntN(len(ips))], fmt.Sprintf("2001:db8:%x:%x::9", r.IntN(3), r.IntN(3)), fmt.Sprintf("d%d.test", r.IntN(200))
			ev := ecsEvent(t, fmt.Sprintf(`{"@timestamp":"2025-01-01T00:00:00Z","source.ip":%q,"destination.ip":%q,"dns.question.name":%q}`, ip, ip6, dom))
			got := slices.Clone(mt.Match(ev))
			slices.Sort(got)
			var want []string
			for k, m := range active {
				ok := false
				switch m.kind {
				case 0:
					ok = m.ip == ip
				case 1:
					ok = netip.MustParsePrefix(m.ip + "/24").Masked().Contains(netip.MustParseAddr(ip))
				case 2:
					ok = netip.MustParsePrefix(m.ip6 + "/64").Masked().Contains(netip.MustParseAddr(ip6))
				case 3:
					ok = m.ip == ip || m.dom == dom
				case 4:
					ok = m.dom == dom
				}
				if ok {
					want = append(want, k)
				}
			}
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("round %d, %s %s %s:\nindex %v\nmodel %v", round, ip, ip6, dom, got, want)
			}
		}
	}
}
