package stix

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf16"
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
	v, err := parseJSON(raw)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := writeCanonical(&buf, v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
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
