package stix

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf16"
)

// referenceCanonical runs only the reference algorithm, the one
// AppendCanonical falls back on.
func referenceCanonical(raw []byte) ([]byte, error) {
	var st canonState
	return st.reference(nil, raw)
}

// writeCanonicalOnePass runs only the one-pass writer, as AppendCanonical
// does when the input is not canonical already.
func writeCanonicalOnePass(raw []byte) ([]byte, bool) {
	var st canonState
	out, end, ok := st.write(nil, raw, 0, 0)
	return out, ok && skipWS(raw, end) == len(raw)
}

// canonicalInputs are in RFC 8785 form already: the fast path must take
// them, and the reference must give them back unchanged.
var canonicalInputs = []string{
	`{}`, `[]`, `""`, `0`, `-1`, `true`, `false`, `null`,
	`{"":0,"a":1}`,
	`{"a":[1,"x",{"b":null}],"b":{"c":true,"d":false}}`,
	`{"n":[0.5,1e+30,1e-7,0.000001,-1.5,123456789012345,9007199254740992,1e+21,100000000000000000000]}`,
	`{"s":"tab\there \"q\" back\\slash \u001f \u0000 \b\f\n\r"}`,
	"{\"s\":\"é€😀 \x7f is DEL, kept as itself\"}",
	`{"e":1,"é":2,"דּ":4,"😀":3}`, // U+1F600 sorts before U+FB33 in UTF-16
	"{\"\u007f\":1,\"\u0080\":2}",
	`{"a":{"b":{"c":{"d":{"e":[[[[]]]]}}}}}`,
}

// almostCanonical are one step from canonical form: the fast path must
// decline them (the output differs from the input, or it is an error), and
// the result must be the reference's.
var almostCanonical = []string{
	`{"b":1,"a":2}`,                                                // members out of order
	`{"a":1,"c":{"e":1,"d":2},"f":3}`,                              // nested members out of order
	`{"a":1,"a":1}`,                                                // duplicate member
	`{"a":1,"b":{"x":1,"x":2}}`,                                    // nested duplicate
	`{"😀":1,"דּ":2}`,                                               // byte order, not UTF-16 order
	`{"n":1.0}`,                                                    // trailing fraction zero
	`{"n":1e2}`,                                                    // exponent where ES6 writes 100
	`{"n":1E+30}`,                                                  // upper-case exponent
	`{"n":-0}`,                                                     // negative zero
	`{"n":0.10}`,                                                   // trailing zero
	`{"n":1e400}`,                                                  // out of double range
	`{"n":01}`,                                                     // invalid number
	`{"n":1234567890123456789}`,                                    // long integer, rounded
	`{"s":"\u0041"}`,                                               // escape JCS writes as A
	`{"s":"a\/b"}`,                                                 // escaped solidus
	`{"s":"\u000a"}`,                                               // control with a short form
	`{"s":"\u001F"}`,                                               // upper-case hex
	`{"s":"\u00e9"}`,                                               // escaped non-ASCII
	`{"s":"\ud83d\ude00"}`,                                         // escaped surrogate pair
	`{"s":"\ud800"}`,                                               // lone high surrogate
	`{"s":"\udc00\ud800"}`,                                         // misordered surrogates
	`{"\u0061":1}`,                                                 // escaped member name
	`{"a\nb":1,"a":2}`,                                             // escaped name that sorts after
	`{"a":1 }`, ` {"a":1}`, `{"a":1}` + "\n", `{"a": 1}`, `[1, 2]`, // whitespace
	"{\"s\":\"\xff\"}",                                               // invalid UTF-8
	"{\"s\":\"\xed\xa0\x80\"}",                                       // UTF-8 encoded surrogate
	"{\"s\":\"a\x01\"}",                                              // raw control character
	`{"a":1,}`, `[1,]`, `{"a"}`, `{"a":1`, `[`, `"abc`, `tru`, `nul`, // truncated or malformed
	`{"a":1}{}`, `1 2`, // trailing data
	strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1), // too deep
}

func TestCanonicalFastPath(t *testing.T) {
	for _, in := range canonicalInputs {
		if !isCanonical([]byte(in)) {
			t.Errorf("isCanonical(%s) = false, want true", in)
		}
		ref, err := referenceCanonical([]byte(in))
		if err != nil || string(ref) != in {
			t.Errorf("reference(%s) = %s, %v: the input is not canonical", in, ref, err)
		}
		got, err := Canonicalize([]byte(in))
		if err != nil || string(got) != in {
			t.Errorf("Canonicalize(%s) = %s, %v", in, got, err)
		}
	}
	for _, in := range almostCanonical {
		if isCanonical([]byte(in)) {
			t.Errorf("isCanonical(%q) = true, want false", in)
		}
		checkAgainstReference(t, []byte(in))
	}
}

// checkAgainstReference checks that Canonicalize and the one-pass writer
// agree with the reference algorithm on in: the same output, or both an
// error, with the same message.
func checkAgainstReference(t *testing.T, in []byte) {
	t.Helper()
	want, werr := referenceCanonical(in)
	got, err := Canonicalize(in)
	if (err == nil) != (werr == nil) || !bytes.Equal(got, want) {
		t.Errorf("Canonicalize(%q)\n got %s, %v\nwant %s, %v", in, got, err, want, werr)
	}
	if err != nil && (err.Error() != werr.Error() || !errors.Is(err, ErrCanonical)) {
		t.Errorf("Canonicalize(%q): error %q, want %q", in, err, werr)
	}
	if isCanonical(in) && (werr != nil || !bytes.Equal(want, in)) {
		t.Errorf("isCanonical(%q) = true, but its canonical form is %s, %v", in, want, werr)
	}
	one, ok := writeCanonicalOnePass(in)
	if ok != (werr == nil) || (ok && !bytes.Equal(one, want)) {
		t.Errorf("write(%q) = %s, %v; reference %s, %v", in, one, ok, want, werr)
	}
}

// TestCanonicalPathsAgree runs the comparison on the samples and the STIX
// corpus, each also compacted, pretty-printed and canonicalised first.
func TestCanonicalPathsAgree(t *testing.T) {
	inputs := append([]string{benchIndicator}, jcsSamples...)
	inputs = append(inputs, canonicalInputs...)
	for _, dir := range []string{"testdata/valid", "testdata/invalid", "markings"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
		for _, name := range files {
			if data, err := os.ReadFile(name); err == nil {
				inputs = append(inputs, string(data))
			}
		}
	}
	for _, in := range inputs {
		checkAgainstReference(t, []byte(in))
		var pretty bytes.Buffer
		if json.Indent(&pretty, []byte(in), "", "  ") == nil {
			checkAgainstReference(t, pretty.Bytes())
		}
		if c, err := Canonicalize([]byte(in)); err == nil {
			checkAgainstReference(t, c)
			if !isCanonical(c) && !bytes.Contains(c, []byte(`\`)) {
				t.Errorf("isCanonical(%s) = false for Canonicalize's own output", c)
			}
		}
	}
}

// FuzzCanonicalFastPath checks on arbitrary input that the fast path is
// taken only for canonical input and that the one-pass writer produces
// exactly the reference's output, and fails exactly when it does.
func FuzzCanonicalFastPath(f *testing.F) {
	for _, s := range canonicalInputs {
		f.Add([]byte(s))
	}
	for _, s := range almostCanonical {
		f.Add([]byte(s))
	}
	for _, s := range jcsSamples {
		f.Add([]byte(s))
	}
	f.Add([]byte(benchIndicator))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkAgainstReference(t, data)
	})
}

// TestAppendES6 checks the number formatter against a straightforward
// formulation of ECMA-262 §7.1.12.1 over doubles of every magnitude.
func TestAppendES6(t *testing.T) {
	var fs []float64
	for e := -330; e <= 310; e++ {
		for _, m := range []float64{1, 1.5, 2.2250738585072014, 3.3333333333333335, 9.999999999999998, 4.9} {
			f, err := strconv.ParseFloat(strconv.FormatFloat(m, 'g', -1, 64)+"e"+strconv.Itoa(e), 64)
			if err == nil && !math.IsInf(f, 0) {
				fs = append(fs, f, -f)
			}
		}
	}
	fs = append(fs, 0, math.Copysign(0, -1), math.MaxFloat64, math.SmallestNonzeroFloat64, 1<<53, 1<<53+2, 0.1, 0.2+0.1)
	for _, f := range fs {
		got := string(appendES6([]byte("x"), f))
		if want := "x" + es6Reference(f); got != want {
			t.Errorf("appendES6(%v) = %s, want %s", f, got, want)
		}
	}
}

// es6Reference is ECMA-262 §7.1.12.1 step by step on Go's shortest digits.
func es6Reference(f float64) string {
	if f == 0 {
		return "0"
	}
	sign := ""
	if f < 0 {
		sign, f = "-", -f
	}
	mant, expStr, _ := strings.Cut(strconv.FormatFloat(f, 'e', -1, 64), "e")
	exp, _ := strconv.Atoi(expStr)
	digits := strings.Replace(mant, ".", "", 1)
	k, n := len(digits), exp+1
	switch {
	case k <= n && n <= 21:
		return sign + digits + strings.Repeat("0", n-k)
	case 0 < n && n <= 21:
		return sign + digits[:n] + "." + digits[n:]
	case -6 < n && n <= 0:
		return sign + "0." + strings.Repeat("0", -n) + digits
	}
	s := sign + digits[:1]
	if k > 1 {
		s += "." + digits[1:]
	}
	if n-1 >= 0 {
		return s + "e+" + strconv.Itoa(n-1)
	}
	return s + "e" + strconv.Itoa(n-1)
}

// TestCanonicalizeAllocations checks that neither path allocates once its
// buffers are warm: the copy of canonical input, and the one-pass writer
// (with its own state, as the pool may drop states under -race).
func TestCanonicalizeAllocations(t *testing.T) {
	canon, err := Canonicalize([]byte(benchIndicator))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 0, 4096)
	if allocs := testing.AllocsPerRun(100, func() {
		if buf, err = AppendCanonical(buf[:0], canon); err != nil {
			t.Fatal(err)
		}
	}); allocs > 0 {
		t.Errorf("AppendCanonical of canonical input allocates %v times, want 0", allocs)
	}
	var st canonState
	pretty := []byte(benchIndicator)
	if allocs := testing.AllocsPerRun(100, func() {
		var ok bool
		if buf, _, ok = st.write(buf[:0], pretty, 0, 0); !ok {
			t.Fatal("write failed")
		}
	}); allocs > 0 {
		t.Errorf("write allocates %v times, want 0", allocs)
	}
}

// utf16Compare is RFC 8785 §3.2.3 word for word: compare the UTF-16 code
// units.
func utf16Compare(a, b string) int {
	return slices.Compare(utf16.Encode([]rune(a)), utf16.Encode([]rune(b)))
}

// TestNamePrefixOrder checks that where two names' prefixes differ, they
// order the names as their UTF-16 code units do; around the bytes where
// UTF-8 and UTF-16 order part (U+E000 and above, characters beyond
// U+FFFF), NUL characters, and the eight-byte cut.
func TestNamePrefixOrder(t *testing.T) {
	parts := []string{"", "a", "ab", "\x00", "\x7f", "é", "\u07ff", "\u0800", "\ud7ff", "\ue000", "\ufb33", "\uffff", "😀", "\U0010ffff"}
	var names []string
	for _, x := range parts {
		for _, y := range parts {
			names = append(names, x+y, "abcdefg"+x+y, "abcdefgh"+x+y, "abcdef"+x+"z"+y)
		}
	}
	for _, a := range names {
		for _, b := range names {
			want := utf16Compare(a, b)
			if got := compareUTF16([]byte(a), []byte(b)); sign(got) != sign(want) {
				t.Errorf("compareUTF16(%q, %q) = %d, want sign %d", a, b, got, want)
			}
			pa, pb := namePrefix([]byte(a)), namePrefix([]byte(b))
			if pa == pb {
				continue
			}
			if got := cmp.Compare(pa, pb); got != sign(want) {
				t.Errorf("namePrefix orders %q, %q as %d (%016x, %016x), want %d", a, b, got, pa, pb, want)
			}
		}
	}
}

func sign(n int) int { return cmp.Compare(n, 0) }

// TestCanonicalLargeObjects covers objects past the insertion-sort size:
// out of order, with a duplicate, and already sorted.
func TestCanonicalLargeObjects(t *testing.T) {
	var members []string
	for i := range 100 {
		members = append(members, fmt.Sprintf(`"k%03d":%d`, (i*37)%100, i))
	}
	unsorted := "{" + strings.Join(members, ",") + "}"
	dup := "{" + strings.Join(members, ",") + `,"k042":1}`
	slices.Sort(members)
	sorted := "{" + strings.Join(members, ",") + "}"
	for _, in := range []string{unsorted, dup, sorted} {
		checkAgainstReference(t, []byte(in))
	}
	if !isCanonical([]byte(sorted)) || isCanonical([]byte(unsorted)) {
		t.Errorf("isCanonical: sorted %v, unsorted %v", isCanonical([]byte(sorted)), isCanonical([]byte(unsorted)))
	}
	if _, err := Canonicalize([]byte(dup)); err == nil {
		t.Errorf("Canonicalize accepts a duplicate member among 101")
	}
}
