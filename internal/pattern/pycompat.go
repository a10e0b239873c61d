package pattern

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// This file reproduces the few Python library behaviours that decide the
// reference matcher's verdicts (cti-pattern-matcher is written in Python):
// datetime.strptime for timestamps, binascii for _hex/_bin properties, and
// socket.inet_aton for ISSUBSET/ISSUPERSET.

// The reference converts timestamps with strptime("%Y-%m-%dT%H:%M:%S[.%f]Z"),
// whose directives accept one-digit months, days, hours, minutes and
// seconds, and a leading space before a one-digit day.
var (
	pyTSFrac   = regexp.MustCompile(`^(\d\d\d\d)-(1[0-2]|0[1-9]|[1-9])-(3[01]|[12]\d|0[1-9]|[1-9]| [1-9])T(2[0-3]|[0-1]\d|\d):([0-5]\d|\d):(6[0-1]|[0-5]\d|\d)\.([0-9]{1,6})Z\z`)
	pyTSNoFrac = regexp.MustCompile(`^(\d\d\d\d)-(1[0-2]|0[1-9]|[1-9])-(3[01]|[12]\d|0[1-9]|[1-9]| [1-9])T(2[0-3]|[0-1]\d|\d):([0-5]\d|\d):(6[0-1]|[0-5]\d|\d)Z\z`)
)

// parsePyTimestamp converts a STIX timestamp the way the reference matcher
// does: upper case only (unless ignoreCase), fractions beyond microseconds
// truncated, and calendar validation as Python's datetime (no leap seconds,
// no year 0). The result is UTC with microsecond precision.
func parsePyTimestamp(s string, ignoreCase bool) (time.Time, error) {
	bad := func() (time.Time, error) {
		return time.Time{}, fmt.Errorf("invalid timestamp %q", s)
	}
	if !ignoreCase {
		for _, r := range s {
			if unicode.IsLower(r) {
				return bad()
			}
		}
	}
	re := pyTSNoFrac
	if strings.Contains(s, ".") {
		re = pyTSFrac
		parts := strings.Split(s, ".")
		if len(parts[1]) > 7 && strings.HasSuffix(parts[1], "Z") {
			parts[1] = parts[1][:6] + "Z"
			s = strings.Join(parts, ".")
		}
	}
	m := re.FindStringSubmatch(s)
	if m == nil {
		return bad()
	}
	n := func(i int) int {
		v, _ := strconv.Atoi(strings.TrimSpace(m[i]))
		return v
	}
	year, month, day, hour, minute, sec := n(1), n(2), n(3), n(4), n(5), n(6)
	if year < 1 || sec > 59 {
		return bad()
	}
	micro := 0
	if len(m) > 7 && m[7] != "" {
		f := m[7] + strings.Repeat("0", 6-len(m[7]))
		micro, _ = strconv.Atoi(f)
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, micro*1000, time.UTC)
	if t.Day() != day {
		return bad() // e.g. February 30th, which Python rejects
	}
	return t, nil
}

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
		if i >= len(s) || !isDigit(rune(s[i])) {
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
