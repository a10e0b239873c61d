package stix

import (
	"encoding/json"
	"errors"
	"fmt"
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

func isWS(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

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
func scanString(b []byte, i int) (end int, esc bool, err error) {
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

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// objIter walks the members of one JSON object without allocating.
type objIter struct {
	b     []byte
	i     int
	depth int
	err   error
	done  bool
}

// newObjIter starts iterating v, which must be a JSON object.
func newObjIter(v []byte, depth int) objIter {
	it := objIter{b: v, depth: depth}
	it.i = skipWS(v, 0)
	if it.i >= len(v) || v[it.i] != '{' {
		it.err = syntaxErr(it.i, "expected object")
		it.done = true
		return it
	}
	it.i = skipWS(v, it.i+1)
	if it.i < len(v) && v[it.i] == '}' {
		it.done = true
	}
	return it
}

// next returns the next member: key is the raw key (between the quotes,
// escapes not decoded), keyEsc tells whether it has escapes, val the raw
// value bytes.
func (it *objIter) next() (key []byte, keyEsc bool, val []byte, ok bool) {
	if it.done {
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
	vend, err := scanValue(b, i, it.depth+1)
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

// strContent returns the decoded content of a raw JSON string value. Without
// escapes it is a sub-slice of v (no allocation).
func strContent(v []byte) []byte {
	if len(v) < 2 || v[0] != '"' {
		return nil
	}
	inner := v[1 : len(v)-1]
	for _, c := range inner {
		if c == '\\' {
			var s string
			if json.Unmarshal(v, &s) != nil {
				return inner
			}
			return []byte(s)
		}
	}
	return inner
}

// keyContent decodes a raw object key as returned by objIter.next.
func keyContent(k []byte, esc bool) []byte {
	if !esc {
		return k
	}
	var s string
	q := make([]byte, 0, len(k)+2)
	q = append(append(append(q, '"'), k...), '"')
	if json.Unmarshal(q, &s) != nil {
		return k
	}
	return []byte(s)
}
