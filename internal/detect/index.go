package detect

import (
	"container/heap"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/maphash"
	"log/slog"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jointcell/jointcell/internal/pattern"
)

// AnchorKind says how an anchor constrains an observation.
type AnchorKind uint8

// Anchor kinds: equality of a property with a value, or an address
// property within a CIDR block (ISSUBSET, STIX 2.1 §9.4 comparison
// operators).
const (
	AnchorEqual AnchorKind = iota + 1
	AnchorCIDR
)

// Anchor is one indexable condition of a pattern: the pattern can only
// match an observation in which at least one of its anchors holds.
type Anchor struct {
	ObjectType string
	Path       string // property path as the patterning language writes it
	Kind       AnchorKind
	Value      string // the literal, or a canonical CIDR for AnchorCIDR
}

// Pattern is what the index needs of a compiled STIX pattern. The adapter
// over internal/pattern implements it (patterns.go); the index never
// evaluates a pattern any other way, so it can only prune, never decide.
type Pattern interface {
	// Anchors returns the pattern's anchors, or nil when it cannot be
	// indexed and must be evaluated on every event.
	Anchors() []Anchor
	// Exact reports whether the pattern is exactly its single equality
	// anchor (e.g. [ipv4-addr:value = '198.51.100.1']), so that an index hit
	// is a match and the compiled form need not be kept.
	Exact() bool
	// Stateless reports whether the pattern is one observation expression
	// without qualifiers, decided by one observation alone.
	Stateless() bool
	// MatchEvent evaluates a stateless pattern against one event.
	MatchEvent(ev *Event) bool
	// Window is how long observations stay relevant to a stateful pattern
	// (its WITHIN qualifier, or 0 when it has none).
	Window() time.Duration
	// MatchWindow evaluates a stateful pattern over observations in time
	// order.
	MatchWindow(obs []pattern.Observation) bool
}

// Compiler compiles a STIX pattern string.
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

// Index holds the active indicators. Readers (Match) take only per-shard
// read locks on the hash maps, so many workers match concurrently while
// updates apply; an update is visible to the next event, well within the
// one second the detector promises.
type Index struct {
	compile Compiler
	cfg     IndexConfig
	log     *slog.Logger

	wmu      sync.Mutex // serialises writers
	byUUID   map[[16]byte]*entry
	byString map[string]*entry
	pending  timeHeap // indicators whose valid_from is in the future
	// pendingMod is the version of each pending indicator; heap entries
	// of other versions are stale and skipped when popped.
	pendingMod map[string]int64
	expiry     timeHeap // active indicators with a valid_until
	paths      atomic.Pointer[map[pathKey3]uint32]
	nextPath   uint32

	seed    maphash.Seed
	shards  [nShards]eqShard
	cidrMu  sync.RWMutex
	cidr    map[uint32]*prefixTable
	general atomic.Pointer[[]*entry] // unanchored patterns, copy-on-write

	active atomic.Int64
	pre    compiledOrErr // the precompiled pattern of the indicator being applied
}

const nShards = 64

type eqShard struct {
	mu sync.RWMutex
	m  map[eqKey]*posting
}

type eqKey struct {
	tp uint32
	v  string
}

type posting struct {
	e    *entry
	next *posting
}

// pathKey3 identifies an indexed property: the object type, the property
// path, and for a property reached through a reference (network-traffic
// src_ref.value) the path on the referenced object.
type pathKey3 struct {
	t, p  string
	star  bool // p is a list and any element may hold the value ([*])
	deref string
}

// entry is one active indicator version. Simple indicators (Exact
// patterns) keep only this: 16 bytes of id, their key and version; x
// holds everything else for the rest.
type entry struct {
	key      eqKey
	uuid     [16]byte
	modified int64
	x        *extra
}

type extra struct {
	id      string // when the id is not indicator--UUID
	pat     Pattern
	anchors []Anchor
	win     *window
}

// ID returns the indicator id.
func (e *entry) ID() string {
	if e.x != nil && e.x.id != "" {
		return e.x.id
	}
	return "indicator--" + formatUUID(e.uuid)
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
		byUUID:     map[[16]byte]*entry{},
		byString:   map[string]*entry{},
		pendingMod: map[string]int64{},
		seed:       maphash.MakeSeed(),
		cidr:       map[uint32]*prefixTable{},
	}
	for i := range ix.shards {
		ix.shards[i].m = map[eqKey]*posting{}
	}
	empty := map[pathKey3]uint32{}
	ix.paths.Store(&empty)
	ix.general.Store(&[]*entry{})
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

// ParseIndicator decodes an indicator from its JSON.
func ParseIndicator(raw []byte) (Indicator, error) {
	var in Indicator
	if err := json.Unmarshal(raw, &in); err != nil {
		return in, fmt.Errorf("detect: decode indicator: %w", err)
	}
	if in.Type != "indicator" {
		return in, fmt.Errorf("detect: object %s is a %s, not an indicator", in.ID, in.Type)
	}
	return in, nil
}

// UpdateResult counts what one Update did.
type UpdateResult struct {
	Added, Replaced, Removed, Ignored, Pending, Failed int
}

// Update applies indicator versions: new ones are added, newer versions of
// known ones replace them, revoked or expired ones are removed, and older
// versions and non-STIX patterns are ignored (STIX 2.1 §3.6: the version with
// the latest modified wins). Patterns that do not compile are logged and
// counted, never fatal.
func (ix *Index) Update(inds []Indicator) UpdateResult {
	// Compiling is most of the cost of a large load and needs no lock:
	// do it on every core first.
	pre := ix.precompile(inds)
	ix.wmu.Lock()
	defer ix.wmu.Unlock()
	var res UpdateResult
	now := ix.cfg.Now()
	for i, in := range inds {
		ix.pre = pre[i]
		ix.apply(in, now, &res)
	}
	ix.pre = compiledOrErr{}
	ix.sweepLocked(now)
	return res
}

// Sweep activates indicators whose valid_from has come and removes those
// whose valid_until has passed. The detector calls it every second.
func (ix *Index) Sweep() {
	ix.wmu.Lock()
	defer ix.wmu.Unlock()
	ix.sweepLocked(ix.cfg.Now())
}

func (ix *Index) apply(in Indicator, now time.Time, res *UpdateResult) {
	mod := parseStamp(in.Modified)
	if mod == 0 {
		mod = parseStamp(in.Created)
	}
	old := ix.lookupID(in.ID)
	if old != nil && old.modified >= mod {
		res.Ignored++
		return
	}
	if pm, ok := ix.pendingMod[in.ID]; ok && pm >= mod {
		res.Ignored++
		return
	}
	delete(ix.pendingMod, in.ID)
	// From here this version supersedes whatever we had.
	if old != nil {
		ix.removeLocked(old)
	}
	if in.Revoked || (in.PatternType != "" && in.PatternType != "stix") || in.Pattern == "" {
		if old != nil {
			res.Removed++
		} else {
			res.Ignored++
		}
		return
	}
	until := parseStamp(in.ValidUntil)
	if until != 0 && until <= now.UnixNano() {
		if old != nil {
			res.Removed++
		} else {
			res.Ignored++
		}
		return
	}
	if from := parseStamp(in.ValidFrom); from > now.UnixNano() {
		heap.Push(&ix.pending, timed{at: from, id: in.ID, modified: mod, ind: &in})
		ix.pendingMod[in.ID] = mod
		res.Pending++
		return
	}
	if err := ix.addLocked(in, mod, until); err != nil {
		ix.log.Warn("indicator not indexed", "id", in.ID, "err", err)
		res.Failed++
		return
	}
	if old != nil {
		res.Replaced++
	} else {
		res.Added++
	}
}

// compiledOrErr is one precompiled pattern.
type compiledOrErr struct {
	pat Pattern
	err error
	ok  bool
}

func (ix *Index) precompile(inds []Indicator) []compiledOrErr {
	out := make([]compiledOrErr, len(inds))
	if len(inds) < 512 {
		return out // compiled on demand under the lock
	}
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	var next atomic.Int64
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				start := int(next.Add(256)) - 256
				if start >= len(inds) {
					return
				}
				for i := start; i < min(start+256, len(inds)); i++ {
					in := &inds[i]
					if in.Revoked || in.Pattern == "" || (in.PatternType != "" && in.PatternType != "stix") {
						continue
					}
					p, err := ix.compile(in.Pattern)
					out[i] = compiledOrErr{pat: p, err: err, ok: true}
				}
			}
		}()
	}
	wg.Wait()
	return out
}

func (ix *Index) sweepLocked(now time.Time) {
	n := now.UnixNano()
	for len(ix.expiry) > 0 && ix.expiry[0].at <= n {
		t := heap.Pop(&ix.expiry).(timed)
		if e := ix.lookupID(t.id); e != nil && e.modified == t.modified {
			ix.removeLocked(e)
		}
	}
	for len(ix.pending) > 0 && ix.pending[0].at <= n {
		t := heap.Pop(&ix.pending).(timed)
		if pm, ok := ix.pendingMod[t.id]; !ok || pm != t.modified {
			continue
		}
		delete(ix.pendingMod, t.id)
		in := *t.ind
		until := parseStamp(in.ValidUntil)
		if until != 0 && until <= n {
			continue
		}
		if err := ix.addLocked(in, t.modified, until); err != nil {
			ix.log.Warn("indicator not indexed", "id", in.ID, "err", err)
		}
	}
}

func (ix *Index) lookupID(id string) *entry {
	if u, ok := parseIndicatorUUID(id); ok {
		return ix.byUUID[u]
	}
	return ix.byString[id]
}

func (ix *Index) addLocked(in Indicator, mod, until int64) error {
	pat, err := ix.pre.pat, ix.pre.err
	if !ix.pre.ok {
		pat, err = ix.compile(in.Pattern)
	}
	if err != nil {
		return err
	}
	e := &entry{modified: mod}
	u, isUUID := parseIndicatorUUID(in.ID)
	if isUUID {
		e.uuid = u
	}
	anchors := pat.Anchors()
	canon := make([]Anchor, 0, len(anchors))
	indexable := len(anchors) > 0
	for _, a := range anchors {
		c, ok := canonicalAnchor(a)
		if !ok {
			indexable = false
			break
		}
		canon = append(canon, c)
	}
	if indexable && len(canon) == 1 && canon[0].Kind == AnchorEqual && pat.Exact() && isUUID {
		// The compact form: the key is the whole pattern.
		e.key = eqKey{tp: ix.internPath(canon[0]), v: canon[0].Value}
	} else {
		e.x = &extra{pat: pat}
		if !isUUID {
			e.x.id = in.ID
		}
		if indexable {
			e.x.anchors = canon
		}
		if !pat.Stateless() {
			e.x.win = &window{max: ix.cfg.WindowEvents, age: ix.cfg.WindowAge}
			if w := pat.Window(); w > 0 {
				e.x.win.age = w
			}
		}
	}
	if isUUID {
		ix.byUUID[u] = e
	} else {
		ix.byString[in.ID] = e
	}
	ix.link(e)
	if until != 0 {
		heap.Push(&ix.expiry, timed{at: until, id: in.ID, modified: mod})
	}
	ix.active.Add(1)
	return nil
}

func (ix *Index) removeLocked(e *entry) {
	ix.unlink(e)
	if e.x != nil && e.x.id != "" {
		delete(ix.byString, e.x.id)
	} else {
		delete(ix.byUUID, e.uuid)
	}
	ix.active.Add(-1)
}

// link adds e to the maps its anchors name, or to the general list.
func (ix *Index) link(e *entry) {
	if e.x == nil {
		ix.linkEq(e.key, e)
		return
	}
	if len(e.x.anchors) == 0 {
		old := *ix.general.Load()
		n := make([]*entry, len(old), len(old)+1)
		copy(n, old)
		n = append(n, e)
		ix.general.Store(&n)
		return
	}
	for _, a := range e.x.anchors {
		tp := ix.internPath(a)
		switch a.Kind {
		case AnchorEqual:
			ix.linkEq(eqKey{tp: tp, v: a.Value}, e)
		case AnchorCIDR:
			pfx := netip.MustParsePrefix(a.Value)
			ix.cidrMu.Lock()
			t := ix.cidr[tp]
			if t == nil {
				t = newPrefixTable()
				ix.cidr[tp] = t
			}
			t.add(pfx, e)
			ix.cidrMu.Unlock()
		}
	}
}

func (ix *Index) unlink(e *entry) {
	if e.x == nil {
		ix.unlinkEq(e.key, e)
		return
	}
	if len(e.x.anchors) == 0 {
		old := *ix.general.Load()
		n := make([]*entry, 0, len(old))
		for _, g := range old {
			if g != e {
				n = append(n, g)
			}
		}
		ix.general.Store(&n)
		return
	}
	for _, a := range e.x.anchors {
		tp := ix.internPath(a)
		switch a.Kind {
		case AnchorEqual:
			ix.unlinkEq(eqKey{tp: tp, v: a.Value}, e)
		case AnchorCIDR:
			ix.cidrMu.Lock()
			if t := ix.cidr[tp]; t != nil {
				t.remove(netip.MustParsePrefix(a.Value), e)
			}
			ix.cidrMu.Unlock()
		}
	}
}

func (ix *Index) shard(k eqKey) *eqShard {
	h := maphash.String(ix.seed, k.v) ^ uint64(k.tp)*0x9e3779b97f4a7c15
	return &ix.shards[h%nShards]
}

func (ix *Index) linkEq(k eqKey, e *entry) {
	s := ix.shard(k)
	s.mu.Lock()
	// Prepend a fresh posting: readers holding the old head see a
	// consistent list.
	s.m[k] = &posting{e: e, next: s.m[k]}
	s.mu.Unlock()
}

func (ix *Index) unlinkEq(k eqKey, e *entry) {
	s := ix.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	var head *posting
	// Rebuild the list without e rather than splicing, so that a
	// concurrent reader never follows a posting being changed.
	for p := s.m[k]; p != nil; p = p.next {
		if p.e != e {
			head = &posting{e: p.e, next: head}
		}
	}
	if head == nil {
		delete(s.m, k)
	} else {
		s.m[k] = head
	}
}

// internPath returns the small integer naming an anchor's (type, path),
// adding it when new. The table is copy-on-write: it only grows when an
// indicator uses a property no other did.
func (ix *Index) internPath(a Anchor) uint32 {
	k := splitAnchorPath(a.ObjectType, a.Path)
	m := *ix.paths.Load()
	if id, ok := m[k]; ok {
		return id
	}
	n := make(map[pathKey3]uint32, len(m)+1)
	for kk, v := range m {
		n[kk] = v
	}
	ix.nextPath++
	n[k] = ix.nextPath
	ix.paths.Store(&n)
	return ix.nextPath
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

// canonicalAnchor rewrites an anchor's path in the one spelling the event
// atoms use, and rejects what Match cannot produce atoms for (list indexes
// other than [*], more than one reference hop), so that such patterns go to
// the general list instead of being missed.
func canonicalAnchor(a Anchor) (Anchor, bool) {
	if a.ObjectType == "" || a.Path == "" {
		return a, false
	}
	keys := splitPath(a.Path)
	refs := 0
	for i, k := range keys {
		if strings.ContainsAny(k, "[]") && !strings.HasSuffix(k, "[*]") {
			return a, false
		}
		if strings.Count(k, "[") > 1 {
			return a, false
		}
		base := strings.TrimSuffix(k, "[*]")
		if strings.HasSuffix(base, "_ref") || strings.HasSuffix(base, "_refs") {
			if i == len(keys)-1 {
				return a, false // a reference compared as a value
			}
			if strings.HasSuffix(base, "_refs") != strings.HasSuffix(k, "[*]") {
				return a, false
			}
			refs++
		} else if strings.HasSuffix(k, "[*]") && i != len(keys)-1 {
			return a, false // a list of dictionaries
		}
	}
	if refs > 1 {
		return a, false
	}
	a.Path = joinPath(keys)
	switch a.Kind {
	case AnchorEqual:
		return a, true
	case AnchorCIDR:
		p, err := netip.ParsePrefix(a.Value)
		if err != nil {
			return a, false
		}
		a.Value = p.Masked().String()
		return a, true
	}
	return a, false
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

func parseIndicatorUUID(id string) ([16]byte, bool) {
	var u [16]byte
	s, ok := strings.CutPrefix(id, "indicator--")
	if !ok || len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, false
	}
	h := s[0:8] + s[9:13] + s[14:18] + s[19:23] + s[24:]
	if _, err := hex.Decode(u[:], []byte(h)); err != nil {
		return u, false
	}
	// Only lowercase round-trips to the same id string.
	if formatUUID(u) != s {
		return u, false
	}
	return u, true
}

func formatUUID(u [16]byte) string {
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
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
