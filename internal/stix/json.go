package stix

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"unicode/utf16"
	"unicode/utf8"
)

// This file is a small, allocation-free JSON scanner. Validation walks the
// exact bytes of every object once, property by property, instead of
// decoding into map[string]any: that keeps the hot path of ingest (TAXII
// POST of thousands of indicators) free of per-property allocations.

// maxDepth bounds nesting so hostile input cannot exhaust the stack.
const maxDepth = 200

// errSyntax is wrapped by every scanner error.
var errSyntax = errors.New("invalid JSON")

func syntaxErr(off int, msg string) error {
	return fmt.Errorf("%w at offset %d: %s", errSyntax, off, msg)
}

// isWS reports whether c is JSON white space. The first test settles the
// common case, a byte that is not, in one comparison.
func isWS(c byte) bool { return c <= ' ' && (c == ' ' || c == '\t' || c == '\n' || c == '\r') }

func skipWS(b []byte, i int) int {
	for i < len(b) && isWS(b[i]) {
		i++
	}
	return i
}

// scanValue checks the JSON value starting at b[i] (after whitespace) and
// returns the offset just after it.
func scanValue(b []byte, i, depth int) (int, error) {
	i = skipWS(b, i)
	if i >= len(b) {
		return i, syntaxErr(i, "unexpected end of input")
	}
	switch c := b[i]; {
	case c == '"':
		end, _, err := scanString(b, i)
		return end, err
	case c == '{':
		if depth >= maxDepth {
			return i, syntaxErr(i, "nesting too deep")
		}
		i = skipWS(b, i+1)
		if i < len(b) && b[i] == '}' {
			return i + 1, nil
		}
		for {
			i = skipWS(b, i)
			if i >= len(b) || b[i] != '"' {
				return i, syntaxErr(i, "expected string key")
			}
			end, _, err := scanString(b, i)
			if err != nil {
				return end, err
			}
			i = skipWS(b, end)
			if i >= len(b) || b[i] != ':' {
				return i, syntaxErr(i, "expected ':'")
			}
			if i, err = scanValue(b, i+1, depth+1); err != nil {
				return i, err
			}
			i = skipWS(b, i)
			if i >= len(b) {
				return i, syntaxErr(i, "unexpected end of object")
			}
			if b[i] == '}' {
				return i + 1, nil
			}
			if b[i] != ',' {
				return i, syntaxErr(i, "expected ',' or '}'")
			}
			i++
		}
	case c == '[':
		if depth >= maxDepth {
			return i, syntaxErr(i, "nesting too deep")
		}
		i = skipWS(b, i+1)
		if i < len(b) && b[i] == ']' {
			return i + 1, nil
		}
		for {
			var err error
			if i, err = scanValue(b, i, depth+1); err != nil {
				return i, err
			}
			i = skipWS(b, i)
			if i >= len(b) {
				return i, syntaxErr(i, "unexpected end of array")
			}
			if b[i] == ']' {
				return i + 1, nil
			}
			if b[i] != ',' {
				return i, syntaxErr(i, "expected ',' or ']'")
			}
			i++
		}
	case c == 't':
		return scanLiteral(b, i, "true")
	case c == 'f':
		return scanLiteral(b, i, "false")
	case c == 'n':
		return scanLiteral(b, i, "null")
	case c == '-' || (c >= '0' && c <= '9'):
		return scanNumber(b, i)
	default:
		return i, syntaxErr(i, fmt.Sprintf("unexpected character %q", c))
	}
}

func scanLiteral(b []byte, i int, lit string) (int, error) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return i, syntaxErr(i, "invalid literal")
	}
	return i + len(lit), nil
}

// scanNumber follows the RFC 8259 number grammar exactly.
func scanNumber(b []byte, i int) (int, error) {
	start := i
	if b[i] == '-' {
		i++
	}
	if i >= len(b) {
		return i, syntaxErr(start, "invalid number")
	}
	switch {
	case b[i] == '0':
		i++
	case b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return i, syntaxErr(start, "invalid number")
	}
	if i < len(b) && b[i] == '.' {
		i++
		d := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == d {
			return i, syntaxErr(start, "invalid number")
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		d := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == d {
			return i, syntaxErr(start, "invalid number")
		}
	}
	return i, nil
}

// scanString checks the string starting at b[i] == '"' and returns the offset
// after the closing quote and whether it contains escapes. Invalid UTF-8 is
// rejected: RFC 8259 §8.1 requires UTF-8, and canonical ids depend on it.
//
// It is the hottest function of ingest and federation catch-up. It looks
// for the closing quote eight bytes at a time, stopping only at a quote, a
// backslash or a control character (RFC 8259 §7), and notes whether any
// byte it read was 0x80 or more; only then is the string checked as
// UTF-8, in one call. Escapes are ASCII, so checking the whole body is the same as
// checking each run of other characters.
func scanString(b []byte, i int) (end int, esc bool, err error) {
	start := i + 1
	var high uint64 // bytes passed over, ORed: a bit 7 set when one may not be ASCII
	i++
	for {
		for i+8 <= len(b) {
			x := binary.LittleEndian.Uint64(b[i:])
			high |= x // bytes past the stop only ever cost a needless check
			if m := stopBytes(x); m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				break
			}
			i += 8
		}
		for i < len(b) && passOver(b[i]) {
			high |= uint64(b[i])
			i++
		}
		if i >= len(b) {
			return stringErr(b, start, i, esc, high, "unterminated string")
		}
		switch c := b[i]; {
		case c == '"':
			if high&0x8080808080808080 != 0 && !utf8.Valid(b[start:i]) {
				return stringErr(b, start, i, esc, high, "")
			}
			return i + 1, esc, nil
		case c == '\\':
			esc = true
			if i+1 >= len(b) {
				return stringErr(b, start, i, esc, high, "unterminated escape")
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) {
					return stringErr(b, start, i, esc, high, "short \\u escape")
				}
				if hex4(b[i+2:i+6]) < 0 {
					return stringErr(b, start, i, esc, high, "invalid \\u escape")
				}
				i += 6
			default:
				return stringErr(b, start, i, esc, high, "invalid escape")
			}
		default: // c < 0x20
			return stringErr(b, start, i, esc, high, "control character in string")
		}
	}
}

// stringErr returns scanString's result for the first problem of the
// string whose body starts at b[start] and was scanned up to b[i], where
// msg (if any) was found: a byte before i that is not UTF-8 comes first,
// as the string is read from the left. The offset returned is the
// problem's.
func stringErr(b []byte, start, i int, esc bool, high uint64, msg string) (int, bool, error) {
	if high&0x8080808080808080 != 0 {
		for j := start; j < i; {
			r, n := utf8.DecodeRune(b[j:i])
			if r == utf8.RuneError && n <= 1 {
				return j, bytes.IndexByte(b[start:j], '\\') >= 0, syntaxErr(j, "invalid UTF-8")
			}
			j += n
		}
	}
	if msg == "" {
		msg = "invalid UTF-8" // not reached: utf8.Valid and the loop agree
	}
	return i, esc, syntaxErr(i, msg)
}

// passOver reports whether scanString passes over c: anything but a quote,
// a backslash or a control character.
func passOver(c byte) bool { return c >= 0x20 && c != '"' && c != '\\' }

// plainASCII reports whether c may appear in a JSON string as itself and
// needs no further look: printable ASCII other than '"' and '\\'.
func plainASCII(c byte) bool { return c < utf8.RuneSelf && passOver(c) }

// stopBytes sets the high bit of each byte of x (eight bytes of a string,
// little-endian) that scanString does not pass over: per byte, x-0x20 sets
// it when the byte is below 0x20, (x^'"')-1 when it is '"' and
// (x^'\\')-1 when it is '\\', and &^x clears it for bytes of 0x80 and
// more, which those subtractions also flag. The subtractions borrow from
// the next byte only out of a byte that is flagged, so flags above the
// lowest can be spurious; the lowest, all scanString uses, is exact.
func stopBytes(x uint64) uint64 {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	quote := x ^ (ones * '"')
	backslash := x ^ (ones * '\\')
	return ((x - ones*0x20) | (quote - ones) | (backslash - ones)) &^ x & highs
}

// hex4 decodes four hexadecimal digits, or returns -1.
func hex4(h []byte) rune {
	if len(h) < 4 {
		return -1
	}
	var r rune
	for _, c := range h[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

func isHex(c byte) bool { return hexDigit[c] }

// hexDigit marks the hexadecimal digits, for isHex: one load instead of
// three range tests, in the 32 digits of every identifier Validate reads.
// It is never written.
var hexDigit = [256]bool{
	'0': true, '1': true, '2': true, '3': true, '4': true, '5': true, '6': true, '7': true, '8': true, '9': true,
	'a': true, 'b': true, 'c': true, 'd': true, 'e': true, 'f': true,
	'A': true, 'B': true, 'C': true, 'D': true, 'E': true, 'F': true,
}

// objIter walks the members of one JSON object without allocating.
type objIter struct {
	b     []byte
	i     int
	depth int
	err   error
	done  bool
	// plain is set by next when the value is a string without escapes,
	// whose content is the bytes between its quotes.
	plain bool
}

// newObjIter starts iterating v, which must be a JSON object. The first
// call of next steps over the opening brace (it.i is 0 until then): a
// constructor that small is inlined, and the iterator built in place,
// where copying it from a returned struct stalled on its own stores.
func newObjIter(v []byte, depth int) objIter { return objIter{b: v, depth: depth} }

// start steps over the opening brace, and reports whether there may be a
// member: not when v is not an object (it.err says so) or is empty.
func (it *objIter) start() bool {
	v := it.b
	i := skipWS(v, 0)
	if i >= len(v) || v[i] != '{' {
		it.fail(syntaxErr(i, "expected object"))
		return false
	}
	it.i = skipWS(v, i+1)
	if it.i < len(v) && v[it.i] == '}' {
		it.done = true
		return false
	}
	return true
}

// next returns the next member: key is the raw key (between the quotes,
// escapes not decoded), keyEsc tells whether it has escapes, val the raw
// value bytes.
func (it *objIter) next() (key []byte, keyEsc bool, val []byte, ok bool) {
	if it.done || it.i == 0 && !it.start() {
		return nil, false, nil, false
	}
	b, i := it.b, skipWS(it.b, it.i)
	if i >= len(b) || b[i] != '"' {
		it.fail(syntaxErr(i, "expected string key"))
		return nil, false, nil, false
	}
	end, esc, err := scanString(b, i)
	if err != nil {
		it.fail(err)
		return nil, false, nil, false
	}
	key = b[i+1 : end-1]
	i = skipWS(b, end)
	if i >= len(b) || b[i] != ':' {
		it.fail(syntaxErr(i, "expected ':'"))
		return nil, false, nil, false
	}
	i = skipWS(b, i+1)
	var vend int
	if i < len(b) && b[i] == '"' {
		// Most values are strings: scanValue would only skip no space
		// and dispatch to scanString.
		vend, it.plain, err = scanString(b, i)
		it.plain = !it.plain
	} else {
		vend, err = scanValue(b, i, it.depth+1)
		it.plain = false
	}
	if err != nil {
		it.fail(err)
		return nil, false, nil, false
	}
	val = b[i:vend]
	i = skipWS(b, vend)
	switch {
	case i < len(b) && b[i] == ',':
		it.i = i + 1
	case i < len(b) && b[i] == '}':
		it.done = true
		if rest := skipWS(b, i+1); rest != len(b) {
			it.fail(syntaxErr(rest, "trailing data after object"))
			return nil, false, nil, false
		}
	default:
		it.fail(syntaxErr(i, "expected ',' or '}'"))
		return nil, false, nil, false
	}
	return key, esc, val, true
}

func (it *objIter) fail(err error) {
	it.err = err
	it.done = true
}

// arrIter walks the elements of one JSON array without allocating.
type arrIter struct {
	b     []byte
	i     int
	depth int
	err   error
	done  bool
}

func newArrIter(v []byte, depth int) arrIter {
	it := arrIter{b: v, depth: depth}
	it.i = skipWS(v, 0)
	if it.i >= len(v) || v[it.i] != '[' {
		it.err = syntaxErr(it.i, "expected array")
		it.done = true
		return it
	}
	it.i = skipWS(v, it.i+1)
	if it.i < len(v) && v[it.i] == ']' {
		it.done = true
	}
	return it
}

// hasNext reports whether the array has another element, without
// consuming it.
func (it *arrIter) hasNext() bool {
	cp := *it
	_, ok := cp.next()
	return ok
}

func (it *arrIter) next() ([]byte, bool) {
	if it.done {
		return nil, false
	}
	b, i := it.b, skipWS(it.b, it.i)
	end, err := scanValue(b, i, it.depth+1)
	if err != nil {
		it.err, it.done = err, true
		return nil, false
	}
	val := b[i:end]
	i = skipWS(b, end)
	switch {
	case i < len(b) && b[i] == ',':
		it.i = i + 1
	case i < len(b) && b[i] == ']':
		it.done = true
	default:
		it.err, it.done = syntaxErr(i, "expected ',' or ']'"), true
		return nil, false
	}
	return val, true
}

// jsonKind classifies a raw JSON value by its first byte.
type jsonKind uint8

const (
	jInvalid jsonKind = iota
	jString
	jNumber
	jBool
	jNull
	jObject
	jArray
)

func kindOf(v []byte) jsonKind {
	if len(v) == 0 {
		return jInvalid
	}
	switch c := v[0]; {
	case c == '"':
		return jString
	case c == '{':
		return jObject
	case c == '[':
		return jArray
	case c == 't' || c == 'f':
		return jBool
	case c == 'n':
		return jNull
	case c == '-' || (c >= '0' && c <= '9'):
		return jNumber
	}
	return jInvalid
}

func (k jsonKind) String() string {
	switch k {
	case jString:
		return "a string"
	case jNumber:
		return "a number"
	case jBool:
		return "a boolean"
	case jNull:
		return "null"
	case jObject:
		return "an object"
	case jArray:
		return "a list"
	}
	return "invalid"
}

// strContent returns the decoded content of a raw JSON string value, as
// the scanner delimits it. Without escapes it is a sub-slice of v (no
// allocation).
func strContent(v []byte) []byte {
	if len(v) < 2 || v[0] != '"' {
		return nil
	}
	inner := v[1 : len(v)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return inner
	}
	if v[len(v)-1] != '"' {
		return inner
	}
	out, ok := appendUnquoted(make([]byte, 0, len(inner)), inner, false)
	if !ok {
		return inner
	}
	return out
}

// keyContent decodes a raw object key as returned by objIter.next.
func keyContent(k []byte, esc bool) []byte {
	if !esc {
		return k
	}
	out, ok := appendUnquoted(make([]byte, 0, len(k)), k, false)
	if !ok {
		return k
	}
	return out
}

// appendUnquoted appends the content of s, the bytes between the quotes of
// a JSON string, with its escapes decoded exactly as encoding/json decodes
// them: a \u escape of a lone or misordered surrogate and a byte that is
// not UTF-8 become U+FFFD (RFC 8259 §7, §8.2 leave them to the decoder).
// With jcs set, the characters RFC 8785 §3.2.2.2 requires escaped are
// escaped again, as JCS writes them, so the result is the body of the
// canonical string. It reports false, as encoding/json fails, on an invalid
// escape, a quote or a control character.
func appendUnquoted(dst, s []byte, jcs bool) ([]byte, bool) {
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\':
			if i+1 >= len(s) {
				return dst, false
			}
			r, n := rune(s[i+1]), 2 // the character, the length of its escape
			switch r {
			case '"', '\\', '/':
			case 'b':
				r = '\b'
			case 'f':
				r = '\f'
			case 'n':
				r = '\n'
			case 'r':
				r = '\r'
			case 't':
				r = '\t'
			case 'u':
				if r, n = hex4(s[i+2:]), 6; r < 0 {
					return dst, false
				}
				if utf16.IsSurrogate(r) {
					// Only a high surrogate directly followed by a \u
					// escape of a low one is a character.
					r2 := rune(-1)
					if i+8 <= len(s) && s[i+6] == '\\' && s[i+7] == 'u' {
						r2 = hex4(s[i+8:])
					}
					if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
						r, n = d, 12
					} else {
						r = utf8.RuneError
					}
				}
			default:
				return dst, false
			}
			i += n
			if jcs {
				dst = appendCanonicalRune(dst, r)
			} else {
				dst = utf8.AppendRune(dst, r)
			}
		case c == '"' || c < 0x20:
			return dst, false
		case c < utf8.RuneSelf:
			j := i + 1
			for j < len(s) && plainASCII(s[j]) {
				j++
			}
			dst = append(dst, s[i:j]...)
			i = j
		default:
			r, n := utf8.DecodeRune(s[i:])
			if r == utf8.RuneError && n == 1 {
				dst = utf8.AppendRune(dst, utf8.RuneError)
			} else {
				dst = append(dst, s[i:i+n]...)
			}
			i += n
		}
	}
	return dst, true
}

// The functions and iterators below walk JSON that scanValue (or objIter,
// arrIter) has already accepted: the members of an object Validate has
// scanned whole. They check nothing and so cannot fail, which makes them
// cheaper than the checking iterators the values were first read with;
// on bytes that were not checked they may panic or return nonsense.

// quoteOrBackslash is stopBytes for a string known to be valid: it flags
// only quotes and backslashes, with the same exact lowest flag.
func quoteOrBackslash(x uint64) uint64 {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	return (((x ^ (ones * '"')) - ones) | ((x ^ (ones * '\\')) - ones)) &^ x & highs
}

// skipString returns the offset just after the valid JSON string starting
// at b[i] == '"', and whether it has escapes.
func skipString(b []byte, i int) (end int, esc bool) {
	i++
	for {
		for i+8 <= len(b) {
			if m := quoteOrBackslash(binary.LittleEndian.Uint64(b[i:])); m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				break
			}
			i += 8
		}
		for b[i] != '"' && b[i] != '\\' {
			i++
		}
		if b[i] == '"' {
			return i + 1, esc
		}
		// An escape: what follows the backslash is one character, or
		// u and four hex digits that the loops pass over.
		esc = true
		i += 2
	}
}

// skipValue returns the offset just after the valid JSON value starting
// at b[i] (not at white space).
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		end, _ := skipString(b, i)
		return end
	case '{', '[':
		depth := 0
		for {
			switch b[i] {
			case '"':
				i, _ = skipString(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
			i++
		}
	}
	// A number, true, false or null: up to the next delimiter, if any.
	for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && !isWS(b[i]) {
		i++
	}
	return i
}

// validObjIter walks the members of a valid JSON object, as objIter does,
// and needs only the object to start b: it stops at its closing brace.
// Its zero offset means that next has yet to step over the opening brace:
// done there rather than in newValidObjIter, the constructor is small
// enough to inline, and the iterator is built in place instead of being
// copied from a returned struct, a copy that stalled on its own stores.
type validObjIter struct {
	b    []byte
	i    int
	done bool
}

// newValidObjIter starts iterating v, a valid JSON object.
func newValidObjIter(v []byte) validObjIter { return validObjIter{b: v} }

// next returns the next member as objIter.next does.
func (it *validObjIter) next() (key []byte, keyEsc bool, val []byte, ok bool) {
	if it.done {
		return nil, false, nil, false
	}
	b, i := it.b, it.i
	if i == 0 {
		if i = skipWS(b, skipWS(b, 0)+1); b[i] == '}' {
			it.i, it.done = i, true
			return nil, false, nil, false
		}
	}
	i = skipWS(b, i)
	end, esc := skipString(b, i)
	key = b[i+1 : end-1]
	i = skipWS(b, skipWS(b, end)+1)
	vend := skipValue(b, i)
	val = b[i:vend]
	i = skipWS(b, vend)
	if b[i] == ',' {
		i++
	} else {
		it.done = true
	}
	it.i = i
	return key, esc, val, true
}

// end is the offset just after the object's closing brace, once next has
// returned every member.
func (it *validObjIter) end() int { return it.i + 1 }

// validArrIter walks the elements of a valid JSON array, as arrIter does;
// like validObjIter, it steps over the opening bracket in next.
type validArrIter struct {
	b    []byte
	i    int
	done bool
}

// newValidArrIter starts iterating v, a valid JSON array.
func newValidArrIter(v []byte) validArrIter { return validArrIter{b: v} }

// next returns the next element as arrIter.next does.
func (it *validArrIter) next() ([]byte, bool) {
	if it.done {
		return nil, false
	}
	b, i := it.b, it.i
	if i == 0 {
		if i = skipWS(b, skipWS(b, 0)+1); b[i] == ']' {
			it.done = true
			return nil, false
		}
	}
	i = skipWS(b, i)
	end := skipValue(b, i)
	val := b[i:end]
	i = skipWS(b, end)
	if b[i] == ',' {
		it.i = i + 1
	} else {
		it.done = true
	}
	return val, true
}
