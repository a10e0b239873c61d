package pattern

import (
	"errors"
	"fmt"
	"strings"
)

// ValidationError is a pattern that parses but that the reference
// validator (stix2-patterns, STIX 2.1 mode) rejects.
type ValidationError struct {
	Msg string
}

func (e *ValidationError) Error() string { return e.Msg }

// Validate reports whether s is a valid STIX 2.1 pattern with the verdict
// of the reference validator: the grammar, the leading-bracket check, the
// hash value formats for hashes.<algorithm> comparisons, and at most one
// qualifier of each type directly on a bracketed observation (STIX 2.1
// §9.7). It returns nil, a *SyntaxError or a *ValidationError.
func Validate(s string) error {
	errs := validate(s)
	if len(errs) == 0 {
		return nil
	}
	return errs[0]
}

// ValidateMessages returns the validator's messages for s in the reference
// tool's wording ("FAIL: Error found at line 1:13. ..."); empty means
// valid.
func ValidateMessages(s string) []string {
	errs := validate(s)
	out := make([]string, len(errs))
	for i, e := range errs {
		var se *SyntaxError
		if errors.As(e, &se) {
			out[i] = fmt.Sprintf("FAIL: Error found at line %d:%d. %s", se.Line, se.Column, se.Msg)
		} else {
			out[i] = "FAIL: " + e.Error()
		}
	}
	return out
}

func validate(s string) []error {
	var errs []error
	if !bracketsCheck(s) {
		errs = append(errs, &SyntaxError{Line: 1, Column: 0, Msg: "input is missing square brackets"})
	}
	p, err := Parse(s)
	if err != nil {
		return append(errs, err)
	}
	// The reference validator crashes (and so rejects the pattern) on a
	// negative index and on a list index directly after "hashes";
	// report those instead.
	if msg := indexCrash(p); msg != "" {
		return append(errs, &ValidationError{Msg: msg})
	}
	if q, ok := duplicateQualifier(p.Root); ok {
		errs = append(errs, &ValidationError{Msg: "Duplicate qualifier type encountered: " + q})
	}
	return append(errs, hashErrors(p)...)
}

// bracketsCheck is the reference's "input is missing square brackets"
// test: after any opening parentheses and whitespace, the first character
// must be '['. Comments are not skipped here, exactly as in the reference.
func bracketsCheck(s string) bool {
	for _, r := range s {
		if pyIsSpace(r) || r == '(' {
			continue
		}
		return r == '['
	}
	return false
}

// comparisons returns every comparison of the pattern in source order.
func (p *Pattern) comparisons() []*Comparison {
	var out []*Comparison
	var obs func(ObsExpr)
	var comp func(CompExpr)
	comp = func(e CompExpr) {
		switch e := e.(type) {
		case *CompBinary:
			comp(e.Left)
			comp(e.Right)
		case *CompGroup:
			comp(e.Inner)
		case *Comparison:
			out = append(out, e)
		}
	}
	obs = func(e ObsExpr) {
		switch e := e.(type) {
		case *ObsSimple:
			comp(e.Comparison)
		case *ObsGroup:
			obs(e.Inner)
		case *ObsBinary:
			obs(e.Left)
			obs(e.Right)
		case *ObsQualified:
			obs(e.Inner)
		}
	}
	obs(p.Root)
	return out
}

func indexCrash(p *Pattern) string {
	for _, c := range p.comparisons() {
		for _, s := range c.Path.Steps {
			if s.Kind == StepIndex && s.Index < 0 {
				return fmt.Sprintf("negative list index in %s is not supported", c.Path)
			}
		}
		if c.Op == OpExists {
			continue
		}
		last := c.Path.Steps[len(c.Path.Steps)-1]
		if last.Kind == StepIndex && hasHashesStep(c.Path) {
			return fmt.Sprintf("list index as hash algorithm in %s is not supported", c.Path)
		}
	}
	return ""
}

func hasHashesStep(p ObjectPath) bool {
	for _, s := range p.Steps {
		if s.Kind == StepKey && s.Key == "hashes" {
			return true
		}
	}
	return false
}

// duplicateQualifier finds, in the reference's traversal order, a chain of
// qualifiers applied directly to a bracketed observation that repeats a
// qualifier type. Qualifiers on a parenthesised group are not checked,
// following the reference validator.
func duplicateQualifier(e ObsExpr) (string, bool) {
	switch e := e.(type) {
	case *ObsGroup:
		return duplicateQualifier(e.Inner)
	case *ObsBinary:
		if q, ok := duplicateQualifier(e.Left); ok {
			return q, true
		}
		return duplicateQualifier(e.Right)
	case *ObsQualified:
		var chain []QualKind
		base := ObsExpr(e)
		for {
			q, ok := base.(*ObsQualified)
			if !ok {
				break
			}
			chain = append(chain, q.Qualifier.Kind)
			base = q.Inner
		}
		if q, ok := duplicateQualifier(base); ok {
			return q, true
		}
		if _, simple := base.(*ObsSimple); !simple {
			return "", false
		}
		seen := map[QualKind]bool{}
		for i := len(chain) - 1; i >= 0; i-- {
			if seen[chain[i]] {
				return [...]string{"WITHIN", "REPEATS", "STARTSTOP"}[chain[i]], true
			}
			seen[chain[i]] = true
		}
	}
	return "", false
}

// hashErrors checks values compared with hashes.<algorithm> against the
// algorithm's format, as the reference validator does for every operator
// (on the literal's source text with quotes removed).
func hashErrors(p *Pattern) []error {
	type item struct {
		sel, val string
	}
	var order []string
	byType := map[string][]item{}
	for _, c := range p.comparisons() {
		if c.Op == OpExists {
			continue
		}
		if _, ok := byType[c.Path.Type]; !ok {
			order = append(order, c.Path.Type)
		}
		text := c.Value.Text
		if c.Op == OpIn {
			parts := make([]string, len(c.Set))
			for i, l := range c.Set {
				parts[i] = l.Text
			}
			text = "(" + strings.Join(parts, ",") + ")"
		}
		byType[c.Path.Type] = append(byType[c.Path.Type], item{})
		last := c.Path.Steps[len(c.Path.Steps)-1]
		if !hasHashesStep(c.Path) || last.Kind != StepKey {
			continue
		}
		byType[c.Path.Type][len(byType[c.Path.Type])-1] = item{sel: last.Key, val: strings.ReplaceAll(text, "'", "")}
	}
	var errs []error
	for _, t := range order {
		for _, it := range byType[t] {
			if it.sel == "" && it.val == "" {
				continue
			}
			algo := strings.ReplaceAll(strings.ReplaceAll(strings.ToUpper(it.sel), "-", ""), "'", "")
			check, ok := hashFormats[algo]
			if ok && !check(it.val) {
				errs = append(errs, &ValidationError{Msg: fmt.Sprintf("'%s' is not a valid %s hash", it.val, it.sel)})
			}
		}
	}
	return errs
}

// hexPrefix reports whether s starts with n hex digits followed by the end
// of the string or a final newline (Python's re.match with "$").
func hexExactly(n int) func(string) bool {
	return func(s string) bool {
		if len(s) != n && !(len(s) == n+1 && s[n] == '\n') {
			return false
		}
		for i := 0; i < n; i++ {
			if hexVal(s[i]) < 0 {
				return false
			}
		}
		return true
	}
}

func hexStart(s string, n int) bool {
	if len(s) < n {
		return false
	}
	for i := 0; i < n; i++ {
		if hexVal(s[i]) < 0 {
			return false
		}
	}
	return true
}

// hashFormats mirrors the reference validator's table. Its MD6 expression
// lacks grouping, so "^A|B|...|F$" accepts any value that starts with 32
// hex digits; that is reproduced.
var hashFormats = map[string]func(string) bool{
	"MD5":       hexExactly(32),
	"RIPEMD160": hexExactly(40),
	"SHA1":      hexExactly(40),
	"SHA224":    hexExactly(56),
	"SHA256":    hexExactly(64),
	"SHA384":    hexExactly(96),
	"SHA512":    hexExactly(128),
	"SHA3224":   hexExactly(56),
	"SHA3256":   hexExactly(64),
	"SHA3384":   hexExactly(96),
	"SHA3512":   hexExactly(128),
	"WHIRLPOOL": hexExactly(128),
	"MD6": func(s string) bool {
		return hexStart(s, 32) || (strings.HasPrefix(s, "\n    ") && hexStart(s[5:], 64))
	},
	"SSDEEP": func(s string) bool {
		t := strings.TrimSuffix(s, "\n")
		if len(t) < 1 || len(t) > 128 {
			return false
		}
		for i := 0; i < len(t); i++ {
			c := t[i]
			if !(isIdentPart(rune(c)) && c != '_' || c == '/' || c == '+' || c == ':' || c == '.') {
				return false
			}
		}
		return true
	},
}
