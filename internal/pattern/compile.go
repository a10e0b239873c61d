package pattern

// Compiled is a pattern prepared for the detection engine. This API is
// stable; internal/detect is built on it:
//
//	func Compile(p *Pattern) (*Compiled, error)
//	func (c *Compiled) Stateless() bool
//	func (c *Compiled) Anchors() []Anchor
//	func (c *Compiled) MatchObservation(o *Observation) bool
//	func (c *Compiled) Match(window []Observation) bool
//
// Stateless patterns are one bracketed observation expression without
// qualifiers ("[ipv4-addr:value = '1.2.3.4']"): they match or not one
// observation at a time, with MatchObservation. Every other pattern needs
// a window of observations and the general evaluator, Match.
//
// Anchors make indexing possible: a pattern can only match an observation
// in which at least one of its anchors holds. For "[a AND b] OR [c]" they
// are the anchors of the best of a and b, plus those of c. An anchor of
// kind AnchorEqual holds when an object of ObjectType has the value Value
// at Path; AnchorCIDR when the address at Path lies in the block Value;
// AnchorOther only when an object of ObjectType has some value at Path
// (every comparison needs that much). A detection engine keeps a hash map
// from (ObjectType, Path, Value) to compiled patterns for AnchorEqual, a
// CIDR table for AnchorCIDR, and a per-type list for AnchorOther, and
// evaluates only the candidates it finds.
//
// Evaluation here uses engine semantics, which differ from Pattern.Match
// (the reference matcher's verdicts) in two ways: ISSUBSET/ISSUPERSET
// handle IPv6 as well as IPv4, and a value the reference would fail on
// (an unparsable address, a malformed timestamp) simply does not match.

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// AnchorKind says how an Anchor is tested.
type AnchorKind int

// Anchor kinds.
const (
	AnchorEqual AnchorKind = iota
	AnchorCIDR
	AnchorOther
)

func (k AnchorKind) String() string {
	return [...]string{"Equal", "CIDR", "Other"}[k]
}

// Anchor is one indexable condition of a pattern. Path is the object path
// after the colon as printed by ObjectPath.String ("value",
// "hashes.'SHA-256'", "dst_ref.value"). Value is, for AnchorEqual, the
// literal in canonical form: the decoded string for a string literal, the
// decimal for an integer (which also equals the same float), "true" or
// "false" for a boolean; for AnchorCIDR the masked CIDR block
// ("10.0.0.0/8"); empty for AnchorOther. ValueKind is the literal's kind.
type Anchor struct {
	ObjectType string
	Path       string
	Kind       AnchorKind
	Value      string
	ValueKind  LitKind
}

// Compiled is a pattern ready for repeated evaluation; it is safe for
// concurrent use.
type Compiled struct {
	pattern   *Pattern
	stateless bool
	simple    CompExpr
	preds     []predFunc
	byPtr     map[*Comparison]predFunc
	one       [1]predFunc

	anchorsOnce sync.Once
	anchors     []Anchor
}

// Compile prepares p for evaluation. It fails where every evaluation would
// fail: an invalid literal or regular expression, a set mixing types, or a
// WITHIN or REPEATS value below one.
func Compile(p *Pattern) (*Compiled, error) {
	c := &Compiled{pattern: p}
	ev := evaluator{engine: true}
	// Parsed trees number their comparisons; trees built by hand are keyed
	// by pointer.
	if o, ok := p.Root.(*ObsSimple); ok && p.ncomp == 1 {
		if cmp, ok := o.Comparison.(*Comparison); ok && cmp.idx == 0 {
			c.preds = c.one[:]
			if cmp.Op != OpExists {
				c.preds[0] = ev.predicate(cmp)
				if ev.err != nil {
					return nil, fmt.Errorf("pattern: compile %s: %w", cmp, ev.err)
				}
			}
			c.stateless = true
			c.simple = cmp
			return c, nil
		}
	}
	cmps := p.comparisons()
	numbered := len(cmps) == int(p.ncomp)
	for i, cmp := range cmps {
		if int(cmp.idx) != i {
			numbered = false
		}
	}
	if numbered {
		c.preds = make([]predFunc, len(cmps))
	} else {
		c.byPtr = make(map[*Comparison]predFunc, len(cmps))
	}
	for i, cmp := range cmps {
		if cmp.Op == OpExists {
			continue
		}
		pred := ev.predicate(cmp)
		if ev.err != nil {
			return nil, fmt.Errorf("pattern: compile %s: %w", cmp, ev.err)
		}
		if numbered {
			c.preds[i] = pred
		} else {
			c.byPtr[cmp] = pred
		}
	}
	if err := checkQualifiers(p.Root); err != nil {
		return nil, fmt.Errorf("pattern: compile: %w", err)
	}
	if s, ok := p.Root.(*ObsSimple); ok {
		c.stateless = true
		c.simple = s.Comparison
	}
	return c, nil
}

func checkQualifiers(e ObsExpr) error {
	switch e := e.(type) {
	case *ObsGroup:
		return checkQualifiers(e.Inner)
	case *ObsBinary:
		if err := checkQualifiers(e.Left); err != nil {
			return err
		}
		return checkQualifiers(e.Right)
	case *ObsQualified:
		q := e.Qualifier
		switch q.Kind {
		case QualRepeats:
			if q.Value.Err != nil || q.Value.Int < 1 {
				return matchErrf("invalid repetition count %s", q.Value.Text)
			}
		case QualWithin:
			if (q.Value.Kind == LitInt && q.Value.Int <= 0) || (q.Value.Kind == LitFloat && q.Value.Float <= 0) {
				return matchErrf("invalid WITHIN value %s", q.Value.Text)
			}
		case QualStartStop:
			if q.Start.Err != nil || q.Stop.Err != nil {
				return matchErrf("invalid START/STOP timestamp")
			}
		}
		return checkQualifiers(e.Inner)
	}
	return nil
}

// Pattern returns the compiled pattern.
func (c *Compiled) Pattern() *Pattern { return c.pattern }

// Stateless reports whether the pattern is a single bracketed observation
// expression without qualifiers.
func (c *Compiled) Stateless() bool { return c.stateless }

// Anchors returns the pattern's anchors (see the package comment above).
// The slice is shared; do not modify it.
func (c *Compiled) Anchors() []Anchor {
	c.anchorsOnce.Do(func() { c.anchors = obsAnchors(c.pattern.Root) })
	return c.anchors
}

// MatchObservation evaluates a stateless pattern against one observation.
// For a stateful pattern it reports whether the observation matches the
// pattern on its own (as a window of one).
func (c *Compiled) MatchObservation(o *Observation) bool {
	if o.NumberObserved < 1 {
		return false
	}
	if c.stateless {
		return len(c.fastComp(o, c.simple)) > 0
	}
	ev := evaluator{obs: []Observation{*o}, engine: true, v20: c.pattern.v20, preds: c.preds, byPtr: c.byPtr}
	ok, err := ev.run(c.pattern.Root)
	return ok && err == nil
}

// Match evaluates the pattern over a window of observations.
func (c *Compiled) Match(window []Observation) bool {
	ev := &evaluator{obs: window, engine: true, v20: c.pattern.v20, preds: c.preds, byPtr: c.byPtr}
	ok, err := ev.run(c.pattern.Root)
	return ok && err == nil
}

// obsAnchors: an observation-level OR needs either side, so anchors are
// united; AND and FOLLOWEDBY need both sides, so either side's anchors
// suffice and the more selective side is kept.
func obsAnchors(e ObsExpr) []Anchor {
	switch e := e.(type) {
	case *ObsSimple:
		return compAnchors(e.Comparison)
	case *ObsGroup:
		return obsAnchors(e.Inner)
	case *ObsQualified:
		return obsAnchors(e.Inner)
	case *ObsBinary:
		l, r := obsAnchors(e.Left), obsAnchors(e.Right)
		if e.Op == ObsOr {
			return append(append([]Anchor{}, l...), r...)
		}
		return better(l, r)
	}
	return nil
}

func compAnchors(e CompExpr) []Anchor {
	switch e := e.(type) {
	case *CompGroup:
		return compAnchors(e.Inner)
	case *CompBinary:
		l, r := compAnchors(e.Left), compAnchors(e.Right)
		if !e.And {
			return append(append([]Anchor{}, l...), r...)
		}
		return better(l, r)
	case *Comparison:
		return comparisonAnchors(e)
	}
	return nil
}

// better picks the more selective of two anchor sets: fewer AnchorOther
// entries first, then fewer anchors.
func better(a, b []Anchor) []Anchor {
	score := func(s []Anchor) (int, int) {
		o := 0
		for _, x := range s {
			if x.Kind == AnchorOther {
				o++
			}
		}
		return o, len(s)
	}
	ao, al := score(a)
	bo, bl := score(b)
	if bo < ao || (bo == ao && bl < al) {
		return b
	}
	return a
}

func comparisonAnchors(c *Comparison) []Anchor {
	path := c.Path.String()
	path = path[strings.IndexByte(path, ':')+1:]
	other := []Anchor{{ObjectType: c.Path.Type, Path: path, Kind: AnchorOther}}
	if c.Negated || binaryPath(c.Path) {
		return other
	}
	switch c.Op {
	case OpEq:
		if a, ok := equalAnchor(c.Path.Type, path, c.Value); ok {
			return []Anchor{a}
		}
	case OpIn:
		var out []Anchor
		for _, l := range c.Set {
			a, ok := equalAnchor(c.Path.Type, path, l)
			if !ok {
				return other
			}
			out = append(out, a)
		}
		if len(out) > 0 {
			return out
		}
	case OpIsSubset:
		if p, ok := parsePrefix(c.Value.Str); ok {
			return []Anchor{{ObjectType: c.Path.Type, Path: path, Kind: AnchorCIDR, Value: p.Masked().String(), ValueKind: LitString}}
		}
	}
	return other
}

// binaryPath reports paths through _hex/_bin properties, whose values are
// compared as bytes and so cannot be keyed by the literal's text.
func binaryPath(p ObjectPath) bool {
	for _, s := range p.Steps {
		if s.Kind == StepKey && (strings.HasSuffix(s.Key, "_hex") || strings.HasSuffix(s.Key, "_bin")) {
			return true
		}
	}
	return false
}

func equalAnchor(typ, path string, l Literal) (Anchor, bool) {
	if l.Err != nil {
		return Anchor{}, false
	}
	a := Anchor{ObjectType: typ, Path: path, Kind: AnchorEqual, ValueKind: l.Kind}
	switch l.Kind {
	case LitString:
		a.Value = l.Str
	case LitInt:
		if l.big != nil {
			a.Value = l.big.String()
		} else {
			a.Value = strconv.FormatInt(l.Int, 10)
		}
	case LitBool:
		a.Value = strconv.FormatBool(l.Bool)
	default:
		return Anchor{}, false
	}
	return a, true
}

// CanonicalCIDR returns the masked form of an address or CIDR block, as
// used in AnchorCIDR values ("10.1.2.3/8" becomes "10.0.0.0/8", an address
// becomes a /32 or /128).
func CanonicalCIDR(s string) (string, bool) {
	p, ok := parsePrefix(s)
	if !ok {
		return "", false
	}
	return p.Masked().String(), true
}

// fastComp evaluates a comparison expression on one observation and
// returns the ids of the root objects that satisfy it (AND needs the same
// root object on both sides, STIX 2.1 §9.4). It is the stateless fast path
// and allocates only for matches and path steps.
func (c *Compiled) fastComp(o *Observation, e CompExpr) []string {
	switch e := e.(type) {
	case *CompGroup:
		return c.fastComp(o, e.Inner)
	case *CompBinary:
		l := c.fastComp(o, e.Left)
		if e.And && len(l) == 0 {
			return nil
		}
		r := c.fastComp(o, e.Right)
		if e.And {
			var out []string
			for _, id := range l {
				if contains(r, id) {
					out = append(out, id)
				}
			}
			return out
		}
		for _, id := range r {
			if !contains(l, id) {
				l = append(l, id)
			}
		}
		return l
	case *Comparison:
		var pred predFunc
		if c.byPtr != nil {
			pred = c.byPtr[e]
		} else if int(e.idx) < len(c.preds) {
			pred = c.preds[e.idx]
		}
		var out []string
		var buf [1]any
		for i := range o.Objects {
			obj := &o.Objects[i]
			if obj.Type != e.Path.Type || (!c.pattern.v20 && sdoTypes[obj.Type]) {
				continue
			}
			buf[0] = obj.Props
			vals, ok := fastPath(o, buf[:], e.Path.Steps)
			if !ok || len(vals) == 0 {
				continue
			}
			if e.Op == OpExists {
				// As in the reference matcher, which has no NOT EXISTS:
				// the negation is ignored.
				out = append(out, obj.ID)
				continue
			}
			for _, v := range vals {
				if m, err := pred(v); err == nil && m {
					out = append(out, obj.ID)
					break
				}
			}
		}
		return out
	}
	return nil
}

// fastPath applies path steps to the values of one root object; ok is
// false where the reference would fail (engine semantics: no match).
func fastPath(o *Observation, vals []any, steps []Step) ([]any, bool) {
	for _, st := range steps {
		var next []any
		for _, v := range vals {
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
					return nil, false
				}
				switch {
				case strings.HasSuffix(st.Key, "_ref"):
					r, ok := x.(string)
					if !ok {
						return nil, false
					}
					next = append(next, o.lookup(r)...)
				case strings.HasSuffix(st.Key, "_refs"):
					l, ok := x.([]any)
					if !ok {
						return nil, false
					}
					var objs []any
					for _, r := range l {
						rs, ok := r.(string)
						if !ok {
							return nil, false
						}
						objs = append(objs, o.lookup(rs)...)
					}
					if len(objs) > 0 {
						next = append(next, objs)
					}
				default:
					next = append(next, x)
				}
			case StepIndex:
				if l, ok := v.([]any); ok && st.Index >= 0 && st.Index < int64(len(l)) {
					next = append(next, l[st.Index])
				}
			case StepStar:
				if l, ok := v.([]any); ok {
					next = append(next, l...)
				}
			}
		}
		if len(next) == 0 {
			return nil, true
		}
		vals = next
	}
	return vals, true
}
