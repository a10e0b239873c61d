package detect

import (
	"errors"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
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
)

// leaf is one scalar value met by the walker. For strings s is the
// unescaped text; for numbers, booleans and null it is the literal.
type leaf struct {
	kind jsonKind
	s    string
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
}

// walk parses s, which must hold exactly one JSON object (surrounding
// whitespace allowed), calling fn for every scalar leaf. The path slice is
// only valid during the call.
func (w *walker) walk(s string, fn func(path []byte, v leaf)) error {
	w.s, w.i, w.path, w.fn = s, 0, w.path[:0], fn
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
	for w.i < len(w.s) {
		switch w.s[w.i] {
		case ' ', '\t', '\n', '\r':
			w.i++
		default:
			return
		}
	}
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
		return w.object(depth)
	case c == '[':
		return w.array(depth)
	case c == '"':
		s, err := w.str()
		if err != nil {
			return err
		}
		w.fn(w.path, leaf{kind: jsonString, s: s})
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
		w.fn(w.path, leaf{kind: jsonNumber, s: w.s[start:w.i]})
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
	w.fn(w.path, leaf{kind: k, s: lit})
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
