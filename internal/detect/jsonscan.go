package detect

import (
	"errors"
	"math/bits"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// The telemetry decoders (ECS, Zeek, Suricata EVE) share one small JSON
// walker instead of encoding/json into map[string]any: at a million events a
// second the maps and interface boxing cost more than the matching itself.
// The walker visits every scalar leaf of one JSON object with its dotted
// path (nested keys joined by '.', array elements reported under the path of
// the array), so that `{"source":{"ip":"x"}}` and `{"source.ip":"x"}` look
// the same to the decoders. It works on a string so that leaf values without
// escapes are substrings of the line and cost no allocation.

// jsonKind is the JSON type of a leaf.
type jsonKind uint8

const (
	jsonString jsonKind = iota + 1
	jsonNumber
	jsonBool
	jsonNull
	jsonObject // the start of an object, reported only with walker.containers
	jsonArray  // the start of an array, reported only with walker.containers
)

// leaf is one scalar value met by the walker. For strings s is the
// unescaped text; for numbers, booleans and null it is the literal.
// inArray says the value is an element of an array (at any depth).
type leaf struct {
	kind    jsonKind
	s       string
	inArray bool
}

// errSyntax reports malformed JSON; the offset helps someone fixing a log
// shipper, the line number is added by the reader.
type syntaxError struct {
	off int
	msg string
}

func (e *syntaxError) Error() string {
	return "json: " + e.msg + " at offset " + strconv.Itoa(e.off)
}

var errNotObject = errors.New("json: line is not a JSON object")

// maxDepth bounds nesting so that hostile input cannot exhaust the stack.
const maxDepth = 64

// walker holds the scratch buffers reused across lines by one decoder.
type walker struct {
	s    string
	i    int
	path []byte
	fn   func(path []byte, v leaf)
	arr  int // arrays open around the current value
	// containers asks for a call at the start of every object and array
	// value too (kind jsonObject or jsonArray), for readers that must
	// reject a container where they expect a scalar.
	containers bool
}

// walkRecord walks an input record without copying it: leaf strings
// without escapes are substrings of rec itself (unsafe.String), valid as
// long as rec is neither changed nor reused, which the Decoder contract
// guarantees until Decode returns. A copy per line would be an allocation
// of the whole line per event.
func (w *walker) walkRecord(rec []byte, fn func(path []byte, v leaf)) error {
	return w.walk(unsafe.String(unsafe.SliceData(rec), len(rec)), fn)
}

// walk parses s, which must hold exactly one JSON object (surrounding
// whitespace allowed), calling fn for every scalar leaf. The path slice is
// only valid during the call.
func (w *walker) walk(s string, fn func(path []byte, v leaf)) error {
	w.s, w.i, w.path, w.fn, w.arr = s, 0, w.path[:0], fn, 0
	defer func() { w.s, w.fn = "", nil }() // keep neither the record nor the callback alive
	w.ws()
	if w.i >= len(s) || s[w.i] != '{' {
		return errNotObject
	}
	if err := w.object(0); err != nil {
		return err
	}
	w.ws()
	if w.i != len(s) {
		return w.errf("trailing data after object")
	}
	return nil
}

func (w *walker) errf(msg string) error { return &syntaxError{off: w.i, msg: msg} }

func (w *walker) ws() {
	i, s := w.i, w.s
	for i < len(s) && s[i] <= ' ' && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	w.i = i
}

// object parses an object starting at '{'.
func (w *walker) object(depth int) error {
	if depth >= maxDepth {
		return w.errf("nesting too deep")
	}
	w.i++ // '{'
	w.ws()
	if w.i < len(w.s) && w.s[w.i] == '}' {
		w.i++
		return nil
	}
	base := len(w.path)
	for {
		w.ws()
		if w.i >= len(w.s) || w.s[w.i] != '"' {
			return w.errf("expected object key")
		}
		key, err := w.str()
		if err != nil {
			return err
		}
		w.ws()
		if w.i >= len(w.s) || w.s[w.i] != ':' {
			return w.errf("expected ':'")
		}
		w.i++
		w.path = w.path[:base]
		if base > 0 {
			w.path = append(w.path, '.')
		}
		w.path = append(w.path, key...)
		if err := w.value(depth + 1); err != nil {
			return err
		}
		w.path = w.path[:base]
		w.ws()
		if w.i >= len(w.s) {
			return w.errf("unterminated object")
		}
		switch w.s[w.i] {
		case ',':
			w.i++
		case '}':
			w.i++
			return nil
		default:
			return w.errf("expected ',' or '}'")
		}
	}
}

func (w *walker) array(depth int) error {
	if depth >= maxDepth {
		return w.errf("nesting too deep")
	}
	w.i++ // '['
	w.ws()
	if w.i < len(w.s) && w.s[w.i] == ']' {
		w.i++
		return nil
	}
	w.arr++
	defer func() { w.arr-- }()
	for {
		if err := w.value(depth + 1); err != nil {
			return err
		}
		w.ws()
		if w.i >= len(w.s) {
			return w.errf("unterminated array")
		}
		switch w.s[w.i] {
		case ',':
			w.i++
		case ']':
			w.i++
			return nil
		default:
			return w.errf("expected ',' or ']'")
		}
	}
}

func (w *walker) value(depth int) error {
	w.ws()
	if w.i >= len(w.s) {
		return w.errf("unexpected end of input")
	}
	switch c := w.s[w.i]; {
	case c == '{':
		if w.containers {
			w.fn(w.path, leaf{kind: jsonObject, inArray: w.arr > 0})
		}
		return w.object(depth)
	case c == '[':
		if w.containers {
			w.fn(w.path, leaf{kind: jsonArray, inArray: w.arr > 0})
		}
		return w.array(depth)
	case c == '"':
		s, err := w.str()
		if err != nil {
			return err
		}
		w.fn(w.path, leaf{kind: jsonString, s: s, inArray: w.arr > 0})
	case c == 't':
		return w.literal("true", jsonBool)
	case c == 'f':
		return w.literal("false", jsonBool)
	case c == 'n':
		return w.literal("null", jsonNull)
	case c == '-' || (c >= '0' && c <= '9'):
		start := w.i
		if !w.number() {
			return w.errf("malformed number")
		}
		w.fn(w.path, leaf{kind: jsonNumber, s: w.s[start:w.i], inArray: w.arr > 0})
	default:
		return w.errf("unexpected character")
	}
	return nil
}

func (w *walker) literal(lit string, k jsonKind) error {
	if len(w.s)-w.i < len(lit) || w.s[w.i:w.i+len(lit)] != lit {
		return w.errf("invalid literal")
	}
	w.i += len(lit)
	w.fn(w.path, leaf{kind: k, s: lit, inArray: w.arr > 0})
	return nil
}

// number accepts exactly the JSON number grammar (RFC 8259 §6).
func (w *walker) number() bool {
	s, i := w.s, w.i
	if i < len(s) && s[i] == '-' {
		i++
	}
	if i >= len(s) {
		return false
	}
	if s[i] == '0' {
		i++
	} else if s[i] >= '1' && s[i] <= '9' {
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	} else {
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		d := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == d {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		d := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == d {
			return false
		}
	}
	w.i = i
	return true
}

// str parses a string at '"' and returns its unescaped value. Strings
// without escapes are returned as substrings of the input.
func (w *walker) str() (string, error) {
	w.i++ // '"'
	start := w.i
	// Eight bytes at a time (SWAR): the zero-byte tests of x^'"' and
	// x^'\\' and the below-0x20 test of x flag the quote, backslash or
	// control character; a flag can be false only above a true one, so the
	// lowest is exact. The byte loop below is for the last bytes.
	s, i := w.s, w.i
	for i+8 <= len(s) {
		x := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		q := x ^ (lsb * '"')
		b := x ^ (lsb * '\\')
		if t := ((q-lsb)&^q | (b-lsb)&^b | (x-lsb*0x20)&^x) & msb; t != 0 {
			i += bits.TrailingZeros64(t) >> 3
			if s[i] == '"' {
				w.i = i + 1
				return s[start:i], nil
			}
			break // a backslash or a control character: the loop below
		}
		i += 8
	}
	w.i = i
	for w.i < len(w.s) {
		c := w.s[w.i]
		switch {
		case c == '"':
			v := w.s[start:w.i]
			w.i++
			return v, nil
		case c == '\\':
			return w.strEscaped(start)
		case c < 0x20:
			return "", w.errf("control character in string")
		}
		w.i++
	}
	return "", w.errf("unterminated string")
}

func (w *walker) strEscaped(start int) (string, error) {
	buf := make([]byte, 0, w.i-start+16)
	buf = append(buf, w.s[start:w.i]...)
	for w.i < len(w.s) {
		c := w.s[w.i]
		switch {
		case c == '"':
			w.i++
			return string(buf), nil
		case c < 0x20:
			return "", w.errf("control character in string")
		case c != '\\':
			buf = append(buf, c)
			w.i++
			continue
		}
		w.i++
		if w.i >= len(w.s) {
			break
		}
		e := w.s[w.i]
		w.i++
		switch e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, ok := w.hex4()
			if !ok {
				return "", w.errf("malformed \\u escape")
			}
			if utf16.IsSurrogate(r) {
				// A surrogate pair is two escapes; a lone half becomes
				// U+FFFD as encoding/json does.
				r2 := utf8.RuneError
				if w.i+1 < len(w.s) && w.s[w.i] == '\\' && w.s[w.i+1] == 'u' {
					save := w.i
					w.i += 2
					if lo, ok := w.hex4(); ok {
						if d := utf16.DecodeRune(r, lo); d != utf8.RuneError {
							r2 = d
						} else {
							w.i = save
						}
					} else {
						return "", w.errf("malformed \\u escape")
					}
				}
				r = r2
			}
			buf = utf8.AppendRune(buf, r)
		default:
			return "", w.errf("invalid escape")
		}
	}
	return "", w.errf("unterminated string")
}

func (w *walker) hex4() (rune, bool) {
	if len(w.s)-w.i < 4 {
		return 0, false
	}
	var r rune
	for k := 0; k < 4; k++ {
		c := w.s[w.i+k]
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	w.i += 4
	return r, true
}
