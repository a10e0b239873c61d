package stix

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Severity says whether a problem breaks a MUST or a SHOULD of STIX 2.1.
type Severity int

const (
	// Error is a violation of a MUST: the object is not valid STIX 2.1.
	Error Severity = iota
	// Warning is a violation of a SHOULD; it is reported, and fails
	// validation, only under Options.Strict.
	Warning
)

func (s Severity) String() string {
	if s == Warning {
		return "warning"
	}
	return "error"
}

// Problem is one finding about one object.
type Problem struct {
	ObjectID string // "" when the object has no usable id
	// Path is a JSON path to the offending property, segments joined with
	// "." and list indexes written [n]: "external_references.[1].url", or
	// "objects.[3].created" from ValidateAll.
	Path     string
	Message  string
	Severity Severity
}

func (p Problem) String() string {
	return fmt.Sprintf("%s: %s: %s: %s", p.Severity, p.ObjectID, p.Path, p.Message)
}

// Options tunes validation.
type Options struct {
	// Strict also checks the SHOULDs of STIX 2.1 (deterministic SCO ids,
	// UUIDv4 elsewhere, open vocabularies, naming conventions) and reports
	// them as Warning problems. Without Strict only MUST violations are
	// reported.
	Strict bool
	// Pattern, when set, checks the pattern of every indicator whose
	// pattern_type is stix (STIX 2.1 §4.7, §9). The STIX package leaves the
	// patterning language to its own package; callers pass its validator.
	Pattern func(pattern string) error
}

// Validate checks one object against STIX 2.1 and returns its problems,
// nil when it is valid. Only o.Raw is read.
func Validate(o Object, opts Options) []Problem {
	v := newValidator(opts)
	v.object(o.Raw)
	return v.release()
}

// ValidateAll validates every object as Validate does, with paths prefixed
// objects.[i] as in a bundle, and then checks the rules that span objects:
// a revoked object stays revoked in later versions (STIX 2.1 §3.6), and a
// marking definition is never versioned (§7.2.1).
func ValidateAll(objs []Object, opts Options) []Problem {
	return validateObjects(objs, opts, "objects.")
}

func validateObjects(objs []Object, opts Options, prefix string) []Problem {
	v := newValidator(opts)
	for i, o := range objs {
		v.prefix = prefix + "[" + strconv.Itoa(i) + "]"
		v.object(o.Raw)
	}
	v.crossObject(objs, prefix)
	return v.release()
}

// ValidateJSON decodes a bundle, a JSON list of objects or a single object
// and validates all of it, the bundle envelope included. Paths are relative
// to the input: objects.[i] for a bundle, [i] for a list, none for a
// single object. The error is non-nil only when data is not JSON of one of
// those shapes.
func ValidateJSON(data []byte, opts Options) ([]Object, []Problem, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, nil, ErrNotJSON
	}
	if _, err := scanValue(data, 0, 0); err != nil {
		return nil, nil, fmt.Errorf("stix: %w", err)
	}
	switch data[0] {
	case '[':
		objs, err := Decode(data)
		if err != nil {
			return nil, nil, err
		}
		return objs, validateObjects(objs, opts, ""), nil
	case '{':
		var isBundle bool
		it := newObjIter(data, 0)
		for k, _, val, ok := it.next(); ok; k, _, val, ok = it.next() {
			if string(k) == "type" && string(strContent(val)) == "bundle" {
				isBundle = true
			}
		}
		objs, err := Decode(data)
		if err != nil {
			return nil, nil, err
		}
		if !isBundle {
			return objs, Validate(objs[0], opts), nil
		}
		v := newValidator(opts)
		v.bundle(data)
		probs := v.release()
		return objs, append(probs, ValidateAll(objs, opts)...), nil
	}
	return nil, nil, ErrNotJSON
}

// validator carries the state of one validation run. It is not safe for
// concurrent use; each Validate call makes its own.
type validator struct {
	opts   Options
	prefix string
	path   []seg
	probs  []Problem
	id     []byte // raw id of the object being validated
	root   []byte // raw bytes of the object being validated
	states []*objState
	ms     []member // the members of the objects being validated, level after level
	depth  int
	cat    *catalog
	// inline holds the states of the first levels so that a typical
	// object needs no allocation beyond the validator itself.
	inline [3]objState
}

type seg struct {
	name string
	idx  int
}

// objState holds what one object (or embedded object) has shown so far.
type objState struct {
	spec     *spec
	raw      []byte
	vals     [64][2]uint32 // offsets of each seen property's value in raw
	seen     uint64
	typ      []byte
	toplevel bool // a toplevel-property-extension is declared
	// ts holds the instants of the first timestamps timestamp accepted,
	// nts of them, for the order rules, which compare some of them.
	ts  [4]instant
	nts int
}

// instant is a timestamp property's value as seconds since the epoch and
// nanoseconds (scanTS).
type instant struct {
	idx  uint8 // the property's index in its spec
	sec  int64
	nsec int
}

// instant returns the value of timestamp property name, when it is present
// and valid.
func (s *objState) instant(name string) (instant, bool) {
	p := findProp(s.spec, name)
	if p == nil || s.seen&(1<<p.idx) == 0 {
		return instant{}, false
	}
	for _, t := range s.ts[:s.nts] {
		if t.idx == p.idx {
			return t, true
		}
	}
	sec, nsec, _, ok := scanTS(strContent(s.raw[s.vals[p.idx][0]:s.vals[p.idx][1]]))
	if !ok {
		return instant{}, false
	}
	return instant{p.idx, sec, nsec}, true
}

// before reports whether a is an earlier instant than b.
func (a instant) before(b instant) bool {
	return a.sec < b.sec || a.sec == b.sec && a.nsec < b.nsec
}

func (s *objState) get(name string) []byte {
	i, ok := s.spec.idxOf(name)
	if !ok || s.seen&(1<<i) == 0 {
		return nil
	}
	return s.raw[s.vals[i][0]:s.vals[i][1]]
}

func (s *objState) has(name string) bool { return s.get(name) != nil }

func newValidator(opts Options) *validator {
	v := validatorPool.Get().(*validator)
	v.opts, v.cat = opts, cat
	return v
}

// validatorPool recycles validators: one is about 2 KB (the per-level
// offset tables), and allocating and clearing it per object was most of
// the garbage Validate made.
var validatorPool = sync.Pool{New: func() any {
	v := &validator{}
	v.path = make([]seg, 0, 8)
	v.ms = make([]member, 0, 64)
	v.states = []*objState{&v.inline[0], &v.inline[1], &v.inline[2]}
	return v
}}

// release hands v back to the pool, keeping nothing that refers to the
// caller's data; the caller must not use v afterwards. The returned
// problems belong to the caller.
func (v *validator) release() []Problem {
	probs := v.probs
	v.opts, v.prefix, v.probs, v.id, v.root, v.depth = Options{}, "", nil, nil, nil, 0
	clear(v.path[:cap(v.path)])
	v.path = v.path[:0]
	for _, st := range v.states {
		st.spec, st.raw, st.typ = nil, nil, nil
	}
	validatorPool.Put(v)
	return probs
}

func (v *validator) state() *objState {
	if v.depth >= len(v.states) {
		v.states = append(v.states, &objState{})
	}
	st := v.states[v.depth]
	st.seen, st.toplevel, st.typ, st.nts = 0, false, nil, 0
	return st
}

func (v *validator) push(name string) { v.path = append(v.path, seg{name: name, idx: -1}) }
func (v *validator) pushIdx(i int)    { v.path = append(v.path, seg{idx: i}) }
func (v *validator) pop()             { v.path = v.path[:len(v.path)-1] }

func (v *validator) pathString() string {
	var b strings.Builder
	b.WriteString(v.prefix)
	for _, s := range v.path {
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		if s.idx >= 0 {
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(s.idx))
			b.WriteByte(']')
		} else {
			b.WriteString(s.name)
		}
	}
	return b.String()
}

func (v *validator) report(sev Severity, msg string) {
	id := ""
	if v.id != nil {
		id = string(v.id)
	}
	v.probs = append(v.probs, Problem{ObjectID: id, Path: v.pathString(), Message: msg, Severity: sev})
}

func (v *validator) errorf(format string, args ...any) {
	v.report(Error, fmt.Sprintf(format, args...))
}

// warnf reports a SHOULD violation; callers check v.opts.Strict first when
// the check itself costs anything.
func (v *validator) warnf(format string, args ...any) {
	if v.opts.Strict {
		v.report(Warning, fmt.Sprintf(format, args...))
	}
}

// member is one member of the object being validated, as offsets in its
// raw bytes. Offsets rather than slices, because the validator keeps the
// members of every level in one slice it reuses (v.ms): a slice of
// members with pointers would have to be cleared before the validator
// goes back to its pool, and a fresh array on the stack zeroed for every
// object, both of which cost more than taking the slices again.
type member struct {
	k0, k1, v0, v1 uint32 // raw[k0:k1] is the key, raw[v0:v1] the value
	esc            bool   // the key has escapes
}

func (m *member) keyIn(raw []byte) []byte { return raw[m.k0:m.k1] }
func (m *member) valIn(raw []byte) []byte { return raw[m.v0:m.v1] }

// addMember appends a member of raw to v.ms. It sets the fields one by
// one: built as a composite literal, the member went through a temporary
// whose narrow stores the wide loads of the copy could not forward from,
// a stall that cost as much as scanning the member.
func (v *validator) addMember(raw, key []byte, esc bool, val []byte) {
	v.ms = append(v.ms, member{})
	m := &v.ms[len(v.ms)-1]
	k0, v0 := cap(raw)-cap(key), cap(raw)-cap(val)
	m.k0, m.k1 = uint32(k0), uint32(k0+len(key))
	m.v0, m.v1 = uint32(v0), uint32(v0+len(val))
	m.esc = esc
}

// object validates one top-level STIX object.
func (v *validator) object(raw []byte) {
	v.id, v.root, v.path, v.depth = nil, raw, v.path[:0], 0
	if i := skipWS(raw, 0); i >= len(raw) || raw[i] != '{' {
		v.errorf("object must be a JSON object")
		return
	}
	v.ms = v.ms[:0]
	it := newObjIter(raw, 0)
	for k, esc, val, ok := it.next(); ok; k, esc, val, ok = it.next() {
		v.addMember(raw, k, esc, val)
	}
	ms := v.ms
	if it.err != nil {
		v.errorf("object is not valid JSON: %v", it.err)
		return
	}
	var typVal, extVal []byte
	for i := range ms {
		m := &ms[i]
		switch string(m.keyIn(raw)) {
		case "type":
			typVal = m.valIn(raw)
		case "id":
			if val := m.valIn(raw); kindOf(val) == jString {
				v.id = strContent(val)
			}
		case "extensions":
			extVal = m.valIn(raw)
		}
	}
	if typVal == nil {
		v.push("type")
		v.errorf("type is required")
		v.pop()
		return
	}
	if kindOf(typVal) != jString {
		v.push("type")
		v.errorf("type must be a string")
		v.pop()
		return
	}
	typ := strContent(typVal)
	sp, _ := lookupName(&v.cat.typeTable, typ)
	if sp == nil {
		sp = v.customSpec(typ, extVal)
		if sp == nil {
			return
		}
	}
	st := v.state()
	st.spec, st.raw, st.typ = sp, raw, typ
	if extVal != nil && kindOf(extVal) == jObject {
		st.toplevel = hasExtensionType(extVal, "toplevel-property-extension")
	}
	v.members(st, ms)
	v.objectRules(st)
	if v.opts.Pattern != nil && string(typ) == "indicator" {
		v.indicatorPattern(raw, ms)
	}
}

// indicatorPattern checks the pattern of an indicator whose pattern_type is
// stix with the caller's pattern validator.
func (v *validator) indicatorPattern(raw []byte, ms []member) {
	var pattern, patternType []byte
	for i := range ms {
		switch m := &ms[i]; string(m.keyIn(raw)) {
		case "pattern":
			pattern = m.valIn(raw)
		case "pattern_type":
			patternType = m.valIn(raw)
		}
	}
	if pattern == nil || kindOf(pattern) != jString || string(strContent(patternType)) != "stix" {
		return
	}
	var s string
	if err := json.Unmarshal(pattern, &s); err != nil {
		return // the property checks already reported it
	}
	if err := v.opts.Pattern(s); err != nil {
		v.push("pattern")
		v.errorf("pattern is not a valid STIX pattern: %v", err)
		v.pop()
	}
}

// customSpec picks the spec for a type STIX 2.1 does not define, or
// reports why the type is not acceptable (STIX 2.1 §11.2, §7.3).
func (v *validator) customSpec(typ, extVal []byte) *spec {
	v.push("type")
	defer v.pop()
	if msg := typeNameProblem(typ); msg != "" {
		v.errorf("type %q is not a valid type name: it %s (STIX 2.1 §3.1)", typ, msg)
		return nil
	}
	if extVal != nil && kindOf(extVal) == jObject {
		switch {
		case hasExtensionType(extVal, "new-sdo"):
			return v.cat.custom[classSDO]
		case hasExtensionType(extVal, "new-sro"):
			return v.cat.custom[classSRO]
		case hasExtensionType(extVal, "new-sco"):
			return v.cat.custom[classSCO]
		}
	}
	if bytes.HasPrefix(typ, []byte("x-")) {
		return v.cat.custom[classEmbedded]
	}
	v.errorf("type %q is not a STIX 2.1 type (a custom type needs an x- prefix or an extension-definition with extension_type new-sdo, new-sco or new-sro)", typ)
	return nil
}

// hasExtensionType reports whether an extensions dictionary declares an
// extension-definition instance with the given extension_type.
func hasExtensionType(extVal []byte, want string) bool {
	it := newValidObjIter(extVal)
	for k, _, val, ok := it.next(); ok; k, _, val, ok = it.next() {
		if !bytes.HasPrefix(k, []byte("extension-definition--")) || kindOf(val) != jObject {
			continue
		}
		inner := newValidObjIter(val)
		for ik, _, iv, iok := inner.next(); iok; ik, _, iv, iok = inner.next() {
			if string(ik) == "extension_type" && string(strContent(iv)) == want {
				return true
			}
		}
	}
	return false
}

// members checks every property of one object against its spec, then the
// required ones and the spec's own rules.
func (v *validator) members(st *objState, ms []member) {
	sp := st.spec
	for i := range ms {
		m := &ms[i]
		key, val := m.keyIn(st.raw), m.valIn(st.raw)
		if m.esc {
			key = keyContent(key, true)
		}
		p := findProp(sp, key)
		if p == nil {
			v.unknown(st, key, val)
			continue
		}
		bit := uint64(1) << p.idx
		v.push(p.name)
		if st.seen&bit != 0 {
			v.errorf("%s appears more than once (duplicate JSON member)", p.name)
			v.pop()
			continue
		}
		st.seen |= bit
		st.vals[p.idx][0], st.vals[p.idx][1] = m.v0, m.v1
		v.value(st, p, val)
		v.pop()
	}
	if missing := sp.reqMask &^ st.seen; missing != 0 {
		for _, p := range sp.list {
			if missing&(1<<p.idx) != 0 {
				v.push(p.name)
				v.errorf("%s is required on %s", p.name, specName(st))
				v.pop()
			}
		}
	}
	for _, r := range sp.order {
		v.order(st, r)
	}
	if sp.check != nil {
		sp.check(v, st)
	}
}

func specName(st *objState) string {
	if st.typ != nil && st.spec.class != classEmbedded {
		return string(st.typ)
	}
	if st.typ != nil && st.spec.name == "custom" {
		return string(st.typ)
	}
	return st.spec.name
}

// commonNames are the common properties of STIX 2.1 (§3.2, §6.1, §7): a
// name from this list that an object's own table does not have (modified
// on a marking definition, created on an SCO) is a misused STIX property,
// not a custom one.
var commonNames = map[string]bool{
	"type": true, "id": true, "spec_version": true, "created_by_ref": true, "created": true,
	"modified": true, "revoked": true, "labels": true, "confidence": true, "lang": true,
	"external_references": true, "object_marking_refs": true, "granular_markings": true,
	"defanged": true, "extensions": true,
}

// unknown handles a property the spec does not define. Properties of a
// toplevel-property-extension (§7.3), of open specs and x_ names are
// accepted. On a top-level object any other well-formed name is a custom
// property (STIX 2.1 §11.1: names MUST be 3-250 of a-z, 0-9 and _, and
// SHOULD start with x_), so only a warning, unless it is a STIX common
// property the object type does not have. Inside embedded types and
// predefined extensions unknown properties are errors.
func (v *validator) unknown(st *objState, key, val []byte) {
	v.push(string(key))
	defer v.pop()
	if !propNameOK(key) {
		v.errorf("property name %q is invalid: names must be 3 to 250 characters of a-z, 0-9 and _ (STIX 2.1 §3.1)", key)
		return
	}
	if st.spec.open || st.toplevel || bytes.HasPrefix(key, []byte("x_")) {
		return
	}
	if st.spec.class != classEmbedded && !commonNames[string(key)] {
		v.warnf("unknown property %s on %s: custom property names should start with x_ (STIX 2.1 §11.1) or come from a toplevel-property-extension (§7.3)", key, specName(st))
		return
	}
	v.errorf("unknown property %s on %s: not a property of this type (custom properties need an x_ prefix or a toplevel-property-extension, STIX 2.1 §11.1, §7.3)", key, specName(st))
}

// embedded validates an embedded object (external reference, kill chain
// phase, extension, ...) with spec sp.
func (v *validator) embedded(sp *spec, raw []byte) {
	v.embeddedIn(sp, raw)
}

// embeddedIn is embedded for the value that raw starts with, which may be
// followed by more of the object it is part of, and returns the length of
// that value: list walks a list of objects with it, in one pass where
// finding each element's end first was a second.
func (v *validator) embeddedIn(sp *spec, raw []byte) int {
	if kindOf(raw) != jObject {
		v.errorf("%s must be an object", v.lastName())
		return skipValue(raw, 0)
	}
	v.depth++
	defer func() { v.depth-- }()
	if v.depth > maxDepth {
		return skipValue(raw, 0)
	}
	st := v.state()
	st.spec, st.raw = sp, raw
	// raw is part of the object that object scanned whole.
	base := len(v.ms)
	it := newValidObjIter(raw)
	for k, esc, val, ok := it.next(); ok; k, esc, val, ok = it.next() {
		v.addMember(raw, k, esc, val)
	}
	v.members(st, v.ms[base:])
	v.ms = v.ms[:base]
	return it.end()
}

// lastName is the nearest property name on the path, for messages.
func (v *validator) lastName() string {
	for i := len(v.path) - 1; i >= 0; i-- {
		if v.path[i].idx < 0 {
			return v.path[i].name
		}
	}
	return "object"
}

// value checks one property value against its declared type.
func (v *validator) value(st *objState, p *prop, val []byte) {
	k := kindOf(val)
	switch p.kind {
	case kString:
		if k != jString {
			v.errorf("%s must be a string, not %s", p.name, k)
		}
	case kInt:
		n, ok := parseInt(val)
		if !ok {
			v.errorf("%s must be an integer", p.name)
			return
		}
		v.checkRange(p, float64(n))
	case kFloat:
		if k != jNumber {
			v.errorf("%s must be a number, not %s", p.name, k)
			return
		}
		if p.hasMin || p.hasMax {
			f, err := strconv.ParseFloat(string(val), 64)
			if err != nil {
				v.errorf("%s is not a representable number", p.name)
				return
			}
			v.checkRange(p, f)
		}
	case kBool:
		if k != jBool {
			v.errorf("%s must be true or false, not %s", p.name, k)
		}
	case kTimestamp, kTimestampMs, kTimestampMsShould:
		v.timestamp(st, p, val, p.kind)
	case kType:
		if k != jString {
			v.errorf("type must be a string")
		}
	case kSpecVersion:
		if k != jString || string(strContent(val)) != "2.1" {
			v.errorf("spec_version must be \"2.1\", not %s", val)
		}
	case kSelfID:
		v.selfID(st, val)
	case kID:
		v.ref(p, val)
	case kIDList, kStringList, kVocabList, kEnumList, kObjectList, kGranular:
		v.list(p, val)
	case kVocab, kEnum:
		v.vocabValue(p, val)
	case kDict:
		v.dict(p.name, val)
	case kHashes:
		v.hashes(p.name, val)
	case kObject:
		v.embedded(p.sub, val)
	case kHex:
		s := strContent(val)
		if k != jString || len(s)%2 != 0 || !allHex(s) {
			v.errorf("%s must be a string of hex octets (even number of 0-9a-f)", p.name)
		}
	case kBinary:
		if k != jString || !isBase64(strContent(val)) {
			v.errorf("%s must be base64 (RFC 4648) binary", p.name)
		}
	case kExtensions:
		v.extensions(st, val)
	case kLangContents:
		v.langContents(val)
	case kAny:
	}
}

// list checks a non-empty JSON list and each of its elements, as p.kind
// says, with the index pushed on the path. STIX 2.1 §2.x: lists MUST NOT
// be empty. (A switch rather than a function per kind: the calls through
// a func value cost more than the checks of short elements.)
func (v *validator) list(p *prop, val []byte) {
	if kindOf(val) != jArray {
		v.errorf("%s must be a list, not %s", p.name, kindOf(val))
		return
	}
	if p.kind == kObjectList || p.kind == kGranular {
		v.objectList(p, val)
		return
	}
	it := newValidArrIter(val)
	n := 0
	for e, ok := it.next(); ok; e, ok = it.next() {
		v.pushIdx(n)
		switch p.kind {
		case kIDList:
			v.ref(p, e)
		case kStringList:
			if kindOf(e) != jString {
				v.errorf("%s must hold only strings", p.name)
			}
		case kVocabList, kEnumList:
			v.vocabValue(p, e)
		}
		v.pop()
		n++
	}
	if n == 0 {
		v.errorf("%s must not be an empty list", p.name)
	}
}

// objectList is list for a list of objects, val a valid JSON list: each
// element is validated by embeddedIn, which also finds where it ends.
func (v *validator) objectList(p *prop, val []byte) {
	sp := p.sub
	if p.kind == kGranular {
		sp = v.cat.granular
	}
	i := skipWS(val, skipWS(val, 0)+1)
	n := 0
	for val[i] != ']' {
		v.pushIdx(n)
		end := i + v.embeddedIn(sp, val[i:])
		v.pop()
		n++
		if i = skipWS(val, end); val[i] == ',' {
			i = skipWS(val, i+1)
		}
	}
	if n == 0 {
		v.errorf("%s must not be an empty list", p.name)
	}
}

func (v *validator) checkRange(p *prop, f float64) {
	if p.hasMin && f < p.min || p.hasMax && f > p.max {
		switch {
		case p.hasMin && p.hasMax:
			v.errorf("%s must be between %s and %s", p.name, fmtNum(p.min), fmtNum(p.max))
		case p.hasMin:
			v.errorf("%s must be at least %s", p.name, fmtNum(p.min))
		default:
			v.errorf("%s must be at most %s", p.name, fmtNum(p.max))
		}
	}
}

func fmtNum(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// parseInt accepts a JSON number with no fraction or exponent.
func parseInt(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	neg := b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := int64(c - '0')
		if n > (1<<63-1-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	if neg {
		n = -n
	}
	return n, true
}

func allHex(s []byte) bool {
	for _, c := range s {
		if !isHex(c) {
			return false
		}
	}
	return true
}

func isBase64(s []byte) bool {
	if len(s)%4 != 0 {
		return false
	}
	pad := 0
	for i, c := range s {
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '+', c == '/':
			if pad > 0 {
				return false
			}
		case c == '=':
			pad++
			if pad > 2 || i < len(s)-2 {
				return false
			}
		default:
			return false
		}
	}
	return true
}

func (v *validator) timestamp(st *objState, p *prop, val []byte, kind kind) {
	if kindOf(val) != jString {
		v.errorf("%s must be a timestamp string, not %s", p.name, kindOf(val))
		return
	}
	sec, nsec, frac, ok := scanTS(strContent(val))
	if !ok {
		v.errorf("%s must be an RFC 3339 timestamp in UTC ending in Z, like 2016-05-12T08:17:27.000Z (STIX 2.1 §3.2), not %s", p.name, val)
		return
	}
	if st.nts < len(st.ts) {
		st.ts[st.nts] = instant{p.idx, sec, nsec}
		st.nts++
	}
	switch {
	case frac >= 3:
	case kind == kTimestampMs:
		v.errorf("%s must be precise to at least the millisecond (STIX 2.1 §3.2), not %s", p.name, val)
	case kind == kTimestampMsShould:
		v.warnf("%s should be precise to at least the millisecond (STIX 2.1 §3.2), not %s", p.name, val)
	}
}

// selfID checks the id property: the identifier form, a prefix equal to
// type, and under strict the UUID version rules of STIX 2.1 §2.9.
func (v *validator) selfID(st *objState, val []byte) {
	if kindOf(val) != jString {
		v.errorf("id must be a string")
		return
	}
	id := strContent(val)
	var (
		typ     []byte
		version byte
		msg     string
	)
	if n := len(st.typ); len(id) >= n+2 && bytes.Equal(id[:n], st.typ) && id[n] == '-' && id[n+1] == '-' {
		// The usual case, id starting with its own type: st.typ is a
		// valid type name (a STIX type, or a custom one customSpec
		// checked), with no double hyphen and no hyphen at its end, so
		// splitID would cut id right here and find the prefix valid.
		typ = id[:n]
		version, msg = uuidProblem(id[n+2:])
	} else {
		typ, version, msg = splitID(id)
	}
	if msg != "" {
		v.errorf("id %q %s (STIX 2.1 §2.9)", id, msg)
		return
	}
	if !bytes.Equal(typ, st.typ) {
		v.errorf("id %q must start with its type %q (STIX 2.1 §2.9)", id, st.typ)
		return
	}
	if !v.opts.Strict {
		return
	}
	switch st.spec.class {
	case classSCO:
		if v.cat.scos[string(st.typ)] {
			v.scoID(id, version)
		}
	case classSDO, classSRO, classMeta:
		if st.spec.name != "custom" && version != 4 {
			v.warnf("id %q should use a UUIDv4 (STIX 2.1 §2.9: only SCOs use UUIDv5)", id)
		}
	}
}

// scoID compares an SCO's id with its deterministic one (strict only).
func (v *validator) scoID(id []byte, version byte) {
	want, err := SCOIDFromJSON(v.root)
	if errors.Is(err, ErrNoDeterministicID) {
		if version != 4 {
			v.warnf("id %q should use a UUIDv4: the object has no ID-contributing property (STIX 2.1 §2.9)", id)
		}
		return
	}
	if err != nil {
		return
	}
	if want != string(id) {
		v.warnf("id %q should be the deterministic id %s (UUIDv5 over the ID-contributing properties, STIX 2.1 §2.9)", id, want)
	}
}

// ref checks an identifier that points at another object.
func (v *validator) ref(p *prop, val []byte) {
	if kindOf(val) != jString {
		v.errorf("%s must hold identifier strings, not %s", p.name, kindOf(val))
		return
	}
	id := strContent(val)
	if p.refs == refTypes {
		for _, a := range p.refTypes {
			if n := len(a); len(id) >= n+2 && string(id[:n]) == a && id[n] == '-' && id[n+1] == '-' {
				// The usual case, a reference to one of the types it
				// may point to: a is a STIX type name, with no double
				// hyphen and no hyphen at its end, so splitID would cut
				// id right here and find the prefix valid, and the type
				// is one of p.refTypes.
				if _, msg := uuidProblem(id[n+2:]); msg != "" {
					v.errorf("%s: %q %s (STIX 2.1 §2.9)", p.name, id, msg)
				}
				return
			}
		}
	}
	typ, _, msg := splitID(id)
	if msg != "" {
		v.errorf("%s: %q %s (STIX 2.1 §2.9)", p.name, id, msg)
		return
	}
	// string(typ) inside the comparisons and map lookups, which the
	// compiler does without allocating; a string variable would be
	// allocated for every reference, only ever needed for the message.
	ok := true
	switch p.refs {
	case refTypes:
		ok = false
		for _, a := range p.refTypes {
			if a == string(typ) {
				ok = true
				break
			}
		}
	case refSDO:
		ok = !v.cat.scos[string(typ)] && !v.cat.sros[string(typ)] && !v.cat.metas[string(typ)]
	case refSCO:
		ok = !v.cat.sdos[string(typ)] && !v.cat.sros[string(typ)] && !v.cat.metas[string(typ)]
	case refSDOorSCO:
		ok = !v.cat.sros[string(typ)] && !v.cat.metas[string(typ)]
	case refSCOorSRO:
		ok = !v.cat.sdos[string(typ)] && !v.cat.metas[string(typ)]
	}
	if ok {
		return
	}
	t := string(typ)
	want := map[refClass]string{refSDO: "an SDO", refSCO: "an SCO", refSDOorSCO: "an SDO or SCO", refSCOorSRO: "an SCO or SRO"}[p.refs]
	if p.refs == refTypes {
		want = strings.Join(p.refTypes, " or ")
	}
	v.errorf("%s must reference %s, not %s", p.name, want, t)
}

func (v *validator) vocabValue(p *prop, val []byte) {
	if kindOf(val) != jString {
		v.errorf("%s must be a string, not %s", p.name, kindOf(val))
		return
	}
	s := strContent(val)
	if p.voc.has(s) {
		return
	}
	if p.voc.closed {
		v.errorf("%s must be one of %s (%s), not %q", p.name, vocabList(p.voc), p.voc.name, s)
		return
	}
	v.warnf("%s value %q is not in the open vocabulary %s", p.name, s, p.voc.name)
}

func vocabList(voc *vocab) string {
	vals := make([]string, 0, len(voc.values))
	for s := range voc.values {
		vals = append(vals, s)
	}
	sort.Strings(vals)
	return strings.Join(vals, ", ")
}

// dict checks a STIX dictionary (STIX 2.1 §2.x): keys of 1 to 250 ASCII
// characters, which SHOULD be letters, digits, hyphen and underscore.
func (v *validator) dict(name string, val []byte) {
	if kindOf(val) != jObject {
		v.errorf("%s must be a dictionary (JSON object), not %s", name, kindOf(val))
		return
	}
	it := newValidObjIter(val)
	for k, esc, _, ok := it.next(); ok; k, esc, _, ok = it.next() {
		key := keyContent(k, esc)
		if len(key) == 0 || len(key) > 250 || !isASCII(key) {
			v.push(string(key))
			v.errorf("%s key %q must be 1 to 250 ASCII characters", name, key)
			v.pop()
			continue
		}
		if v.opts.Strict && !dictKeyChars(key) {
			v.push(string(key))
			v.warnf("%s key %q should use only letters, digits, - and _", name, key)
			v.pop()
		}
	}
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

func dictKeyChars(b []byte) bool {
	for _, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// hashLen is the hex length of each fixed-size hash-algorithm-ov entry.
var hashLen = map[string]int{"MD5": 32, "SHA-1": 40, "SHA-256": 64, "SHA-512": 128, "SHA3-256": 64, "SHA3-512": 128}

// hashes checks a hashes dictionary (STIX 2.1 §2.7): at least one entry,
// string values, hex of the right length for the fixed-size algorithms.
func (v *validator) hashes(name string, val []byte) {
	if kindOf(val) != jObject {
		v.errorf("%s must be a dictionary of hashes, not %s", name, kindOf(val))
		return
	}
	it := newValidObjIter(val)
	n := 0
	for k, esc, hv, ok := it.next(); ok; k, esc, hv, ok = it.next() {
		n++
		key := keyContent(k, esc)
		v.push(string(key))
		switch {
		case len(key) < 3 || len(key) > 250 || !dictKeyChars(key):
			v.errorf("%s key %q must be 3 to 250 characters of a-z, A-Z, 0-9, - and _ (STIX 2.1 §2.7)", name, key)
		case kindOf(hv) != jString:
			v.errorf("%s %s must be a string", name, key)
		default:
			if l, fixed := hashLen[string(key)]; fixed {
				if h := strContent(hv); len(h) != l || !allHex(h) {
					v.errorf("%s %s must be %d hex digits", name, key, l)
				}
			} else if !v.cat.voc.hashAlgorithm.has(key) {
				v.warnf("%s key %q is not in the open vocabulary hash-algorithm-ov", name, key)
			}
		}
		v.pop()
	}
	if n == 0 {
		v.errorf("%s must contain at least one hash", name)
	}
}

// extensions checks the extensions dictionary (STIX 2.1 §3.2, §6 and
// §7.3): predefined extensions of the object's type, extension-definition
// instances, and deprecated x- custom extensions.
func (v *validator) extensions(st *objState, val []byte) {
	if kindOf(val) != jObject {
		v.errorf("extensions must be a dictionary, not %s", kindOf(val))
		return
	}
	it := newValidObjIter(val)
	n := 0
	for k, esc, ev, ok := it.next(); ok; k, esc, ev, ok = it.next() {
		n++
		key := keyContent(k, esc)
		v.push(string(key))
		switch {
		case bytes.HasPrefix(key, []byte("extension-definition--")):
			if _, _, msg := splitID(key); msg != "" {
				v.errorf("extension key %q %s", key, msg)
			} else if kindOf(ev) != jObject {
				v.errorf("extension %s must be an object", key)
			} else {
				v.embedded(v.cat.extInst, ev)
				if !objHasKey(ev, "extension_type") {
					v.errorf("extension %s needs extension_type (STIX 2.1 §7.3)", key)
				}
			}
		case st.spec.extensions[string(key)] != nil:
			v.embedded(st.spec.extensions[string(key)], ev)
		case v.predefinedExtension(key) != "":
			v.errorf("extension %s applies to %s objects, not %s", key, v.predefinedExtension(key), specName(st))
		case kindOf(ev) != jObject:
			v.errorf("extension %s must be an object (the extension instance)", key)
		case bytes.HasPrefix(key, []byte("x-")):
			v.warnf("custom extension %s is deprecated in STIX 2.1: use an extension-definition (§7.3)", key)
		default:
			// STIX 2.1 §3.2/§6.1: keys SHOULD be an extension-definition id
			// or a predefined extension name; the OASIS schemas let SCOs
			// carry producers' own extensions ("producers MAY create their
			// own").
			v.warnf("unknown extension %q: keys should be a predefined extension or extension-definition--UUID (STIX 2.1 §3.2, §7.3)", key)
		}
		v.pop()
	}
	if n == 0 {
		v.errorf("extensions must not be empty")
	}
}

// predefinedExtension returns the SCO type a predefined extension belongs
// to, or "".
func (v *validator) predefinedExtension(key []byte) string {
	for _, t := range []string{"file", "network-traffic", "process", "user-account"} {
		if v.cat.types[t].extensions[string(key)] != nil {
			return t
		}
	}
	return ""
}

func objHasKey(obj []byte, key string) bool {
	it := newValidObjIter(obj)
	for k, _, _, ok := it.next(); ok; k, _, _, ok = it.next() {
		if string(k) == key {
			return true
		}
	}
	return false
}

// langContents checks language-content contents (STIX 2.1 §7.1): a
// dictionary from language tag to a dictionary of translated properties.
func (v *validator) langContents(val []byte) {
	if kindOf(val) != jObject {
		v.errorf("contents must be a dictionary, not %s", kindOf(val))
		return
	}
	it := newValidObjIter(val)
	n := 0
	for k, esc, lv, ok := it.next(); ok; k, esc, lv, ok = it.next() {
		n++
		key := keyContent(k, esc)
		v.push(string(key))
		if kindOf(lv) != jObject {
			v.errorf("contents %s must be a dictionary of translated properties", key)
		}
		v.pop()
	}
	if n == 0 {
		v.errorf("contents must not be empty")
	}
}

// order checks that r.second is not before (or, strict, is after) r.first.
func (v *validator) order(st *objState, r orderRule) {
	ta, ok1 := st.instant(r.first)
	tb, ok2 := st.instant(r.second)
	if !ok1 || !ok2 {
		return
	}
	switch {
	case r.strict && !ta.before(tb):
		v.push(r.second)
		v.errorf("%s must be later than %s", r.second, r.first)
		v.pop()
	case tb.before(ta):
		v.push(r.second)
		v.errorf("%s must not be earlier than %s", r.second, r.first)
		v.pop()
	}
}

// objectRules are the checks every top-level object gets after its
// properties: modified not before created (STIX 2.1 §3.2).
func (v *validator) objectRules(st *objState) {
	v.order(st, orderRule{first: "created", second: "modified"})
}

// bundle checks the bundle envelope (STIX 2.1 §8): type, id, objects.
func (v *validator) bundle(data []byte) {
	v.id, v.root, v.path = nil, data, v.path[:0]
	it := newObjIter(data, 0)
	var haveID bool
	for k, esc, val, ok := it.next(); ok; k, esc, val, ok = it.next() {
		key := keyContent(k, esc)
		v.push(string(key))
		switch string(key) {
		case "type":
		case "id":
			haveID = true
			id := strContent(val)
			if typ, _, msg := splitID(id); kindOf(val) != jString || msg != "" || string(typ) != "bundle" {
				v.errorf("id of a bundle must be bundle--UUID, not %s", val)
			}
		case "objects":
			if kindOf(val) != jArray {
				v.errorf("objects must be a list")
			} else if it := newArrIter(val, 1); !it.hasNext() {
				v.errorf("objects must not be an empty list (STIX 2.1 §8: one or more objects)")
			}
		default:
			if !propNameOK(key) {
				v.errorf("property name %q is invalid on bundle (STIX 2.1 §3.1)", key)
			} else if !bytes.HasPrefix(key, []byte("x_")) {
				v.warnf("unknown property %s on bundle (a STIX 2.1 bundle has only type, id and objects, §8)", key)
			}
		}
		v.pop()
	}
	if !haveID {
		v.push("id")
		v.errorf("id is required on bundle")
		v.pop()
	}
}

// crossObject checks the rules that span several objects of one batch.
func (v *validator) crossObject(objs []Object, prefix string) {
	type version struct {
		i        int
		modified string
		revoked  bool
	}
	byID := map[string][]version{}
	for i, o := range objs {
		if o.ID != "" {
			byID[o.ID] = append(byID[o.ID], version{i, o.Version(), o.Revoked})
		}
	}
	for id, vs := range byID {
		if len(vs) < 2 {
			continue
		}
		if strings.HasPrefix(id, "marking-definition--") {
			for _, x := range vs[1:] {
				if !bytes.Equal(objs[x.i].Raw, objs[vs[0].i].Raw) {
					v.id = []byte(id)
					v.prefix, v.path = prefix+"["+strconv.Itoa(x.i)+"]", v.path[:0]
					v.errorf("marking definition %s appears with different content: marking definitions cannot be versioned (STIX 2.1 §7.2.1)", id)
				}
			}
			continue
		}
		sort.SliceStable(vs, func(a, b int) bool { return timeLess(vs[a].modified, vs[b].modified) })
		for j := 1; j < len(vs); j++ {
			prev, cur := vs[j-1], vs[j]
			if prev.revoked && !cur.revoked && timeLess(prev.modified, cur.modified) {
				v.id = []byte(id)
				v.prefix, v.path = prefix+"["+strconv.Itoa(cur.i)+"]", v.path[:0]
				v.push("revoked")
				v.errorf("revoked must stay true: version %s of %s was revoked and revocation is final (STIX 2.1 §3.6)", prev.modified, id)
				v.pop()
			}
		}
	}
}

func timeLess(a, b string) bool {
	ta, _, ok1 := parseTS([]byte(a))
	tb, _, ok2 := parseTS([]byte(b))
	if !ok1 || !ok2 {
		return a < b
	}
	return ta.Before(tb)
}
