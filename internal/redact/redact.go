// Package redact minimises what leaves the cell: it removes properties that
// granular markings hide from a reader, and applies egress profiles that
// pseudonymise personal data (stable HMAC-SHA256 pseudonyms under a per-cell
// key), drop properties, and scrub e-mail addresses and telephone numbers
// from free text. Its configuration is described in docs/privacy.md.
package redact

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// Rule selects a top-level property of objects of one type ("*" for every
// type), optionally only when other top-level string properties have given
// values (for example identity_class "individual").
type Rule struct {
	Type     string            `json:"type"`
	Property string            `json:"property"`
	Where    map[string]string `json:"where,omitempty"`
}

// Profile is one egress profile. The zero Profile changes nothing.
type Profile struct {
	// Pseudonymise replaces string values (or every string of a list) by a
	// stable pseudonym; values shaped like e-mail addresses get an
	// e-mail-shaped pseudonym so that they stay valid STIX.
	Pseudonymise []Rule `json:"pseudonymise,omitempty"`
	// Drop removes the property.
	Drop []Rule `json:"drop,omitempty"`
	// Scrub lists free-text properties (top-level names; a trailing "*" is
	// a prefix match, as in "x_*") in which every string is scrubbed of
	// e-mail addresses and telephone numbers.
	Scrub []string `json:"scrub,omitempty"`
	// PseudonymiseIDs lists object types (typically SCOs whose
	// deterministic ids would let a reader confirm a guessed value, STIX
	// 2.1 §2.9) whose ids are replaced by pseudonymous ids, everywhere:
	// in the object itself and in every *_ref and *_refs property.
	PseudonymiseIDs []string `json:"pseudonymise_ids,omitempty"`

	// The byte patterns of the cheap pre-check, built once: the read path
	// calls Apply for every version it serves.
	once    sync.Once
	ruleKey map[string][][]byte // by type ("*" too): `"property"`
	idKeys  [][]byte            // `"type--`
}

func (p *Profile) compile() {
	p.once.Do(func() {
		p.ruleKey = map[string][][]byte{}
		for _, rules := range [][]Rule{p.Pseudonymise, p.Drop} {
			for _, rl := range rules {
				p.ruleKey[rl.Type] = append(p.ruleKey[rl.Type], []byte(`"`+rl.Property+`"`))
			}
		}
		for _, t := range p.PseudonymiseIDs {
			p.idKeys = append(p.idKeys, []byte(`"`+t+"--"))
		}
	})
}

// IsZero reports whether the profile changes nothing.
func (p *Profile) IsZero() bool {
	return p == nil || (len(p.Pseudonymise) == 0 && len(p.Drop) == 0 && len(p.Scrub) == 0 && len(p.PseudonymiseIDs) == 0)
}

// Standard is the profile applied by default to readers outside the
// producer's organisation (docs/privacy.md).
func Standard() *Profile {
	return &Profile{
		Pseudonymise: []Rule{
			{Type: "email-addr", Property: "value"},
			{Type: "email-addr", Property: "display_name"},
			{Type: "user-account", Property: "user_id"},
			{Type: "user-account", Property: "account_login"},
			{Type: "user-account", Property: "display_name"},
			{Type: "identity", Property: "name", Where: map[string]string{"identity_class": "individual"}},
		},
		Drop: []Rule{
			{Type: "identity", Property: "contact_information", Where: map[string]string{"identity_class": "individual"}},
			{Type: "email-message", Property: "body"},
		},
		Scrub:           []string{"description", "x_*"},
		PseudonymiseIDs: []string{"email-addr", "user-account"},
	}
}

// Redactor applies profiles under one cell's key. It is safe for concurrent
// use.
type Redactor struct {
	key  []byte
	memo memo
}

// memo remembers what Apply gave for the exact inputs it was called with
// (the read path serves the same stored versions again and again): Apply
// is a function of the raw bytes, the type, the profile, the selectors and
// the key, so a hit is exactly what Apply would compute. Entries are found
// by the object's id (ApplyObject) rather than by the raw bytes, which
// would have to be hashed in full on every lookup (that hash was the
// dearest part of serving an object unchanged); a hit still requires the
// remembered raw bytes to equal the ones given, so the id only decides
// where to look. It is bounded by the bytes it holds and emptied when
// full.
//
// An object is remembered the second time it is presented, not the first:
// a copy of its bytes is what remembering costs, and a peer catching up
// (or a client reading a collection once) presents each object once. The
// first time only its id is noted, in seen.
type memo struct {
	mu   sync.RWMutex
	m    map[string][]memoEntry // by id; a list is replaced, never changed
	seen map[string]struct{}    // ids presented once, not remembered yet
	size int
}

// memoEntry is one remembered call: its inputs and what it gave.
type memoEntry struct {
	p      *Profile
	typ    string
	nsel   int
	remove string // the selectors, see removeKey
	raw    []byte // a hit must be given the same bytes
	same   bool   // Apply returns raw itself
	out    []byte // otherwise
}

// size is what an entry counts against memoMaxBytes.
func (e memoEntry) size() int {
	return len(e.raw) + len(e.out) + len(e.typ) + len(e.remove) + 96
}

// memoPerID bounds the entries kept for one id, one per profile and set of
// selectors (other bytes under the id, another version of the object,
// replace the entry of the same call): an id with more drops its oldest.
const memoPerID = 8

const (
	memoMaxRaw   = 16 << 10 // larger objects are not remembered
	memoMaxBytes = 32 << 20 // what the memo may hold before it is emptied
)

// removeKey encodes selectors for memoEntry, unambiguously given their
// number: one selector as itself, more each prefixed by its length.
func removeKey(remove []string) string {
	switch len(remove) {
	case 0:
		return ""
	case 1:
		return remove[0]
	}
	var b []byte
	for _, s := range remove {
		b = strconv.AppendInt(b, int64(len(s)), 10)
		b = append(b, ':')
		b = append(b, s...)
	}
	return string(b)
}

// New returns a Redactor whose pseudonyms are keyed by key (the cell's
// redaction secret, kept in store.Settings). The same key always gives the
// same pseudonyms, so analysts of other organisations can still correlate.
func New(key []byte) *Redactor {
	return &Redactor{key: slices.Clone(key)}
}

// mac returns the first n bytes of HMAC-SHA256(key, domain 0x00 value) in
// hex; the domain separates pseudonyms of different kinds.
func (r *Redactor) mac(domain, value string, n int) string {
	m := hmac.New(sha256.New, r.key)
	m.Write([]byte(domain))
	m.Write([]byte{0})
	m.Write([]byte(value))
	return hex.EncodeToString(m.Sum(nil)[:n])
}

// PseudonymDomain is the domain of e-mail-shaped pseudonyms: .invalid is
// reserved (RFC 2606) so a pseudonym can never reach a real mailbox.
const PseudonymDomain = "pseudonym.invalid"

// Pseudonym returns the stable pseudonym of a value.
func (r *Redactor) Pseudonym(value string) string {
	if strings.Contains(value, "@") {
		return r.email(value)
	}
	return "pseudo-" + r.mac("value", value, 8)
}

func (r *Redactor) email(addr string) string {
	return "pseudo-" + r.mac("email", strings.ToLower(addr), 8) + "@" + PseudonymDomain
}

func (r *Redactor) phone(number string) string {
	digits := strings.Map(func(c rune) rune {
		if c >= '0' && c <= '9' {
			return c
		}
		return -1
	}, number)
	return "[phone pseudo-" + r.mac("phone", digits, 6) + "]"
}

// ID returns the pseudonymous id for an object id: same type, and a UUID
// derived from the HMAC with the version 5 and RFC 9562 variant bits set, so
// that it still passes STIX id validation for SCOs.
func (r *Redactor) ID(id string) string {
	typ, _, ok := strings.Cut(id, "--")
	if !ok {
		return id
	}
	m := hmac.New(sha256.New, r.key)
	m.Write([]byte("id\x00" + id))
	u := m.Sum(nil)[:16]
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	h := hex.EncodeToString(u)
	return typ + "--" + h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// Apply returns raw with the properties selected by remove (granular-marking
// selectors, STIX 2.1 §7.2.3.1) taken out, the granular_markings entries of
// what went removed or re-indexed to match, and then p applied. typ is the
// object's type. When nothing changes, raw itself is returned, byte for
// byte; otherwise the object is re-encoded compactly with every untouched
// value kept as received.
func (r *Redactor) Apply(raw []byte, typ string, p *Profile, remove []string) ([]byte, error) {
	return r.ApplyObject(raw, typ, "", p, remove)
}

// ApplyObject is Apply for a STIX object known by its id, which the read
// path has at hand: it finds what an earlier call with the same bytes
// gave without hashing the bytes. The id only makes the lookup fast: the
// result is Apply's whatever it is, since a remembered result is used
// only for the very same raw bytes.
func (r *Redactor) ApplyObject(raw []byte, typ, id string, p *Profile, remove []string) ([]byte, error) {
	if len(raw) > memoMaxRaw {
		return r.applyOnce(raw, typ, p, remove)
	}
	rk := removeKey(remove)
	r.memo.mu.RLock()
	es := r.memo.m[id]
	r.memo.mu.RUnlock()
	for _, e := range es {
		if e.p == p && e.nsel == len(remove) && e.typ == typ && e.remove == rk && bytes.Equal(e.raw, raw) {
			if e.same {
				return raw, nil
			}
			return bytes.Clone(e.out), nil
		}
	}
	out, err := r.applyOnce(raw, typ, p, remove)
	if err != nil {
		return nil, err
	}
	// The entry's size is known before its bytes are copied, which
	// happens only once the id was seen before (below).
	e := memoEntry{p: p, typ: typ, nsel: len(remove), remove: rk, raw: raw,
		same: len(out) == len(raw) && (len(out) == 0 || &out[0] == &raw[0])}
	if !e.same {
		e.out = out
	}
	r.memo.mu.Lock()
	defer r.memo.mu.Unlock()
	if r.memo.m == nil || r.memo.size+e.size() > memoMaxBytes {
		r.memo.m, r.memo.seen, r.memo.size = map[string][]memoEntry{}, map[string]struct{}{}, 0
	}
	if _, ok := r.memo.seen[id]; !ok && len(r.memo.m[id]) == 0 {
		r.memo.seen[strings.Clone(id)] = struct{}{}
		r.memo.size += len(id) + 48
		return out, nil
	}
	delete(r.memo.seen, id)
	// A new list, since readers may hold the old one: without an entry
	// for the same call (other raw bytes under the id), and without the
	// oldest when full. Strings are copied: the caller's may share an
	// allocation with the rest of its object.
	e.typ, e.raw = strings.Clone(e.typ), bytes.Clone(e.raw)
	if !e.same {
		e.out = bytes.Clone(e.out)
	}
	old := r.memo.m[id]
	es = make([]memoEntry, 0, min(len(old)+1, memoPerID))
	for i, o := range old {
		same := o.p == e.p && o.nsel == e.nsel && o.typ == e.typ && o.remove == e.remove
		if same || len(old)-i >= memoPerID {
			r.memo.size -= o.size()
			continue
		}
		es = append(es, o)
	}
	r.memo.m[strings.Clone(id)] = append(es, e)
	r.memo.size += e.size()
	return out, nil
}

// applyOnce is Apply without the memo.
func (r *Redactor) applyOnce(raw []byte, typ string, p *Profile, remove []string) ([]byte, error) {
	if len(remove) == 0 && !r.needed(raw, typ, p) {
		return raw, nil
	}
	if len(remove) > 0 && (p.IsZero() || !r.needed(raw, typ, p)) {
		// The common granular case: top-level properties to remove and
		// no profile work. Splice them out without decoding keys.
		if out, ok := removeTopLevel(raw, remove); ok {
			return out, nil
		}
	}
	return r.apply(raw, typ, p, remove)
}

// apply is Apply without its fast paths.
func (r *Redactor) apply(raw []byte, typ string, p *Profile, remove []string) ([]byte, error) {
	ms, err := splitObject(raw)
	if err != nil {
		return nil, fmt.Errorf("redact: %w", err)
	}
	changed := false
	if len(remove) > 0 {
		ms, changed, err = removeSelectors(ms, remove)
		if err != nil {
			return nil, fmt.Errorf("redact: %w", err)
		}
	}
	// Removal only takes away: when the profile cannot change the object
	// as stored, it cannot change what is left of it either.
	if !p.IsZero() && (len(remove) == 0 || r.needed(raw, typ, p)) {
		c, err := r.profile(ms, typ, p)
		if err != nil {
			return nil, fmt.Errorf("redact: %w", err)
		}
		ms = c.ms
		changed = changed || c.changed
		if len(c.dropped) > 0 {
			// Dropped properties take their granular markings along, as
			// removed ones do.
			gone := make([][]segment, len(c.dropped))
			for i, k := range c.dropped {
				gone[i] = []segment{{key: k, index: -1}}
			}
			if ms, err = fixGranular(ms, gone); err != nil {
				return nil, fmt.Errorf("redact: %w", err)
			}
		}
	}
	if !changed {
		return raw, nil
	}
	return joinObject(ms), nil
}

func removeSelectors(ms []member, remove []string) ([]member, bool, error) {
	sels := make([][]segment, 0, len(remove))
	for _, s := range remove {
		segs, err := parseSelector(s)
		if err != nil {
			return nil, false, err
		}
		sels = append(sels, segs)
	}
	slices.SortFunc(sels, compareSelectors)
	// Once each (two markings may select the same property): a list
	// element removed twice would take the next element with it.
	sels = slices.CompactFunc(sels, slices.Equal)
	if !slices.ContainsFunc(sels, func(s []segment) bool { return len(s) > 1 }) {
		// Only top-level properties, the common case: no re-parsing.
		var gone [][]segment
		ms = slices.DeleteFunc(ms, func(m member) bool {
			for _, s := range sels {
				if s[0].index < 0 && s[0].key == m.key {
					gone = append(gone, s)
					return true
				}
			}
			return false
		})
		if len(gone) == 0 {
			return ms, false, nil
		}
		ms, err := fixGranular(ms, gone)
		return ms, true, err
	}
	obj := json.RawMessage(joinObject(ms))
	var gone [][]segment
	for _, segs := range sels {
		out, n, _, err := removeAt(obj, segs)
		if err != nil {
			return nil, false, err
		}
		if n > 0 {
			// What went may be a list or object the removal emptied:
			// selectors of it must go too.
			obj = out
			gone = append(gone, segs[:n])
		}
	}
	if len(gone) == 0 {
		return ms, false, nil
	}
	ms, err := splitObject(obj)
	if err != nil {
		return nil, false, err
	}
	ms, err = fixGranular(ms, gone)
	return ms, true, err
}

// fixGranular rewrites granular_markings after removals: a selector that
// went is dropped, later list indices move down, an entry left without
// selectors is dropped, and an empty granular_markings goes (STIX 2.1
// §7.2.3 requires selectors to resolve and lists to be non-empty).
func fixGranular(ms []member, gone [][]segment) ([]member, error) {
	i := slices.IndexFunc(ms, func(m member) bool { return m.key == "granular_markings" })
	if i < 0 {
		return ms, nil
	}
	entries, err := splitArray(ms[i].val)
	if err != nil {
		return nil, err
	}
	var kept []json.RawMessage
	for _, e := range entries {
		em, err := splitObject(e)
		if err != nil {
			return nil, err
		}
		j := slices.IndexFunc(em, func(m member) bool { return m.key == "selectors" })
		if j < 0 {
			kept = append(kept, e)
			continue
		}
		sels, err := decodeStrings(em[j].val)
		if err != nil {
			return nil, err
		}
		var out []string
		for _, s := range sels {
			segs, err := parseSelector(s)
			if err != nil {
				out = append(out, s)
				continue
			}
			ok := true
			for _, g := range gone {
				if segs, ok = shiftSelector(segs, g); !ok {
					break
				}
			}
			if ok {
				out = append(out, formatSelector(segs))
			}
		}
		if len(out) == 0 {
			continue
		}
		if slices.Equal(out, sels) {
			kept = append(kept, e)
			continue
		}
		b, err := json.Marshal(out)
		if err != nil {
			return nil, err
		}
		em[j].val = b
		kept = append(kept, joinObject(em))
	}
	if len(kept) == 0 {
		return slices.Delete(ms, i, i+1), nil
	}
	ms[i].val = joinArray(kept)
	return ms, nil
}

// decodeStrings decodes a JSON list of strings, without encoding/json
// when no string has an escape (selectors never need one).
func decodeStrings(raw json.RawMessage) ([]string, error) {
	if kindOf(raw) != '[' || bytes.IndexByte(raw, '\\') >= 0 || !utf8.Valid(raw) {
		var out []string
		err := json.Unmarshal(raw, &out)
		return out, err
	}
	es, err := splitArray(raw)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(es))
	for i, e := range es {
		if kindOf(e) != '"' {
			var s string
			return nil, json.Unmarshal(e, &s) // the error encoding/json gives
		}
		out[i] = string(e[1 : len(e)-1])
	}
	return out, nil
}

type result struct {
	ms      []member
	changed bool
	dropped []string
}

func matches(rl Rule, typ string, ms []member, key string) bool {
	if rl.Property != key || (rl.Type != "*" && rl.Type != typ) {
		return false
	}
	for k, want := range rl.Where {
		i := slices.IndexFunc(ms, func(m member) bool { return m.key == k })
		if i < 0 {
			return false
		}
		var got string
		if json.Unmarshal(ms[i].val, &got) != nil || got != want {
			return false
		}
	}
	return true
}

func scrubField(p *Profile, key string) bool {
	for _, f := range p.Scrub {
		if pre, ok := strings.CutSuffix(f, "*"); ok {
			if strings.HasPrefix(key, pre) {
				return true
			}
		} else if f == key {
			return true
		}
	}
	return false
}

func (r *Redactor) profile(ms []member, typ string, p *Profile) (result, error) {
	out := make([]member, 0, len(ms))
	changed := false
	var dropped []string
	for _, m := range ms {
		drop := slices.ContainsFunc(p.Drop, func(rl Rule) bool { return matches(rl, typ, ms, m.key) })
		if drop {
			changed = true
			dropped = append(dropped, m.key)
			continue
		}
		switch {
		case slices.ContainsFunc(p.Pseudonymise, func(rl Rule) bool { return matches(rl, typ, ms, m.key) }):
			v, err := r.mapStrings(m.val, r.Pseudonym)
			if err != nil {
				return result{}, err
			}
			m.val, changed = v, true
		case scrubField(p, m.key) && mayHavePII(m.val):
			// mayHavePII on the value's bytes sees every string in it:
			// without an "@", a backslash or a run of phone digits no
			// string can change.
			v, ch, err := r.walkStrings(m.val, r.scrubText)
			if err != nil {
				return result{}, err
			}
			if ch {
				m.val, changed = v, true
			}
		}
		out = append(out, m)
	}
	if len(p.PseudonymiseIDs) > 0 {
		p.compile()
		for i, m := range out {
			if !(m.key == "id" || mayHoldID(m.val, p.idKeys)) {
				continue
			}
			var v json.RawMessage
			var ch bool
			var err error
			switch {
			case m.key == "id" && slices.Contains(p.PseudonymiseIDs, typ):
				v, ch, err = r.walkStrings(m.val, func(s string) string { return r.ID(s) })
			case strings.HasSuffix(m.key, "_ref") || strings.HasSuffix(m.key, "_refs"):
				v, ch, err = r.walkStrings(m.val, func(s string) string { return r.refID(s, p) })
			case kindOf(m.val) == '{' || kindOf(m.val) == '[':
				v, ch, err = r.walkRefs(m.val, p)
			}
			if err != nil {
				return result{}, err
			}
			if ch {
				out[i].val, changed = v, true
			}
		}
	}
	return result{out, changed, dropped}, nil
}

// mayHoldID reports whether raw may hold an id of a type whose ids are
// pseudonymised: one of keys (`"type--`) appears, or a backslash that may
// escape one.
func mayHoldID(raw []byte, keys [][]byte) bool {
	if bytes.IndexByte(raw, '\\') >= 0 {
		return true
	}
	for _, k := range keys {
		if bytes.Contains(raw, k) {
			return true
		}
	}
	return false
}

func (r *Redactor) refID(s string, p *Profile) string {
	typ, _, ok := strings.Cut(s, "--")
	if ok && slices.Contains(p.PseudonymiseIDs, typ) {
		return r.ID(s)
	}
	return s
}

// walkRefs rewrites *_ref and *_refs properties nested anywhere in raw.
func (r *Redactor) walkRefs(raw json.RawMessage, p *Profile) (json.RawMessage, bool, error) {
	return eachChild(raw, func(key string, v json.RawMessage) (json.RawMessage, bool, error) {
		if strings.HasSuffix(key, "_ref") || strings.HasSuffix(key, "_refs") {
			return r.walkStrings(v, func(s string) string { return r.refID(s, p) })
		}
		return r.walkRefs(v, p)
	})
}

// eachChild rebuilds an object or array whose members or elements f may
// change (key is "" for array elements); anything else, or a container
// that f left alone, is returned as it is, bytes untouched.
func eachChild(raw json.RawMessage, f func(key string, v json.RawMessage) (json.RawMessage, bool, error)) (json.RawMessage, bool, error) {
	switch kindOf(raw) {
	case '{':
		ms, err := splitObject(raw)
		if err != nil {
			return nil, false, err
		}
		changed := false
		for i, m := range ms {
			v, ch, err := f(m.key, m.val)
			if err != nil {
				return nil, false, err
			}
			if ch {
				ms[i].val, changed = v, true
			}
		}
		if !changed {
			return raw, false, nil
		}
		return joinObject(ms), true, nil
	case '[':
		es, err := splitArray(raw)
		if err != nil {
			return nil, false, err
		}
		changed := false
		for i, e := range es {
			v, ch, err := f("", e)
			if err != nil {
				return nil, false, err
			}
			if ch {
				es[i], changed = v, true
			}
		}
		if !changed {
			return raw, false, nil
		}
		return joinArray(es), true, nil
	}
	return raw, false, nil
}

// mapStrings replaces every string in raw by f of it; a bare number or
// boolean is replaced by f of its JSON text, so that no personal value
// survives a rule whatever its JSON type.
func (r *Redactor) mapStrings(raw json.RawMessage, f func(string) string) (json.RawMessage, error) {
	v, _, err := r.walkStrings(raw, f)
	if err != nil {
		return nil, err
	}
	if k := kindOf(v); k != '"' && k != '[' && k != '{' {
		return quote(f(string(bytes.TrimSpace(v)))), nil
	}
	return v, nil
}

// walkStrings applies f to every string value in raw (object keys are left
// alone) and reports whether anything changed.
func (r *Redactor) walkStrings(raw json.RawMessage, f func(string) string) (json.RawMessage, bool, error) {
	if kindOf(raw) != '"' {
		return eachChild(raw, func(_ string, v json.RawMessage) (json.RawMessage, bool, error) {
			return r.walkStrings(v, f)
		})
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, false, err
	}
	t := f(s)
	if t == s {
		return raw, false, nil
	}
	return quote(t), true, nil
}
