package pattern

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestPatternPyRegexReference checks the translation of Python regular
// expressions (MATCHES) against Python's own verdicts.
func TestPatternPyRegexReference(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "reference", "regex.txt"))
	if err != nil {
		t.Fatal(err)
	}
	n, failed := 0, 0
	for i, line := range strings.Split(string(data), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 4 {
			t.Fatalf("regex.txt:%d: bad line", i+1)
		}
		expr, err1 := strconv.Unquote(f[2])
		subj, err2 := strconv.Unquote(f[3])
		if err1 != nil || err2 != nil {
			t.Fatalf("regex.txt:%d: bad quoting", i+1)
		}
		n++
		got := "ERROR"
		if re, err := compilePyRegex(expr, f[1] == "bytes"); err == nil {
			got = "NOMATCH"
			if m, err := re.MatchString(subj); err == nil && m {
				got = "MATCH"
			}
		}
		if got != f[0] {
			failed++
			t.Errorf("regex.txt:%d: %s %q on %q: got %s, want %s", i+1, f[1], expr, subj, got, f[0])
		}
	}
	t.Logf("%d regex cases, %d failed", n, failed)
}

func TestPatternPyRegexErrors(t *testing.T) {
	for _, tt := range []struct{ expr, msg string }{
		{`(?<n>x)`, "unknown extension ?<n"},
		{`\k<n>`, `bad escape \k`},
		{`\p{L}`, `bad escape \p`},
		{`[a-\d]`, `bad character range a-\d`},
		{`(?<=a+)b`, "look-behind requires fixed-width pattern"},
		{`a(?i)`, "global flags not at the start of the expression"},
		{`*a`, "nothing to repeat"},
		{`a**`, "multiple repeat"},
		{`(?(2)a|b)(c)`, "invalid group reference 2"},
		{`(a)(?P=b)`, "unknown group name 'b'"},
		{`a{3,1}`, "min repeat greater than max repeat"},
	} {
		if _, err := translatePyRegexStrict(tt.expr, false); err == nil || err.Error() != tt.msg {
			t.Errorf("%q: got error %v, want %q", tt.expr, err, tt.msg)
		}
	}
	for _, ok := range []string{`(?#c)(?i)a`, `(?(1)a|b)(c)`, `a{,2}`, `a{,}`, `a*+`, `(?>a)`, `\Z`, `(?x) a # c`} {
		if _, err := translatePyRegexStrict(ok, false); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
}
