package detect

import (
	"encoding/binary"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/jointcell/jointcell/internal/pattern"
)

// Matcher holds one worker's scratch space for Index.Match; it is not safe
// for concurrent use, give each worker its own.
type Matcher struct {
	ix      *Index
	lock    *sync.RWMutex // this matcher's stripe of the index's read lock
	recHits []uint32      // compact records hit
	cands   []uint32      // full entries to evaluate
	seen    []uint32      // by full id: gen when already a candidate
	gen     uint32
	typesIn []uint32 // type tables whose type anchors were taken
	hits    []string
	num     []byte
}

// NewMatcher returns a matcher over ix.
func (ix *Index) NewMatcher() *Matcher { return &Matcher{ix: ix, lock: ix.rw.stripe()} }

// Match returns the ids of the indicators that ev matches.
//
// The event's values are looked up directly in the index, path by path:
// for each object, the type's table says which of its properties are
// indexed, and each such value is one hash-map probe (plus one per prefix
// length for paths with ISSUBSET anchors). A compact record hit is a match.
// Full entries found are evaluated by the pattern package on one
// pattern.Observation built for the event, only when there is such a
// candidate. Stateful patterns add the observation to their window and
// report a match when the window satisfies them. Unanchored patterns are
// evaluated on every event. The returned slice is reused by the next call.
func (m *Matcher) Match(ev *Event) []string {
	m.lock.RLock()
	defer m.lock.RUnlock()
	ix := m.ix
	m.recHits, m.cands, m.hits, m.typesIn = m.recHits[:0], m.cands[:0], m.hits[:0], m.typesIn[:0]
	m.gen++
	if m.gen == 0 {
		clear(m.seen)
		m.gen = 1
	}
	if len(ix.types) > 0 {
		for oi := range ev.Objects {
			o := &ev.Objects[oi]
			ti, tt := ix.lookupType(o.Type)
			if tt == nil {
				continue
			}
			if len(tt.any) > 0 && !containsU32(m.typesIn, ti) {
				m.typesIn = append(m.typesIn, ti)
				for _, fi := range tt.any {
					m.cand(fi)
				}
			}
			if len(tt.props) > 0 {
				for pi := range o.Props {
					m.prop(tt, &o.Props[pi])
				}
			}
			if len(tt.derefs) > 0 {
				for pi := range o.Props {
					p := &o.Props[pi]
					if p.Kind != KindRef && p.Kind != KindRefs {
						continue
					}
					t := int(p.Int)
					if t < 0 || t >= len(ev.Objects) {
						continue
					}
					star := p.Kind == KindRefs
					for qi := range ev.Objects[t].Props {
						q := &ev.Objects[t].Props[qi]
						if id := tt.findDeref(p.Path, star, q.Path); id != 0 {
							m.value(id, q)
						}
					}
				}
			}
		}
	}
	if len(m.cands) > 0 || len(ix.general) > 0 {
		m.confirm(ev)
	}
	for _, r := range m.recHits {
		m.hits = append(m.hits, indicatorID(ix.recs.at(r).uuid))
	}
	return m.hits
}

// confirm evaluates the candidate full entries and the unanchored ones.
func (m *Matcher) confirm(ev *Event) {
	ix := m.ix
	var obs, kept *pattern.Observation
	check := func(e *fullEntry) {
		switch {
		case e.pat == nil:
			m.hits = append(m.hits, e.id)
		case e.win == nil:
			if obs == nil {
				o := ev.observation(false)
				obs = &o
			}
			if e.pat.MatchObservation(obs) {
				m.hits = append(m.hits, e.id)
			}
		default:
			// Windows keep observations beyond this event: their
			// strings must not alias the input record.
			if kept == nil {
				o := ev.observation(true)
				kept = &o
			}
			if e.win.offer(kept, e.pat) {
				m.hits = append(m.hits, e.id)
			}
		}
	}
	for _, fi := range m.cands {
		check(ix.fulls[fi])
	}
	for _, fi := range ix.general {
		check(ix.fulls[fi])
	}
}

func (ix *Index) lookupType(t string) (uint32, *typeTab) {
	for i, tt := range ix.types {
		if tt.name == t {
			return uint32(i), tt
		}
	}
	return 0, nil
}

func (m *Matcher) cand(fi uint32) {
	if int(fi) >= len(m.seen) {
		n := make([]uint32, max(len(m.ix.fulls), int(fi)+1))
		copy(n, m.seen)
		m.seen = n
	}
	if m.seen[fi] == m.gen {
		return
	}
	m.seen[fi] = m.gen
	m.cands = append(m.cands, fi)
}

// prop looks up one property of an object of an indexed type.
func (m *Matcher) prop(tt *typeTab, p *Prop) {
	switch p.Kind {
	case KindString, KindInt, KindFloat, KindBool:
		if id := tt.find(p.Path, false); id != 0 {
			m.value(id, p)
		}
	case KindStrings:
		if id := tt.find(p.Path, true); id != 0 {
			m.str(id, p.Str)
		}
	case KindAny:
		// A list the decoder kept whole (STIX input): its scalar
		// elements are the values of path[*].
		l, ok := p.Any.([]any)
		if !ok {
			return
		}
		id := tt.find(p.Path, true)
		if id == 0 {
			return
		}
		for _, x := range l {
			switch x := x.(type) {
			case string:
				m.str(id, x)
			case float64:
				m.floating(id, x)
			case int64:
				m.integer(id, x)
			case bool:
				m.boolean(id, x)
			}
		}
	}
}

// value looks up one scalar value at path id.
func (m *Matcher) value(id uint32, p *Prop) {
	switch p.Kind {
	case KindString:
		m.str(id, p.Str)
	case KindInt:
		m.integer(id, p.Int)
	case KindFloat:
		m.floating(id, p.F)
	case KindBool:
		m.boolean(id, p.Int != 0)
	}
}

// str looks up a string value: equality postings, then the prefix tables
// when the path has ISSUBSET anchors.
func (m *Matcher) str(id uint32, v string) {
	pt := &m.ix.paths[id]
	if pt.hasEq {
		if h := m.ix.filter.strKey(id, v); m.ix.filter.has(h) {
			if _, head := m.ix.findKey(h, id, v); head != 0 {
				m.chain(head, true)
			}
		}
	}
	if len(pt.v4) > 0 || len(pt.v6) > 0 {
		m.cidr(id, pt, v)
	}
}

// Numbers and booleans are anchored by their literal's canonical text:
// the decimal for an integer (equal to the same float, and, as in Python,
// 1 and 0 equal true and false). Exact postings compare string literals and
// are skipped: an integer property with the same digits is not a match.
func (m *Matcher) integer(id uint32, n int64) {
	pt := &m.ix.paths[id]
	if !pt.hasEq {
		return
	}
	m.num = strconv.AppendInt(m.num[:0], n, 10)
	m.lit(id, unsafe.String(unsafe.SliceData(m.num), len(m.num))) // not kept
	switch n {
	case 0:
		m.lit(id, "false")
	case 1:
		m.lit(id, "true")
	}
}

func (m *Matcher) floating(id uint32, f float64) {
	if f == math.Trunc(f) && f > -(1<<63) && f < 1<<63 {
		m.integer(id, int64(f))
	}
}

func (m *Matcher) boolean(id uint32, b bool) {
	pt := &m.ix.paths[id]
	if !pt.hasEq {
		return
	}
	if b {
		m.lit(id, "true")
		m.lit(id, "1")
	} else {
		m.lit(id, "false")
		m.lit(id, "0")
	}
}

// lit looks up the text of a number or boolean: only postings of full
// entries can match.
func (m *Matcher) lit(id uint32, v string) {
	h := m.ix.filter.strKey(id, v)
	if !m.ix.filter.has(h) {
		return
	}
	if _, head := m.ix.findKey(h, id, v); head != 0 {
		m.chain(head, false)
	}
}

// chain visits the postings of one key; str says the value was a string.
func (m *Matcher) chain(h uint32, str bool) {
	ix := m.ix
	for r := h; r != 0; {
		rr := ix.recs.at(r)
		switch {
		case rr.exact && !str:
		case rr.full == 0:
			if !containsU32(m.recHits, r) {
				m.recHits = append(m.recHits, r)
			}
		default:
			m.cand(rr.full)
		}
		r = rr.next
	}
}

// u128 is an IPv6 address as a map key.
type u128 struct{ hi, lo uint64 }

func addr128(a netip.Addr) u128 {
	b := a.As16()
	return u128{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

func addr32(a netip.Addr) uint32 {
	b := a.As4()
	return binary.BigEndian.Uint32(b[:])
}

// cidr finds the blocks containing v, an address or itself a block (STIX
// address values may be blocks, STIX 2.1 §6.5), one probe per prefix
// length in use, with the pattern package's engine semantics: IPv4 and
// IPv6 never contain each other, a zone is ignored, unparsable values
// match nothing.
func (m *Matcher) cidr(id uint32, pt *pathTab, v string) {
	f := &m.ix.filter
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
	if a.Is4() {
		k := addr32(a)
		for _, t := range pt.v4 {
			if t.bits > bits {
				continue
			}
			key := k & mask32(t.bits)
			if !f.has(f.v4Key(id, t.bits, key)) {
				continue
			}
			if h := t.m[key]; h != 0 {
				m.chain(h, true)
			}
		}
		return
	}
	k := addr128(a)
	for _, t := range pt.v6 {
		if t.bits > bits {
			continue
		}
		key := k.masked(t.bits)
		if !f.has(f.v6Key(id, t.bits, key)) {
			continue
		}
		if h := t.m[key]; h != 0 {
			m.chain(h, true)
		}
	}
}

func mask32(bits int) uint32 {
	if bits == 0 {
		return 0
	}
	return math.MaxUint32 << (32 - bits)
}

func (k u128) masked(bits int) u128 {
	switch {
	case bits == 0:
		return u128{}
	case bits <= 64:
		return u128{k.hi & (math.MaxUint64 << (64 - bits)), 0}
	case bits < 128:
		return u128{k.hi, k.lo & (math.MaxUint64 << (128 - bits))}
	}
	return k
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
