package pattern

import (
	"math/rand"
	"strings"
	"testing"
)

// TestPatternEmulationAgrees checks that the fast parser and the ANTLR
// emulation accept the same language: on random token soups (biased
// towards almost-valid patterns), Parse fails exactly when the emulation
// reports an error.
func TestPatternEmulationAgrees(t *testing.T) {
	frags := []string{"[", "]", "(", ")", "a:b", "file:hashes.'SHA-256'", "x-y:z", ":", ".", "c", "'s'",
		"=", "!=", "<", ">=", "NOT", "EXISTS", "IN", "LIKE", "MATCHES", "ISSUBSET", "ISSUPERSET",
		"AND", "OR", "FOLLOWEDBY", "WITHIN", "5", "2.5", "-1", "SECONDS", "REPEATS", "TIMES",
		"START", "STOP", "t'2020-01-01T00:00:00Z'", "true", "h'aa'", "b'AAAA'", ",", "[0]", "[*]", "?", "*", ""}
	valid := []string{"[a:b = 1]", "[a:b[*].c NOT IN (1, 2)]", "([a:b = 'x'] OR [c:d LIKE 'y']) WITHIN 5 SECONDS",
		"[NOT EXISTS a:b] FOLLOWEDBY [x:y ISSUBSET '1.2.3.4/8'] REPEATS 2 TIMES"}
	r := rand.New(rand.NewSource(7))
	n := 20000
	if testing.Short() {
		n = 4000
	}
	for i := 0; i < n; i++ {
		var s string
		if i%2 == 0 {
			var parts []string
			for k := r.Intn(12); k >= 0; k-- {
				parts = append(parts, frags[r.Intn(len(frags))])
			}
			s = strings.Join(parts, " ")
		} else {
			// Mutate a valid pattern: drop, duplicate or replace a token.
			toks := strings.Fields(valid[r.Intn(len(valid))])
			j := r.Intn(len(toks))
			switch r.Intn(3) {
			case 0:
				toks = append(toks[:j], toks[j+1:]...)
			case 1:
				toks = append(toks[:j+1], toks[j:]...)
			default:
				toks[j] = frags[r.Intn(len(frags))]
			}
			s = strings.Join(toks, " ")
		}
		for _, v20 := range []bool{false, true} {
			_, err := parseVersion(s, v20)
			errs := antlrErrors(s, v20)
			if (err == nil) != (len(errs) == 0) {
				t.Fatalf("v20=%v %q: Parse error %v, emulation %v", v20, s, err, errs)
			}
			if err != nil && err.(*SyntaxError).Msg != errs[0].Msg {
				t.Fatalf("%q: first error differs", s)
			}
		}
	}
}

// TestPatternSyntaxMessages pins ANTLR's recovery on a few more shapes.
func TestPatternSyntaxMessages(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"[a:b = 1", []string{"line 1:8: missing ']' at '<EOF>'"}},
		{"[a:b = 1] AND", []string{"line 1:13: mismatched input '<EOF>' expecting {'(', '['}"}},
		{"[a:b = 1] [c:d = 2]", []string{"line 1:10: mismatched input '[' expecting <EOF>"}},
		{"[a:b IN (1, 2]", []string{"line 1:13: extraneous input ']' expecting {',', ')'}"}},
		{"[a:b IN (1 2)]", []string{"line 1:11: extraneous input '2' expecting {',', ')'}"}},
		{"[a:b IN 1]", []string{"line 1:8: mismatched input '1' expecting '('"}},
		{"[a:b IN (]", []string{"line 1:9: no viable alternative at input '(]'"}},
		{"\n", []string{"line 2:0: mismatched input '<EOF>' expecting {'(', '['}"}},
		{"[a:b = 1]\n", nil},
		{"[a:b ~ 1]", []string{"line 1:5: no viable alternative at input 'a:b~'"}},
		// Recovery stops at the index's ']', which then closes the
		// observation; the rest is unexpected.
		{"[a:b.c[x] = 1]", []string{"line 1:7: no viable alternative at input 'a:b.c[x'", "line 1:10: mismatched input '=' expecting <EOF>"}},
		// The Python runtime reports the mismatch at the failing match
		// (unlike the Java runtime, which would use the last sync state).
		{"[EXISTS a:b = 1]", []string{"line 1:12: mismatched input '=' expecting ']'"}},
		{"[a:b = 1] REPEATS 2", []string{"line 1:19: missing 'TIMES' at '<EOF>'"}},
		{"[a:b = 1] START t'2020-01-01T00:00:00Z'", []string{"line 1:39: mismatched input '<EOF>' expecting 'STOP'"}},
		{"[a:b = 'x\ny' OR ]", []string{"line 2:6: mismatched input ']' expecting {'NOT', 'EXISTS', IdentifierWithoutHyphen, IdentifierWithHyphen, '('}"}},
		{"[a:b = 1 c:d = 2]", []string{"line 1:9: mismatched input 'c' expecting ']'"}},
	}
	for _, tt := range tests {
		var got []string
		for _, e := range antlrErrors(tt.in, false) {
			got = append(got, e.Error())
		}
		if strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("%q:\n got %q\nwant %q", tt.in, got, tt.want)
		}
	}
}
