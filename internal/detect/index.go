package detect

import (
	"container/heap"
	"encoding/hex"
	"hash/maphash"
	"log/slog"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/jointcell/jointcell/internal/pattern"
)

// AnchorKind says how an anchor constrains an observation.
type AnchorKind uint8

// Anchor kinds: equality of a property with a value, an address property
// within a CIDR block (ISSUBSET, STIX 2.1 §9.4 comparison operators), or
// only the presence of an object of the type (what every comparison on
// that type needs: LIKE, MATCHES, !=, > ...).
const (
	AnchorEqual AnchorKind = iota + 1
	AnchorCIDR
	AnchorType
)

// Anchor is one indexable condition of a pattern: the pattern can only
// match an observation in which at least one of its anchors holds.
type Anchor struct {
	ObjectType string
	Path       string // property path as the patterning language writes it; empty for AnchorType
	Kind       AnchorKind
	Value      string // the literal, or a canonical CIDR for AnchorCIDR
}

// Pattern is what the index needs of a compiled STIX pattern. The adapter
// over internal/pattern implements it (patterns.go); the index never
// evaluates a pattern any other way, so it can only prune, never decide,
// except for Exact patterns.
type Pattern interface {
	// Anchors returns the pattern's anchors, or nil when it cannot be
	// indexed and must be evaluated on every event.
	Anchors() []Anchor
	// Exact reports whether the pattern is exactly its single anchor, a
	// string equality (AnchorEqual) or ISSUBSET (AnchorCIDR) on a path of
	// plain keys, so that an index hit is a match and nothing but the
	// anchor need be kept.
	Exact() bool
	// Stateless reports whether one observation alone decides the pattern
	// (no qualifier, no AND or FOLLOWEDBY of observations).
	Stateless() bool
	// MatchObservation evaluates a stateless pattern against one
	// observation.
	MatchObservation(o *pattern.Observation) bool
	// Window is how long observations stay relevant to a stateful pattern
	// (its WITHIN qualifier, or 0 when it has none).
	Window() time.Duration
	// MatchWindow evaluates a stateful pattern over observations in time
	// order.
	MatchWindow(obs []pattern.Observation) bool
}

// Compiler compiles a STIX pattern string. It is called from several
// goroutines at once.
type Compiler func(pattern string) (Pattern, error)

// IndexConfig bounds the index's stateful windows.
type IndexConfig struct {
	// WindowEvents bounds the observations kept per stateful pattern
	// (default 256); the oldest are dropped first.
	WindowEvents int
	// WindowAge bounds how long an observation stays in a window when the
	// pattern has no WITHIN qualifier (default 10 minutes).
	WindowAge time.Duration
	// Now is the clock, for tests; default time.Now.
	Now func() time.Time
}

// Index holds the active indicators.
//
// Layout: every (object type, property path) used by an anchor gets a
// small path id; each path has a hash map from value to a chain of
// postings and, for ISSUBSET, one map per prefix length over the masked
// address as an integer. Postings live in a slab without per-indicator
// objects: an Exact pattern with a UUID id is one posting record (its id as
// 16 bytes, its version, its key) and nothing else. Other patterns are
// full entries holding the compiled pattern, reached through one posting
// per anchor (or the per-type list for type anchors).
//
// Concurrency: writers (Update, Sweep) are serialised by wmu and mutate
// the tables only while holding every stripe of a striped read lock;
// matchers read-lock only their own stripe, once per event, so concurrent
// matching costs no shared cache line.
type Index struct {
	compile Compiler
	cfg     IndexConfig
	log     *slog.Logger

	wmu sync.Mutex
	rw  readLocks

	// Read by matchers (under a read lock), written by writers (under
	// wmu and every stripe).
	types   []*typeTab
	paths   []pathTab // by path id; 0 is unused
	recs    recSlab
	fulls   []*fullEntry // by full id; 0 is unused
	general []uint32     // full entries without anchors
	table   keyTable     // equality keys
	arena   valueArena   // the values of the keys
	filter  keyFilter    // every key of table and of the prefix maps

	// Writers only.
	pathIDs    map[pathKey3]uint32
	freeRecs   []uint32
	freeFulls  []uint32
	byUUID     map[[16]byte]uint32 // compact record, or fullFlag|full id
	byString   map[string]uint32   // ids that are not indicator--<lowercase UUID>: full id
	pending    timeHeap            // indicators whose valid_from is in the future
	pendingMod map[string]int64    // version of each pending indicator; other heap entries are stale
	expiry     timeHeap            // active indicators with a valid_until
	nkeys      int                 // distinct keys in table and the prefix maps

	active atomic.Int64
}

const fullFlag = 1 << 31

// readLocks is a striped reader lock: a reader takes one stripe, a writer
// all of them.
type readLocks struct {
	next  atomic.Uint32
	slots [lockStripes]paddedRW
}

const lockStripes = 32

type paddedRW struct {
	sync.RWMutex
	_ [64 - unsafe.Sizeof(sync.RWMutex{})%64]byte // a cache line each
}

func (l *readLocks) stripe() *sync.RWMutex {
	return &l.slots[l.next.Add(1)%lockStripes].RWMutex
}

func (l *readLocks) lockAll() {
	for i := range l.slots {
		l.slots[i].Lock()
	}
}

func (l *readLocks) unlockAll() {
	for i := range l.slots {
		l.slots[i].Unlock()
	}
}

// pathKey3 identifies an indexed property: the object type, the property
// path, and for a property reached through a reference (network-traffic
// src_ref.value) the path on the referenced object.
type pathKey3 struct {
	t, p  string
	star  bool // p is a list and any element may hold the value ([*])
	deref string
}

// typeTab is what the index knows of one object type: the paths of it
// that anchors use, and the full entries anchored on the type alone.
type typeTab struct {
	name   string
	props  []propRef // paths on the object itself
	derefs []propRef // paths through a reference
	any    []uint32  // full ids of type anchors
}

type propRef struct {
	path, deref string
	star        bool
	id          uint32
}

func (t *typeTab) find(path string, star bool) uint32 {
	for i := range t.props {
		r := &t.props[i]
		if r.star == star && r.path == path {
			return r.id
		}
	}
	return 0
}

func (t *typeTab) findDeref(path string, star bool, deref string) uint32 {
	for i := range t.derefs {
		r := &t.derefs[i]
		if r.star == star && r.path == path && r.deref == deref {
			return r.id
		}
	}
	return 0
}

// pathTab holds the postings of one path by address block for ISSUBSET,
// one map per prefix length in use; hasEq says the key table holds values
// of the path.
type pathTab struct {
	hasEq bool
	v4    []v4Table
	v6    []v6Table
}

type v4Table struct {
	bits int
	m    map[uint32]uint32
}

type v6Table struct {
	bits int
	m    map[u128]uint32
}

// rec is one posting: a compact indicator (full == 0), or one anchor of a
// full entry. Records chain the postings of one key through next. It holds
// no pointer: the key's value (or canonical CIDR block) is in the value
// arena, shared by the records of one key.
type rec struct {
	uuid               [16]byte // compact: the indicator id
	mod                int64    // compact: its version (modified, as Unix nanoseconds)
	vchunk, voff, vlen uint32   // the value in the arena
	next, path, full   uint32
	kind               AnchorKind // 0 for a free record
	exact              bool       // the hit is the match (only through a string value)
}

// recSlab stores records in fixed chunks: no per-record object, no
// copying or slack when it grows.
type recSlab struct {
	chunks [][]rec
	n      uint32
}

const recChunkBits = 13

func (s *recSlab) at(i uint32) *rec {
	return &s.chunks[i>>recChunkBits][i&(1<<recChunkBits-1)]
}

func (s *recSlab) alloc() uint32 {
	if s.n == 0 {
		s.n = 1 // 0 is the end of a chain
	}
	i := s.n
	if int(i>>recChunkBits) == len(s.chunks) {
		s.chunks = append(s.chunks, make([]rec, 1<<recChunkBits))
	}
	s.n++
	return i
}

// fullEntry is an indicator whose pattern is kept: it needs confirmation,
// is stateful, or has an id that is not a lowercase UUID.
type fullEntry struct {
	id      string
	uuid    [16]byte
	isUUID  bool
	mod     int64
	pat     Pattern // nil for an Exact pattern kept here for its id
	posts   []uint32
	types   []uint32 // type tables whose any list holds this entry
	general bool
	win     *window
}

// NewIndex returns an empty index.
func NewIndex(compile Compiler, cfg IndexConfig, logger *slog.Logger) *Index {
	if cfg.WindowEvents <= 0 {
		cfg.WindowEvents = 256
	}
	if cfg.WindowAge <= 0 {
		cfg.WindowAge = 10 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ix := &Index{
		compile:    compile,
		cfg:        cfg,
		log:        logger,
		paths:      make([]pathTab, 1),
		fulls:      make([]*fullEntry, 1),
		pathIDs:    map[pathKey3]uint32{},
		byUUID:     map[[16]byte]uint32{},
		byString:   map[string]uint32{},
		pendingMod: map[string]int64{},
	}
	ix.filter.seed = maphash.MakeSeed()
	ix.filter.reset(0)
	ix.table.init(0)
	return ix
}

// Len returns the number of active indicators.
func (ix *Index) Len() int { return int(ix.active.Load()) }

// Indicator is the part of a STIX indicator (STIX 2.1 §4.7) the index reads.
type Indicator struct {
	ID          string `json:"id"`
	Type        string `json:"type"`
	Pattern     string `json:"pattern"`
	PatternType string `json:"pattern_type"`
	ValidFrom   string `json:"valid_from"`
	ValidUntil  string `json:"valid_until"`
	Modified    string `json:"modified"`
	Created     string `json:"created"`
	Revoked     bool   `json:"revoked"`
}

// UpdateResult counts what one Update did.
type UpdateResult struct {
	Added, Replaced, Removed, Ignored, Pending, Failed int
}

// prepared is what Update computes for one indicator before taking any
// lock: its times, its id as 16 bytes, its compiled pattern and canonical
// anchors.
type prepared struct {
	mod, from, until int64
	uuid             [16]byte
	isUUID           bool
	skip             bool // revoked, not STIX, no pattern, or already expired: not compiled
	pat              Pattern
	exact            bool
	anchors          []Anchor
	err              error
}

// updateChunk is how many indicators are prepared by one worker at a time
// and applied under one exclusive lock: small enough that matchers wait at
// most a few milliseconds.
const updateChunk = 1024

// Update applies indicator versions: new ones are added, newer versions of
// known ones replace them, revoked or expired ones are removed, and older
// versions and non-STIX patterns are ignored (STIX 2.1 §3.6: the version with
// the latest modified wins). Patterns that do not compile are logged and
// counted, never fatal. Patterns are parsed and compiled on every core,
// while this goroutine inserts the chunks already prepared, in order.
func (ix *Index) Update(inds []Indicator) UpdateResult {
	ix.wmu.Lock()
	defer ix.wmu.Unlock()
	var res UpdateResult
	now := ix.cfg.Now()
	if len(ix.byUUID) == 0 && len(inds) > updateChunk {
		ix.byUUID = make(map[[16]byte]uint32, len(inds)) // a first load: no growing
	}
	if want := ix.nkeys + len(inds); want > ix.filter.capacity || want*4 > len(ix.table.slots)*3 {
		// Size the key filter and table once for a large load rather
		// than growing them as they fill.
		ix.rw.lockAll()
		if want*4 > len(ix.table.slots)*3 {
			old := ix.table.slots
			ix.table.init(want)
			for _, s := range old {
				if s != 0 {
					ix.table.place(s)
					ix.table.n++
				}
			}
		}
		if want > ix.filter.capacity {
			ix.rebuildFilter(want)
		}
		ix.rw.unlockAll()
	}
	nch := (len(inds) + updateChunk - 1) / updateChunk
	workers := min(runtime.GOMAXPROCS(0), nch)
	if workers <= 1 {
		for k := 0; k < nch; k++ {
			part := inds[k*updateChunk : min((k+1)*updateChunk, len(inds))]
			ix.applyChunk(part, ix.prepare(part, now), now, &res)
		}
	} else {
		results := make([][]prepared, nch)
		ready := make([]chan struct{}, nch)
		for k := range ready {
			ready[k] = make(chan struct{})
		}
		var next atomic.Int64
		for w := 0; w < workers; w++ {
			go func() {
				for {
					k := int(next.Add(1) - 1)
					if k >= nch {
						return
					}
					results[k] = ix.prepare(inds[k*updateChunk:min((k+1)*updateChunk, len(inds))], now)
					close(ready[k])
				}
			}()
		}
		for k := 0; k < nch; k++ {
			<-ready[k]
			ix.applyChunk(inds[k*updateChunk:min((k+1)*updateChunk, len(inds))], results[k], now, &res)
			results[k] = nil
		}
	}
	if ix.sweepDue(now) {
		ix.rw.lockAll()
		ix.sweepLocked(now)
		ix.rw.unlockAll()
	}
	return res
}

func (ix *Index) prepare(inds []Indicator, now time.Time) []prepared {
	out := make([]prepared, len(inds))
	for i := range inds {
		ix.prepareOne(&inds[i], &out[i], now.UnixNano())
	}
	return out
}

func (ix *Index) prepareOne(in *Indicator, p *prepared, now int64) {
	p.mod = parseStamp(in.Modified)
	if p.mod == 0 {
		p.mod = parseStamp(in.Created)
	}
	p.uuid, p.isUUID = parseIndicatorUUID(in.ID)
	p.from = parseStamp(in.ValidFrom)
	p.until = parseStamp(in.ValidUntil)
	if in.Revoked || (in.PatternType != "" && in.PatternType != "stix") || in.Pattern == "" || (p.until != 0 && p.until <= now) {
		p.skip = true
		return
	}
	pat, err := ix.compile(in.Pattern)
	if err != nil {
		p.err = err
		return
	}
	p.exact = pat.Exact()
	raw := pat.Anchors()
	p.anchors = make([]Anchor, 0, len(raw))
	for _, a := range raw {
		c := canonicalAnchor(a)
		if c.ObjectType == "" {
			// Not even a type to anchor on: evaluate on every event.
			p.anchors, p.exact = nil, false
			break
		}
		// The value is kept by the index: a copy, so that it never holds
		// the pattern string alive (the path is copied when interned).
		c.Value = strings.Clone(c.Value)
		p.anchors = append(p.anchors, c)
	}
	if p.exact && (len(p.anchors) != 1 || p.anchors[0].Kind == AnchorType) {
		p.exact = false
	}
	if !p.exact {
		p.pat = pat
	}
}

func (ix *Index) applyChunk(inds []Indicator, pre []prepared, now time.Time, res *UpdateResult) {
	ix.rw.lockAll()
	defer ix.rw.unlockAll()
	for i := range inds {
		ix.apply(&inds[i], &pre[i], now.UnixNano(), res)
	}
}

// Sweep activates indicators whose valid_from has come and removes those
// whose valid_until has passed. The detector calls it every second.
func (ix *Index) Sweep() {
	ix.wmu.Lock()
	defer ix.wmu.Unlock()
	now := ix.cfg.Now()
	if !ix.sweepDue(now) {
		return
	}
	ix.rw.lockAll()
	defer ix.rw.unlockAll()
	ix.sweepLocked(now)
}

func (ix *Index) sweepDue(now time.Time) bool {
	n := now.UnixNano()
	return (len(ix.expiry) > 0 && ix.expiry[0].at <= n) || (len(ix.pending) > 0 && ix.pending[0].at <= n)
}

// idRef finds the active version of an id: its posting record or full
// entry (ref), and its version.
func (ix *Index) idRef(id string, u [16]byte, isUUID bool) (ref uint32, mod int64, ok bool) {
	if isUUID {
		ref, ok = ix.byUUID[u]
	} else {
		ref, ok = ix.byString[id]
	}
	if !ok {
		return 0, 0, false
	}
	if ref&fullFlag != 0 {
		return ref, ix.fulls[ref&^fullFlag].mod, true
	}
	return ref, ix.recs.at(ref).mod, true
}

func (ix *Index) apply(in *Indicator, p *prepared, now int64, res *UpdateResult) {
	oldRef, oldMod, found := ix.idRef(in.ID, p.uuid, p.isUUID)
	if found && oldMod >= p.mod {
		res.Ignored++
		return
	}
	if len(ix.pendingMod) > 0 {
		if pm, ok := ix.pendingMod[in.ID]; ok && pm >= p.mod {
			res.Ignored++
			return
		}
		delete(ix.pendingMod, in.ID)
	}
	// From here this version supersedes whatever we had.
	if found {
		ix.removeRef(oldRef)
	}
	gone := func() {
		if found {
			res.Removed++
		} else {
			res.Ignored++
		}
	}
	if in.Revoked || (in.PatternType != "" && in.PatternType != "stix") || in.Pattern == "" {
		gone()
		return
	}
	if p.until != 0 && p.until <= now {
		gone()
		return
	}
	if p.from > now {
		c := *in
		heap.Push(&ix.pending, timed{at: p.from, id: in.ID, modified: p.mod, ind: &c})
		ix.pendingMod[in.ID] = p.mod
		res.Pending++
		return
	}
	if p.err != nil {
		ix.log.Warn("indicator not indexed", "id", in.ID, "err", p.err)
		res.Failed++
		return
	}
	ix.add(in.ID, p)
	if found {
		res.Replaced++
	} else {
		res.Added++
	}
}

func (ix *Index) sweepLocked(now time.Time) {
	n := now.UnixNano()
	for len(ix.expiry) > 0 && ix.expiry[0].at <= n {
		t := heap.Pop(&ix.expiry).(timed)
		u, isUUID := parseIndicatorUUID(t.id)
		if ref, mod, ok := ix.idRef(t.id, u, isUUID); ok && mod == t.modified {
			ix.removeRef(ref)
		}
	}
	for len(ix.pending) > 0 && ix.pending[0].at <= n {
		t := heap.Pop(&ix.pending).(timed)
		if pm, ok := ix.pendingMod[t.id]; !ok || pm != t.modified {
			continue
		}
		delete(ix.pendingMod, t.id)
		var p prepared
		ix.prepareOne(t.ind, &p, n)
		if p.skip {
			continue
		}
		p.mod = t.modified
		if p.err != nil {
			ix.log.Warn("indicator not indexed", "id", t.id, "err", p.err)
			continue
		}
		ix.add(t.id, &p)
	}
}

// add indexes a prepared indicator that is not present.
func (ix *Index) add(id string, p *prepared) {
	if p.exact && p.isUUID {
		// The compact form: one record, the key is the whole pattern.
		a := p.anchors[0]
		r := ix.link(a, 0, true)
		rr := ix.recs.at(r)
		rr.uuid, rr.mod = p.uuid, p.mod
		ix.byUUID[p.uuid] = r
	} else {
		e := &fullEntry{id: strings.Clone(id), uuid: p.uuid, isUUID: p.isUUID, mod: p.mod, pat: p.pat}
		var fi uint32
		if n := len(ix.freeFulls); n > 0 {
			fi = ix.freeFulls[n-1]
			ix.freeFulls = ix.freeFulls[:n-1]
			ix.fulls[fi] = e
		} else {
			fi = uint32(len(ix.fulls))
			ix.fulls = append(ix.fulls, e)
		}
		if e.pat != nil && !e.pat.Stateless() {
			e.win = &window{max: ix.cfg.WindowEvents, age: ix.cfg.WindowAge}
			if w := e.pat.Window(); w > 0 {
				e.win.age = w
			}
		}
		if len(p.anchors) == 0 {
			e.general = true
			ix.general = append(ix.general, fi)
		}
		for _, a := range p.anchors {
			if a.Kind == AnchorType {
				t := ix.typeTab(a.ObjectType)
				if !containsU32(e.types, t) {
					e.types = append(e.types, t)
					ix.types[t].any = append(ix.types[t].any, fi)
				}
				continue
			}
			e.posts = append(e.posts, ix.link(a, fi, e.pat == nil))
		}
		if p.isUUID {
			ix.byUUID[p.uuid] = fi | fullFlag
		} else {
			ix.byString[e.id] = fi | fullFlag
		}
	}
	if p.until != 0 {
		heap.Push(&ix.expiry, timed{at: p.until, id: strings.Clone(id), modified: p.mod})
	}
	ix.active.Add(1)
}

func containsU32(s []uint32, v uint32) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// removeRef removes an active indicator.
func (ix *Index) removeRef(ref uint32) {
	if ref&fullFlag == 0 {
		r := ix.recs.at(ref)
		delete(ix.byUUID, r.uuid)
		ix.unlink(ref)
		ix.active.Add(-1)
		return
	}
	fi := ref &^ fullFlag
	e := ix.fulls[fi]
	for _, r := range e.posts {
		ix.unlink(r)
	}
	for _, t := range e.types {
		tt := ix.types[t]
		tt.any = removeU32(tt.any, fi)
	}
	if e.general {
		ix.general = removeU32(ix.general, fi)
	}
	if e.isUUID {
		delete(ix.byUUID, e.uuid)
	} else {
		delete(ix.byString, e.id)
	}
	ix.fulls[fi] = nil
	ix.freeFulls = append(ix.freeFulls, fi)
	ix.active.Add(-1)
}

func removeU32(s []uint32, v uint32) []uint32 {
	for i, x := range s {
		if x == v {
			copy(s[i:], s[i+1:])
			return s[:len(s)-1]
		}
	}
	return s
}

// typeTab returns the index of the table of an object type, adding it.
func (ix *Index) typeTab(t string) uint32 {
	for i, tt := range ix.types {
		if tt.name == t {
			return uint32(i)
		}
	}
	ix.types = append(ix.types, &typeTab{name: strings.Clone(t)})
	return uint32(len(ix.types) - 1)
}

// pathID returns the id of an anchor's path, adding it.
func (ix *Index) pathID(a Anchor) uint32 {
	k := splitAnchorPath(a.ObjectType, a.Path)
	if id, ok := ix.pathIDs[k]; ok {
		return id
	}
	k.t, k.p, k.deref = strings.Clone(k.t), strings.Clone(k.p), strings.Clone(k.deref)
	id := uint32(len(ix.paths))
	ix.paths = append(ix.paths, pathTab{})
	ix.pathIDs[k] = id
	tt := ix.types[ix.typeTab(k.t)]
	r := propRef{path: k.p, deref: k.deref, star: k.star, id: id}
	if k.deref != "" {
		tt.derefs = append(tt.derefs, r)
	} else {
		tt.props = append(tt.props, r)
	}
	return id
}

// link adds a posting for an equality or CIDR anchor of full entry fi (0
// for a compact record) and returns it.
func (ix *Index) link(a Anchor, fi uint32, exact bool) uint32 {
	var ri uint32
	if n := len(ix.freeRecs); n > 0 {
		ri = ix.freeRecs[n-1]
		ix.freeRecs = ix.freeRecs[:n-1]
	} else {
		ri = ix.recs.alloc()
	}
	pid := ix.pathID(a)
	r := ix.recs.at(ri)
	*r = rec{path: pid, full: fi, kind: a.Kind, exact: exact}
	pt := &ix.paths[pid]
	var h uint64
	switch a.Kind {
	case AnchorEqual:
		pt.hasEq = true
		h = ix.filter.strKey(pid, a.Value)
		if slot, head := ix.findKey(h, pid, a.Value); head != 0 {
			// The key's value is in the arena already.
			hr := ix.recs.at(head)
			r.vchunk, r.voff, r.vlen = hr.vchunk, hr.voff, hr.vlen
			r.next = head
			ix.table.slots[slot] = ix.table.slots[slot]&^0xffffffff | uint64(ri)
			return ri
		}
		r.vchunk, r.voff, r.vlen = ix.arena.put(a.Value)
		ix.insertKey(h, ri)
	case AnchorCIDR:
		p := netip.MustParsePrefix(a.Value)
		if p.Addr().Is4() {
			m := pt.v4map(p.Bits())
			key := addr32(p.Addr())
			r.next = m[key]
			m[key] = ri
			h = ix.filter.v4Key(pid, p.Bits(), key)
		} else {
			m := pt.v6map(p.Bits())
			key := addr128(p.Addr())
			r.next = m[key]
			m[key] = ri
			h = ix.filter.v6Key(pid, p.Bits(), key)
		}
		if r.next != 0 {
			hr := ix.recs.at(r.next)
			r.vchunk, r.voff, r.vlen = hr.vchunk, hr.voff, hr.vlen
			return ri
		}
		r.vchunk, r.voff, r.vlen = ix.arena.put(a.Value)
	}
	// A new key.
	ix.nkeys++
	if ix.filter.full() {
		ix.rebuildFilter(2 * ix.nkeys) // includes this key
	} else {
		ix.filter.add(h)
	}
	return ri
}

// value returns the value of a record's key.
func (ix *Index) value(r *rec) string { return ix.arena.get(r.vchunk, r.voff, r.vlen) }

// rebuildFilter sizes the key filter for capacity keys and adds every key.
func (ix *Index) rebuildFilter(capacity int) {
	f := &ix.filter
	f.reset(max(capacity, ix.nkeys))
	for _, s := range ix.table.slots {
		if s != 0 {
			r := ix.recs.at(uint32(s))
			f.add(f.strKey(r.path, ix.value(r)))
		}
	}
	for pid := range ix.paths {
		pt := &ix.paths[pid]
		for _, t := range pt.v4 {
			for k := range t.m {
				f.add(f.v4Key(uint32(pid), t.bits, k))
			}
		}
		for _, t := range pt.v6 {
			for k := range t.m {
				f.add(f.v6Key(uint32(pid), t.bits, k))
			}
		}
	}
}

func (pt *pathTab) v4map(bits int) map[uint32]uint32 {
	for _, t := range pt.v4 {
		if t.bits == bits {
			return t.m
		}
	}
	pt.v4 = append(pt.v4, v4Table{bits: bits, m: map[uint32]uint32{}})
	return pt.v4[len(pt.v4)-1].m
}

func (pt *pathTab) v6map(bits int) map[u128]uint32 {
	for _, t := range pt.v6 {
		if t.bits == bits {
			return t.m
		}
	}
	pt.v6 = append(pt.v6, v6Table{bits: bits, m: map[u128]uint32{}})
	return pt.v6[len(pt.v6)-1].m
}

// unlink removes posting ri from its chain and frees it.
func (ix *Index) unlink(ri uint32) {
	r := ix.recs.at(ri)
	pt := &ix.paths[r.path]
	// splice walks the chain from head, returning the new head.
	splice := func(head uint32) uint32 {
		if head == ri {
			return r.next
		}
		for q := head; q != 0; {
			qq := ix.recs.at(q)
			if qq.next == ri {
				qq.next = r.next
				break
			}
			q = qq.next
		}
		return head
	}
	val := ix.value(r)
	gone := func() {
		ix.nkeys--
		ix.filter.removed++
		ix.arena.live -= len(val)
		ix.arena.dead += len(val)
	}
	switch r.kind {
	case AnchorEqual:
		slot, head := ix.findKey(ix.filter.strKey(r.path, val), r.path, val)
		if h := splice(head); h != 0 {
			ix.table.slots[slot] = ix.table.slots[slot]&^0xffffffff | uint64(h)
		} else {
			ix.table.remove(slot)
			gone()
		}
	case AnchorCIDR:
		p := netip.MustParsePrefix(val)
		if p.Addr().Is4() {
			m := pt.v4map(p.Bits())
			key := addr32(p.Addr())
			if h := splice(m[key]); h != 0 {
				m[key] = h
			} else {
				delete(m, key)
				gone()
			}
		} else {
			m := pt.v6map(p.Bits())
			key := addr128(p.Addr())
			if h := splice(m[key]); h != 0 {
				m[key] = h
			} else {
				delete(m, key)
				gone()
			}
		}
	}
	*r = rec{}
	ix.freeRecs = append(ix.freeRecs, ri)
	if ix.arena.dead > arenaCompactMin && ix.arena.dead > ix.arena.live {
		ix.compactArena()
	}
}

// compactArena copies the live values into a new arena.
func (ix *Index) compactArena() {
	old := ix.arena
	ix.arena = valueArena{}
	type ref struct{ c, o, n uint32 }
	moved := map[ref]ref{}
	for i := uint32(1); i < ix.recs.n; i++ {
		r := ix.recs.at(i)
		if r.kind == 0 {
			continue
		}
		k := ref{r.vchunk, r.voff, r.vlen}
		to, ok := moved[k]
		if !ok {
			to.c, to.o, to.n = ix.arena.put(old.get(r.vchunk, r.voff, r.vlen))
			moved[k] = to
		}
		r.vchunk, r.voff, r.vlen = to.c, to.o, to.n
	}
}

// splitAnchorPath splits "src_ref.value" into ("src_ref", "value") so that
// a property reached through a reference is keyed like the event atoms
// built by Match. Only the first reference is followed.
func splitAnchorPath(t, p string) pathKey3 {
	keys := splitPath(p)
	k := pathKey3{t: t}
	for i, key := range keys {
		base, star := strings.CutSuffix(key, "[*]")
		if i < len(keys)-1 && (strings.HasSuffix(base, "_ref") || strings.HasSuffix(base, "_refs")) {
			k.p, k.star, k.deref = joinPath(append(keys[:i:i], base)), star, joinPath(keys[i+1:])
			return k
		}
		if i == len(keys)-1 {
			k.p, k.star = joinPath(append(keys[:i:i], base)), star
		}
	}
	return k
}

func joinPath(keys []string) string {
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('.')
		}
		if strings.HasSuffix(k, "[*]") {
			b.WriteString(pathKey(strings.TrimSuffix(k, "[*]")))
			b.WriteString("[*]")
			continue
		}
		b.WriteString(pathKey(k))
	}
	return b.String()
}

func parseStamp(s string) int64 {
	if s == "" {
		return 0
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0
	}
	return t.UnixNano()
}

// parseIndicatorUUID reads indicator--<UUID> in lowercase, the only
// spelling that indicatorID gives back identically; other ids are kept as
// strings.
func parseIndicatorUUID(id string) ([16]byte, bool) {
	var u [16]byte
	s, ok := strings.CutPrefix(id, "indicator--")
	if !ok || len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, false
	}
	j := 0
	for i := 0; i < 36; {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			i++
			continue
		}
		hi, lo := lowerHex(s[i]), lowerHex(s[i+1])
		if hi < 0 || lo < 0 {
			return u, false
		}
		u[j] = byte(hi<<4 | lo)
		j++
		i += 2
	}
	return u, true
}

func lowerHex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	}
	return -1
}

// indicatorID formats a compact record's id.
func indicatorID(u [16]byte) string {
	var b [11 + 36]byte
	copy(b[:], "indicator--")
	hex.Encode(b[11:19], u[0:4])
	b[19] = '-'
	hex.Encode(b[20:24], u[4:6])
	b[24] = '-'
	hex.Encode(b[25:29], u[6:8])
	b[29] = '-'
	hex.Encode(b[30:34], u[8:10])
	b[34] = '-'
	hex.Encode(b[35:], u[10:])
	return string(b[:])
}

// timed is an indicator due at a time: activation (pending) or expiry.
type timed struct {
	at       int64
	id       string
	modified int64
	ind      *Indicator
}

type timeHeap []timed

func (h timeHeap) Len() int           { return len(h) }
func (h timeHeap) Less(i, j int) bool { return h[i].at < h[j].at }
func (h timeHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *timeHeap) Push(x any)        { *h = append(*h, x.(timed)) }
func (h *timeHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
