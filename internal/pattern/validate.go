package pattern

import (
	"hash/maphash"
	"strings"
	"sync/atomic"
)

// ValidationError is a pattern that parses but that the reference
// validator (stix2-patterns) rejects.
type ValidationError struct {
	Msg string
}

func (e *ValidationError) Error() string { return e.Msg }

// CrashError is a pattern on which the reference validator crashes
// instead of answering: its inspector fails on a negative list index
// ("file:x[-1]") and on a list index right after "hashes". Validate treats
// it as invalid; the validate command stops as the reference tool does.
type CrashError struct {
	Msg string
}

func (e *CrashError) Error() string { return e.Msg }

const missingBrackets = "input is missing square brackets"

// Validate reports whether s is a valid STIX 2.1 pattern with the verdict
// of the reference validator (stix2-patterns, STIX 2.1): the grammar, the
// leading-bracket check, the hash value formats for hashes.<algorithm>
// comparisons, and at most one qualifier of each type directly on a
// bracketed observation (STIX 2.1 §9.7). It returns nil, a *SyntaxError,
// a *ValidationError or a *CrashError.
//
// A pattern that was just returned by Parse is not parsed again.
func Validate(s string) error {
	if p := cachedParse(s); p != nil && !p.v20 {
		return p.Validate()
	}
	_, err := ParseAndValidate(s)
	return err
}

// ParseAndValidate parses s with the STIX 2.1 grammar and validates it as
// Validate does, returning the tree when the pattern is valid.
func ParseAndValidate(s string) (*Pattern, error) {
	p, err := Parse(s)
	if err != nil {
		if !bracketsCheck(s) {
			return nil, &SyntaxError{Line: 1, Column: 0, Msg: missingBrackets}
		}
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return p, nil
}

// Validate applies the reference validator's checks beyond the grammar to
// a parsed pattern (see the package function Validate), with the rules of
// the STIX version it was parsed for.
func (p *Pattern) Validate() error {
	if msg := indexCrash(p); msg != "" {
		return &CrashError{Msg: msg}
	}
	if !bracketsCheck(p.Source) {
		return &SyntaxError{Line: 1, Column: 0, Msg: missingBrackets}
	}
	if !p.v20 {
		if q, ok := duplicateQualifier(p.Root); ok {
			return &ValidationError{Msg: "Duplicate qualifier type encountered: " + q}
		}
	}
	if errs := hashErrors(p, true); len(errs) > 0 {
		return errs[0]
	}
	return nil
}

// ValidateMessages returns the validator's messages for s (STIX 2.1) in
// the reference tool's wording ("FAIL: Error found at line 1:13. ...");
// empty means valid. A pattern on which the reference crashes gets one
// message describing the crash.
func ValidateMessages(s string) []string {
	msgs, crash := ValidateReport(s, Version21)
	if crash != "" {
		return []string{"FAIL: " + crash}
	}
	return msgs
}

// ValidateReport validates s for STIX version "2.1" or "2.0" the way the
// reference validator's validate() does and returns its messages, in its
// order: the missing-brackets message, then either every syntax error
// ANTLR reports or the duplicate-qualifier message (2.1) followed by the
// hash format messages. When the reference would crash instead, crash
// describes why and msgs is nil.
func ValidateReport(s, version string) (msgs []string, crash string) {
	return validateReport(s, version, nil)
}

// A ValidationSession validates patterns one after the other the way one
// run of the reference validator does (its -f FILE or standard input
// loop). The ANTLR runtime it uses keeps state from one pattern to the
// next: when the set literal's loop reports an unwanted token, it adds
// its error recovery set to the cached expected set of that loop state, so
// later errors there are reported (and recovered from) against the larger
// set. A session reproduces that; its zero value is a fresh run.
type ValidationSession struct {
	setLoop [2]tokSet // by version: 2.1, 2.0
}

// Report is ValidateReport within the session.
func (vs *ValidationSession) Report(s, version string) (msgs []string, crash string) {
	i := 0
	if version == Version20 {
		i = 1
	}
	return validateReport(s, version, &vs.setLoop[i])
}

func validateReport(s, version string, setLoop *tokSet) (msgs []string, crash string) {
	v20 := version == Version20
	var p *Pattern
	var err error
	if c := cachedParse(s); c != nil && c.v20 == v20 {
		p = c
	} else {
		p, err = parseVersion(s, v20)
	}
	if err != nil {
		se, ok := err.(*SyntaxError)
		var errs []*SyntaxError
		if ok && strings.HasPrefix(se.Msg, "nesting deeper") || len(s) > MaxPatternLen {
			errs = []*SyntaxError{se}
		} else {
			errs = antlrErrorsIn(s, v20, setLoop)
		}
		for _, e := range errs {
			msgs = append(msgs, "FAIL: Error found at line "+itoa(int64(e.Line))+":"+itoa(int64(e.Column))+". "+e.Msg)
		}
	} else {
		if msg := indexCrash(p); msg != "" {
			return nil, msg
		}
		if !v20 {
			if q, ok := duplicateQualifier(p.Root); ok {
				msgs = append(msgs, "FAIL: Duplicate qualifier type encountered: "+q)
			}
		}
		for _, e := range hashErrors(p, false) {
			msgs = append(msgs, "FAIL: "+e.Error())
		}
	}
	if !bracketsCheck(s) {
		msgs = append([]string{"FAIL: Error found at line 1:0. " + missingBrackets}, msgs...)
	}
	return msgs, ""
}

// bracketsCheck is the reference's "input is missing square brackets"
// test: after whitespace and any opening parentheses, the first character
// must be '['. Comments are not skipped here, exactly as in the reference.
func bracketsCheck(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '[':
			return true
		case c == '(' || c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f):
			continue
		case c < 0x80:
			return false
		}
		for _, r := range s[i:] {
			if pyIsSpace(r) || r == '(' {
				continue
			}
			return r == '['
		}
		return false
	}
	return false
}

// forEachComparison calls f for every comparison, in source order.
func forEachComparison(e ObsExpr, f func(*Comparison)) {
	var comp func(CompExpr)
	comp = func(e CompExpr) {
		switch e := e.(type) {
		case *CompBinary:
			comp(e.Left)
			comp(e.Right)
		case *CompGroup:
			comp(e.Inner)
		case *Comparison:
			f(e)
		}
	}
	var obs func(ObsExpr)
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
	obs(e)
}

// comparisons returns every comparison of the pattern in source order.
func (p *Pattern) comparisons() []*Comparison {
	out := make([]*Comparison, 0, p.ncomp)
	forEachComparison(p.Root, func(c *Comparison) { out = append(out, c) })
	return out
}

// indexCrash finds what crashes the reference validator's inspector: a
// negative list index anywhere, or a list index as the last step of a
// compared path that goes through "hashes".
func indexCrash(p *Pattern) string {
	if o, ok := p.Root.(*ObsSimple); ok {
		if c, ok := o.Comparison.(*Comparison); ok {
			return comparisonCrash(c)
		}
	}
	msg := ""
	forEachComparison(p.Root, func(c *Comparison) {
		if msg == "" {
			msg = comparisonCrash(c)
		}
	})
	return msg
}

func comparisonCrash(c *Comparison) string {
	steps := c.Path.Steps
	for _, s := range steps {
		if s.Kind == StepIndex && s.Index < 0 {
			return "the reference validator crashes on the negative list index in " + c.Path.String()
		}
	}
	if c.Op != OpExists && steps[len(steps)-1].Kind == StepIndex && hasHashesStep(c.Path) {
		return "the reference validator crashes on the list index after hashes in " + c.Path.String()
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
		var kinds [3]int
		var chain [8]QualKind
		n := 0
		base := ObsExpr(e)
		for {
			q, ok := base.(*ObsQualified)
			if !ok {
				break
			}
			if n < len(chain) {
				chain[n] = q.Qualifier.Kind
			}
			n++
			base = q.Inner
		}
		if q, ok := duplicateQualifier(base); ok {
			return q, true
		}
		if _, simple := base.(*ObsSimple); !simple {
			return "", false
		}
		if n > len(chain) {
			// More than 8 qualifiers on one observation: some kind
			// repeats; find the first repeat in evaluation order.
			var list []QualKind
			for b := ObsExpr(e); ; {
				q, ok := b.(*ObsQualified)
				if !ok {
					break
				}
				list = append(list, q.Qualifier.Kind)
				b = q.Inner
			}
			for i := len(list) - 1; i >= 0; i-- {
				kinds[list[i]]++
				if kinds[list[i]] > 1 {
					return qualNames[list[i]], true
				}
			}
		}
		for i := n - 1; i >= 0; i-- {
			kinds[chain[i]]++
			if kinds[chain[i]] > 1 {
				return qualNames[chain[i]], true
			}
		}
	}
	return "", false
}

var qualNames = [...]string{"WITHIN", "REPEATS", "STARTSTOP"}

// hashErrors checks values compared with hashes.<algorithm> against the
// algorithm's format, as the reference validator does for every operator
// but EXISTS, on the literal's source text with quotes removed. Errors
// come in the reference's order: grouped by object type in order of first
// appearance. With first set it stops at the first error.
func hashErrors(p *Pattern, first bool) []error {
	var errs []error
	var types []string
	check := func(c *Comparison) {
		if c.Op == OpExists || !hasHashesStep(c.Path) {
			return
		}
		last := c.Path.Steps[len(c.Path.Steps)-1]
		if last.Kind != StepKey {
			return
		}
		checkFn := hashCheck(last.Key)
		if checkFn == nil {
			return
		}
		val := comparisonValueText(c)
		if !checkFn(val) {
			errs = append(errs, &ValidationError{Msg: "'" + val + "' is not a valid " + last.Key + " hash"})
		}
	}
	// Fast path: one comparison.
	if o, ok := p.Root.(*ObsSimple); ok {
		if c, ok := o.Comparison.(*Comparison); ok {
			check(c)
			return errs
		}
	}
	forEachComparison(p.Root, func(c *Comparison) {
		if c.Op == OpExists {
			return // the reference's inspector does not record EXISTS
		}
		for _, t := range types {
			if t == c.Path.Type {
				return
			}
		}
		types = append(types, c.Path.Type)
	})
	for _, t := range types {
		forEachComparison(p.Root, func(c *Comparison) {
			if c.Path.Type == t && (!first || len(errs) == 0) {
				check(c)
			}
		})
	}
	return errs
}

// hashCheck returns the format check for a hash selector, found the way
// the reference does: selector.upper().replace('-', ”).replace("'", "")
// looked up in its table. Nil means no check.
func hashCheck(sel string) func(string) bool {
	var buf [16]byte
	n := 0
	for i := 0; i < len(sel); i++ {
		c := sel[i]
		if c >= 0x80 {
			u := pyUpper(sel)
			u = strings.ReplaceAll(strings.ReplaceAll(u, "-", ""), "'", "")
			return hashFormats[u]
		}
		if c == '-' || c == '\'' {
			continue
		}
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		if n == len(buf) {
			return nil
		}
		buf[n] = c
		n++
	}
	return hashFormats[string(buf[:n])]
}

// comparisonValueText is the literal's source text with the quotes
// removed; for IN it is the set's text as ANTLR prints it: "(a,b)".
func comparisonValueText(c *Comparison) string {
	text := c.Value.Text
	if c.Op == OpIn {
		parts := make([]string, len(c.Set))
		for i, l := range c.Set {
			parts[i] = l.Text
		}
		text = "(" + strings.Join(parts, ",") + ")"
	}
	if n := len(text); n >= 2 && text[0] == '\'' && text[n-1] == '\'' && strings.IndexByte(text[1:n-1], '\'') < 0 {
		return text[1 : n-1]
	}
	if strings.IndexByte(text, '\'') >= 0 {
		text = strings.ReplaceAll(text, "'", "")
	}
	return text
}

// hexExactly reports whether s is n hex digits, optionally followed by a
// final newline (Python's re.match with "$").
func hexExactly(n int) func(string) bool {
	return func(s string) bool {
		if len(s) != n && !(len(s) == n+1 && s[n] == '\n') {
			return false
		}
		return hexStart(s, n)
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
// hex digits (or with a newline, four spaces and 64 hex digits); that is
// reproduced.
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
			if !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || isDigitB(c) || c == '/' || c == '+' || c == ':' || c == '.') {
				return false
			}
		}
		return true
	},
}

// parseCache remembers recently parsed patterns so that Validate(s) right
// after Parse(s), the detection engine's load sequence, does not parse
// again. Patterns are immutable, so sharing them is safe.
var (
	parseCache     [256]atomic.Pointer[Pattern]
	parseCacheSeed = maphash.MakeSeed()
)

func cacheSlot(s string) *atomic.Pointer[Pattern] {
	return &parseCache[maphash.String(parseCacheSeed, s)&uint64(len(parseCache)-1)]
}

func cachedParse(s string) *Pattern {
	if p := cacheSlot(s).Load(); p != nil && p.Source == s {
		return p
	}
	return nil
}

func rememberParse(p *Pattern) { cacheSlot(p.Source).Store(p) }
