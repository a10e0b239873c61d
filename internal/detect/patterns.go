package detect

import (
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/jointcell/jointcell/internal/pattern"
)

// CompilePattern is the Compiler over internal/pattern: it parses the
// pattern, derives its anchors from the syntax tree, and evaluates with the
// pattern package's matcher (the reference semantics of stix2-matcher).
func CompilePattern(s string) (Pattern, error) {
	p, err := pattern.Parse(s)
	if err != nil {
		return nil, err
	}
	if err := pattern.Validate(s); err != nil {
		return nil, err
	}
	c := &compiled{p: p}
	c.anchors = obsAnchors(p.Root)
	c.stateless = isStateless(p.Root)
	c.exact = isExact(p.Root)
	c.window = maxWithin(p.Root)
	return c, nil
}

type compiled struct {
	p         *pattern.Pattern
	anchors   []Anchor
	stateless bool
	exact     bool
	window    time.Duration
}

var _ Pattern = (*compiled)(nil)

func (c *compiled) Anchors() []Anchor     { return c.anchors }
func (c *compiled) Exact() bool           { return c.exact && len(c.anchors) == 1 }
func (c *compiled) Stateless() bool       { return c.stateless }
func (c *compiled) Window() time.Duration { return c.window }
func (c *compiled) MatchEvent(ev *Event) bool {
	ok, err := c.p.Match([]pattern.Observation{ev.Observation()})
	return ok && err == nil
}
func (c *compiled) MatchWindow(obs []pattern.Observation) bool {
	ok, err := c.p.Match(obs)
	return ok && err == nil
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

// isExact: the whole pattern is one string equality on a property path of
// plain keys, so an equality hit in the index is the evaluation.
func isExact(e pattern.ObsExpr) bool {
	s, ok := unwrapObs(e).(*pattern.ObsSimple)
	if !ok {
		return false
	}
	c, ok := unwrapComp(s.Comparison).(*pattern.Comparison)
	if !ok || c.Op != pattern.OpEq || c.Negated || c.Value.Kind != pattern.LitString || c.Value.Err != nil {
		return false
	}
	for _, st := range c.Path.Steps {
		if st.Kind != pattern.StepKey || strings.HasSuffix(st.Key, "_ref") || strings.HasSuffix(st.Key, "_refs") {
			return false
		}
	}
	return true
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

// obsAnchors returns anchors such that any observation taking part in a
// match holds one of them: for a single observation expression those of
// its comparison expression; for AND, OR and FOLLOWEDBY of observation
// expressions the union (every observation bound by the match satisfies
// one of the operands). nil means not indexable.
func obsAnchors(e pattern.ObsExpr) []Anchor {
	switch e := e.(type) {
	case *pattern.ObsGroup:
		return obsAnchors(e.Inner)
	case *pattern.ObsQualified:
		return obsAnchors(e.Inner)
	case *pattern.ObsSimple:
		return compAnchors(e.Comparison)
	case *pattern.ObsBinary:
		l, r := obsAnchors(e.Left), obsAnchors(e.Right)
		if l == nil || r == nil {
			return nil
		}
		return append(append([]Anchor{}, l...), r...)
	}
	return nil
}

// compAnchors: a conjunction needs only one anchored side (prefer the one
// with fewer, equality anchors); a disjunction needs both.
func compAnchors(e pattern.CompExpr) []Anchor {
	switch e := e.(type) {
	case *pattern.CompGroup:
		return compAnchors(e.Inner)
	case *pattern.CompBinary:
		l, r := compAnchors(e.Left), compAnchors(e.Right)
		if e.And {
			switch {
			case l == nil:
				return r
			case r == nil:
				return l
			case anchorCost(r) < anchorCost(l):
				return r
			}
			return l
		}
		if l == nil || r == nil {
			return nil
		}
		return append(append([]Anchor{}, l...), r...)
	case *pattern.Comparison:
		return comparisonAnchors(e)
	}
	return nil
}

func anchorCost(as []Anchor) int {
	n := 0
	for _, a := range as {
		n += 2
		if a.Kind == AnchorCIDR {
			n++
		}
	}
	return n
}

// comparisonAnchors: equality with a string or integer literal, IN with
// such literals, and ISSUBSET with a CIDR string literal (STIX 2.1 §9.4).
// Anything negated or any other operator is not indexable.
func comparisonAnchors(c *pattern.Comparison) []Anchor {
	if c.Negated {
		return nil
	}
	path, ok := anchorPath(c.Path)
	if !ok {
		return nil
	}
	lit := func(l pattern.Literal) (string, bool) {
		if l.Err != nil {
			return "", false
		}
		switch l.Kind {
		case pattern.LitString:
			return l.Str, true
		case pattern.LitInt:
			return strconv.FormatInt(l.Int, 10), true
		}
		return "", false
	}
	switch c.Op {
	case pattern.OpEq:
		v, ok := lit(c.Value)
		if !ok {
			return nil
		}
		return []Anchor{{ObjectType: c.Path.Type, Path: path, Kind: AnchorEqual, Value: v}}
	case pattern.OpIn:
		if len(c.Set) == 0 {
			return nil
		}
		out := make([]Anchor, 0, len(c.Set))
		for _, l := range c.Set {
			v, ok := lit(l)
			if !ok {
				return nil
			}
			out = append(out, Anchor{ObjectType: c.Path.Type, Path: path, Kind: AnchorEqual, Value: v})
		}
		return out
	case pattern.OpIsSubset:
		if c.Value.Kind != pattern.LitString || c.Value.Err != nil {
			return nil
		}
		p, err := netip.ParsePrefix(c.Value.Str)
		if err != nil {
			a, err2 := netip.ParseAddr(c.Value.Str)
			if err2 != nil {
				return nil
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		return []Anchor{{ObjectType: c.Path.Type, Path: path, Kind: AnchorCIDR, Value: p.Masked().String()}}
	}
	return nil
}

// anchorPath writes an object path the way event atoms are keyed; paths
// with list indexes other than [*] are not indexable.
func anchorPath(p pattern.ObjectPath) (string, bool) {
	var b strings.Builder
	for i, st := range p.Steps {
		switch st.Kind {
		case pattern.StepKey:
			if i > 0 {
				b.WriteByte('.')
			}
			b.WriteString(pathKey(st.Key))
		case pattern.StepStar:
			b.WriteString("[*]")
		default:
			return "", false
		}
	}
	return b.String(), b.Len() > 0
}
