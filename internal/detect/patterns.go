package detect

import (
	"net/netip"
	"strings"
	"time"

	"github.com/jointcell/jointcell/internal/pattern"
)

// CompilePattern is the Compiler over internal/pattern. It parses the
// pattern once. The commonest shape, one string equality or ISSUBSET on a
// path of plain keys ([ipv4-addr:value = '198.51.100.7']), is recognised on
// the syntax tree and returned as its single anchor without compiling: the
// index hit is its evaluation. Everything else is compiled with
// pattern.Compile, whose anchors the index uses, and evaluated with the
// compiled pattern (the engine semantics of the pattern package).
func CompilePattern(s string) (Pattern, error) {
	p, err := pattern.Parse(s)
	if err != nil {
		return nil, err
	}
	if a, ok := exactAnchor(p.Root); ok {
		return &exactPattern{a: a, p: p}, nil
	}
	c, err := pattern.Compile(p)
	if err != nil {
		return nil, err
	}
	cp := &compiled{c: c, stateless: isStateless(p.Root)}
	if cp.stateless {
		cp.anchors = fromPatternAnchors(nil, c.Anchors())
	} else {
		cp.window = maxWithin(p.Root)
		if cp.anchors, err = operandAnchors(nil, p.Root); err != nil {
			return nil, err
		}
	}
	return cp, nil
}

// compiled is a pattern kept whole: index hits are confirmed by its
// evaluation.
type compiled struct {
	c         *pattern.Compiled
	anchors   []Anchor
	stateless bool
	window    time.Duration
}

var _ Pattern = (*compiled)(nil)

func (c *compiled) Anchors() []Anchor     { return c.anchors }
func (c *compiled) Exact() bool           { return false }
func (c *compiled) Stateless() bool       { return c.stateless }
func (c *compiled) Window() time.Duration { return c.window }
func (c *compiled) MatchObservation(o *pattern.Observation) bool {
	return c.c.MatchObservation(o)
}
func (c *compiled) MatchWindow(obs []pattern.Observation) bool { return c.c.Match(obs) }

// exactPattern is a pattern that is exactly its one anchor. The index keeps
// only the anchor; the parsed pattern is here for MatchObservation, which
// the index never calls.
type exactPattern struct {
	a Anchor
	p *pattern.Pattern
}

var _ Pattern = (*exactPattern)(nil)

func (e *exactPattern) Anchors() []Anchor     { return []Anchor{e.a} }
func (e *exactPattern) Exact() bool           { return true }
func (e *exactPattern) Stateless() bool       { return true }
func (e *exactPattern) Window() time.Duration { return 0 }
func (e *exactPattern) MatchObservation(o *pattern.Observation) bool {
	c, err := pattern.Compile(e.p)
	return err == nil && c.MatchObservation(o)
}
func (e *exactPattern) MatchWindow(obs []pattern.Observation) bool {
	c, err := pattern.Compile(e.p)
	return err == nil && c.Match(obs)
}

func unwrapObs(e pattern.ObsExpr) pattern.ObsExpr {
	for {
		g, ok := e.(*pattern.ObsGroup)
		if !ok {
			return e
		}
		e = g.Inner
	}
}

func unwrapComp(e pattern.CompExpr) pattern.CompExpr {
	for {
		g, ok := e.(*pattern.CompGroup)
		if !ok {
			return e
		}
		e = g.Inner
	}
}

// exactAnchor recognises a pattern that is one comparison, not negated,
// either "= 'string'" or "ISSUBSET 'cidr'", on a path of plain keys (no
// list step, no reference, no _hex/_bin binary property, not the type
// property): an observation matches it exactly when one of its objects of
// that type has a string property at that path equal to the literal (or an
// address in the block), which is what an index hit on the anchor means.
// It agrees with the anchor pattern.Compile derives (tested).
func exactAnchor(root pattern.ObsExpr) (Anchor, bool) {
	s, ok := unwrapObs(root).(*pattern.ObsSimple)
	if !ok {
		return Anchor{}, false
	}
	c, ok := unwrapComp(s.Comparison).(*pattern.Comparison)
	if !ok || c.Negated || c.Value.Kind != pattern.LitString || c.Value.Err != nil {
		return Anchor{}, false
	}
	keys := make([]string, 0, len(c.Path.Steps))
	for i, st := range c.Path.Steps {
		if st.Kind != pattern.StepKey || strings.HasSuffix(st.Key, "_ref") || strings.HasSuffix(st.Key, "_refs") ||
			strings.HasSuffix(st.Key, "_hex") || strings.HasSuffix(st.Key, "_bin") || (i == 0 && st.Key == "type") ||
			strings.ContainsAny(st.Key, `[]'\`) {
			return Anchor{}, false
		}
		keys = append(keys, st.Key)
	}
	if len(keys) == 0 || c.Path.Type == "" {
		return Anchor{}, false
	}
	a := Anchor{ObjectType: c.Path.Type, Path: joinPath(keys)}
	switch c.Op {
	case pattern.OpEq:
		a.Kind, a.Value = AnchorEqual, c.Value.Str
	case pattern.OpIsSubset:
		v, ok := pattern.CanonicalCIDR(c.Value.Str)
		if !ok {
			return Anchor{}, false
		}
		a.Kind, a.Value = AnchorCIDR, v
	default:
		return Anchor{}, false
	}
	return a, true
}

// isStateless: one observation expression, or ORs of them, without
// qualifiers: a single observation decides it (STIX 2.1 §9.5: OR of
// observation expressions matches when either does). AND and FOLLOWEDBY
// bind distinct observations, so they need a window.
func isStateless(e pattern.ObsExpr) bool {
	switch e := unwrapObs(e).(type) {
	case *pattern.ObsSimple:
		return true
	case *pattern.ObsBinary:
		return e.Op == pattern.ObsOr && isStateless(e.Left) && isStateless(e.Right)
	}
	return false
}

func maxWithin(e pattern.ObsExpr) time.Duration {
	switch e := e.(type) {
	case *pattern.ObsGroup:
		return maxWithin(e.Inner)
	case *pattern.ObsBinary:
		return max(maxWithin(e.Left), maxWithin(e.Right))
	case *pattern.ObsQualified:
		d := maxWithin(e.Inner)
		if e.Qualifier.Kind == pattern.QualWithin {
			v := e.Qualifier.Value
			secs := float64(v.Int)
			if v.Kind == pattern.LitFloat {
				secs = v.Float
			}
			if w := time.Duration(secs * float64(time.Second)); w > d {
				d = w
			}
		}
		return d
	}
	return 0
}

// operandAnchors returns, for a stateful pattern, the union of the anchors
// of every bracketed observation expression in it, each as pattern.Compile
// derives them. The window of a stateful pattern must receive every
// observation that could take part in a match, and each such observation
// satisfies one of the operands; pattern.Compile's anchors of the whole
// pattern keep only the more selective side of an AND or FOLLOWEDBY, which
// is enough to trigger an evaluation but not to fill a window.
func operandAnchors(out []Anchor, e pattern.ObsExpr) ([]Anchor, error) {
	switch e := e.(type) {
	case *pattern.ObsGroup:
		return operandAnchors(out, e.Inner)
	case *pattern.ObsQualified:
		return operandAnchors(out, e.Inner)
	case *pattern.ObsBinary:
		out, err := operandAnchors(out, e.Left)
		if err != nil {
			return nil, err
		}
		return operandAnchors(out, e.Right)
	case *pattern.ObsSimple:
		c, err := pattern.Compile(&pattern.Pattern{Root: e})
		if err != nil {
			return nil, err
		}
		return fromPatternAnchors(out, c.Anchors()), nil
	}
	return out, nil
}

// fromPatternAnchors converts pattern.Compile's anchors: equality and CIDR
// anchors as they are, AnchorOther (some value at the path) as a type
// anchor, which is implied by it.
func fromPatternAnchors(out []Anchor, as []pattern.Anchor) []Anchor {
	for _, a := range as {
		x := Anchor{ObjectType: a.ObjectType, Path: a.Path, Value: a.Value}
		switch a.Kind {
		case pattern.AnchorEqual:
			x.Kind = AnchorEqual
		case pattern.AnchorCIDR:
			x.Kind = AnchorCIDR
		default:
			x.Kind, x.Path, x.Value = AnchorType, "", ""
		}
		out = append(out, x)
	}
	return out
}

// canonicalAnchor rewrites an anchor's path in the one spelling the event
// atoms use, and turns what Match cannot produce atoms for (list indexes
// other than [*], more than one reference hop, escaped quotes in keys, the
// type property) into a type anchor, which every comparison on that type
// implies, so that such patterns are evaluated more often, never missed.
func canonicalAnchor(a Anchor) Anchor {
	typeOnly := Anchor{ObjectType: a.ObjectType, Kind: AnchorType}
	if a.Kind == AnchorType {
		return typeOnly
	}
	if a.Path == "" || strings.IndexByte(a.Path, '\\') >= 0 {
		return typeOnly
	}
	keys := splitPath(a.Path)
	if len(keys) == 0 || keys[0] == "type" {
		return typeOnly
	}
	refs := 0
	for i, k := range keys {
		if refs > 0 && strings.Contains(k, "[") {
			return typeOnly // a list on the referenced object
		}
		if strings.ContainsAny(k, "[]") && !strings.HasSuffix(k, "[*]") {
			return typeOnly
		}
		if strings.Count(k, "[") > 1 {
			return typeOnly
		}
		base := strings.TrimSuffix(k, "[*]")
		if strings.HasSuffix(base, "_ref") || strings.HasSuffix(base, "_refs") {
			if i == len(keys)-1 {
				return typeOnly // a reference compared as a value
			}
			if strings.HasSuffix(base, "_refs") != strings.HasSuffix(k, "[*]") {
				return typeOnly
			}
			refs++
		} else if strings.HasSuffix(k, "[*]") && i != len(keys)-1 {
			return typeOnly // a list of dictionaries
		}
	}
	if refs > 1 {
		return typeOnly
	}
	a.Path = joinPath(keys)
	switch a.Kind {
	case AnchorEqual:
		return a
	case AnchorCIDR:
		p, err := netip.ParsePrefix(a.Value)
		if err != nil {
			return typeOnly
		}
		a.Value = p.Masked().String()
		return a
	}
	return typeOnly
}
