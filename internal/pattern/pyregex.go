package pattern

import (
	"errors"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/runenames"
)

// This file translates a Python "re" expression (the reference matcher's
// MATCHES) into the syntax of regexp2, whose backtracking .NET semantics
// match Python's, and rejects what Python rejects (re.error makes the
// reference fail). It follows sre_parse of Python 3.11 and later:
// possessive quantifiers and atomic groups exist, global flags must come
// first, look-behind must have a fixed width, \w \d \s follow Python's
// Unicode (or, for bytes patterns, ASCII) definitions.

type reFlags uint8

const (
	reIgnoreCase reFlags = 1 << iota
	reMultiline
	reDotAll
	reVerbose
	reASCII
	reUnicode
	reLocale
)

type reParser struct {
	src      []rune
	i        int
	bytes    bool // compiling the bytes form of the pattern
	flags    reFlags
	groups   int            // capturing groups opened so far
	open     map[int]bool   // groups still open
	names    map[string]int // group name -> number
	widths   map[int][2]int // widths of closed groups
	inLookbh int            // depth of look-behind assertions
	lbGroups map[int]bool   // groups defined inside the current look-behind
	condRefs []int          // groups named by number in conditionals
	err      error
}

const maxRepeat = 1 << 32 // beyond any width we compare

func (p *reParser) fail(msg string) {
	if p.err == nil {
		p.err = errors.New(msg)
	}
}

// translatePyRegexStrict returns the regexp2 form of a Python expression,
// or Python's error. With bytes set it follows Python's rules for a
// bytes pattern (the code points must all be below 256).
func translatePyRegexStrict(src string, bytes bool) (string, error) {
	p := &reParser{src: []rune(src), bytes: bytes, open: map[int]bool{}, names: map[string]int{}, widths: map[int][2]int{}}
	p.leadingFlags()
	if p.err != nil {
		return "", p.err
	}
	body := p.alternation(0)
	if p.err == nil && p.i < len(p.src) {
		if p.src[p.i] == ')' {
			p.fail("unbalanced parenthesis")
		} else {
			p.fail("unexpected end of pattern")
		}
	}
	if p.err != nil {
		return "", p.err
	}
	// A conditional may name a group defined after it; Python checks the
	// numbers once the whole expression is parsed.
	for _, g := range p.condRefs {
		if g > p.groups {
			return "", errors.New("invalid group reference " + strconv.Itoa(g))
		}
	}
	if p.flags&reLocale != 0 && !bytes {
		return "", errors.New("cannot use LOCALE flag with a str pattern")
	}
	if p.flags&reUnicode != 0 && bytes {
		return "", errors.New("cannot use UNICODE flag with a bytes pattern")
	}
	if p.flags&reASCII != 0 && p.flags&reUnicode != 0 {
		return "", errors.New("ASCII and UNICODE flags are incompatible")
	}
	prefix := "" // IGNORECASE is spelled out by the translation
	if p.flags&reMultiline != 0 {
		prefix += "m"
	}
	if p.flags&reDotAll != 0 {
		prefix += "s"
	}
	if prefix != "" {
		return "(?" + prefix + ")" + body.text, nil
	}
	return body.text, nil
}

// node is a translated piece: its regexp2 text and Python's width range.
type node struct {
	text       string
	lo, hi     int
	repeatable bool // can take a quantifier
	isRepeat   bool
}

func (p *reParser) peek() rune {
	if p.i < len(p.src) {
		return p.src[p.i]
	}
	return -1
}

func (p *reParser) skipVerbose() {
	if p.flags&reVerbose == 0 {
		return
	}
	for p.i < len(p.src) {
		c := p.src[p.i]
		if c == '#' {
			for p.i < len(p.src) && p.src[p.i] != '\n' {
				p.i++
			}
			continue
		}
		if strings.ContainsRune(" \t\n\r\v\f", c) {
			p.i++
			continue
		}
		return
	}
}

// leadingFlags reads global flag groups such as (?i) at the start; only
// comments (and, in verbose mode, white space) may come before them.
func (p *reParser) leadingFlags() {
	for {
		p.skipVerbose()
		if p.i+2 >= len(p.src) || p.src[p.i] != '(' || p.src[p.i+1] != '?' {
			return
		}
		if p.src[p.i+2] == '#' {
			j := p.i + 3
			for j < len(p.src) && p.src[j] != ')' {
				j++
			}
			if j >= len(p.src) {
				return // unterminated: reported by the parser
			}
			p.i = j + 1
			continue
		}
		if !strings.ContainsRune("aiLmsux", p.src[p.i+2]) {
			return
		}
		j := p.i + 2
		var f reFlags
		for j < len(p.src) && strings.ContainsRune("aiLmsux", p.src[j]) {
			f |= flagOf(p.src[j])
			j++
		}
		if j >= len(p.src) || p.src[j] != ')' {
			return // a scoped group (?i:...) or an error, parsed later
		}
		p.flags |= f
		p.i = j + 1
	}
}

func flagOf(c rune) reFlags {
	switch c {
	case 'i':
		return reIgnoreCase
	case 'm':
		return reMultiline
	case 's':
		return reDotAll
	case 'x':
		return reVerbose
	case 'a':
		return reASCII
	case 'u':
		return reUnicode
	case 'L':
		return reLocale
	}
	return 0
}

func (p *reParser) alternation(depth int) node {
	var alts []node
	for {
		alts = append(alts, p.sequence(depth))
		if p.err != nil {
			return node{}
		}
		if p.peek() == '|' {
			p.i++
			continue
		}
		break
	}
	if len(alts) == 1 {
		return alts[0]
	}
	texts := make([]string, len(alts))
	lo, hi := alts[0].lo, alts[0].hi
	for i, a := range alts {
		texts[i] = a.text
		lo = min(lo, a.lo)
		hi = max(hi, a.hi)
	}
	return node{text: strings.Join(texts, "|"), lo: lo, hi: hi}
}

func (p *reParser) sequence(depth int) node {
	var b strings.Builder
	lo, hi := 0, 0
	var last *node
	for {
		p.skipVerbose()
		c := p.peek()
		if c == -1 || c == '|' || c == ')' {
			break
		}
		if c == '*' || c == '+' || c == '?' || (c == '{' && p.isQuantifier()) {
			if last == nil || !last.repeatable {
				p.fail("nothing to repeat")
				return node{}
			}
			if last.isRepeat {
				p.fail("multiple repeat")
				return node{}
			}
			q := p.quantifier(last)
			if p.err != nil {
				return node{}
			}
			// Replace the last item by its quantified form.
			s := b.String()
			b.Reset()
			b.WriteString(s[:len(s)-len(last.text)])
			lo -= last.lo
			hi = subWidth(hi, last.hi)
			b.WriteString(q.text)
			lo += q.lo
			hi = addWidth(hi, q.hi)
			last = &q
			continue
		}
		n := p.item(depth)
		if p.err != nil {
			return node{}
		}
		if n.text == "" && !n.repeatable {
			// A comment or an empty flag group.
			continue
		}
		b.WriteString(n.text)
		lo += n.lo
		hi = addWidth(hi, n.hi)
		last = &n
	}
	return node{text: b.String(), lo: lo, hi: hi, repeatable: false}
}

func addWidth(a, b int) int {
	if a >= maxRepeat || b >= maxRepeat {
		return maxRepeat
	}
	return min(a+b, maxRepeat)
}

func subWidth(a, b int) int {
	if a >= maxRepeat {
		return maxRepeat
	}
	return a - b
}

func mulWidth(a, b int) int {
	if a == 0 || b == 0 {
		return 0
	}
	if a >= maxRepeat || b >= maxRepeat || a > maxRepeat/b {
		return maxRepeat
	}
	return a * b
}

// isQuantifier reports whether a '{' starts a repeat: {m}, {m,}, {,n},
// {m,n} or {,}; otherwise it is a literal.
func (p *reParser) isQuantifier() bool {
	j := p.i + 1
	if j < len(p.src) && p.src[j] == '}' {
		return false
	}
	for j < len(p.src) && p.src[j] >= '0' && p.src[j] <= '9' {
		j++
	}
	if j < len(p.src) && p.src[j] == ',' {
		j++
		for j < len(p.src) && p.src[j] >= '0' && p.src[j] <= '9' {
			j++
		}
	}
	return j < len(p.src) && p.src[j] == '}'
}

func (p *reParser) quantifier(last *node) node {
	c := p.src[p.i]
	p.i++
	lo, hi := 0, maxRepeat
	var q string
	switch c {
	case '*':
		q = "*"
	case '+':
		lo, q = 1, "+"
	case '?':
		hi, q = 1, "?"
	default:
		j := p.i
		for p.src[p.i] >= '0' && p.src[p.i] <= '9' {
			p.i++
		}
		loS := string(p.src[j:p.i])
		hiS := loS
		if p.src[p.i] == ',' {
			p.i++
			k := p.i
			for p.src[p.i] >= '0' && p.src[p.i] <= '9' {
				p.i++
			}
			hiS = string(p.src[k:p.i])
		}
		p.i++ // '}'
		if loS != "" {
			v, err := strconv.Atoi(loS)
			if err != nil || v >= maxRepeat {
				p.fail("the repetition number is too large")
				return node{}
			}
			lo = v
		}
		if hiS != "" {
			v, err := strconv.Atoi(hiS)
			if err != nil || v >= maxRepeat {
				p.fail("the repetition number is too large")
				return node{}
			}
			hi = v
			if hi < lo {
				p.fail("min repeat greater than max repeat")
				return node{}
			}
		}
		if hiS == "" && strings.Contains(string(p.src[j:p.i]), ",") {
			q = "{" + strconv.Itoa(lo) + ",}"
		} else {
			q = "{" + strconv.Itoa(lo) + "," + strconv.Itoa(hi) + "}"
		}
	}
	text := "(?:" + last.text + ")" + q
	switch p.peek() {
	case '?':
		p.i++
		text += "?"
	case '+':
		p.i++
		text = "(?>" + text + ")"
	}
	return node{text: text, lo: mulWidth(last.lo, lo), hi: mulWidth(last.hi, hi), repeatable: true, isRepeat: true}
}

// reMeta are the characters regexp2 needs escaped outside a class.
const reMeta = `\.^$|?*+()[]{}#`

func litText(r rune) string {
	switch {
	case strings.ContainsRune(reMeta, r):
		return `\` + string(r)
	case r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\v' || r == '\f':
		return escapeRune(r)
	case r < 0x20 || r == 0x7f:
		return escapeRune(r)
	}
	return string(r)
}

func escapeRune(r rune) string {
	if r <= 0xffff {
		s := strconv.FormatInt(int64(r), 16)
		return `\u` + strings.Repeat("0", 4-len(s)) + s
	}
	return string(r)
}

func (p *reParser) item(depth int) node {
	c := p.src[p.i]
	p.i++
	switch c {
	case '.':
		return node{text: ".", lo: 1, hi: 1, repeatable: true}
	case '^':
		return node{text: "^", repeatable: false}
	case '$':
		return node{text: "$", repeatable: false}
	case '[':
		return p.class()
	case '(':
		return p.group(depth)
	case '\\':
		return p.escape()
	}
	return p.litNode(c)
}

// litNode is a literal character, spelled out as a set under IGNORECASE.
func (p *reParser) litNode(c rune) node {
	if p.flags&reIgnoreCase != 0 {
		if set, ok := p.foldLiteral(c); ok {
			return node{text: "[" + set.classText() + "]", lo: 1, hi: 1, repeatable: true}
		}
	}
	return node{text: litText(c), lo: 1, hi: 1, repeatable: true}
}

// catFn is the predicate of a category escape (d, w or s).
func (p *reParser) catFn(c rune) func(rune) bool {
	ascii := p.bytes || p.flags&reASCII != 0
	switch c {
	case 'd', 'D':
		if ascii {
			return func(r rune) bool { return r >= '0' && r <= '9' }
		}
		return func(r rune) bool { return unicode.Is(unicode.Nd, r) }
	case 'w', 'W':
		if ascii {
			return func(r rune) bool {
				return r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_')
			}
		}
		return func(r rune) bool { return unicode.IsLetter(r) || unicode.IsNumber(r) || r == '_' }
	}
	if ascii {
		return func(r rune) bool { return r == ' ' || (r >= '\t' && r <= '\r') }
	}
	return func(r rune) bool { return pyIsSpace(r) }
}

// Category classes, as regexp2 class contents.
func (p *reParser) catClass(c rune) (string, bool) {
	ascii := p.bytes || p.flags&reASCII != 0
	switch c {
	case 'd', 'D':
		if ascii {
			return `0-9`, c == 'D'
		}
		return `\p{Nd}`, c == 'D'
	case 'w', 'W':
		if ascii {
			return `a-zA-Z0-9_`, c == 'W'
		}
		return `\p{L}\p{N}_`, c == 'W'
	case 's', 'S':
		if ascii {
			return `\t\n\v\f\r `, c == 'S'
		}
		return `\t\n\v\f\r\u001c-\u001f \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000`, c == 'S'
	}
	return "", false
}

// escape parses an escape outside a class.
func (p *reParser) escape() node {
	if p.i >= len(p.src) {
		p.fail("bad escape (end of pattern)")
		return node{}
	}
	c := p.src[p.i]
	p.i++
	switch c {
	case 'A':
		return node{text: `\A`}
	case 'Z':
		return node{text: `\z`}
	case 'b':
		if p.bytes || p.flags&reASCII != 0 {
			return node{text: `(?:(?<=[a-zA-Z0-9_])(?![a-zA-Z0-9_])|(?<![a-zA-Z0-9_])(?=[a-zA-Z0-9_]))`}
		}
		return node{text: `(?:(?<=[\p{L}\p{N}_])(?![\p{L}\p{N}_])|(?<![\p{L}\p{N}_])(?=[\p{L}\p{N}_]))`}
	case 'B':
		if p.bytes || p.flags&reASCII != 0 {
			return node{text: `(?!\A\z)(?:(?<=[a-zA-Z0-9_])(?=[a-zA-Z0-9_])|(?<![a-zA-Z0-9_])(?![a-zA-Z0-9_]))`}
		}
		// Python's \B never matches in an empty string.
		return node{text: `(?!\A\z)(?:(?<=[\p{L}\p{N}_])(?=[\p{L}\p{N}_])|(?<![\p{L}\p{N}_])(?![\p{L}\p{N}_]))`}
	case 'd', 'D', 'w', 'W', 's', 'S':
		cls, neg := p.catClass(c)
		if neg {
			return node{text: "[^" + cls + "]", lo: 1, hi: 1, repeatable: true}
		}
		return node{text: "[" + cls + "]", lo: 1, hi: 1, repeatable: true}
	}
	if c >= '1' && c <= '9' {
		// An octal escape with three digits, else a group reference.
		j := p.i
		if j < len(p.src) && p.src[j] >= '0' && p.src[j] <= '9' {
			if c <= '7' && p.src[j] <= '7' && j+1 < len(p.src) && p.src[j+1] >= '0' && p.src[j+1] <= '7' {
				v, _ := strconv.ParseInt(string(p.src[p.i-1:j+2]), 8, 32)
				p.i = j + 2
				if v > 0o377 {
					p.fail("octal escape value outside of range 0-0o377")
					return node{}
				}
				return p.litNode(rune(v))
			}
			p.i = j + 1
		}
		g, _ := strconv.Atoi(string(p.src[j-1 : p.i]))
		return p.groupRef(g)
	}
	r, ok := p.charEscape(c, false)
	if !ok {
		return node{}
	}
	return p.litNode(r)
}

func (p *reParser) groupRef(g int) node {
	if g > p.groups {
		p.fail("invalid group reference " + strconv.Itoa(g))
		return node{}
	}
	if p.open[g] {
		p.fail("cannot refer to an open group")
		return node{}
	}
	if p.inLookbh > 0 && p.lbGroups[g] {
		p.fail("cannot refer to group defined in the same lookbehind subpattern")
		return node{}
	}
	w := p.widths[g]
	text := `\k<pyg` + strconv.Itoa(g) + `>`
	if p.flags&reIgnoreCase != 0 {
		text = "(?i:" + text + ")"
	}
	return node{text: text, lo: w[0], hi: w[1], repeatable: true}
}

// charEscape decodes the escapes that stand for one character (and, with
// inClass, the class-only ones); it reports Python's error otherwise.
func (p *reParser) charEscape(c rune, inClass bool) (rune, bool) {
	switch c {
	case 'a':
		return 7, true
	case 'f':
		return '\f', true
	case 'n':
		return '\n', true
	case 'r':
		return '\r', true
	case 't':
		return '\t', true
	case 'v':
		return '\v', true
	case 'x':
		h := p.hexDigits(2)
		if h < 0 {
			p.fail("incomplete escape \\x")
			return 0, false
		}
		return rune(h), true
	case 'u', 'U':
		if p.bytes {
			p.fail("bad escape \\" + string(c))
			return 0, false
		}
		n := 4
		if c == 'U' {
			n = 8
		}
		h := p.hexDigits(n)
		if h < 0 {
			p.fail("incomplete escape \\" + string(c))
			return 0, false
		}
		if h > unicode.MaxRune {
			p.fail("bad escape \\" + string(c))
			return 0, false
		}
		return rune(h), true
	case 'N':
		if p.bytes {
			p.fail("bad escape \\N")
			return 0, false
		}
		if p.peek() != '{' {
			p.fail("missing {")
			return 0, false
		}
		end := -1
		for j := p.i + 1; j < len(p.src); j++ {
			if p.src[j] == '}' {
				end = j
				break
			}
		}
		if end < 0 {
			p.fail("missing }, unterminated name")
			return 0, false
		}
		name := string(p.src[p.i+1 : end])
		p.i = end + 1
		r, ok := lookupRuneName(name)
		if !ok {
			p.fail("undefined character name '" + name + "'")
			return 0, false
		}
		return r, true
	case '0':
		j := p.i
		for j < len(p.src) && j < p.i+2 && p.src[j] >= '0' && p.src[j] <= '7' {
			j++
		}
		v, _ := strconv.ParseInt("0"+string(p.src[p.i:j]), 8, 32)
		p.i = j
		return rune(v), true
	}
	if inClass {
		if c == 'b' {
			return '\b', true
		}
		if c >= '1' && c <= '7' {
			j := p.i
			for j < len(p.src) && j < p.i+2 && p.src[j] >= '0' && p.src[j] <= '7' {
				j++
			}
			v, _ := strconv.ParseInt(string(c)+string(p.src[p.i:j]), 8, 32)
			p.i = j
			if v > 0o377 {
				p.fail("octal escape value outside of range 0-0o377")
				return 0, false
			}
			return rune(v), true
		}
	}
	if c < 0x80 && (unicode.IsLetter(c) || unicode.IsDigit(c)) {
		p.fail("bad escape \\" + string(c))
		return 0, false
	}
	return c, true
}

func (p *reParser) hexDigits(n int) int {
	if p.i+n > len(p.src) {
		return -1
	}
	v := 0
	for k := 0; k < n; k++ {
		c := p.src[p.i+k]
		if c >= 0x80 || hexVal(byte(c)) < 0 {
			return -1
		}
		v = v<<4 | hexVal(byte(c))
	}
	p.i += n
	return v
}

var (
	runeNamesOnce sync.Once
	runeNames     map[string]rune
)

// lookupRuneName is unicodedata.lookup for the names of the Unicode
// database and the algorithmic CJK and Hangul names (name aliases
// excepted).
func lookupRuneName(name string) (rune, bool) {
	if r, ok := algorithmicName(name); ok {
		return r, true
	}
	runeNamesOnce.Do(func() {
		m := make(map[string]rune, 40000)
		for r := rune(0); r <= unicode.MaxRune; r++ {
			if n := runenames.Name(r); n != "" && n[0] != '<' {
				m[n] = r
			}
		}
		runeNames = m
	})
	r, ok := runeNames[strings.ToUpper(name)]
	return r, ok
}

var (
	hangulL = []string{"G", "GG", "N", "D", "DD", "R", "M", "B", "BB", "S", "SS", "", "J", "JJ", "C", "K", "T", "P", "H"}
	hangulV = []string{"A", "AE", "YA", "YAE", "EO", "E", "YEO", "YE", "O", "WA", "WAE", "OE", "YO", "U", "WEO", "WE", "WI", "YU", "EU", "YI", "I"}
	hangulT = []string{"", "G", "GG", "GS", "N", "NJ", "NH", "D", "L", "LG", "LM", "LB", "LS", "LT", "LP", "LH", "M", "B", "BS", "S", "SS", "NG", "J", "C", "K", "T", "P", "H"}
	// cjkUnified are the ranges Python 3.11 names "CJK UNIFIED IDEOGRAPH-X".
	cjkUnified = [][2]rune{{0x3400, 0x4dbf}, {0x4e00, 0x9fff}, {0x20000, 0x2a6df}, {0x2a700, 0x2b738},
		{0x2b740, 0x2b81d}, {0x2b820, 0x2cea1}, {0x2ceb0, 0x2ebe0}, {0x30000, 0x3134a}}
)

// algorithmicName resolves the names unicodedata computes (its prefixes
// are case-sensitive).
func algorithmicName(name string) (rune, bool) {
	if hex, ok := strings.CutPrefix(name, "CJK UNIFIED IDEOGRAPH-"); ok {
		if len(hex) != 4 && len(hex) != 5 {
			return 0, false
		}
		var v rune
		for i := 0; i < len(hex); i++ {
			c := hex[i]
			switch {
			case c >= '0' && c <= '9':
				v = v<<4 | rune(c-'0')
			case c >= 'A' && c <= 'F':
				v = v<<4 | rune(c-'A'+10)
			default:
				return 0, false
			}
		}
		for _, r := range cjkUnified {
			if v >= r[0] && v <= r[1] {
				return v, true
			}
		}
		return 0, false
	}
	rest, ok := strings.CutPrefix(name, "HANGUL SYLLABLE ")
	if !ok {
		return 0, false
	}
	longest := func(s string, tab []string) (int, string) {
		best, n := -1, -1
		for i, j := range tab {
			if len(j) > n && strings.HasPrefix(s, j) {
				best, n = i, len(j)
			}
		}
		if best < 0 {
			return -1, s
		}
		return best, s[n:]
	}
	l, rest := longest(rest, hangulL)
	v, rest := longest(rest, hangulV)
	t, rest := longest(rest, hangulT)
	if l < 0 || v < 0 || t < 0 || rest != "" {
		return 0, false
	}
	return 0xac00 + rune((l*21+v)*28+t), true
}

// class parses a character set after '['.
func (p *reParser) class() node {
	var items strings.Builder
	var negCats []string
	var members []classItem
	neg := false
	if p.peek() == '^' {
		neg = true
		p.i++
	}
	first := true
	for {
		if p.i >= len(p.src) {
			p.fail("unterminated character set")
			return node{}
		}
		c := p.src[p.i]
		if c == ']' && !first {
			p.i++
			break
		}
		first = false
		p.i++
		// One element: a character (possibly the start of a range) or a
		// category.
		var lo rune
		isChar := true
		if c == '\\' {
			if p.i >= len(p.src) {
				p.fail("bad escape (end of pattern)")
				return node{}
			}
			e := p.src[p.i]
			p.i++
			if strings.ContainsRune("dDwWsS", e) {
				cls, n := p.catClass(e)
				if n {
					negCats = append(negCats, cls)
				} else {
					items.WriteString(cls)
				}
				members = append(members, classItem{cat: cls, catNeg: n, catFn: p.catFn(e)})
				isChar = false
				if p.peek() == '-' && p.i+1 < len(p.src) && p.src[p.i+1] != ']' {
					p.fail("bad character range \\" + string(e) + "-" + string(p.src[p.i+1]))
					return node{}
				}
			} else {
				r, ok := p.charEscape(e, true)
				if !ok {
					return node{}
				}
				lo = r
			}
		} else {
			lo = c
		}
		if !isChar {
			continue
		}
		if p.peek() == '-' && p.i+1 < len(p.src) && p.src[p.i+1] != ']' {
			p.i++
			hc := p.src[p.i]
			p.i++
			var hi rune
			if hc == '\\' {
				if p.i >= len(p.src) {
					p.fail("bad escape (end of pattern)")
					return node{}
				}
				e := p.src[p.i]
				p.i++
				if strings.ContainsRune("dDwWsS", e) {
					p.fail("bad character range " + string(lo) + "-\\" + string(e))
					return node{}
				}
				r, ok := p.charEscape(e, true)
				if !ok {
					return node{}
				}
				hi = r
			} else {
				hi = hc
			}
			if hi < lo {
				p.fail("bad character range " + string(lo) + "-" + string(hi))
				return node{}
			}
			items.WriteString(classChar(lo) + "-" + classChar(hi))
			members = append(members, classItem{lo: lo, hi: hi})
			continue
		}
		items.WriteString(classChar(lo))
		members = append(members, classItem{lo: lo, hi: lo})
	}
	if p.flags&reIgnoreCase != 0 {
		if text, ok := p.foldClass(members, neg); ok {
			return node{text: text, lo: 1, hi: 1, repeatable: true}
		}
	}
	pos := items.String()
	// Negated categories inside a set cannot be written as one regexp2
	// class; use an alternation of classes.
	var alts []string
	if pos != "" {
		alts = append(alts, "["+pos+"]")
	}
	for _, nc := range negCats {
		alts = append(alts, "[^"+nc+"]")
	}
	var text string
	switch {
	case len(alts) == 0:
		// An empty set matches nothing ([^] would match anything).
		text = `(?!)`
		if neg {
			text = `[\s\S]`
		}
	case len(alts) == 1 && !neg:
		text = alts[0]
	case len(alts) == 1 && len(negCats) == 0:
		text = "[^" + pos + "]"
	case !neg:
		text = "(?:" + strings.Join(alts, "|") + ")"
	default:
		text = "(?:(?!" + strings.Join(alts, "|") + `)[\s\S])`
	}
	return node{text: text, lo: 1, hi: 1, repeatable: true}
}

func classChar(r rune) string {
	switch {
	case strings.ContainsRune(`\]-[^`, r):
		return `\` + string(r)
	case r < 0x20 || r == 0x7f || r == ' ':
		return escapeRune(r)
	}
	return string(r)
}

func isASCIIDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isPyIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if !(r == '_' || unicode.IsLetter(r) || (i > 0 && (unicode.IsDigit(r) || unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Mc, r) || unicode.Is(unicode.Pc, r)))) {
			return false
		}
	}
	return true
}

// group parses a group after '('.
func (p *reParser) group(depth int) node {
	if depth > 200 {
		p.fail("too many nested groups")
		return node{}
	}
	if p.peek() != '?' {
		return p.capture(depth, "")
	}
	p.i++
	c := p.peek()
	if c == -1 {
		p.fail("unexpected end of pattern")
		return node{}
	}
	p.i++
	switch c {
	case ':':
		inner := p.alternation(depth + 1)
		if !p.closeParen() {
			return node{}
		}
		return node{text: "(?:" + inner.text + ")", lo: inner.lo, hi: inner.hi, repeatable: true}
	case 'P':
		switch p.peek() {
		case '<':
			p.i++
			name := p.readUntil('>')
			if p.err != nil {
				return node{}
			}
			if !isPyIdentifier(name) {
				p.fail("bad character in group name '" + name + "'")
				return node{}
			}
			if _, dup := p.names[name]; dup {
				p.fail("redefinition of group name '" + name + "'")
				return node{}
			}
			return p.capture(depth, name)
		case '=':
			p.i++
			name := p.readUntil(')')
			if p.err != nil {
				return node{}
			}
			if !isPyIdentifier(name) {
				p.fail("bad character in group name '" + name + "'")
				return node{}
			}
			g, ok := p.names[name]
			if !ok {
				p.fail("unknown group name '" + name + "'")
				return node{}
			}
			return p.groupRef(g)
		}
		p.fail("unknown extension ?P" + string(p.peek()))
		return node{}
	case '#':
		for p.i < len(p.src) && p.src[p.i] != ')' {
			p.i++
		}
		if p.i >= len(p.src) {
			p.fail("missing ), unterminated comment")
			return node{}
		}
		p.i++
		return node{}
	case '=', '!':
		inner := p.alternation(depth + 1)
		if !p.closeParen() {
			return node{}
		}
		return node{text: "(?" + string(c) + inner.text + ")", repeatable: true}
	case '<':
		k := p.peek()
		if k != '=' && k != '!' {
			if k == -1 {
				p.fail("unexpected end of pattern")
			} else {
				p.fail("unknown extension ?<" + string(k))
			}
			return node{}
		}
		p.i++
		saved := p.lbGroups
		if p.inLookbh == 0 {
			p.lbGroups = map[int]bool{}
		}
		p.inLookbh++
		inner := p.alternation(depth + 1)
		p.inLookbh--
		if p.inLookbh == 0 {
			p.lbGroups = saved
		}
		if !p.closeParen() {
			return node{}
		}
		if inner.lo != inner.hi {
			p.fail("look-behind requires fixed-width pattern")
			return node{}
		}
		return node{text: "(?<" + string(k) + inner.text + ")", repeatable: true}
	case '>':
		inner := p.alternation(depth + 1)
		if !p.closeParen() {
			return node{}
		}
		return node{text: "(?>" + inner.text + ")", lo: inner.lo, hi: inner.hi, repeatable: true}
	case '(':
		ref := p.readUntil(')')
		if p.err != nil {
			return node{}
		}
		var g int
		if isASCIIDigits(ref) {
			n, err := strconv.Atoi(ref)
			if err != nil || n >= 1<<30 {
				p.fail("invalid group reference " + ref)
				return node{}
			}
			if n == 0 {
				p.fail("bad group number")
				return node{}
			}
			g = n
			p.condRefs = append(p.condRefs, g)
		} else {
			if !isPyIdentifier(ref) {
				p.fail("bad character in group name '" + ref + "'")
				return node{}
			}
			n, ok := p.names[ref]
			if !ok {
				p.fail("unknown group name '" + ref + "'")
				return node{}
			}
			g = n
		}
		if p.inLookbh > 0 {
			if g > p.groups || p.open[g] {
				p.fail("cannot refer to an open group")
				return node{}
			}
			if p.lbGroups[g] {
				p.fail("cannot refer to group defined in the same lookbehind subpattern")
				return node{}
			}
		}
		yes := p.sequence(depth + 1)
		if p.err != nil {
			return node{}
		}
		text := "(?(pyg" + strconv.Itoa(g) + ")" + yes.text
		lo, hi := yes.lo, yes.hi
		if p.peek() == '|' {
			p.i++
			no := p.sequence(depth + 1)
			if p.err != nil {
				return node{}
			}
			if p.peek() == '|' {
				p.fail("conditional backref with more than two branches")
				return node{}
			}
			text += "|" + no.text
			lo, hi = min(lo, no.lo), max(hi, no.hi)
		} else {
			lo = 0
		}
		if !p.closeParen() {
			return node{}
		}
		return node{text: text + ")", lo: lo, hi: hi, repeatable: true}
	}
	// Flags: (?aiLmsux) only at the start, or (?flags-flags:...).
	if strings.ContainsRune("aiLmsux-", c) {
		p.i--
		var on, off reFlags
		for p.i < len(p.src) && strings.ContainsRune("aiLmsux", p.src[p.i]) {
			on |= flagOf(p.src[p.i])
			p.i++
		}
		if p.peek() == ')' {
			p.fail("global flags not at the start of the expression")
			return node{}
		}
		if p.peek() == '-' {
			p.i++
			for p.i < len(p.src) && strings.ContainsRune("imsx", p.src[p.i]) {
				off |= flagOf(p.src[p.i])
				p.i++
			}
			if off == 0 {
				p.fail("missing flag")
				return node{}
			}
		}
		if p.peek() != ':' {
			if p.peek() == -1 {
				p.fail("missing -, : or )")
			} else {
				p.fail("unknown flag")
			}
			return node{}
		}
		p.i++
		if on&(reASCII|reUnicode|reLocale) != 0 {
			if on&reLocale != 0 && !p.bytes {
				p.fail("bad inline flags: cannot use 'L' flag with a str pattern")
				return node{}
			}
			if on&reUnicode != 0 && p.bytes {
				p.fail("bad inline flags: cannot use 'u' flag with a bytes pattern")
				return node{}
			}
		}
		if on&off != 0 {
			p.fail("bad inline flags: flag turned on and off")
			return node{}
		}
		savedFlags := p.flags
		p.flags = (p.flags | on) &^ off
		inner := p.alternation(depth + 1)
		p.flags = savedFlags
		if !p.closeParen() {
			return node{}
		}
		mods := ""
		for _, f := range []struct {
			f reFlags
			c string
		}{{reMultiline, "m"}, {reDotAll, "s"}} {
			if on&f.f != 0 {
				mods += f.c
			}
		}
		offMods := ""
		for _, f := range []struct {
			f reFlags
			c string
		}{{reMultiline, "m"}, {reDotAll, "s"}} {
			if off&f.f != 0 {
				offMods += f.c
			}
		}
		if offMods != "" {
			mods += "-" + offMods
		}
		return node{text: "(?" + mods + ":" + inner.text + ")", lo: inner.lo, hi: inner.hi, repeatable: true}
	}
	p.fail("unknown extension ?" + string(c))
	return node{}
}

func (p *reParser) readUntil(end rune) string {
	j := p.i
	for j < len(p.src) && p.src[j] != end {
		j++
	}
	if j >= len(p.src) {
		if end == '>' {
			p.fail("missing >, unterminated name")
		} else {
			p.fail("missing ), unterminated name")
		}
		return ""
	}
	s := string(p.src[p.i:j])
	p.i = j + 1
	return s
}

func (p *reParser) closeParen() bool {
	if p.err != nil {
		return false
	}
	if p.peek() != ')' {
		p.fail("missing ), unterminated subpattern")
		return false
	}
	p.i++
	return true
}

func (p *reParser) capture(depth int, name string) node {
	p.groups++
	g := p.groups
	if name != "" {
		p.names[name] = g
	}
	p.open[g] = true
	if p.inLookbh > 0 {
		p.lbGroups[g] = true
	}
	inner := p.alternation(depth + 1)
	if !p.closeParen() {
		return node{}
	}
	delete(p.open, g)
	p.widths[g] = [2]int{inner.lo, inner.hi}
	return node{text: "(?<pyg" + strconv.Itoa(g) + ">" + inner.text + ")", lo: inner.lo, hi: inner.hi, repeatable: true}
}

// latin1Valid reports whether every code point is below 256.
func latin1Valid(s string) bool {
	for _, r := range s {
		if r >= 256 {
			return false
		}
	}
	return utf8.ValidString(s)
}
