package taxii

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"strings"
)

// objectsMember is what the objects member of an envelope holds, as
// json.Unmarshal into a *[]json.RawMessage field sees it.
type objectsMember int

const (
	objectsMissing   objectsMember = iota // absent or null (the last one)
	objectsList                           // a list (the last one)
	objectsWrongType                      // some objects member is neither a list nor null
)

// envelopeObjects checks that body is one JSON value, as json.Valid does,
// and returns the elements of the "objects" member of the top-level object
// in one pass, without allocating beyond the list. When the member repeats,
// the last list or null counts and any other kind is an error, as with
// encoding/json. ok is false when body is not valid JSON.
//
// It accepts exactly what encoding/json accepts (FuzzEnvelopeScanner checks
// this), so that an envelope it passes decodes as it did with
// json.Unmarshal, only without scanning the body three times.
func envelopeObjects(body []byte) (elems [][]byte, list objectsMember, ok bool) {
	s := scanner{b: body}
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == '{' {
		s.i++
		s.ws()
		if s.peek('}') {
			s.i++
		} else {
			for {
				start := s.i
				esc, good := s.str()
				if !good {
					return nil, 0, false
				}
				key := s.b[start+1 : s.i-1]
				s.ws()
				if !s.peek(':') {
					return nil, 0, false
				}
				s.i++
				s.ws()
				switch {
				case !isObjectsKey(key, esc):
					if !s.value(1) {
						return nil, 0, false
					}
				case s.peek('['):
					if elems, good = s.list(elems[:0]); !good {
						return nil, 0, false
					}
					if list != objectsWrongType {
						list = objectsList
					}
				case s.lit("null"):
					if list != objectsWrongType {
						list = objectsMissing
					}
				default:
					if !s.value(1) {
						return nil, 0, false
					}
					list = objectsWrongType
				}
				s.ws()
				if s.peek(',') {
					s.i++
					s.ws()
					continue
				}
				if !s.peek('}') {
					return nil, 0, false
				}
				s.i++
				break
			}
		}
	} else if !s.value(0) {
		return nil, 0, false
	}
	s.ws()
	if s.i != len(s.b) {
		return nil, 0, false
	}
	return elems, list, true
}

// isObjectsKey matches a member name against "objects" the way
// encoding/json matches a field name: after unescaping, case-insensitively.
func isObjectsKey(key []byte, esc bool) bool {
	if esc {
		var k string
		if json.Unmarshal(append(append([]byte{'"'}, key...), '"'), &k) != nil {
			return false
		}
		return strings.EqualFold(k, "objects")
	}
	return bytes.EqualFold(key, []byte("objects"))
}

// scanner validates JSON (RFC 8259, as encoding/json does: any bytes other
// than controls in strings, nesting up to maxDepth).
type scanner struct {
	b []byte
	i int
}

// maxDepth is encoding/json's nesting limit.
const maxDepth = 10000

func (s *scanner) peek(c byte) bool { return s.i < len(s.b) && s.b[s.i] == c }

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// list scans the list at s.i, appending its elements to elems.
func (s *scanner) list(elems [][]byte) ([][]byte, bool) {
	s.i++ // [
	s.ws()
	if s.peek(']') {
		s.i++
		return elems, true
	}
	for {
		start := s.i
		if !s.value(2) {
			return nil, false
		}
		elems = append(elems, s.b[start:s.i])
		s.ws()
		if s.peek(',') {
			s.i++
			s.ws()
			continue
		}
		if !s.peek(']') {
			return nil, false
		}
		s.i++
		return elems, true
	}
}

// value scans one value at s.i, nested depth levels deep.
func (s *scanner) value(depth int) bool {
	if s.i >= len(s.b) {
		return false
	}
	switch c := s.b[s.i]; {
	case c == '"':
		_, ok := s.str()
		return ok
	case c == '{' || c == '[':
		return s.composite(depth)
	case c == 't':
		return s.lit("true")
	case c == 'f':
		return s.lit("false")
	case c == 'n':
		return s.lit("null")
	case c == '-' || c >= '0' && c <= '9':
		return s.num()
	}
	return false
}

// composite scans an object or a list, nested values included, keeping
// the closers of the open ones on a stack rather than recursing.
func (s *scanner) composite(depth int) bool {
	var stack []byte // the closer of each open composite
	for {
		// At the start of a value.
		if s.i >= len(s.b) {
			return false
		}
		switch c := s.b[s.i]; c {
		case '{', '[':
			if depth+len(stack)+1 > maxDepth {
				return false
			}
			close := byte('}')
			if c == '[' {
				close = ']'
			}
			stack = append(stack, close)
			s.i++
			s.ws()
			if s.peek(close) {
				s.i++
				stack = stack[:len(stack)-1]
				break
			}
			if close == '}' && !s.member() {
				return false
			}
			continue
		default:
			if !s.value(depth + len(stack)) {
				return false
			}
		}
		// After a value: close what ends here, until a comma.
		for {
			if len(stack) == 0 {
				return true
			}
			s.ws()
			if s.i >= len(s.b) {
				return false
			}
			top := stack[len(stack)-1]
			if s.b[s.i] == top {
				s.i++
				stack = stack[:len(stack)-1]
				continue
			}
			if s.b[s.i] != ',' {
				return false
			}
			s.i++
			s.ws()
			if top == '}' && !s.member() {
				return false
			}
			break
		}
	}
}

// member scans a member name and its colon, leaving s.i at the value.
func (s *scanner) member() bool {
	if !s.peek('"') {
		return false
	}
	if _, ok := s.str(); !ok {
		return false
	}
	s.ws()
	if !s.peek(':') {
		return false
	}
	s.i++
	s.ws()
	return s.i < len(s.b)
}

// str scans a string; esc reports whether it has escapes.
func (s *scanner) str() (esc, ok bool) {
	if !s.peek('"') {
		return false, false
	}
	s.i++
	for s.i < len(s.b) {
		// Eight bytes at a time while none of them ends the string or
		// needs a look: most of a page is plain string content.
		for s.i+8 <= len(s.b) && !strSpecial(binary.LittleEndian.Uint64(s.b[s.i:])) {
			s.i += 8
		}
		if s.i >= len(s.b) {
			break
		}
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return esc, true
		case c < 0x20:
			return false, false
		case c == '\\':
			esc = true
			s.i++
			if s.i >= len(s.b) {
				return false, false
			}
			switch s.b[s.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i++
			case 'u':
				if s.i+5 > len(s.b) {
					return false, false
				}
				for _, h := range s.b[s.i+1 : s.i+5] {
					if !(h >= '0' && h <= '9' || h >= 'a' && h <= 'f' || h >= 'A' && h <= 'F') {
						return false, false
					}
				}
				s.i += 5
			default:
				return false, false
			}
		default:
			s.i++
		}
	}
	return false, false
}

// strSpecial reports whether any of the eight bytes in x is a quote, a
// backslash or a control character (below 0x20), the bytes that str must
// look at one by one. The classic "has a zero byte" test: a byte b of v is
// flagged by (v - 0x01…) & ^v & 0x80… when b is 0 (or, through a borrow,
// only above a byte that is), so a result of 0 means no byte matched.
func strSpecial(x uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	q := x ^ (ones * '"')
	bs := x ^ (ones * '\\')
	return ((q-ones)&^q|(bs-ones)&^bs|(x-ones*0x20)&^x)&highs != 0
}

func (s *scanner) lit(l string) bool {
	if !bytes.HasPrefix(s.b[s.i:], []byte(l)) {
		return false
	}
	s.i += len(l)
	return true
}

// num scans -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) num() bool {
	if s.peek('-') {
		s.i++
	}
	switch {
	case s.peek('0'):
		s.i++
	case s.i < len(s.b) && s.b[s.i] >= '1' && s.b[s.i] <= '9':
		s.digits()
	default:
		return false
	}
	if s.peek('.') {
		s.i++
		if s.digits() == 0 {
			return false
		}
	}
	if s.peek('e') || s.peek('E') {
		s.i++
		if s.peek('+') || s.peek('-') {
			s.i++
		}
		if s.digits() == 0 {
			return false
		}
	}
	return true
}

func (s *scanner) digits() int {
	start := s.i
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
	}
	return s.i - start
}
