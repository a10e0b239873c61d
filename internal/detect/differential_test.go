package detect

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jointcell/jointcell/internal/pattern"
)

// gen draws indicators and events from shared pools of values, so that
// events hit indicators often and every kind of anchor is exercised.
type gen struct {
	r       *rand.Rand
	ips     []string
	ip6s    []string
	domains []string
	urls    []string
	sha256s []string
	md5s    []string
	ports   []int
}

func newGen(seed uint64) *gen {
	g := &gen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	for i := 0; i < 40; i++ {
		g.ips = append(g.ips, fmt.Sprintf("10.%d.%d.%d", g.r.IntN(3), g.r.IntN(4), g.r.IntN(256)))
		g.ip6s = append(g.ip6s, fmt.Sprintf("2001:db8:%x:%x::%x", g.r.IntN(3), g.r.IntN(4), g.r.IntN(65536)))
		g.domains = append(g.domains, fmt.Sprintf("h%d.ex%d.test", g.r.IntN(20), g.r.IntN(3)))
		g.urls = append(g.urls, fmt.Sprintf("http://h%d.test/p%d", g.r.IntN(10), g.r.IntN(5)))
		g.sha256s = append(g.sha256s, randHex(g.r, 64))
		g.md5s = append(g.md5s, randHex(g.r, 32))
	}
	g.ports = []int{22, 53, 80, 443, 8443, 65000}
	return g
}

func randHex(r *rand.Rand, n int) string {
	const digits = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[r.IntN(16)]
	}
	return string(b)
}

func pick[T any](g *gen, l []T) T { return l[g.r.IntN(len(l))] }

// pattern returns a random stateless pattern; the kinds cover every anchor
// the index has (equality on values, hashes, references, integers, lists;
// IN; CIDR for IPv4 and IPv6) and patterns it cannot index.
func (g *gen) pattern() string {
	switch g.r.IntN(28) {
	case 0, 1:
		return fmt.Sprintf("[ipv4-addr:value = '%s']", pick(g, g.ips))
	case 2:
		return fmt.Sprintf("[ipv4-addr:value ISSUBSET '10.%d.%d.0/%d']", g.r.IntN(3), g.r.IntN(4), []int{24, 30, 31}[g.r.IntN(3)])
	case 3:
		return fmt.Sprintf("[ipv4-addr:value ISSUBSET '10.%d.0.0/16']", g.r.IntN(3))
	case 4:
		return fmt.Sprintf("[ipv6-addr:value ISSUBSET '2001:db8:%x::/48']", g.r.IntN(3))
	case 5:
		return fmt.Sprintf("[ipv6-addr:value = '%s']", pick(g, g.ip6s))
	case 6, 7:
		return fmt.Sprintf("[domain-name:value = '%s']", pick(g, g.domains))
	case 8:
		return fmt.Sprintf("[url:value = '%s']", pick(g, g.urls))
	case 9:
		h := pick(g, g.sha256s)
		if g.r.IntN(4) == 0 {
			h = strings.ToUpper(h) // never equal to the lowercase in events
		}
		return fmt.Sprintf("[file:hashes.'SHA-256' = '%s']", h)
	case 10:
		return fmt.Sprintf("[file:hashes.MD5 = '%s']", pick(g, g.md5s))
	case 11:
		return fmt.Sprintf("[network-traffic:dst_ref.value = '%s']", pick(g, g.ips))
	case 12:
		return fmt.Sprintf("[network-traffic:dst_port = %d AND network-traffic:src_ref.value ISSUBSET '10.%d.0.0/16']", pick(g, g.ports), g.r.IntN(3))
	case 13:
		return fmt.Sprintf("[network-traffic:dst_port = '%d']", pick(g, g.ports)) // a string never equals an integer
	case 14:
		return fmt.Sprintf("[domain-name:value IN ('%s', '%s')]", pick(g, g.domains), pick(g, g.domains))
	case 15:
		return fmt.Sprintf("[domain-name:value = '%s' OR url:value = '%s']", pick(g, g.domains), pick(g, g.urls))
	case 16:
		return fmt.Sprintf("[ipv4-addr:value = '%s'] OR [file:hashes.'SHA-256' = '%s']", pick(g, g.ips), pick(g, g.sha256s))
	case 17:
		return fmt.Sprintf("[network-traffic:protocols[*] = 'udp' AND network-traffic:dst_port = %d]", pick(g, g.ports))
	case 18:
		return fmt.Sprintf("[domain-name:value LIKE '%%ex%d.test']", g.r.IntN(3)) // not indexable
	case 19:
		return fmt.Sprintf("[network-traffic:dst_port > %d]", pick(g, g.ports)) // not indexable
	case 20:
		return fmt.Sprintf("[ipv4-addr:value = '%s' AND ipv4-addr:value != '%s']", pick(g, g.ips), pick(g, g.ips))
	case 21:
		return fmt.Sprintf("[url:value MATCHES '^http://h%d\\\\.'] OR [email-addr:value = 'x@y.test']", g.r.IntN(10)) // type anchors
	case 22:
		return fmt.Sprintf("[ipv6-addr:value ISSUBSET '2001:db8:%x:%x::/64']", g.r.IntN(3), g.r.IntN(4)) // exact IPv6 CIDR
	case 23:
		return fmt.Sprintf("[network-traffic:src_ref.value ISSUBSET '2001:db8:%x::/48']", g.r.IntN(3)) // IPv6 CIDR through a reference
	case 24:
		return fmt.Sprintf("[ipv6-addr:value ISSUBSET '2001:db8:%x::/48' AND ipv6-addr:value != '%s']", g.r.IntN(3), pick(g, g.ip6s))
	case 25:
		return fmt.Sprintf("[network-traffic:dst_port = %d]", pick(g, g.ports)) // an integer literal
	case 26:
		return fmt.Sprintf("[ipv4-addr:value ISSUBSET '%s']", pick(g, g.ips)) // a block of one address
	default:
		return fmt.Sprintf("[file:name = 'f.exe' AND file:hashes.'SHA-256' = '%s']", pick(g, g.sha256s))
	}
}

// statefulPattern returns a random stateful pattern over the same pools.
func (g *gen) statefulPattern() string {
	a := func() string {
		switch g.r.IntN(4) {
		case 0:
			return fmt.Sprintf("[ipv4-addr:value = '%s']", pick(g, g.ips))
		case 1:
			return fmt.Sprintf("[domain-name:value = '%s']", pick(g, g.domains))
		case 2:
			return fmt.Sprintf("[ipv6-addr:value ISSUBSET '2001:db8:%x::/48']", g.r.IntN(3))
		}
		return fmt.Sprintf("[domain-name:value LIKE 'h%d.%%']", g.r.IntN(20))
	}
	switch g.r.IntN(5) {
	case 0:
		return fmt.Sprintf("%s FOLLOWEDBY %s WITHIN %d SECONDS", a(), a(), 10+g.r.IntN(50))
	case 1:
		return fmt.Sprintf("%s AND %s", a(), a())
	case 2:
		return fmt.Sprintf("%s REPEATS 2 TIMES", a())
	case 3:
		return fmt.Sprintf("(%s OR %s) WITHIN 20 SECONDS", a(), a())
	}
	return fmt.Sprintf("(%s AND %s) WITHIN 40 SECONDS", a(), a())
}

// event returns a random ECS line over the same pools.
func (g *gen) event(i int) string {
	var f []string
	f = append(f, fmt.Sprintf(`"@timestamp":"2025-01-01T00:%02d:%02dZ"`, (i/60)%60, i%60))
	if g.r.IntN(3) > 0 {
		src := pick(g, g.ips)
		if g.r.IntN(4) == 0 {
			src = fmt.Sprintf("172.16.%d.%d", g.r.IntN(256), g.r.IntN(256))
		}
		if g.r.IntN(5) == 0 {
			src = pick(g, g.ip6s)
		}
		f = append(f, fmt.Sprintf(`"source":{"ip":%q,"port":%d}`, src, 1024+g.r.IntN(60000)))
		dst := pick(g, g.ips)
		if strings.Contains(src, ":") {
			dst = pick(g, g.ip6s)
		}
		f = append(f, fmt.Sprintf(`"destination":{"ip":%q,"port":%d}`, dst, pick(g, g.ports)))
		f = append(f, fmt.Sprintf(`"network":{"transport":%q}`, []string{"tcp", "udp"}[g.r.IntN(2)]))
	}
	if g.r.IntN(3) == 0 {
		f = append(f, fmt.Sprintf(`"dns":{"question":{"name":%q}}`, pick(g, g.domains)))
	}
	if g.r.IntN(3) == 0 {
		f = append(f, fmt.Sprintf(`"url":{"full":%q,"domain":%q}`, pick(g, g.urls), pick(g, g.domains)))
	}
	if g.r.IntN(4) == 0 {
		f = append(f, fmt.Sprintf(`"file":{"hash":{"sha256":%q,"md5":%q},"name":"f.exe"}`, pick(g, g.sha256s), pick(g, g.md5s)))
	}
	return "{" + strings.Join(f, ",") + "}"
}

// noAnchors hides a pattern's anchors, so that the index keeps it in the
// list evaluated on every event.
type noAnchors struct{ Pattern }

func (noAnchors) Anchors() []Anchor { return nil }
func (noAnchors) Exact() bool       { return false }

// oracle is the evaluator run on every pattern for every event: stateless
// patterns on the event alone, stateful ones on a window of every event,
// expired by the same age as the index's windows and cleared after a
// match, as the index promises (docs/detection.md).
type oracle struct {
	id        string
	c         *pattern.Compiled
	stateless bool
	age       time.Duration
	win       []pattern.Observation
}

func (o *oracle) match(obs pattern.Observation) bool {
	if o.stateless {
		return o.c.MatchObservation(&obs)
	}
	cut := obs.LastObserved.Add(-o.age)
	keep := o.win[:0]
	for _, x := range o.win {
		if !x.LastObserved.Before(cut) {
			keep = append(keep, x)
		}
	}
	o.win = append(keep, obs)
	if o.c.Match(o.win) {
		o.win = o.win[:0]
		return true
	}
	return false
}

// TestDifferentialIndexVsEvaluator: on generated indicators and events, the
// index (compact records for exact equality and ISSUBSET patterns, hash
// maps, IPv4 and IPv6 prefix tables, references, type anchors, the
// unanchored list, stateful windows) reports exactly the indicators that
// the pattern package's evaluator, run on every pattern, reports, event by
// event.
func TestDifferentialIndexVsEvaluator(t *testing.T) {
	nInd, nEv, nStateful := 400, 600, 24
	if testing.Short() {
		nInd, nEv, nStateful = 200, 300, 12
	}
	for _, seed := range []uint64{1, 2, 3} {
		g := newGen(seed)
		hide := map[string]bool{}
		compile := func(s string) (Pattern, error) {
			p, err := CompilePattern(s)
			if err == nil && hide[s] {
				return noAnchors{p}, nil
			}
			return p, err
		}
		// No bound on windows here: the oracle keeps every event.
		ix := NewIndex(compile, IndexConfig{WindowEvents: 1 << 20}, nil)
		var all []*oracle
		var inds []Indicator
		for i := 0; i < nInd+nStateful; i++ {
			src := g.pattern()
			if i >= nInd {
				src = g.statefulPattern()
			} else if i%13 == 0 {
				hide[src] = true
			}
			p, err := pattern.Parse(src)
			if err != nil {
				t.Fatalf("generated pattern %q: %v", src, err)
			}
			c, err := pattern.Compile(p)
			if err != nil {
				t.Fatalf("generated pattern %q: %v", src, err)
			}
			id := fmt.Sprintf("indicator--%08x-0000-4000-8000-%012x", i, seed)
			if i%17 == 0 {
				id = strings.ToUpper(id[:11]) + id[11:] // not a lowercase UUID: kept as a full entry
			}
			age := maxWithin(p.Root)
			if age == 0 {
				age = 10 * time.Minute
			}
			all = append(all, &oracle{id: id, c: c, stateless: isStateless(p.Root), age: age})
			inds = append(inds, mustIndicator(indicatorJSON(id, src, "2024-01-01T00:00:00.000Z", nil)))
		}
		res := ix.Update(inds)
		if res.Added != len(inds) {
			t.Fatalf("seed %d: %+v", seed, res)
		}
		kinds := indexKinds(ix)
		for _, k := range []string{"compact-eq", "compact-cidr4", "compact-cidr6", "exact-full", "anchored", "type", "general", "stateful"} {
			if kinds[k] == 0 {
				t.Fatalf("generator does not cover %s: %v", k, kinds)
			}
		}
		m := ix.NewMatcher()
		dec := &ECSDecoder{}
		totalHits, statefulHits := 0, 0
		for i := 0; i < nEv; i++ {
			line := g.event(i)
			err := dec.Decode([]byte(line), func(ev *Event) {
				got := slices.Clone(m.Match(ev))
				slices.Sort(got)
				obs := ev.observation(true)
				var want []string
				for _, o := range all {
					if o.match(obs) {
						want = append(want, o.id)
						if !o.stateless {
							statefulHits++
						}
					}
				}
				slices.Sort(want)
				if !slices.Equal(got, want) {
					t.Fatalf("seed %d event %d %s:\nindex     %v\nevaluator %v", seed, i, line, got, want)
				}
				totalHits += len(want)
			})
			if err != nil && !errors.Is(err, ErrEmpty) {
				t.Fatalf("event %s: %v", line, err)
			}
		}
		if totalHits == 0 || statefulHits == 0 {
			t.Fatalf("seed %d: %d matches, %d stateful: the test proves too little", seed, totalHits, statefulHits)
		}
		t.Logf("seed %d: %v, %d matches (%d stateful)", seed, kinds, totalHits, statefulHits)
	}
}

// indexKinds counts the active indicators by how the index holds them.
func indexKinds(ix *Index) map[string]int {
	ix.wmu.Lock()
	defer ix.wmu.Unlock()
	kinds := map[string]int{}
	for _, ref := range ix.byUUID {
		if ref&fullFlag == 0 {
			r := ix.recs.at(ref)
			switch {
			case r.kind == AnchorEqual:
				kinds["compact-eq"]++
			case strings.Contains(ix.value(r), ":"):
				kinds["compact-cidr6"]++
			default:
				kinds["compact-cidr4"]++
			}
		}
	}
	for _, e := range ix.fulls {
		switch {
		case e == nil:
		case e.pat == nil:
			kinds["exact-full"]++
		case e.general:
			kinds["general"]++
		case e.win != nil:
			kinds["stateful"]++
		case len(e.types) > 0:
			kinds["type"]++
		default:
			kinds["anchored"]++
		}
	}
	return kinds
}

// TestExactAnchorAgreesWithCompile: the anchor of the compact shape, which
// CompilePattern derives from the syntax tree without compiling, is the
// one pattern.Compile derives, once canonical.
func TestExactAnchorAgreesWithCompile(t *testing.T) {
	g := newGen(7)
	srcs := []string{
		"[file:hashes.'SHA-256' = 'ab']", "[file:hashes.MD5 = 'ab']", "[file:hashes.'MD5' = 'ab']",
		"[network-traffic:extensions.'http-request-ext'.request_header.'User-Agent' = 'x y']",
		"[ipv4-addr:value ISSUBSET '10.1.2.3/8']", "[ipv6-addr:value ISSUBSET '2001:DB8::1/32']",
		"[ipv4-addr:value ISSUBSET '10.1.2.3']", "([domain-name:value = 'a\\'b'])",
		"[x-custom:x_list = 'v']",
	}
	for i := 0; i < 400; i++ {
		srcs = append(srcs, g.pattern())
	}
	exact := 0
	for _, src := range srcs {
		p, err := pattern.Parse(src)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		a, ok := exactAnchor(p.Root)
		if !ok {
			continue
		}
		exact++
		c, err := pattern.Compile(p)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		want := fromPatternAnchors(nil, c.Anchors())
		if len(want) != 1 || canonicalAnchor(want[0]) != canonicalAnchor(a) || canonicalAnchor(a) != a {
			t.Errorf("%s: exact anchor %+v, pattern.Compile %+v", src, a, want)
		}
	}
	if exact < 100 {
		t.Fatalf("only %d exact patterns", exact)
	}
}
