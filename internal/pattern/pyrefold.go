package pattern

import (
	"sort"
	"strings"
	"sync"
	"unicode"
)

// Case-insensitive matching the way Python's sre does it. regexp2's own
// IgnoreCase folds differently (it knows nothing of Python's equivalence
// table, and it folds non-ASCII bytes in bytes patterns), so the
// translator spells folded literals and classes out as explicit sets:
//
//   - a cased literal c matches every x with lower(x) in {lower(c)} plus the
//     characters Python declares equivalent to lower(c);
//   - a class with a cased member matches x when lower(x) is in the class
//     whose literals and ranges were replaced by their lower forms (and
//     equivalents); categories are tested on lower(x) too;
//   - in ASCII mode (bytes patterns, the ASCII flag) only A-Z fold.

// pyFoldEquivalences are the groups of re._casefix (Python 3.11): lower
// case characters that differ but have the same upper case, which sre
// treats as the same letter.
var pyFoldEquivalences = [][]rune{
	{0x69, 0x131},          // i ı
	{0x73, 0x17f},          // s ſ
	{0xb5, 0x3bc},          // µ μ
	{0x345, 0x3b9, 0x1fbe}, // ypogegrammeni, iota, prosgegrammeni
	{0x390, 0x1fd3},
	{0x3b0, 0x1fe3},
	{0x3b2, 0x3d0},
	{0x3b5, 0x3f5},
	{0x3b8, 0x3d1},
	{0x3ba, 0x3f0},
	{0x3c0, 0x3d6},
	{0x3c1, 0x3f1},
	{0x3c2, 0x3c3},
	{0x3c6, 0x3d5},
	{0x432, 0x1c80}, // Cyrillic ve, rounded ve
	{0x434, 0x1c81},
	{0x43e, 0x1c82},
	{0x441, 0x1c83},
	{0x442, 0x1c84, 0x1c85},
	{0x44a, 0x1c86},
	{0x463, 0x1c87},
	{0x1c88, 0xa64b},
	{0x1e61, 0x1e9b},
	{0xfb05, 0xfb06},
}

type foldTables struct {
	fixes map[rune][]rune // lower form -> its equivalents
	// upper lists every x with lower(x) != x, sorted; invLower maps a
	// lower form to those x.
	upper    []rune
	invLower map[rune][]rune
}

var (
	foldOnce sync.Once
	fold     foldTables
)

func foldTab() *foldTables {
	foldOnce.Do(func() {
		fold.fixes = map[rune][]rune{}
		for _, eq := range pyFoldEquivalences {
			for _, r := range eq {
				for _, o := range eq {
					if o != r {
						fold.fixes[r] = append(fold.fixes[r], o)
					}
				}
			}
		}
		fold.invLower = map[rune][]rune{}
		for _, rng := range unicode.CaseRanges {
			for x := rune(rng.Lo); x <= rune(rng.Hi); x++ {
				if l := unicode.ToLower(x); l != x {
					fold.upper = append(fold.upper, x)
					fold.invLower[l] = append(fold.invLower[l], x)
				}
			}
		}
		sort.Slice(fold.upper, func(i, j int) bool { return fold.upper[i] < fold.upper[j] })
	})
	return &fold
}

// pyLower and pyUpperRune are sre's one-character case mappings (the
// first character of str.lower() and str.upper()).
func pyLower(r rune) rune { return unicode.ToLower(r) }

func pyUpperRune(r rune) rune {
	if s, ok := pyUpperSpecial[r]; ok {
		for _, u := range s {
			return u
		}
	}
	return unicode.ToUpper(r)
}

// pyIsCased is sre's unicode_iscased.
func pyIsCased(r rune) bool { return pyLower(r) != r || pyUpperRune(r) != r }

func asciiLower(r rune) rune {
	if r >= 'A' && r <= 'Z' {
		return r + 'a' - 'A'
	}
	return r
}

func asciiIsCased(r rune) bool { return r < 128 && unicode.IsLetter(r) }

// runeSet is a set of code points kept as sorted, merged ranges.
type runeSet [][2]rune

func (s runeSet) normalize() runeSet {
	sort.Slice(s, func(i, j int) bool { return s[i][0] < s[j][0] })
	var out runeSet
	for _, r := range s {
		if n := len(out); n > 0 && r[0] <= out[n-1][1]+1 {
			if r[1] > out[n-1][1] {
				out[n-1][1] = r[1]
			}
			continue
		}
		out = append(out, r)
	}
	return out
}

func (s runeSet) has(r rune) bool {
	i := sort.Search(len(s), func(i int) bool { return s[i][1] >= r })
	return i < len(s) && s[i][0] <= r
}

// classText renders the set as the contents of a regexp2 class.
func (s runeSet) classText() string {
	var b strings.Builder
	for _, r := range s {
		b.WriteString(classChar(r[0]))
		if r[1] > r[0] {
			if r[1] > r[0]+1 {
				b.WriteByte('-')
			}
			b.WriteString(classChar(r[1]))
		}
	}
	return b.String()
}

// foldLiteral is the set of characters a cased literal matches under
// IGNORECASE; ok is false when c matches only itself.
func (p *reParser) foldLiteral(c rune) (runeSet, bool) {
	if p.asciiFold() {
		if !asciiIsCased(c) {
			return nil, false
		}
		l := asciiLower(c)
		return runeSet{{l, l}, {l - 'a' + 'A', l - 'a' + 'A'}}.normalize(), true
	}
	if !pyIsCased(c) {
		return nil, false
	}
	t := foldTab()
	lo := pyLower(c)
	var set runeSet
	for _, y := range append([]rune{lo}, t.fixes[lo]...) {
		if pyLower(y) == y {
			set = append(set, [2]rune{y, y})
		}
		for _, x := range t.invLower[y] {
			set = append(set, [2]rune{x, x})
		}
	}
	return set.normalize(), true
}

// asciiFold reports whether IGNORECASE folds ASCII letters only.
func (p *reParser) asciiFold() bool {
	return p.bytes || p.flags&(reASCII|reLocale) != 0
}

// classItem is one member of a character class: a range (a literal when
// lo == hi) or a category.
type classItem struct {
	lo, hi rune
	cat    string // regexp2 class contents of a category, or ""
	catNeg bool
	catFn  func(rune) bool
}

// foldClass renders a class under IGNORECASE; ok is false when no member
// is cased, in which case the class is matched as written.
func (p *reParser) foldClass(items []classItem, neg bool) (string, bool) {
	ascii := p.asciiFold()
	lower, cased := pyLower, pyIsCased
	if ascii {
		lower, cased = asciiLower, asciiIsCased
	}
	t := foldTab()
	var fixes map[rune][]rune
	if !ascii {
		fixes = t.fixes
	}
	hascased := false
	var sp runeSet        // the lowered literals and ranges
	var tailLits []rune   // non-BMP literals, compared with lower(x)
	var tailRng [][2]rune // non-BMP ranges
	var cats []classItem  // categories, tested on lower(x)
	add := func(r rune) {
		l := lower(r)
		sp = append(sp, [2]rune{l, l})
		for _, k := range fixes[l] {
			sp = append(sp, [2]rune{k, k})
		}
	}
	for _, it := range items {
		if it.cat != "" {
			cats = append(cats, it)
			continue
		}
		if ascii {
			for r := it.lo; r <= it.hi && r < 128; r++ {
				add(r)
				if cased(r) {
					hascased = true
				}
			}
			if it.hi >= 128 {
				lo := max(it.lo, 128)
				sp = append(sp, [2]rune{lo, it.hi})
			}
			continue
		}
		for r := it.lo; r <= it.hi && r <= 0xffff; r++ {
			add(r)
			if cased(r) {
				hascased = true
			}
		}
		if it.hi > 0xffff {
			hascased = true
			if it.lo == it.hi {
				tailLits = append(tailLits, it.lo)
			} else {
				tailRng = append(tailRng, [2]rune{it.lo, it.hi})
			}
		}
	}
	if !hascased {
		return "", false
	}
	sp = sp.normalize()
	test := func(y rune) bool {
		if sp.has(y) {
			return true
		}
		for _, l := range tailLits {
			if y == l {
				return true
			}
		}
		for _, r := range tailRng {
			if (y >= r[0] && y <= r[1]) || (pyUpperRune(y) >= r[0] && pyUpperRune(y) <= r[1]) {
				return true
			}
		}
		for _, c := range cats {
			if c.catFn(y) != c.catNeg {
				return true
			}
		}
		return false
	}
	// Characters that lower to themselves match when test(x) holds; the
	// others when test(lower(x)) does.
	var uppers []rune
	if ascii {
		for r := 'A'; r <= 'Z'; r++ {
			uppers = append(uppers, r)
		}
	} else {
		uppers = t.upper
	}
	var pass, fail runeSet
	for _, x := range uppers {
		if test(lower(x)) {
			pass = append(pass, [2]rune{x, x})
		} else {
			fail = append(fail, [2]rune{x, x})
		}
	}
	pass, fail = pass.normalize(), fail.normalize()
	var base strings.Builder
	base.WriteString(sp.classText())
	for _, l := range tailLits {
		base.WriteString(classChar(l))
	}
	for _, r := range tailRng {
		base.WriteString(classChar(r[0]) + "-" + classChar(r[1]))
	}
	var alts []string
	if b := base.String(); b != "" {
		if len(fail) > 0 {
			b += "-[" + fail.classText() + "]"
		}
		alts = append(alts, "["+b+"]")
	}
	for _, c := range cats {
		cl := "[" + c.cat + "]"
		if c.catNeg {
			cl = "[^" + c.cat + "]"
		}
		if len(fail) > 0 {
			cl = "(?:(?![" + fail.classText() + "])" + cl + ")"
		}
		alts = append(alts, cl)
	}
	if len(pass) > 0 {
		alts = append(alts, "["+pass.classText()+"]")
	}
	var text string
	switch {
	case len(alts) == 0:
		text = `(?!)`
	case len(alts) == 1:
		text = alts[0]
	default:
		text = "(?:" + strings.Join(alts, "|") + ")"
	}
	if neg {
		text = "(?:(?!" + text + `)[\s\S])`
	}
	return text, true
}
