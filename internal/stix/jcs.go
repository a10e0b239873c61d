package stix

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// ErrCanonical is wrapped by Canonicalize errors.
var ErrCanonical = errors.New("stix: cannot canonicalize")

// Canonicalize returns the RFC 8785 JSON Canonicalization Scheme (JCS) form
// of raw: no whitespace, object members sorted by the UTF-16 code units of
// their names (§3.2.3), numbers in ECMAScript's shortest round-trip form
// (§3.2.2.3), and strings with only the mandatory escapes (§3.2.2.2).
// Duplicate member names are an error (I-JSON, RFC 7493), as are numbers
// that do not fit an IEEE 754 double.
func Canonicalize(raw []byte) ([]byte, error) {
	out, err := AppendCanonical(make([]byte, 0, len(raw)+len(raw)/8), raw)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// AppendCanonical appends the JCS form of raw (see Canonicalize) to dst.
// It works in one pass over the raw bytes after a validating scan: member
// names are sorted in place as slices of the input, strings without
// escapes and numbers already in canonical form are copied unchanged.
func AppendCanonical(dst, raw []byte) ([]byte, error) {
	i := skipWS(raw, 0)
	end, err := scanValue(raw, i, 0)
	if err != nil {
		return dst, fmt.Errorf("%w: %w", ErrCanonical, err)
	}
	if skipWS(raw, end) != len(raw) {
		return dst, fmt.Errorf("%w: trailing data after JSON value", ErrCanonical)
	}
	st := canonPool.Get().(*canonState)
	n := len(dst)
	dst, err = st.value(dst, raw[i:end], 0)
	if err != nil {
		dst = dst[:n]
	}
	clear(st.members[:cap(st.members)]) // drop references to raw
	st.members = st.members[:0]
	canonPool.Put(st)
	return dst, err
}

// jcsMember is one object member during canonicalisation: key is the decoded
// name (a slice of the input when it has no escapes), val the raw value.
type jcsMember struct {
	key, val []byte
	esc      bool
}

// canonState is the scratch space of one canonicalisation, pooled: the
// members of every object being written, nested objects stacked above
// their parents.
type canonState struct{ members []jcsMember }

var canonPool = sync.Pool{New: func() any { return &canonState{members: make([]jcsMember, 0, 64)} }}

// value appends the canonical form of v, a value the scanner accepted.
func (st *canonState) value(dst, v []byte, depth int) ([]byte, error) {
	switch kindOf(v) {
	case jString:
		if bytes.IndexByte(v, '\\') < 0 {
			// Without escapes the scanner admits no quote or control
			// character inside: the bytes are already canonical.
			return append(dst, v...), nil
		}
		return appendCanonicalString(dst, strContent(v)), nil
	case jNumber:
		if canonicalInt(v) {
			return append(dst, v...), nil
		}
		f, err := strconv.ParseFloat(string(v), 64)
		if err != nil || math.IsInf(f, 0) {
			return dst, fmt.Errorf("%w: number %s is outside IEEE 754 double range", ErrCanonical, v)
		}
		s, err := formatES6(f)
		if err != nil {
			return dst, err
		}
		return append(dst, s...), nil
	case jBool, jNull:
		return append(dst, v...), nil
	case jArray:
		dst = append(dst, '[')
		it := newArrIter(v, depth)
		n := 0
		for e, ok := it.next(); ok; e, ok = it.next() {
			if n > 0 {
				dst = append(dst, ',')
			}
			n++
			var err error
			if dst, err = st.value(dst, e, depth+1); err != nil {
				return dst, err
			}
		}
		if it.err != nil {
			return dst, fmt.Errorf("%w: %w", ErrCanonical, it.err)
		}
		return append(dst, ']'), nil
	case jObject:
		base := len(st.members)
		it := newObjIter(v, depth)
		for k, esc, e, ok := it.next(); ok; k, esc, e, ok = it.next() {
			m := jcsMember{key: k, val: e, esc: esc}
			if esc {
				m.key = keyContent(k, true)
			}
			st.members = append(st.members, m)
		}
		if it.err != nil {
			return dst, fmt.Errorf("%w: %w", ErrCanonical, it.err)
		}
		ms := st.members[base:]
		sortMembers(ms)
		for j := 1; j < len(ms); j++ {
			if bytes.Equal(ms[j-1].key, ms[j].key) {
				return dst, fmt.Errorf("%w: duplicate member %q", ErrCanonical, ms[j].key)
			}
		}
		n := len(ms)
		dst = append(dst, '{')
		for j := 0; j < n; j++ {
			m := st.members[base+j] // re-read: nested objects may grow the slice
			if j > 0 {
				dst = append(dst, ',')
			}
			if m.esc {
				dst = appendCanonicalString(dst, m.key)
			} else {
				dst = append(append(append(dst, '"'), m.key...), '"')
			}
			dst = append(dst, ':')
			var err error
			if dst, err = st.value(dst, m.val, depth+1); err != nil {
				return dst, err
			}
		}
		st.members = st.members[:base]
		return append(dst, '}'), nil
	}
	return dst, fmt.Errorf("%w: invalid JSON value", ErrCanonical)
}

// canonicalInt reports whether the number v is an integer already in its
// ECMAScript form: no sign other than a leading minus (not "-0"), no
// leading zero, no fraction or exponent, and at most 15 digits, so that it
// is exactly a double and prints as itself.
func canonicalInt(v []byte) bool {
	d := v
	if len(d) > 0 && d[0] == '-' {
		d = d[1:]
	}
	if len(d) == 0 || len(d) > 15 || (d[0] == '0' && (len(d) > 1 || len(v) > 1)) {
		return len(v) == 1 && v[0] == '0'
	}
	for _, c := range d {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// sortMembers sorts by name in UTF-16 code-unit order (RFC 8785 §3.2.3);
// objects are small, so insertion sort, without allocating.
func sortMembers(ms []jcsMember) {
	if len(ms) > 32 {
		slices.SortFunc(ms, func(a, b jcsMember) int { return compareUTF16(a.key, b.key) })
		return
	}
	for i := 1; i < len(ms); i++ {
		for j := i; j > 0 && compareUTF16(ms[j-1].key, ms[j].key) > 0; j-- {
			ms[j-1], ms[j] = ms[j], ms[j-1]
		}
	}
}

// compareUTF16 compares two UTF-8 strings by their UTF-16 code units. The
// orders agree except where a character above U+FFFF (a surrogate pair,
// D800-DFFF) meets one in E000-FFFF, so bytes are compared and only the
// first differing characters decoded.
func compareUTF16(a, b []byte) int {
	n := min(len(a), len(b))
	i := 0
	for i < n && a[i] == b[i] {
		i++
	}
	if i == n {
		return len(a) - len(b)
	}
	if a[i] < utf8.RuneSelf && b[i] < utf8.RuneSelf {
		return int(a[i]) - int(b[i])
	}
	for i > 0 && !utf8.RuneStart(a[i]) {
		i-- // back to the start of the character that differs
	}
	ra, _ := utf8.DecodeRune(a[i:])
	rb, _ := utf8.DecodeRune(b[i:])
	return int(utf16Key(ra)) - int(utf16Key(rb))
}

// utf16Key maps a character to a number ordered as its UTF-16 code units.
func utf16Key(r rune) uint32 {
	if r >= 0x10000 {
		r1, r2 := utf16.EncodeRune(r)
		return uint32(r1)<<16 | uint32(r2)
	}
	return uint32(r) << 16
}

// appendCanonicalString is writeCanonicalString for a byte slice.
func appendCanonicalString(dst, s []byte) []byte {
	const hexdig = "0123456789abcdef"
	dst = append(dst, '"')
	for _, c := range s {
		switch {
		case c == '"':
			dst = append(dst, '\\', '"')
		case c == '\\':
			dst = append(dst, '\\', '\\')
		case c == '\b':
			dst = append(dst, '\\', 'b')
		case c == '\t':
			dst = append(dst, '\\', 't')
		case c == '\n':
			dst = append(dst, '\\', 'n')
		case c == '\f':
			dst = append(dst, '\\', 'f')
		case c == '\r':
			dst = append(dst, '\\', 'r')
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hexdig[c>>4], hexdig[c&0xf])
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}

// parseJSON decodes raw into Go values (map[string]any, []any, string,
// float64, bool, nil) with duplicate detection, which encoding/json lacks.
func parseJSON(raw []byte) (any, error) {
	i := skipWS(raw, 0)
	end, err := scanValue(raw, i, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCanonical, err)
	}
	if skipWS(raw, end) != len(raw) {
		return nil, fmt.Errorf("%w: trailing data after JSON value", ErrCanonical)
	}
	return toValue(raw[i:end], 0)
}

func toValue(v []byte, depth int) (any, error) {
	switch kindOf(v) {
	case jString:
		return string(strContent(v)), nil
	case jNumber:
		f, err := strconv.ParseFloat(string(v), 64)
		if err != nil || math.IsInf(f, 0) {
			return nil, fmt.Errorf("%w: number %s is outside IEEE 754 double range", ErrCanonical, v)
		}
		return f, nil
	case jBool:
		return v[0] == 't', nil
	case jNull:
		return nil, nil
	case jArray:
		out := []any{}
		it := newArrIter(v, depth)
		for e, ok := it.next(); ok; e, ok = it.next() {
			x, err := toValue(e, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, x)
		}
		if it.err != nil {
			return nil, fmt.Errorf("%w: %w", ErrCanonical, it.err)
		}
		return out, nil
	case jObject:
		out := map[string]any{}
		it := newObjIter(v, depth)
		for k, esc, e, ok := it.next(); ok; k, esc, e, ok = it.next() {
			key := string(keyContent(k, esc))
			if _, dup := out[key]; dup {
				return nil, fmt.Errorf("%w: duplicate member %q", ErrCanonical, key)
			}
			x, err := toValue(e, depth+1)
			if err != nil {
				return nil, err
			}
			out[key] = x
		}
		if it.err != nil {
			return nil, fmt.Errorf("%w: %w", ErrCanonical, it.err)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: invalid JSON value", ErrCanonical)
}

// writeCanonical serialises a Go value as JCS. It accepts what parseJSON
// produces plus the Go types a caller of SCOID is likely to use.
func writeCanonical(buf *bytes.Buffer, v any) error {
	switch x := v.(type) {
	case nil:
		buf.WriteString("null")
	case bool:
		if x {
			buf.WriteString("true")
		} else {
			buf.WriteString("false")
		}
	case string:
		writeCanonicalString(buf, x)
	case float64:
		s, err := formatES6(x)
		if err != nil {
			return err
		}
		buf.WriteString(s)
	case float32:
		return writeCanonical(buf, float64(x))
	case int:
		return writeCanonical(buf, float64(x))
	case int64:
		return writeCanonical(buf, float64(x))
	case int32:
		return writeCanonical(buf, float64(x))
	case uint64:
		return writeCanonical(buf, float64(x))
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil || math.IsInf(f, 0) {
			return fmt.Errorf("%w: number %s", ErrCanonical, x)
		}
		return writeCanonical(buf, f)
	case json.RawMessage:
		inner, err := parseJSON(x)
		if err != nil {
			return err
		}
		return writeCanonical(buf, inner)
	case []string:
		buf.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				buf.WriteByte(',')
			}
			writeCanonicalString(buf, e)
		}
		buf.WriteByte(']')
	case []any:
		buf.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := writeCanonical(buf, e); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	case map[string]string:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = e
		}
		return writeCanonical(buf, m)
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sortUTF16(keys)
		buf.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				buf.WriteByte(',')
			}
			writeCanonicalString(buf, k)
			buf.WriteByte(':')
			if err := writeCanonical(buf, x[k]); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	default:
		return fmt.Errorf("%w: unsupported Go type %T", ErrCanonical, v)
	}
	return nil
}

// sortUTF16 orders member names by their UTF-16 code units, RFC 8785
// §3.2.3; this differs from Go's byte order for characters above U+FFFF.
func sortUTF16(keys []string) {
	sort.Slice(keys, func(i, j int) bool {
		a, b := utf16.Encode([]rune(keys[i])), utf16.Encode([]rune(keys[j]))
		for k := 0; k < len(a) && k < len(b); k++ {
			if a[k] != b[k] {
				return a[k] < b[k]
			}
		}
		return len(a) < len(b)
	})
}

// writeCanonicalString escapes only what RFC 8785 §3.2.2.2 requires:
// quote, backslash and the C0 controls (with the short forms where JSON has
// them, else \u00xx in lower case).
func writeCanonicalString(buf *bytes.Buffer, s string) {
	const hexdig = "0123456789abcdef"
	buf.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			buf.WriteString(`\"`)
		case c == '\\':
			buf.WriteString(`\\`)
		case c == '\b':
			buf.WriteString(`\b`)
		case c == '\t':
			buf.WriteString(`\t`)
		case c == '\n':
			buf.WriteString(`\n`)
		case c == '\f':
			buf.WriteString(`\f`)
		case c == '\r':
			buf.WriteString(`\r`)
		case c < 0x20:
			buf.WriteString(`\u00`)
			buf.WriteByte(hexdig[c>>4])
			buf.WriteByte(hexdig[c&0xf])
		default:
			buf.WriteByte(c)
		}
	}
	buf.WriteByte('"')
}

// formatES6 formats f as ECMAScript's Number.prototype.toString does
// (ECMA-262 §7.1.12.1), which RFC 8785 §3.2.2.3 adopts: the shortest digits
// that round-trip, plain notation for exponents in [-7, 21), else
// d.ddde±x.
func formatES6(f float64) (string, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "", fmt.Errorf("%w: NaN and Infinity are not JSON", ErrCanonical)
	}
	if f == 0 {
		return "0", nil // also for -0
	}
	neg := f < 0
	if neg {
		f = -f
	}
	// 'e' with precision -1 gives the shortest round-trip digits.
	e := strconv.FormatFloat(f, 'e', -1, 64)
	mant, expStr, _ := strings.Cut(e, "e")
	exp, _ := strconv.Atoi(expStr)
	digits := make([]byte, 0, len(mant))
	for i := 0; i < len(mant); i++ {
		if mant[i] != '.' {
			digits = append(digits, mant[i])
		}
	}
	k := len(digits)
	n := exp + 1 // position of the decimal point relative to the digits
	var out []byte
	if neg {
		out = append(out, '-')
	}
	switch {
	case k <= n && n <= 21:
		out = append(out, digits...)
		for i := 0; i < n-k; i++ {
			out = append(out, '0')
		}
	case 0 < n && n <= 21:
		out = append(out, digits[:n]...)
		out = append(out, '.')
		out = append(out, digits[n:]...)
	case -6 < n && n <= 0:
		out = append(out, '0', '.')
		for i := 0; i < -n; i++ {
			out = append(out, '0')
		}
		out = append(out, digits...)
	default:
		out = append(out, digits[0])
		if k > 1 {
			out = append(out, '.')
			out = append(out, digits[1:]...)
		}
		out = append(out, 'e')
		if n-1 >= 0 {
			out = append(out, '+')
		}
		out = strconv.AppendInt(out, int64(n-1), 10)
	}
	return string(out), nil
}
