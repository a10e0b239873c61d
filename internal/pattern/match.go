package pattern

import (
	"bytes"
	"iter"
	"math"
	"net/netip"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/dlclark/regexp2"
	"golang.org/x/text/unicode/norm"
)

// sdoTypes are STIX 2.1 SDO and SRO types. In STIX 2.1 mode the reference
// matcher never selects objects of these types, so that the observed-data
// object itself (and any SDO named in object_refs) does not match.
var sdoTypes = map[string]bool{
	"attack-pattern": true, "campaign": true, "course-of-action": true, "grouping": true,
	"identity": true, "incident": true, "indicator": true, "infrastructure": true,
	"intrusion-set": true, "location": true, "malware": true, "malware-analysis": true,
	"note": true, "observed-data": true, "opinion": true, "report": true,
	"threat-actor": true, "tool": true, "vulnerability": true, "relationship": true,
	"sighting": true,
}

// regexTimeout bounds one MATCHES evaluation; Python's re has no bound,
// but a detection engine must not be stalled by a pathological regex.
const regexTimeout = 2 * time.Second

// evaluator matches one pattern against a list of observations with the
// reference matcher's algorithm (cti-pattern-matcher, MatchListener): the
// comparison expressions select (observation, root object) pairs, and the
// observation expressions combine observation instances into bindings.
type evaluator struct {
	obs []Observation
	// v20 selects the STIX 2.0 mode of the reference matcher: no SDO
	// exclusion, and START/STOP qualifiers fail.
	v20 bool
	// engine selects the detection engine's semantics: IPv6 CIDR in
	// ISSUBSET/ISSUPERSET, and values the reference would fail on simply
	// do not match.
	engine bool
	err    error
	stops  []func()
	// preds holds compiled predicates by Comparison.idx (byPtr for
	// trees built by hand); Compile fills them once so that evaluations
	// never recompile regular expressions.
	preds []predFunc
	byPtr map[*Comparison]predFunc
}

func (ev *evaluator) fail(err error) {
	if ev.err == nil {
		ev.err = err
	}
}

func (ev *evaluator) close() {
	for _, s := range ev.stops {
		s()
	}
}

// Match reports whether the pattern matches the observations, with the
// verdicts of the reference matcher (stix2-matcher): AND and OR of
// observation expressions bind distinct observation instances (an
// observation with number_observed n is n instances), FOLLOWEDBY requires
// the left bindings' latest first_observed to be no later than the right
// bindings' earliest last_observed, and so on (see docs/patterning.md). A
// *MatchError is returned where the reference matcher fails.
//
// As in the reference, only the first binding found counts, and only if it
// holds the first instance of some observation: the reference reports the
// observations of a binding through their first instances, and an empty
// report is a non-match.
func (p *Pattern) Match(observations []Observation) (bool, error) {
	ev := &evaluator{obs: observations, v20: p.v20}
	return ev.run(p.Root)
}

func (ev *evaluator) run(root ObsExpr) (bool, error) {
	defer ev.close()
	seq := ev.build(root)
	if ev.err != nil {
		return false, ev.err
	}
	found := false
	for b := range seq {
		if ev.engine {
			found = true
			break
		}
		for _, id := range b {
			if instN(id) == 0 {
				found = true
				break
			}
		}
		break
	}
	if ev.err != nil {
		return false, ev.err
	}
	return found, nil
}

// --- comparison expressions -------------------------------------------

type rootVals struct {
	id   string
	vals []any
}

type obsVals struct {
	obs   int
	roots []rootVals
}

// rootSet is the set of root object ids that satisfied a comparison in one
// observation. dict marks a result that came straight from an EXISTS test,
// which the reference leaves as a dictionary; combining it with AND/OR is
// a type error there in most cases.
type rootSet struct {
	ids  []string
	dict bool
}

type obsSet struct {
	obs int
	set rootSet
}

func (ev *evaluator) comp(e CompExpr) []obsSet {
	switch e := e.(type) {
	case *CompGroup:
		return ev.comp(e.Inner)
	case *CompBinary:
		l := ev.comp(e.Left)
		r := ev.comp(e.Right)
		if ev.err != nil {
			return nil
		}
		if ev.engine {
			// The EXISTS type quirk is the reference's, not the
			// language's: the engine treats every result as a set.
			for _, s := range [][]obsSet{l, r} {
				for i := range s {
					s[i].set.dict = false
				}
			}
		}
		if e.And {
			return ev.compAnd(l, r)
		}
		return ev.compOr(l, r)
	case *Comparison:
		return ev.comparison(e)
	}
	return nil
}

func indexOf(s []obsSet, obs int) int {
	for i := range s {
		if s[i].obs == obs {
			return i
		}
	}
	return -1
}

func (ev *evaluator) compAnd(l, r []obsSet) []obsSet {
	out := l[:0:0]
	for _, a := range l {
		j := indexOf(r, a.obs)
		if j < 0 {
			continue
		}
		b := r[j]
		if a.set.dict || b.set.dict {
			ev.fail(matchErrf("unsupported operand types for &= (EXISTS combined with AND)"))
			return nil
		}
		var ids []string
		for _, id := range a.set.ids {
			if contains(b.set.ids, id) {
				ids = append(ids, id)
			}
		}
		if len(ids) > 0 {
			out = append(out, obsSet{a.obs, rootSet{ids: ids}})
		}
	}
	return out
}

func (ev *evaluator) compOr(l, r []obsSet) []obsSet {
	out := append([]obsSet{}, l...)
	for _, b := range r {
		i := indexOf(out, b.obs)
		if i < 0 {
			out = append(out, b)
			continue
		}
		a := out[i].set
		switch {
		case !a.dict && !b.set.dict:
			ids := append([]string{}, a.ids...)
			for _, id := range b.set.ids {
				if !contains(ids, id) {
					ids = append(ids, id)
				}
			}
			out[i].set = rootSet{ids: ids}
		case a.dict && b.set.dict:
			ids := append([]string{}, a.ids...)
			for _, id := range b.set.ids {
				if !contains(ids, id) {
					ids = append(ids, id)
				}
			}
			out[i].set = rootSet{ids: ids, dict: true}
		case !a.dict:
			ev.fail(matchErrf("unsupported operand types for |= (EXISTS combined with OR)"))
			return nil
		default:
			// dict |= set updates the dictionary from the set's
			// elements, which must be two-character strings.
			ids := append([]string{}, a.ids...)
			for _, id := range b.set.ids {
				if utf8.RuneCountInString(id) != 2 {
					ev.fail(matchErrf("dictionary update sequence element has length %d; 2 is required", utf8.RuneCountInString(id)))
					return nil
				}
				ids = append(ids, string([]rune(id)[:1]))
			}
			out[i].set = rootSet{ids: ids, dict: true}
		}
	}
	return out
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// selectPath applies an object path to every observation (the reference's
// exitObjectType, exitFirstPathComponent, exitKeyPathStep and
// exitIndexPathStep), keeping values grouped by root object.
func (ev *evaluator) selectPath(path ObjectPath) []obsVals {
	var cur []obsVals
	if ev.v20 || !sdoTypes[path.Type] {
		for i := range ev.obs {
			o := &ev.obs[i]
			if o.objErr != nil {
				ev.fail(o.objErr)
				return nil
			}
			var roots []rootVals
			for _, obj := range o.Objects {
				if obj.Type == path.Type {
					roots = append(roots, rootVals{id: obj.ID, vals: []any{obj.Props}})
				}
			}
			if len(roots) > 0 {
				cur = append(cur, obsVals{obs: i, roots: roots})
			}
		}
	}
	for _, st := range path.Steps {
		cur = ev.step(cur, st)
		if ev.err != nil {
			return nil
		}
		if st.Kind == StepKey {
			if strings.HasSuffix(st.Key, "_ref") {
				cur = ev.deref(cur, st.Key, false)
			} else if strings.HasSuffix(st.Key, "_refs") {
				cur = ev.deref(cur, st.Key, true)
			}
		}
		if ev.err != nil {
			return nil
		}
	}
	return cur
}

func (ev *evaluator) step(cur []obsVals, st Step) []obsVals {
	var out []obsVals
	for _, ov := range cur {
		var roots []rootVals
		for _, rv := range ov.roots {
			var vals []any
			for _, v := range rv.vals {
				switch st.Kind {
				case StepKey:
					m, ok := v.(map[string]any)
					if !ok {
						continue
					}
					x, ok := m[st.Key]
					if !ok {
						continue
					}
					x, err := suffixValue(st.Key, x)
					if err != nil {
						ev.fail(err)
						return nil
					}
					vals = append(vals, x)
				case StepIndex:
					l, ok := v.([]any)
					if ok && st.Index >= 0 && st.Index < int64(len(l)) {
						vals = append(vals, l[st.Index])
					}
				case StepStar:
					if l, ok := v.([]any); ok {
						vals = append(vals, l...)
					}
				}
			}
			if len(vals) > 0 {
				roots = append(roots, rootVals{id: rv.id, vals: vals})
			}
		}
		if len(roots) > 0 {
			out = append(out, obsVals{obs: ov.obs, roots: roots})
		}
	}
	return out
}

// suffixValue decodes properties whose name says they are binary: _hex
// (hex digits) and _bin (base64), as the reference does on every step.
func suffixValue(key string, v any) (any, error) {
	switch {
	case strings.HasSuffix(key, "_hex"):
		switch x := v.(type) {
		case []byte:
			return x, nil
		case string:
			b, err := pyHexDecode(x)
			if err != nil {
				return nil, matchErrf("invalid hex value for %s: %q", key, x)
			}
			return b, nil
		}
		return nil, matchErrf("value of %s is not a string", key)
	case strings.HasSuffix(key, "_bin"):
		switch x := v.(type) {
		case []byte:
			return x, nil
		case string:
			b, err := pyB64Decode(x)
			if err != nil {
				return nil, matchErrf("invalid base64 value for %s: %q", key, x)
			}
			return b, nil
		}
		return nil, matchErrf("value of %s is not a string", key)
	}
	return v, nil
}

func (o *Observation) lookup(id string) []any {
	var out []any
	for _, obj := range o.Objects {
		if obj.ID == id {
			if obj.Props == nil && obj.raw != nil {
				out = append(out, obj.raw)
			} else {
				out = append(out, obj.Props)
			}
		}
	}
	return out
}

// deref replaces references by the objects they name within the same
// observation; unresolved references are dropped (STIX 2.1 §9.3).
func (ev *evaluator) deref(cur []obsVals, key string, list bool) []obsVals {
	var out []obsVals
	for _, ov := range cur {
		o := &ev.obs[ov.obs]
		var roots []rootVals
		for _, rv := range ov.roots {
			var vals []any
			for _, v := range rv.vals {
				refs := []any{v}
				if list {
					l, ok := v.([]any)
					if !ok {
						ev.fail(matchErrf("The value of reference list property '%s' was not a list!", key))
						return nil
					}
					refs = l
				}
				var objs []any
				for _, r := range refs {
					s, ok := r.(string)
					if !ok {
						ev.fail(matchErrf("value of reference property '%s' was not a string", key))
						return nil
					}
					objs = append(objs, o.lookup(s)...)
				}
				if list {
					if len(objs) > 0 {
						vals = append(vals, objs)
					}
				} else {
					vals = append(vals, objs...)
				}
			}
			if len(vals) > 0 {
				roots = append(roots, rootVals{id: rv.id, vals: vals})
			}
		}
		if len(roots) > 0 {
			out = append(out, obsVals{obs: ov.obs, roots: roots})
		}
	}
	return out
}

// comparison evaluates one property test over all observations. For each
// root object the values are tested in order until one passes, as in the
// reference (which matters for the errors it may raise).
func (ev *evaluator) comparison(c *Comparison) []obsSet {
	pred := ev.cachedPred(c)
	if pred == nil && c.Op != OpExists {
		pred = ev.predicate(c)
	}
	if ev.err != nil {
		return nil
	}
	vals := ev.selectPath(c.Path)
	if ev.err != nil {
		return nil
	}
	var out []obsSet
	for _, ov := range vals {
		set := rootSet{dict: c.Op == OpExists}
		for _, rv := range ov.roots {
			if c.Op == OpExists {
				set.ids = append(set.ids, rv.id)
				continue
			}
			for _, v := range rv.vals {
				ok, err := pred(v)
				if err != nil {
					if ev.engine {
						continue
					}
					ev.fail(err)
					return nil
				}
				if ok {
					set.ids = append(set.ids, rv.id)
					break
				}
			}
		}
		if len(set.ids) > 0 {
			out = append(out, obsSet{obs: ov.obs, set: set})
		}
	}
	return out
}

type predFunc func(v any) (bool, error)

func (ev *evaluator) cachedPred(c *Comparison) predFunc {
	if ev.byPtr != nil {
		return ev.byPtr[c]
	}
	if int(c.idx) < len(ev.preds) {
		return ev.preds[c.idx]
	}
	return nil
}

// predicate builds the test for one comparison; literal conversion and
// regex compilation happen here, once, as in the reference.
func (ev *evaluator) predicate(c *Comparison) predFunc {
	neg := c.Negated
	switch c.Op {
	case OpExists:
		return nil
	case OpEq, OpNeq:
		if c.Value.Kind == LitString {
			// The common case, without boxing the literal.
			str := c.Value.Str
			flip := (c.Op == OpNeq) != neg
			return func(v any) (bool, error) {
				var eq bool
				switch x := v.(type) {
				case string:
					eq = x == str
				case []byte:
					l, ok := latin1(str)
					eq = ok && bytes.Equal(x, l)
				}
				return eq != flip, nil
			}
		}
		lit, err := literalValue(c.Value)
		if err != nil {
			ev.fail(err)
			return nil
		}
		_, isTime := lit.(time.Time)
		return func(v any) (bool, error) {
			if s, ok := v.(string); ok && isTime {
				t, err := parsePyTimestamp(s, false)
				if err != nil {
					return false, matchErrf("Invalid timestamp in JSON: %s", s)
				}
				v = t
			}
			eq, _ := pyEqual(v, lit)
			if c.Op == OpNeq {
				eq = !eq
			}
			return eq != neg, nil
		}
	case OpLT, OpLE, OpGT, OpGE:
		lit, err := literalValue(c.Value)
		if err != nil {
			ev.fail(err)
			return nil
		}
		_, isTime := lit.(time.Time)
		return func(v any) (bool, error) {
			if s, ok := v.(string); ok && isTime {
				t, err := parsePyTimestamp(s, false)
				if err != nil {
					return false, matchErrf("Invalid timestamp in JSON: %s", s)
				}
				v = t
			}
			r, ok, bad := pyCompare(v, lit)
			if !ok {
				return false, nil
			}
			var res bool
			if !bad {
				switch c.Op {
				case OpLT:
					res = r < 0
				case OpLE:
					res = r <= 0
				case OpGT:
					res = r > 0
				default:
					res = r >= 0
				}
			}
			return res != neg, nil
		}
	case OpIn:
		set, err := setValues(c)
		if err != nil {
			ev.fail(err)
			return nil
		}
		isTime := false
		if len(set) > 0 {
			_, isTime = set[0].(time.Time)
		}
		return func(v any) (bool, error) {
			if s, ok := v.(string); ok && isTime {
				t, err := parsePyTimestamp(s, false)
				if err != nil {
					return false, matchErrf("Invalid timestamp in JSON: %s", s)
				}
				v = t
			}
			return pyIn(v, set) != neg, nil
		}
	case OpLike:
		operand := norm.NFC.String(c.Value.Str)
		re := likeRegexp(operand)
		_, binOK := latin1(operand)
		return func(v any) (bool, error) {
			var res bool
			if b, ok := v.([]byte); ok && binOK {
				if !utf8.Valid(b) {
					return false, matchErrf("binary value is not UTF-8 for LIKE")
				}
				v = string(b)
			}
			if s, ok := v.(string); ok {
				res = re.MatchString(norm.NFC.String(s))
			}
			return res != neg, nil
		}
	case OpMatches:
		src := norm.NFC.String(c.Value.Str)
		re, err := compilePyRegex(src, false)
		if err != nil {
			ev.fail(matchErrf("re.error: %v", err))
			return nil
		}
		// The reference also compiles the bytes form when it can, for
		// binary values; that can fail on its own.
		var bre *regexp2.Regexp
		if latin1Valid(src) {
			bre, err = compilePyRegex(src, true)
			if err != nil {
				ev.fail(matchErrf("re.error: %v", err))
				return nil
			}
		}
		return func(v any) (bool, error) {
			var res bool
			switch x := v.(type) {
			case string:
				m, err := re.MatchString(norm.NFC.String(x))
				if err != nil {
					return false, matchErrf("regular expression timed out")
				}
				res = m
			case []byte:
				if bre != nil {
					m, err := bre.MatchString(fromLatin1(x))
					if err != nil {
						return false, matchErrf("regular expression timed out")
					}
					res = m
				}
			}
			return res != neg, nil
		}
	case OpIsSubset, OpIsSuperset:
		lit := c.Value.Str
		sub := c.Op == OpIsSubset
		return func(v any) (bool, error) {
			var res bool
			if s, ok := v.(string); ok {
				var err error
				if sub {
					res, err = ev.ipInSubnet(s, lit)
				} else {
					res, err = ev.ipInSubnet(lit, s)
				}
				if err != nil {
					return false, err
				}
			}
			return res != neg, nil
		}
	}
	return nil
}

// setValues converts an IN set; the reference requires all members to
// have one type (ints and floats may mix).
func setValues(c *Comparison) ([]any, error) {
	var out []any
	var first LitKind
	homogeneous, onlyNumbers := true, true
	for i, l := range c.Set {
		v, err := literalValue(l)
		if err != nil {
			return nil, err
		}
		k := l.Kind
		if k == LitHex {
			k = LitBinary
		}
		if i == 0 {
			first = k
		} else if k != first {
			homogeneous = false
		}
		if k != LitInt && k != LitFloat {
			onlyNumbers = false
		}
		out = append(out, v)
	}
	if !homogeneous && !onlyNumbers {
		parts := make([]string, len(c.Set))
		for i, l := range c.Set {
			parts[i] = l.Text
		}
		return nil, matchErrf("Nonhomogenous set: (%s)", strings.Join(parts, ","))
	}
	return out, nil
}

// likeRegexp translates LIKE wildcards (% any run, _ one character) into
// an anchored expression with Python's "$" (end, or before a final
// newline) and "." (any character but newline).
func likeRegexp(like string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString(`^`)
	for _, r := range like {
		switch r {
		case '%':
			b.WriteString(`.*`)
		case '_':
			b.WriteString(`.`)
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString(`\n?\z`)
	return regexp.MustCompile(b.String())
}

// compilePyRegex compiles a Python "re" expression (its str form, or with
// bytes set its bytes form) with regexp2, whose backtracking semantics
// match Python's.
func compilePyRegex(src string, bytes bool) (*regexp2.Regexp, error) {
	t, err := translatePyRegexStrict(src, bytes)
	if err != nil {
		return nil, err
	}
	re, err := regexp2.Compile(t, regexp2.None)
	if err != nil {
		return nil, err
	}
	re.MatchTimeout = regexTimeout
	return re, nil
}

// ipInSubnet reports whether the address or CIDR block containee lies in
// the CIDR block container. The reference accepts IPv4 only (with
// inet_aton's lenient forms) and fails on anything else; the detection
// engine also handles IPv6 and treats unparsable values as no match.
func (ev *evaluator) ipInSubnet(containee, container string) (bool, error) {
	if ev.engine {
		return netipContains(containee, container), nil
	}
	var ci uint32
	cp := 32
	if !strings.Contains(containee, "/") {
		v, ok := inetAton(containee)
		if !ok {
			return false, matchErrf("Invalid IPv4 address: %s", containee)
		}
		ci = v
	} else {
		var err error
		if ci, cp, err = cidrToInts(containee); err != nil {
			return false, err
		}
	}
	ni, np, err := cidrToInts(container)
	if err != nil {
		return false, err
	}
	if np > cp {
		return false, nil
	}
	mask := uint32(math.MaxUint32) << (32 - uint(np))
	return ci&mask == ni&mask, nil
}

func cidrToInts(s string) (uint32, int, error) {
	i := strings.Index(s, "/")
	if i < 0 {
		return 0, 0, matchErrf("Invalid CIDR subnet: %s", s)
	}
	ip, ok := inetAton(s[:i])
	if !ok {
		return 0, 0, matchErrf("Invalid IPv4 address: %s", s[:i])
	}
	// Python's str.isdigit() then int(): any Unicode decimal digits.
	ps := s[i+1:]
	n := 0
	for _, r := range ps {
		d := decimalValue(r)
		if d < 0 {
			return 0, 0, matchErrf("Invalid CIDR subnet: %s", s)
		}
		if n <= 32 {
			n = n*10 + d
		}
	}
	if ps == "" || n < 1 || n > 32 {
		return 0, 0, matchErrf("Invalid CIDR subnet: %s", s)
	}
	return ip, n, nil
}

// decimalValue is the value of a Unicode decimal digit (category Nd), or
// -1. Decimal digits come in runs of ten starting at zero.
func decimalValue(r rune) int {
	if r >= '0' && r <= '9' {
		return int(r - '0')
	}
	if !unicode.IsDigit(r) {
		return -1
	}
	start := r
	for unicode.IsDigit(start - 1) {
		start--
	}
	return int(r-start) % 10
}

func parsePrefix(s string) (netip.Prefix, bool) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p, err == nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(a, a.BitLen()), true
}

func netipContains(containee, container string) bool {
	a, ok1 := parsePrefix(containee)
	b, ok2 := parsePrefix(container)
	if !ok1 || !ok2 || a.Addr().Is4() != b.Addr().Is4() || b.Bits() > a.Bits() {
		return false
	}
	return b.Masked().Contains(a.Addr())
}

// --- observation expressions ------------------------------------------

// A binding is a list of observation instance ids (observation index in
// the high 32 bits, instance number below number_observed in the low).
type bseq = iter.Seq[[]int64]

func instID(obs, n int) int64 { return int64(obs)<<32 | int64(n) }
func instObs(id int64) int    { return int(id >> 32) }
func instN(id int64) int      { return int(id & 0xffffffff) }

func (ev *evaluator) pull(s bseq) func() ([]int64, bool) {
	next, stop := iter.Pull(s)
	ev.stops = append(ev.stops, stop)
	return func() ([]int64, bool) {
		if ev.err != nil {
			return nil, false
		}
		v, ok := next()
		if ev.err != nil {
			return nil, false
		}
		return v, ok
	}
}

func empty(func([]int64) bool) {}

// build mirrors the reference's post-order walk: everything it computes
// eagerly during the walk (comparisons, literals, qualifier values, and
// the first bindings of OR operands) is computed here; the rest is lazy.
func (ev *evaluator) build(e ObsExpr) bseq {
	if ev.err != nil {
		return empty
	}
	switch e := e.(type) {
	case *ObsSimple:
		sets := ev.comp(e.Comparison)
		if ev.err != nil {
			return empty
		}
		return ev.simple(sets)
	case *ObsGroup:
		return ev.build(e.Inner)
	case *ObsBinary:
		l := ev.build(e.Left)
		r := ev.build(e.Right)
		if ev.err != nil {
			return empty
		}
		switch e.Op {
		case ObsAnd:
			return ev.join(l, r, false)
		case ObsFollowedBy:
			return ev.join(l, r, true)
		default:
			return ev.or(l, r)
		}
	case *ObsQualified:
		inner := ev.build(e.Inner)
		if ev.err != nil {
			return empty
		}
		return ev.qualify(inner, e.Qualifier)
	}
	return empty
}

func (ev *evaluator) simple(sets []obsSet) bseq {
	return func(yield func([]int64) bool) {
		for _, s := range sets {
			o := &ev.obs[s.obs]
			if o.numErr != nil {
				ev.fail(o.numErr)
				return
			}
			for n := 0; n < o.NumberObserved; n++ {
				if !yield([]int64{instID(s.obs, n)}) {
					return
				}
			}
		}
	}
}

func disjoint(a, b []int64) bool {
	for _, x := range a {
		for _, y := range b {
			if x == y {
				return false
			}
		}
	}
	return true
}

func concat(a, b []int64) []int64 {
	out := make([]int64, 0, len(a)+len(b))
	return append(append(out, a...), b...)
}

func (ev *evaluator) latestFirst(b []int64) time.Time {
	var t time.Time
	for i, id := range b {
		f := ev.obs[instObs(id)].FirstObserved
		if i == 0 || f.After(t) {
			t = f
		}
	}
	return t
}

func (ev *evaluator) earliestLast(b []int64) time.Time {
	var t time.Time
	for i, id := range b {
		l := ev.obs[instObs(id)].LastObserved
		if i == 0 || l.Before(t) {
			t = l
		}
	}
	return t
}

// join is AND (disjoint bindings) and FOLLOWEDBY (disjoint, and the left
// side's latest first_observed <= the right side's earliest
// last_observed), enumerated in the reference's interleaved order.
func (ev *evaluator) join(l, r bseq, followedBy bool) bseq {
	ok := func(lb, rb []int64) bool {
		if !disjoint(lb, rb) {
			return false
		}
		return !followedBy || !ev.latestFirst(lb).After(ev.earliestLast(rb))
	}
	return func(yield func([]int64) bool) {
		rn := ev.pull(r)
		ln := ev.pull(l)
		nr, okr := rn()
		nl, okl := ln()
		if !okr || !okl {
			return
		}
		var rc, lc [][]int64
		for okr || okl {
			if okr {
				for _, lb := range lc {
					if ok(lb, nr) && !yield(concat(lb, nr)) {
						return
					}
				}
				rc = append(rc, nr)
				nr, okr = rn()
			}
			if okl {
				for _, rb := range rc {
					if ok(nl, rb) && !yield(concat(nl, rb)) {
						return
					}
				}
				lc = append(lc, nl)
				nl, okl = ln()
			}
			if ev.err != nil {
				return
			}
		}
	}
}

// or yields the bindings of either side; the reference takes the first
// binding of each side while walking the pattern, so this does too.
func (ev *evaluator) or(l, r bseq) bseq {
	ln := ev.pull(l)
	rn := ev.pull(r)
	fl, okl := ln()
	fr, okr := rn()
	return func(yield func([]int64) bool) {
		for (okl || okr) && ev.err == nil {
			if okl {
				if !yield(fl) {
					return
				}
				fl, okl = ln()
			}
			if ev.err != nil {
				return
			}
			if okr {
				if !yield(fr) {
					return
				}
				fr, okr = rn()
			}
		}
	}
}

// Overlap kinds of two closed intervals, as in the reference.
const (
	overlapNone = iota
	overlap
	overlapTouchInner
	overlapTouchOuter
	overlapTouchPoint
)

func overlapKind(min1, max1, min2, max2 time.Time) int {
	switch {
	case min1.Equal(max1) && max1.Equal(min2) && min2.Equal(max2):
		return overlapTouchPoint
	case max1.Equal(min2):
		return overlapTouchInner
	case max2.Equal(min1):
		return overlapTouchOuter
	case !min2.After(max1) && !min1.After(max2):
		return overlap
	}
	return overlapNone
}

var maxPyTime = time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC)

func (ev *evaluator) qualify(in bseq, q Qualifier) bseq {
	switch q.Kind {
	case QualRepeats:
		if q.Value.Err != nil {
			ev.fail(matchErrf("Invalid repetition count: %s", q.Value.Text))
			return empty
		}
		n := q.Value.Int
		if n < 1 {
			ev.fail(matchErrf("Invalid repetition count: %d", n))
			return empty
		}
		if n == 1 {
			return in
		}
		return ev.combos(in, int(min(n, 1<<30)))
	case QualWithin:
		secs := q.Value.Float
		if q.Value.Kind == LitInt {
			secs = float64(q.Value.Int)
		}
		if secs <= 0 {
			ev.fail(matchErrf("Invalid WITHIN value (must be positive): %s", q.Value.Text))
			return empty
		}
		micros := math.RoundToEven(secs * 1e6)
		return func(yield func([]int64) bool) {
			for b := range in {
				if ev.err != nil {
					return
				}
				keep, err := ev.within(b, micros)
				if err != nil {
					ev.fail(err)
					return
				}
				if keep && !yield(b) {
					return
				}
			}
		}
	default:
		if ev.v20 {
			// The 2.0 matcher reads START/STOP as string literals, which
			// the current 2.0 grammar no longer produces.
			ev.fail(matchErrf("'StartStopQualifierContext' object has no attribute 'StringLiteral'"))
			return empty
		}
		start, err1 := literalValue(q.Start)
		stop, err2 := literalValue(q.Stop)
		if err1 != nil || err2 != nil {
			ev.fail(matchErrf("Invalid TimestampLiteral in START/STOP"))
			return empty
		}
		st, sp := start.(time.Time), stop.(time.Time)
		if !st.Before(sp) {
			return empty
		}
		return func(yield func([]int64) bool) {
			for b := range in {
				if ev.err != nil {
					return
				}
				keep := true
				for _, id := range b {
					o := &ev.obs[instObs(id)]
					if o.FirstObserved.After(o.LastObserved) {
						ev.fail(matchErrf("first_observed is after last_observed"))
						return
					}
					k := overlapKind(st, sp, o.FirstObserved, o.LastObserved)
					if k != overlap && k != overlapTouchOuter {
						keep = false
						break
					}
				}
				if keep && !yield(b) {
					return
				}
			}
		}
	}
}

func (ev *evaluator) within(b []int64, micros float64) (bool, error) {
	earliest := ev.earliestLast(b)
	if micros > float64(maxPyTime.Sub(earliest)/time.Microsecond) {
		return false, matchErrf("date value out of range")
	}
	end := earliest.Add(time.Duration(micros) * time.Microsecond)
	for _, id := range b {
		o := &ev.obs[instObs(id)]
		if o.FirstObserved.After(o.LastObserved) {
			return false, matchErrf("first_observed is after last_observed")
		}
		if overlapKind(o.FirstObserved, o.LastObserved, earliest, end) == overlapNone {
			return false, nil
		}
	}
	return true, nil
}

// combos yields k-sized combinations of pairwise disjoint bindings, in
// the reference's order and with its pruning (_filtered_combinations).
func (ev *evaluator) combos(src bseq, k int) bseq {
	return func(yield func([]int64) bool) {
		next := ev.pull(src)
		var gen [][]int64
		for len(gen) < k-1 {
			v, ok := next()
			if !ok {
				return
			}
			gen = append(gen, v)
		}
		for {
			nv, ok := next()
			if !ok {
				return
			}
			var filtered [][]int64
			for _, c := range gen {
				if disjoint(c, nv) {
					filtered = append(filtered, c)
				}
			}
			_, cont := combosFromList(filtered, k-1, func(sub []int64) bool {
				return yield(concat(sub, nv))
			})
			if !cont {
				return
			}
			gen = append(gen, nv)
		}
	}
}

// combosFromList is _filtered_combinations_from_list. A positive missing
// result stands for the reference's NotEnoughValues exception, which it
// only raises before yielding anything; cont is false once the consumer
// stops.
func combosFromList(list [][]int64, k int, yield func([]int64) bool) (missing int, cont bool) {
	if k == 1 {
		for _, v := range list {
			if !yield(v) {
				return 0, false
			}
		}
		return 0, true
	}
	if bound := boundLargestCombination(list); bound < k {
		return k - bound, true
	}
	for i := 0; i < len(list)+1-k; i++ {
		var filtered [][]int64
		for _, c := range list[i+1:] {
			if disjoint(list[i], c) {
				filtered = append(filtered, c)
			}
		}
		yielded := false
		miss, cont := combosFromList(filtered, k-1, func(sub []int64) bool {
			r := yield(concat(list[i], sub))
			yielded = true
			return r
		})
		if !cont {
			return 0, false
		}
		if miss > 0 && !yielded {
			maxAdd := min(len(list[i+1:])-len(filtered), len(list[i]))
			if exp := miss + 1 - maxAdd; exp > 0 {
				if i == 0 {
					return exp, true
				}
				return 0, true
			}
		}
	}
	return 0, true
}

// boundLargestCombination is the reference's upper bound on the size of a
// combination of pairwise disjoint bindings.
func boundLargestCombination(list [][]int64) int {
	if len(list) == 0 {
		return 0
	}
	maxSize := 0
	for _, v := range list {
		maxSize = max(maxSize, len(v))
	}
	bySize := make([]map[int64]bool, maxSize+1)
	for i := range bySize {
		bySize[i] = map[int64]bool{}
	}
	for _, v := range list {
		for _, id := range v {
			bySize[len(v)][id] = true
		}
	}
	consumed := map[int64]bool{}
	size := 0
	for i := 1; i < maxSize; i++ {
		avail := 0
		for id := range bySize[i] {
			if !consumed[id] {
				avail++
				consumed[id] = true
			}
		}
		size += (avail + i - 1) / i
	}
	avail := 0
	for id := range bySize[maxSize] {
		if !consumed[id] {
			avail++
		}
	}
	if maxSize > 0 {
		size += avail / maxSize
	}
	return size
}
