package pattern

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
)

// This file reproduces the few Python library behaviours that decide the
// reference matcher's verdicts (cti-pattern-matcher is written in Python):
// datetime.strptime for timestamps, binascii for _hex/_bin properties, and
// socket.inet_aton for ISSUBSET/ISSUPERSET.

// parsePyTimestamp converts a STIX timestamp the way the reference matcher
// does (_str_to_datetime): upper case only (unless ignoreCase), fractions
// beyond microseconds truncated, then datetime.strptime with
// "%Y-%m-%dT%H:%M:%S[.%f]Z", whose directives accept one-digit months,
// days, hours, minutes and seconds and a space before a one-digit day, and
// finally Python's calendar validation (no leap seconds, no year 0). The
// result is UTC with microsecond precision.
func parsePyTimestamp(s string, ignoreCase bool) (time.Time, error) {
	if !ignoreCase {
		for _, r := range s {
			if unicode.IsLower(r) {
				return time.Time{}, errTimestamp
			}
		}
	}
	frac := strings.IndexByte(s, '.') >= 0
	if frac {
		// Python: parts = s.split("."); if len(parts[1]) > 7 and it ends
		// with "Z", keep its first six characters and the "Z".
		first := strings.IndexByte(s, '.')
		rest := s[first+1:]
		second := rest
		tail := ""
		if k := strings.IndexByte(rest, '.'); k >= 0 {
			second, tail = rest[:k], rest[k:]
		}
		if len(second) > 7 && strings.HasSuffix(second, "Z") {
			s = s[:first+1] + second[:6] + "Z" + tail
		}
	}
	i := 0
	num := func(max int) (int, bool) {
		n, v := 0, 0
		for i < len(s) && n < max && s[i] >= '0' && s[i] <= '9' {
			v = v*10 + int(s[i]-'0')
			i++
			n++
		}
		return v, n > 0
	}
	sep := func(c byte) bool {
		if i < len(s) && (s[i] == c || (ignoreCase && s[i]|0x20 == c|0x20)) {
			i++
			return true
		}
		return false
	}
	// Each field is read up to its separator, then checked against the
	// alternatives of the strptime expression.
	field := func(max int, ok2 func(a, b byte) bool, ok1 func(a byte) bool) (int, bool) {
		st := i
		v, ok := num(max)
		if !ok {
			return 0, false
		}
		switch i - st {
		case 2:
			return v, ok2(s[st], s[st+1])
		case 1:
			return v, ok1(s[st])
		}
		return v, true
	}
	year, ok := num(4)
	if !ok || i != 4 || !sep('-') {
		return time.Time{}, errTimestamp
	}
	month, ok := field(2, func(a, b byte) bool { return (a == '1' && b <= '2') || (a == '0' && b >= '1') }, func(a byte) bool { return a >= '1' })
	if !ok || !sep('-') {
		return time.Time{}, errTimestamp
	}
	var day int
	if i < len(s) && s[i] == ' ' {
		i++
		st := i
		day, ok = num(1)
		if !ok || s[st] == '0' {
			return time.Time{}, errTimestamp
		}
	} else {
		day, ok = field(2, func(a, b byte) bool { return (a == '3' && b <= '1') || a == '1' || a == '2' || (a == '0' && b >= '1') }, func(a byte) bool { return a >= '1' })
		if !ok {
			return time.Time{}, errTimestamp
		}
	}
	if !sep('T') {
		return time.Time{}, errTimestamp
	}
	hour, ok := field(2, func(a, b byte) bool { return (a == '2' && b <= '3') || a <= '1' }, func(byte) bool { return true })
	if !ok || !sep(':') {
		return time.Time{}, errTimestamp
	}
	minute, ok := field(2, func(a, b byte) bool { return a <= '5' }, func(byte) bool { return true })
	if !ok || !sep(':') {
		return time.Time{}, errTimestamp
	}
	sec, ok := field(2, func(a, b byte) bool { return a <= '5' || (a == '6' && b <= '1') }, func(byte) bool { return true })
	if !ok {
		return time.Time{}, errTimestamp
	}
	micro := 0
	if frac {
		if !sep('.') {
			return time.Time{}, errTimestamp
		}
		st := i
		v, ok := num(6)
		if !ok {
			return time.Time{}, errTimestamp
		}
		for n := i - st; n < 6; n++ {
			v *= 10
		}
		micro = v
	}
	if !sep('Z') || i != len(s) {
		return time.Time{}, errTimestamp
	}
	if year < 1 || sec > 59 {
		return time.Time{}, errTimestamp
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, micro*1000, time.UTC)
	if t.Day() != day {
		return time.Time{}, errTimestamp // e.g. February 30th, which Python rejects
	}
	return t, nil
}

var errTimestamp = errors.New("invalid timestamp")

var errBase64 = errors.New("invalid base64 data")

// pyB64Decode is Python's base64.standard_b64decode: characters outside
// the alphabet are skipped, decoding stops at complete padding, and a
// dangling partial group is an error.
func pyB64Decode(s string) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return nil, errBase64
		}
	}
	var out []byte
	quad, pads := 0, 0
	var left byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '=' {
			if quad >= 2 {
				pads++
				if quad+pads >= 4 {
					return out, nil
				}
			}
			continue
		}
		v := b64val(c)
		if v < 0 {
			continue
		}
		pads = 0
		switch quad {
		case 0:
			left, quad = byte(v), 1
		case 1:
			out = append(out, left<<2|byte(v)>>4)
			left, quad = byte(v)&0x0f, 2
		case 2:
			out = append(out, left<<4|byte(v)>>2)
			left, quad = byte(v)&0x03, 3
		case 3:
			out = append(out, left<<6|byte(v))
			left, quad = 0, 0
		}
	}
	if quad != 0 {
		return nil, errBase64
	}
	if out == nil {
		out = []byte{}
	}
	return out, nil
}

func b64val(c byte) int {
	switch {
	case c >= 'A' && c <= 'Z':
		return int(c - 'A')
	case c >= 'a' && c <= 'z':
		return int(c-'a') + 26
	case c >= '0' && c <= '9':
		return int(c-'0') + 52
	case c == '+':
		return 62
	case c == '/':
		return 63
	}
	return -1
}

var errHex = errors.New("invalid hex data")

// pyHexDecode is binascii.a2b_hex: an even number of hex digits.
func pyHexDecode(s string) ([]byte, error) {
	if len(s)%2 != 0 {
		return nil, errHex
	}
	out := make([]byte, len(s)/2)
	for i := 0; i < len(s); i += 2 {
		h, l := hexVal(s[i]), hexVal(s[i+1])
		if h < 0 || l < 0 {
			return nil, errHex
		}
		out[i/2] = byte(h<<4 | l)
	}
	return out, nil
}

func hexVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// inetAton is glibc's inet_aton as called by Python's socket.inet_aton:
// one to four parts, each decimal, octal (leading 0) or hex (0x), the last
// part filling the remaining bytes; anything after ASCII whitespace is
// ignored.
func inetAton(s string) (uint32, bool) {
	if strings.IndexByte(s, 0) >= 0 {
		return 0, false
	}
	var parts [4]uint32
	np := 0
	i := 0
	var val uint64
	for {
		if i >= len(s) || !isDigitB(s[i]) {
			return 0, false
		}
		base := uint64(10)
		j := i
		if s[j] == '0' {
			base = 8
			j++
			if j < len(s) && (s[j] == 'x' || s[j] == 'X') && j+1 < len(s) && hexVal(s[j+1]) >= 0 {
				base = 16
				j++
			}
		}
		val = 0
		for j < len(s) {
			d := hexVal(s[j])
			if d < 0 || uint64(d) >= base {
				break
			}
			val = val*base + uint64(d)
			if val > 0xffffffff {
				return 0, false
			}
			j++
		}
		i = j
		if i < len(s) && s[i] == '.' {
			if np > 2 || val > 0xff {
				return 0, false
			}
			parts[np] = uint32(val)
			np++
			i++
			continue
		}
		break
	}
	if i < len(s) {
		switch s[i] {
		case ' ', '\t', '\n', '\v', '\f', '\r':
		default:
			return 0, false
		}
	}
	max := [4]uint64{0xffffffff, 0xffffff, 0xffff, 0xff}
	if val > max[np] {
		return 0, false
	}
	res := uint32(val)
	for k := 0; k < np; k++ {
		res |= parts[k] << (24 - 8*uint(k))
	}
	return res, true
}

// pyUpperSpecial holds the characters whose Python str.upper() is more than
// one character (Unicode SpecialCasing); others map as unicode.ToUpper.
var pyUpperSpecial = map[rune]string{
	'ß': "SS", 'ŉ': "ʼN", 'ǰ': "J̌", 'ΐ': "Ϊ́", 'ΰ': "Ϋ́", 'և': "ԵՒ",
	'ẖ': "H̱", 'ẗ': "T̈", 'ẘ': "W̊", 'ẙ': "Y̊", 'ẚ': "Aʾ",
	'ﬀ': "FF", 'ﬁ': "FI", 'ﬂ': "FL", 'ﬃ': "FFI", 'ﬄ': "FFL", 'ﬅ': "ST", 'ﬆ': "ST",
	'ﬓ': "ՄՆ", 'ﬔ': "ՄԵ", 'ﬕ': "ՄԻ", 'ﬖ': "ՎՆ", 'ﬗ': "ՄԽ",
}

// pyUpper is Python's str.upper().
func pyUpper(s string) string {
	var b strings.Builder
	for _, r := range s {
		if x, ok := pyUpperSpecial[r]; ok {
			b.WriteString(x)
			continue
		}
		b.WriteRune(unicode.ToUpper(r))
	}
	return b.String()
}

// pyIsSpace is Python's str.isspace for one character.
func pyIsSpace(r rune) bool {
	return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f)
}

// PyUnicodeEscape renders s as Python's "unicode_escape" codec does; the
// reference matcher prints patterns this way.
func PyUnicodeEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || (r >= 0x7f && r < 0x100):
			fmt.Fprintf(&b, `\x%02x`, r)
		case r < 0x7f:
			b.WriteRune(r)
		case r < 0x10000:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			fmt.Fprintf(&b, `\U%08x`, r)
		}
	}
	return b.String()
}

// latin1 reports whether every code point of s is below 256 and returns
// the bytes, the reference's rule for comparing strings with binary values.
func latin1(s string) ([]byte, bool) {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		if r >= 256 {
			return nil, false
		}
		out = append(out, byte(r))
	}
	return out, true
}

// fromLatin1 maps each byte to the code point of the same value.
func fromLatin1(b []byte) string {
	var sb strings.Builder
	for _, c := range b {
		sb.WriteRune(rune(c))
	}
	return sb.String()
}
