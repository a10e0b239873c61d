package detect

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

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
	switch g.r.IntN(22) {
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
	default:
		return fmt.Sprintf("[url:value MATCHES '^http://h%d\\\\.'] OR [email-addr:value = 'x@y.test']", g.r.IntN(10)) // not indexable
	}
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

// TestDifferentialIndexVsEvaluator: on generated indicators and events, the
// index (anchors, hash maps, prefix tables, exact shortcuts) reports exactly
// the indicators that the pattern package's evaluator, run on every pattern,
// reports, event by event.
func TestDifferentialIndexVsEvaluator(t *testing.T) {
	nInd, nEv := 300, 600
	if testing.Short() {
		nInd, nEv = 150, 300
	}
	for _, seed := range []uint64{1, 2, 3} {
		g := newGen(seed)
		ix := NewIndex(CompilePattern, IndexConfig{}, nil)
		type ind struct {
			id string
			p  *pattern.Pattern
		}
		var all []ind
		var inds []Indicator
		kinds := map[string]int{}
		for i := 0; i < nInd; i++ {
			src := g.pattern()
			p, err := pattern.Parse(src)
			if err != nil {
				t.Fatalf("generated pattern %q: %v", src, err)
			}
			id := fmt.Sprintf("indicator--%08x-0000-4000-8000-%012x", i, seed)
			all = append(all, ind{id, p})
			inds = append(inds, mustIndicator(indicatorJSON(id, src, "2024-01-01T00:00:00.000Z", nil)))
			c, _ := CompilePattern(src)
			switch {
			case c.Anchors() == nil:
				kinds["general"]++
			case c.Exact():
				kinds["exact"]++
			default:
				kinds["anchored"]++
			}
		}
		res := ix.Update(inds)
		if res.Added != nInd {
			t.Fatalf("seed %d: %+v", seed, res)
		}
		if kinds["general"] == 0 || kinds["exact"] == 0 || kinds["anchored"] == 0 {
			t.Fatalf("generator does not cover every kind: %v", kinds)
		}
		m := ix.NewMatcher()
		dec := &ECSDecoder{}
		totalHits := 0
		for i := 0; i < nEv; i++ {
			line := g.event(i)
			err := dec.Decode([]byte(line), func(ev *Event) {
				got := slices.Clone(m.Match(ev))
				slices.Sort(got)
				obs := []pattern.Observation{ev.Observation()}
				var want []string
				for _, in := range all {
					ok, err := in.p.Match(obs)
					if err == nil && ok {
						want = append(want, in.id)
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
		if totalHits == 0 {
			t.Fatalf("seed %d: no event matched anything; the test proves nothing", seed)
		}
		t.Logf("seed %d: %v, %d matches", seed, kinds, totalHits)
	}
}
