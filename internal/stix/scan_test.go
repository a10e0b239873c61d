package stix

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// scanStringReference is the plain byte-at-a-time scanner scanString
// replaced, kept as the specification of its results and errors.
func scanStringReference(b []byte, i int) (end int, esc bool, err error) {
	i++
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			return i + 1, esc, nil
		case c == '\\':
			esc = true
			if i+1 >= len(b) {
				return i, esc, syntaxErr(i, "unterminated escape")
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) {
					return i, esc, syntaxErr(i, "short \\u escape")
				}
				for _, h := range b[i+2 : i+6] {
					if !isHex(h) {
						return i, esc, syntaxErr(i, "invalid \\u escape")
					}
				}
				i += 6
			default:
				return i, esc, syntaxErr(i, "invalid escape")
			}
		case c < 0x20:
			return i, esc, syntaxErr(i, "control character in string")
		case c < utf8.RuneSelf:
			i++
		default:
			r, n := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && n <= 1 {
				return i, esc, syntaxErr(i, "invalid UTF-8")
			}
			i += n
		}
	}
	return i, esc, syntaxErr(i, "unterminated string")
}

func checkScanString(t *testing.T, b []byte) {
	t.Helper()
	end, esc, err := scanString(b, 0)
	wend, wesc, werr := scanStringReference(b, 0)
	if end != wend || esc != wesc || (err == nil) != (werr == nil) || (err != nil && err.Error() != werr.Error()) {
		t.Errorf("scanString(%q) = %d, %v, %v; want %d, %v, %v", b, end, esc, err, wend, wesc, werr)
	}
}

// TestScanStringBoundaries puts each kind of byte that ends a plain run at
// every offset of the first three eight-byte words, with the string cut
// short or not, so that the word-at-a-time skip is checked at every
// alignment and at the end of the input.
func TestScanStringBoundaries(t *testing.T) {
	specials := []string{
		`"`, `\"`, `\\`, `\/`, `\n`, `\u00e9`, `\u00G9`, `\u12`, `\x`, `\`,
		"\x00", "\x1f", "\t", "\x7f", " ", "~",
		"é", "€", "😀", "\xc2", "\xe2\x82", "\xf0\x9f\x98", "\xff", "\x80", "\xc0\x80", "\xed\xa0\x80", "\xef\xbf\xbd",
	}
	for p := 0; p < 24; p++ {
		for _, sp := range specials {
			for _, tail := range []string{`"`, `abcdefghijklmnop"`, `\nx"`, `abc`, ``} {
				checkScanString(t, []byte(`"`+strings.Repeat("a", p)+sp+tail))
			}
		}
	}
}

func FuzzScanString(f *testing.F) {
	for _, s := range []string{`"plain"`, `"a\"b\\c\u00e9"`, "\"é€😀\"", "\"\xff\"", `"unterminated`, "\"a\x01\"", `"\ud800"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkScanString(t, append([]byte{'"'}, data...))
	})
}

// strContentReference is strContent as it was, on encoding/json.
func strContentReference(v []byte) []byte {
	if len(v) < 2 || v[0] != '"' {
		return nil
	}
	inner := v[1 : len(v)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return inner
	}
	var s string
	if json.Unmarshal(v, &s) != nil {
		return inner
	}
	return []byte(s)
}

func checkUnquote(t *testing.T, v []byte) {
	t.Helper()
	if len(v) > 0 && isWS(v[len(v)-1]) {
		// encoding/json allows whitespace after the string; strContent
		// is given values as the scanner delimits them, without.
		return
	}
	got, want := strContent(v), strContentReference(v)
	if !bytes.Equal(got, want) || (got == nil) != (want == nil) {
		t.Errorf("strContent(%q) = %q, want %q", v, got, want)
	}
	if len(v) < 2 || v[0] != '"' {
		return
	}
	inner := v[1 : len(v)-1]
	if end, _, err := scanString(v, 0); err != nil || end != len(v) {
		return // what follows holds for strings the scanner accepts
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		t.Fatalf("scanner accepts %q, encoding/json does not: %v", v, err)
	}
	if key := keyContent(inner, true); string(key) != s {
		t.Errorf("keyContent(%q) = %q, want %q", inner, key, s)
	}
	jcs, ok := appendUnquoted(nil, inner, true)
	if want := appendCanonicalString(nil, []byte(s)); !ok || !bytes.Equal(jcs, want[1:len(want)-1]) {
		t.Errorf("appendUnquoted(%q, jcs) = %q, %v; want %q", inner, jcs, ok, want[1:len(want)-1])
	}
}

// TestUnquote compares the escape decoder with encoding/json, which it
// replaced, on the cases where decoders differ: surrogates alone, paired,
// misordered or followed by something else, and invalid UTF-8.
func TestUnquote(t *testing.T) {
	for _, s := range []string{
		`"plain"`, `"a\"b\\c\/d\b\f\n\r\t"`, `"\u0041\u00e9\u20ac\uFFFF"`,
		`"\ud83d\ude00"`, `"\ud83d"`, `"\ude00"`, `"\ude00\ud83d"`, `"\ud83d\ud83d\ude00"`,
		`"\ud83dx"`, `"\ud83d\n"`, `"\ud83d\u0041"`, `"\ud83d\u"`, `"\ud83d\uZZZZ"`, `"\ud83d\`,
		`"\u0000\u001f\u007f"`, `"\x"`, `"\u12"`, `"a\"`, `"a"b"`,
		"\"\xff\\n\"", "\"\xed\xa0\x80\\n\"", "\"\x01\\n\"", "\"é\\u00e9\"",
		``, `"`, `x`, `"\n`, `"\\`,
	} {
		checkUnquote(t, []byte(s))
	}
}

func FuzzUnquote(f *testing.F) {
	for _, s := range []string{`"\ud83d\ude00"`, `"\ud83d\u0041"`, `"a\\b\"c"`, "\"\xff\\n\""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkUnquote(t, data)
	})
}
