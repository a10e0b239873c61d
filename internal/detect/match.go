package detect

import (
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jointcell/jointcell/internal/pattern"
)

// Matcher holds one worker's scratch space for Index.Match; it is not safe
// for concurrent use, give each worker its own.
type Matcher struct {
	ix    *Index
	cands []*entry
	hits  []string
	num   []byte
}

// NewMatcher returns a matcher over ix.
func (ix *Index) NewMatcher() *Matcher { return &Matcher{ix: ix} }

// Match returns the ids of the indicators that ev matches. Candidates come
// from the hash maps and prefix tables (which only prune); each is then
// confirmed by the pattern's own evaluation, except Exact patterns for
// which the index hit is the evaluation. Unanchored patterns are evaluated
// on every event. Stateful patterns add ev to their window when it holds one
// of their anchors and report a match when the window satisfies them. The
// returned slice is reused by the next call.
func (m *Matcher) Match(ev *Event) []string {
	ix := m.ix
	m.cands = m.cands[:0]
	m.hits = m.hits[:0]
	paths := *ix.paths.Load()
	if len(paths) > 0 {
		for oi := range ev.Objects {
			o := &ev.Objects[oi]
			for pi := range o.Props {
				p := &o.Props[pi]
				switch p.Kind {
				case KindString, KindStrings, KindInt:
					k := pathKey3{t: o.Type, p: p.Path, star: p.Kind == KindStrings}
					if tp, ok := paths[k]; ok {
						m.atom(tp, p)
					}
				case KindRef, KindRefs:
					t := int(p.Int)
					if t < 0 || t >= len(ev.Objects) {
						continue
					}
					for qi := range ev.Objects[t].Props {
						q := &ev.Objects[t].Props[qi]
						if q.Kind != KindString && q.Kind != KindInt {
							continue
						}
						k := pathKey3{t: o.Type, p: p.Path, star: p.Kind == KindRefs, deref: q.Path}
						if tp, ok := paths[k]; ok {
							m.atom(tp, q)
						}
					}
				}
			}
		}
	}
	var obs *pattern.Observation
	for _, e := range m.cands {
		if e.x == nil {
			m.hits = append(m.hits, e.ID())
			continue
		}
		if e.x.win == nil {
			if e.x.pat.MatchEvent(ev) {
				m.hits = append(m.hits, e.ID())
			}
			continue
		}
		if obs == nil {
			obs = observe(ev)
		}
		if e.x.win.offer(obs, e.x.pat) {
			m.hits = append(m.hits, e.ID())
		}
	}
	for _, e := range *ix.general.Load() {
		if e.x.win == nil {
			if e.x.pat.MatchEvent(ev) {
				m.hits = append(m.hits, e.ID())
			}
			continue
		}
		if obs == nil {
			obs = observe(ev)
		}
		if e.x.win.offer(obs, e.x.pat) {
			m.hits = append(m.hits, e.ID())
		}
	}
	return m.hits
}

// atom looks one property value up in the equality maps and, for
// addresses, in the prefix tables.
func (m *Matcher) atom(tp uint32, p *Prop) {
	ix := m.ix
	v := p.Str
	if p.Kind == KindInt {
		// Integer literals are anchored by their decimal form.
		m.num = strconv.AppendInt(m.num[:0], p.Int, 10)
		v = string(m.num)
	}
	k := eqKey{tp: tp, v: v}
	s := ix.shard(k)
	s.mu.RLock()
	for q := s.m[k]; q != nil; q = q.next {
		// An exact pattern compares a string literal: an integer property
		// with the same digits is not a match, so only patterns that are
		// evaluated in full may be reached through an integer.
		if p.Kind != KindInt || q.e.x != nil {
			m.add(q.e)
		}
	}
	s.mu.RUnlock()
	if p.Kind == KindInt {
		return
	}
	ix.cidrMu.RLock()
	t := ix.cidr[tp]
	if t != nil {
		t.lookup(v, m.add)
	}
	ix.cidrMu.RUnlock()
}

func (m *Matcher) add(e *entry) {
	for _, c := range m.cands {
		if c == e {
			return
		}
	}
	m.cands = append(m.cands, e)
}

func observe(ev *Event) *pattern.Observation {
	o := ev.Observation()
	return &o
}

// prefixTable finds the CIDR blocks containing an address: one map per
// prefix length in use, probed from the longest length down. Few distinct
// lengths occur in practice (/32, /24, /16, /64, /48 ...), so a lookup is a
// handful of map probes.
type prefixTable struct {
	lens4, lens6 []int
	m            map[netip.Prefix]*posting
}

func newPrefixTable() *prefixTable {
	return &prefixTable{m: map[netip.Prefix]*posting{}}
}

func (t *prefixTable) add(p netip.Prefix, e *entry) {
	p = p.Masked()
	t.m[p] = &posting{e: e, next: t.m[p]}
	t.useLen(p)
}

func (t *prefixTable) useLen(p netip.Prefix) {
	lens := &t.lens4
	if p.Addr().Is6() {
		lens = &t.lens6
	}
	for _, l := range *lens {
		if l == p.Bits() {
			return
		}
	}
	*lens = append(*lens, p.Bits())
}

func (t *prefixTable) remove(p netip.Prefix, e *entry) {
	p = p.Masked()
	var head *posting
	for q := t.m[p]; q != nil; q = q.next {
		if q.e != e {
			head = &posting{e: q.e, next: head}
		}
	}
	if head == nil {
		delete(t.m, p)
	} else {
		t.m[p] = head
	}
}

// lookup calls fn for every entry whose block contains v, an address or
// itself a CIDR block (STIX address values may be blocks, STIX 2.1 §6.5).
func (t *prefixTable) lookup(v string, fn func(*entry)) {
	var a netip.Addr
	bits := -1
	if strings.IndexByte(v, '/') >= 0 {
		p, err := netip.ParsePrefix(v)
		if err != nil {
			return
		}
		a, bits = p.Addr(), p.Bits()
	} else {
		var err error
		if a, err = netip.ParseAddr(v); err != nil {
			return
		}
		bits = a.BitLen()
	}
	if a.Zone() != "" {
		return
	}
	lens := t.lens4
	if a.Is6() {
		lens = t.lens6
	}
	for _, l := range lens {
		if l > bits {
			continue
		}
		p, err := a.Prefix(l)
		if err != nil {
			continue
		}
		for q := t.m[p]; q != nil; q = q.next {
			fn(q.e)
		}
	}
}

// window keeps the recent observations relevant to one stateful pattern,
// bounded in number and age, so that memory stays bounded under any input.
type window struct {
	mu  sync.Mutex
	max int
	age time.Duration
	obs []pattern.Observation
}

// offer adds o to the window and evaluates the pattern over it. After a
// match the window is cleared, so one set of observations is reported once.
func (w *window) offer(o *pattern.Observation, pat Pattern) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	// Expire by the events' own time: windows follow the telemetry's
	// clock, not arrival, so a replayed log behaves like a live one.
	cut := o.LastObserved.Add(-w.age)
	keep := w.obs[:0]
	for _, x := range w.obs {
		if !x.LastObserved.Before(cut) {
			keep = append(keep, x)
		}
	}
	clear(w.obs[len(keep):])
	w.obs = keep
	if len(w.obs) >= w.max {
		copy(w.obs, w.obs[1:])
		w.obs[len(w.obs)-1] = pattern.Observation{}
		w.obs = w.obs[:len(w.obs)-1]
	}
	// Insert in time order; telemetry is mostly ordered so this is
	// usually an append.
	i := len(w.obs)
	for i > 0 && w.obs[i-1].FirstObserved.After(o.FirstObserved) {
		i--
	}
	w.obs = append(w.obs, pattern.Observation{})
	copy(w.obs[i+1:], w.obs[i:])
	w.obs[i] = *o
	if pat.MatchWindow(w.obs) {
		clear(w.obs)
		w.obs = w.obs[:0]
		return true
	}
	return false
}
