package pattern

import (
	"bufio"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

type verdictCase struct {
	want, pattern string
	line          int
}

// readCases reads "VERDICT<tab>text" lines, skipping comments.
func readCases(t testing.TB, name string) []verdictCase {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []verdictCase
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" {
			continue
		}
		v, p, ok := strings.Cut(line, "\t")
		if !ok {
			t.Fatalf("%s:%d: no tab", name, n)
		}
		out = append(out, verdictCase{want: v, pattern: p, line: n})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestPatternValidateCorpus(t *testing.T) {
	cases := readCases(t, "validate.txt")
	if len(cases) < 100 {
		t.Fatalf("corpus too small: %d", len(cases))
	}
	for _, c := range cases {
		err := Validate(c.pattern)
		got := "PASS"
		if err != nil {
			got = "FAIL"
		}
		if got != c.want {
			t.Errorf("validate.txt:%d: %q: got %s (%v), want %s", c.line, c.pattern, got, err, c.want)
		}
	}
}

func TestPatternValidateMessages(t *testing.T) {
	tests := []struct {
		pattern string
		prefix  string
	}{
		{"file:size = 1280", "FAIL: Error found at line 1:0. input is missing square brackets"},
		{"[file:size = ]", "FAIL: Error found at line 1:13. mismatched input ']'"},
		{"[file:hashes.MD5 = cead3f77f6cda6ec00f57d76c9a6879f]", "FAIL: Error found at line 1:19. mismatched input 'cead3f77f6cda6ec00f57d76c9a6879f'"},
		{"[win-registry-key:key = 'hkey_local_machine\\\\foo\\\\bar'] WITHIN 5 HOURS]", "FAIL: Error found at line 1:65. mismatched input 'HOURS' expecting 'SECONDS'"},
		{"[foo:bar=1] within 2 seconds", "FAIL: Error found at line 1:12. mismatched input 'within' expecting <EOF>"},
		{"[file:hashes.'SHA-256' = 'f00']", "FAIL: 'f00' is not a valid SHA-256 hash"},
		{"[a:b = 1] WITHIN 5 SECONDS WITHIN 6 SECONDS", "FAIL: Duplicate qualifier type encountered: WITHIN"},
		{"([a:b = 1] REPEATS 2 TIMES REPEATS 3 TIMES)", "FAIL: Duplicate qualifier type encountered: REPEATS"},
		{"[a:b = 1] AND\n[a:c = 'x' 5]", "FAIL: Error found at line 2:11. "},
	}
	for _, tt := range tests {
		msgs := ValidateMessages(tt.pattern)
		if len(msgs) == 0 || !strings.HasPrefix(msgs[0], tt.prefix) {
			t.Errorf("%q: got %q, want prefix %q", tt.pattern, msgs, tt.prefix)
		}
	}
	if m := ValidateMessages("[a:b = 1]"); len(m) != 0 {
		t.Errorf("valid pattern gave %q", m)
	}
}

func TestPatternSyntaxErrorPosition(t *testing.T) {
	_, err := Parse("[a:b = 1] AND\n  [c:d ~ 2]")
	se, ok := err.(*SyntaxError)
	if !ok {
		t.Fatalf("got %T %v", err, err)
	}
	if se.Line != 2 || se.Column != 7 {
		t.Errorf("position %d:%d, want 2:7", se.Line, se.Column)
	}
}

func TestPatternLexer(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"AND ANDx a-b a_b true trueish", "'AND' IdentifierWithoutHyphen IdentifierWithHyphen IdentifierWithoutHyphen BoolLiteral IdentifierWithoutHyphen"},
		{"-5 +5 5 -0.5 .5 +.5 007 1.", "IntNegLiteral IntPosLiteral IntPosLiteral FloatNegLiteral FloatPosLiteral FloatPosLiteral IntPosLiteral IntPosLiteral IntPosLiteral IntPosLiteral '.'"},
		{"h'0a' h'0' b'AAAA' b'AAA=' b'AA==' b'A===' b''", "HexLiteral IdentifierWithoutHyphen StringLiteral BinaryLiteral BinaryLiteral BinaryLiteral IdentifierWithoutHyphen StringLiteral IdentifierWithoutHyphen StringLiteral"},
		{"t'2020-01-01T00:00:00Z' t'2020-01-01T00:00:00.123456789Z' t'2020-1-01T00:00:00Z'", "TimestampLiteral TimestampLiteral IdentifierWithoutHyphen StringLiteral"},
		{`'a\'b' 'a\\' 'a\b'`, "StringLiteral StringLiteral ''' IdentifierWithoutHyphen InvalidCharacter IdentifierWithoutHyphen '''"},
		{"= == != <> < <= > >= ! ^ /", "EQ EQ NEQ NEQ '<' '<=' '>' '>=' InvalidCharacter '^' '/'"},
		{"a/*x*/b//c\nd\u00a0\u3000e", "IdentifierWithoutHyphen IdentifierWithoutHyphen IdentifierWithoutHyphen IdentifierWithoutHyphen"},
	}
	for _, tt := range tests {
		l := newLexer(tt.in, false)
		var got []string
		for {
			tok := l.next()
			if tok.kind == tEOF {
				break
			}
			got = append(got, tok.kind.String())
		}
		if g := strings.Join(got, " "); g != tt.want {
			t.Errorf("%q:\n got %s\nwant %s", tt.in, g, tt.want)
		}
	}
}

func TestPatternLimits(t *testing.T) {
	deep := strings.Repeat("(", MaxDepth+10) + "[a:b = 1]" + strings.Repeat(")", MaxDepth+10)
	if _, err := Parse(deep); err == nil {
		t.Error("over-deep pattern parsed")
	}
	if _, err := Parse("[" + strings.Repeat("(", 100000)); err == nil {
		t.Error("deep unterminated pattern parsed")
	}
	if _, err := Parse("[a:b = '" + strings.Repeat("x", MaxPatternLen) + "']"); err == nil {
		t.Error("over-long pattern parsed")
	}
	wide := "[a:b = 1]" + strings.Repeat(" AND [a:b = 1]", 5000)
	if _, err := Parse(wide); err != nil {
		t.Errorf("long flat pattern: %v", err)
	}
}

// dump renders the tree without positions, for golden files and equality.
func dump(p *Pattern) string {
	var b strings.Builder
	var obs func(ObsExpr, string)
	var comp func(CompExpr, string)
	lit := func(l Literal) string {
		s := fmt.Sprintf("%s %s", l.Kind, l.Text)
		if l.Err != nil {
			s += " (invalid)"
		}
		return s
	}
	comp = func(e CompExpr, ind string) {
		switch e := e.(type) {
		case *CompBinary:
			op := "OR"
			if e.And {
				op = "AND"
			}
			fmt.Fprintf(&b, "%sComp%s\n", ind, op)
			comp(e.Left, ind+"  ")
			comp(e.Right, ind+"  ")
		case *CompGroup:
			fmt.Fprintf(&b, "%sCompGroup\n", ind)
			comp(e.Inner, ind+"  ")
		case *Comparison:
			var steps []string
			for _, s := range e.Path.Steps {
				switch s.Kind {
				case StepKey:
					steps = append(steps, fmt.Sprintf("key(%q,quoted=%v)", s.Key, s.Quoted))
				case StepIndex:
					steps = append(steps, fmt.Sprintf("index(%d)", s.Index))
				default:
					steps = append(steps, "star")
				}
			}
			fmt.Fprintf(&b, "%sComparison type=%q path=%s not=%v op=%s(%s)", ind, e.Path.Type, strings.Join(steps, "/"), e.Negated, e.Op, e.OpText)
			if e.Op == OpIn {
				var ls []string
				for _, l := range e.Set {
					ls = append(ls, lit(l))
				}
				fmt.Fprintf(&b, " set=[%s]", strings.Join(ls, "; "))
			} else if e.Op != OpExists {
				fmt.Fprintf(&b, " value=%s", lit(e.Value))
			}
			b.WriteByte('\n')
		}
	}
	obs = func(e ObsExpr, ind string) {
		switch e := e.(type) {
		case *ObsSimple:
			fmt.Fprintf(&b, "%sObservation\n", ind)
			comp(e.Comparison, ind+"  ")
		case *ObsGroup:
			fmt.Fprintf(&b, "%sGroup\n", ind)
			obs(e.Inner, ind+"  ")
		case *ObsBinary:
			fmt.Fprintf(&b, "%s%s\n", ind, e.Op)
			obs(e.Left, ind+"  ")
			obs(e.Right, ind+"  ")
		case *ObsQualified:
			fmt.Fprintf(&b, "%sQualified %s\n", ind, e.Qualifier)
			obs(e.Inner, ind+"  ")
		}
	}
	obs(p.Root, "")
	return b.String()
}

// TestParseGolden pins the tree of every valid corpus pattern; run with
// -update to rewrite testdata/parse.golden.
func TestPatternParseGolden(t *testing.T) {
	var b strings.Builder
	for _, c := range readCases(t, "validate.txt") {
		p, err := Parse(c.pattern)
		if err != nil {
			continue
		}
		fmt.Fprintf(&b, "== %s\n%s", c.pattern, dump(p))
	}
	golden := filepath.Join("testdata", "parse.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if b.String() != string(want) {
		t.Errorf("parse trees differ from %s; run go test -update and review the diff", golden)
	}
}

func roundTrip(t *testing.T, src string) {
	t.Helper()
	p, err := Parse(src)
	if err != nil {
		t.Fatalf("parse %q: %v", src, err)
	}
	printed := p.String()
	q, err := Parse(printed)
	if err != nil {
		t.Fatalf("reparse %q (printed from %q): %v", printed, src, err)
	}
	if dump(p) != dump(q) {
		t.Fatalf("round trip changed the tree:\n%s\n%s\nvs\n%s", src, dump(p), dump(q))
	}
	if q.String() != printed {
		t.Fatalf("printing is not stable: %q vs %q", printed, q.String())
	}
}

func TestPatternRoundTripCorpus(t *testing.T) {
	for _, c := range readCases(t, "validate.txt") {
		if _, err := Parse(c.pattern); err == nil {
			roundTrip(t, c.pattern)
		}
	}
}

// TestRoundTripRandom is a property test: random well-formed patterns
// print and re-parse to the same tree.
func TestPatternRoundTripRandom(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	n := 3000
	if testing.Short() {
		n = 500
	}
	for i := 0; i < n; i++ {
		roundTrip(t, genPattern(r, 0))
	}
}

func genPattern(r *rand.Rand, depth int) string {
	var s string
	switch k := r.Intn(6); {
	case depth > 3 || k < 3:
		s = "[" + genComp(r, 0) + "]"
	case k == 3:
		s = "(" + genPattern(r, depth+1) + ")"
	default:
		ops := []string{" AND ", " OR ", " FOLLOWEDBY "}
		s = genPattern(r, depth+1) + ops[r.Intn(3)] + genPattern(r, depth+1)
	}
	if r.Intn(4) == 0 && (s[0] == '[' || s[0] == '(') && !strings.Contains(s, " ") {
		quals := []string{" WITHIN 5 SECONDS", " WITHIN 2.5 SECONDS", " REPEATS 3 TIMES", " START t'2020-01-01T00:00:00Z' STOP t'2020-01-02T00:00:00.5Z'"}
		s += quals[r.Intn(len(quals))]
	}
	return s
}

func genComp(r *rand.Rand, depth int) string {
	switch k := r.Intn(5); {
	case depth < 3 && k == 0:
		return genComp(r, depth+1) + " AND " + genComp(r, depth+1)
	case depth < 3 && k == 1:
		return genComp(r, depth+1) + " OR " + genComp(r, depth+1)
	case depth < 3 && k == 2:
		return "(" + genComp(r, depth+1) + ")"
	}
	paths := []string{"file:name", "file:hashes.'SHA-256'", "network-traffic:dst_ref.value", "x:a[0].b[*].'c d'", "email-message:to_refs[*].value"}
	path := paths[r.Intn(len(paths))]
	if r.Intn(8) == 0 {
		return "EXISTS " + path
	}
	ops := []string{"=", "!=", "<", ">=", "LIKE", "MATCHES", "ISSUBSET", "IN", "==", "<>"}
	lits := []string{"'x'", "'it\\'s'", "5", "-3", "1.5", "true", "h'00ff'", "b'AAAA'", "t'2020-01-01T00:00:00Z'"}
	op := ops[r.Intn(len(ops))]
	not := ""
	if r.Intn(4) == 0 {
		not = "NOT "
	}
	switch op {
	case "LIKE", "MATCHES", "ISSUBSET":
		return path + " " + not + op + " 'v%'"
	case "IN":
		return path + " " + not + "IN (" + lits[r.Intn(2)] + ", " + lits[r.Intn(2)] + ")"
	case "<", ">=":
		orderable := []string{"'x'", "5", "-3", "1.5", "h'00ff'", "b'AAAA'", "t'2020-01-01T00:00:00Z'"}
		return path + " " + not + op + " " + orderable[r.Intn(len(orderable))]
	}
	return path + " " + not + op + " " + lits[r.Intn(len(lits))]
}

// FuzzParse checks that parsing never panics or hangs, and that whatever
// parses also round-trips through the printer.
func FuzzParse(f *testing.F) {
	for _, c := range readCases(f, "validate.txt") {
		f.Add(c.pattern)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := Parse(s)
		_ = Validate(s)
		if err != nil {
			return
		}
		q, err := Parse(p.String())
		if err != nil {
			t.Fatalf("printed form %q of %q does not parse: %v", p.String(), s, err)
		}
		if dump(p) != dump(q) {
			t.Fatalf("round trip changed %q", s)
		}
	})
}
