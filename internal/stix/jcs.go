package stix

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
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
//
// Objects that cells sign and serve again are usually canonical already,
// so it first checks for that in one pass, without writing, and then
// copies raw unchanged. Otherwise it writes the canonical form in one pass
// that scans and writes together (see canonState.write). Neither pass
// words errors: when one declines, the reference algorithm runs (see
// canonState.reference), so that the output and the error, its wording
// and which of several problems is reported, never depend on which path
// ran.
func AppendCanonical(dst, raw []byte) ([]byte, error) {
	if isCanonical(raw) {
		return append(dst, raw...), nil
	}
	st := canonPool.Get().(*canonState)
	defer st.release()
	n := len(dst)
	out, end, ok := st.write(dst, raw, 0, 0)
	if ok && skipWS(raw, end) == len(raw) {
		return out, nil
	}
	return st.reference(dst[:n], raw)
}

// reference appends the canonical form of raw with the general algorithm:
// a validating scan of all of raw, then a walk that collects each object's
// members as slices of raw, sorts them and writes them. It is slower than
// write (nested values are scanned once per level) but simpler, and its
// errors are the ones AppendCanonical returns.
func (st *canonState) reference(dst, raw []byte) ([]byte, error) {
	i := skipWS(raw, 0)
	end, err := scanValue(raw, i, 0)
	if err != nil {
		return dst, fmt.Errorf("%w: %w", ErrCanonical, err)
	}
	if skipWS(raw, end) != len(raw) {
		return dst, fmt.Errorf("%w: trailing data after JSON value", ErrCanonical)
	}
	n := len(dst)
	dst, err = st.value(dst, raw[i:end], 0)
	if err != nil {
		dst = dst[:n]
	}
	clear(st.members[:cap(st.members)]) // drop references to raw
	st.members = st.members[:0]
	return dst, err
}

// jcsMember is one object member during canonicalisation: key is the decoded
// name (a slice of the input when it has no escapes), val the raw value.
type jcsMember struct {
	key, val []byte
	esc      bool
}

// outMember is one object member as write has written it: its name and
// where its "name":value text lies in the output. The name is a range of
// the input, or of canonState.names when it had escapes; offsets rather
// than slices, because both may grow (and move) while nested values are
// written, and so that the pool holds no pointers into callers' data.
type outMember struct {
	prefix             uint64 // namePrefix of the name
	nameStart, nameEnd int
	decoded            bool // the name is in canonState.names
	start, end         int  // the member in the output
}

// namePrefix packs the start of a member name into a number whose order,
// where two names' numbers differ, is the names' UTF-16 order (RFC 8785
// §3.2.3), so that sorting mostly compares numbers. It takes up to eight
// bytes, big-endian, stopping before a byte of 0xEE or more: UTF-8 byte
// order is code point order, which is UTF-16 order below U+E000 (above,
// surrogate pairs sort characters beyond U+FFFF before U+E000-U+FFFF).
// A name that ends is padded with 0x00, one that stops with 0xFF, as the
// character where it stopped sorts after all those taken. Equal numbers
// say nothing: the names are compared in full.
func namePrefix(name []byte) uint64 {
	var word [8]byte
	copy(word[:], name)
	if p := binary.BigEndian.Uint64(word[:]); p&0x8080808080808080 == 0 {
		return p // ASCII, padded with 0x00 if shorter
	}
	var p uint64
	n := 0
	for ; n < 8 && n < len(name) && name[n] < 0xee; n++ {
		p = p<<8 | uint64(name[n])
	}
	if n == 8 {
		return p
	}
	if n < len(name) {
		return p<<(8*(8-n)) | (1<<(8*(8-n)) - 1)
	}
	return p << (8 * (8 - n))
}

// sortMembers sorts the members of an object in b by name and reports
// false if two have the same name. Objects are small, so insertion sort,
// which allocates nothing and meets any duplicate as a neighbour.
func (st *canonState) sortMembers(b []byte, ms []outMember) bool {
	if len(ms) > 32 {
		slices.SortFunc(ms, func(x, y outMember) int { return st.compareMembers(b, &x, &y) })
		for j := 1; j < len(ms); j++ {
			if st.compareMembers(b, &ms[j-1], &ms[j]) == 0 {
				return false
			}
		}
		return true
	}
	for j := 1; j < len(ms); j++ {
		for k := j; k > 0; k-- {
			c := st.compareMembers(b, &ms[k-1], &ms[k])
			if c == 0 {
				return false
			}
			if c < 0 {
				break
			}
			ms[k-1], ms[k] = ms[k], ms[k-1]
		}
	}
	return true
}

// compareMembers orders two members of the object being written in b.
func (st *canonState) compareMembers(b []byte, x, y *outMember) int {
	switch {
	case x.prefix < y.prefix:
		return -1
	case x.prefix > y.prefix:
		return 1
	}
	return compareUTF16(st.name(b, x), st.name(b, y))
}

// name returns the decoded name of m, a member of an object in b.
func (st *canonState) name(b []byte, m *outMember) []byte {
	if m.decoded {
		return st.names[m.nameStart:m.nameEnd]
	}
	return b[m.nameStart:m.nameEnd]
}

// canonState is the scratch space of one canonicalisation, pooled. Nested
// objects stack their members (and decoded names) above their parents'.
type canonState struct {
	members []jcsMember // reference
	out     []outMember // write
	names   []byte      // write: names that had escapes, decoded
	reorder []byte      // write: a copy of an object's members while they are sorted
}

var canonPool = sync.Pool{New: func() any {
	return &canonState{members: make([]jcsMember, 0, 64), out: make([]outMember, 0, 64)}
}}

// release returns st to the pool, without the buffers a huge input made
// grow, so that one such input does not pin them for good.
func (st *canonState) release() {
	const maxBytes, maxMembers = 64 << 10, 1024
	st.out, st.names, st.reorder = st.out[:0], st.names[:0], st.reorder[:0]
	if cap(st.names) > maxBytes {
		st.names = nil
	}
	if cap(st.reorder) > maxBytes {
		st.reorder = nil
	}
	if cap(st.out) > maxMembers {
		st.out = nil
	}
	if cap(st.members) > maxMembers {
		st.members = nil
	}
	canonPool.Put(st)
}

// isCanonical reports whether raw is a JSON text already in its RFC 8785
// form, by one validating pass that writes nothing. It is conservative: a
// member name with an escape makes it report false (such names are rare,
// and their order needs them decoded), as does anything the scanner would
// reject.
func isCanonical(raw []byte) bool {
	end, ok := canonicalValue(raw, 0, 0)
	return ok && end == len(raw)
}

// canonicalValue checks the value at b[i] as isCanonical does and returns
// the offset after it. JCS output has no whitespace at all (§3.2.1), so
// none is skipped.
func canonicalValue(b []byte, i, depth int) (int, bool) {
	if i >= len(b) {
		return i, false
	}
	switch c := b[i]; {
	case c == '"':
		end, esc, err := scanString(b, i)
		if err != nil || (esc && !canonicalEscapes(b[i+1:end-1])) {
			return i, false
		}
		return end, true
	case c == '{':
		if depth >= maxDepth {
			return i, false
		}
		i++
		if i < len(b) && b[i] == '}' {
			return i + 1, true
		}
		var prev []byte
		for n := 0; ; n++ {
			if i >= len(b) || b[i] != '"' {
				return i, false
			}
			end, esc, err := scanString(b, i)
			if err != nil || esc {
				return i, false
			}
			// Strictly increasing names (§3.2.3): sorted and, as
			// I-JSON requires, no duplicates.
			name := b[i+1 : end-1]
			if n > 0 && compareUTF16(prev, name) >= 0 {
				return i, false
			}
			prev = name
			if end >= len(b) || b[end] != ':' {
				return end, false
			}
			var ok bool
			if i, ok = canonicalValue(b, end+1, depth+1); !ok {
				return i, false
			}
			if i >= len(b) {
				return i, false
			}
			if b[i] == '}' {
				return i + 1, true
			}
			if b[i] != ',' {
				return i, false
			}
			i++
		}
	case c == '[':
		if depth >= maxDepth {
			return i, false
		}
		i++
		if i < len(b) && b[i] == ']' {
			return i + 1, true
		}
		for {
			var ok bool
			if i, ok = canonicalValue(b, i, depth+1); !ok {
				return i, false
			}
			if i >= len(b) {
				return i, false
			}
			if b[i] == ']' {
				return i + 1, true
			}
			if b[i] != ',' {
				return i, false
			}
			i++
		}
	case c == 't':
		end, err := scanLiteral(b, i, "true")
		return end, err == nil
	case c == 'f':
		end, err := scanLiteral(b, i, "false")
		return end, err == nil
	case c == 'n':
		end, err := scanLiteral(b, i, "null")
		return end, err == nil
	case c == '-' || (c >= '0' && c <= '9'):
		end, err := scanNumber(b, i)
		return end, err == nil && canonicalNumber(b[i:end])
	}
	return i, false
}

// canonicalEscapes reports whether the escapes in s, the body of a string
// the scanner accepted, are all ones JCS writes (§3.2.2.2): \" and \\, the
// short forms \b \t \n \f \r, and \u00xx in lower case for the other
// control characters. \/, \u0041 or an upper-case \u001F are not.
func canonicalEscapes(s []byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			continue
		}
		i++ // the scanner guarantees a complete escape
		switch s[i] {
		case '"', '\\', 'b', 't', 'n', 'f', 'r':
		case 'u':
			h := s[i+1 : i+5]
			if h[0] != '0' || h[1] != '0' || (h[2] != '0' && h[2] != '1') || !isLowerHex(h[3]) {
				return false
			}
			switch string(h[2:]) {
			case "08", "09", "0a", "0c", "0d": // have short forms
				return false
			}
			i += 4
		default:
			return false
		}
	}
	return true
}

func isLowerHex(c byte) bool { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') }

// canonicalNumber reports whether v, a number the scanner accepted, is
// written as ECMAScript writes its value (§3.2.2.3).
func canonicalNumber(v []byte) bool {
	if canonicalInt(v) {
		return true
	}
	f, err := strconv.ParseFloat(string(v), 64)
	if err != nil || math.IsInf(f, 0) {
		return false
	}
	var buf [32]byte
	return bytes.Equal(appendES6(buf[:0], f), v)
}

// write appends the canonical form of the value at b[i] (after whitespace)
// and returns the offset after it, scanning and writing in one pass:
// strings without escapes, literals and canonical numbers are copied, and
// an object's members are written in input order and, unless that order is
// already right, sorted afterwards by moving their text. It reports false
// on anything it does not accept, without saying why.
func (st *canonState) write(dst, b []byte, i, depth int) ([]byte, int, bool) {
	i = skipWS(b, i)
	if i >= len(b) {
		return dst, i, false
	}
	switch c := b[i]; {
	case c == '"':
		end, esc, err := scanString(b, i)
		if err != nil {
			return dst, i, false
		}
		if !esc {
			// Without escapes the scanner admits no quote or control
			// character inside: the bytes are already canonical.
			return append(dst, b[i:end]...), end, true
		}
		dst = append(dst, '"')
		dst, ok := appendUnquoted(dst, b[i+1:end-1], true)
		return append(dst, '"'), end, ok
	case c == '{':
		if depth >= maxDepth {
			return dst, i, false
		}
		return st.object(dst, b, i, depth)
	case c == '[':
		if depth >= maxDepth {
			return dst, i, false
		}
		dst = append(dst, '[')
		i = skipWS(b, i+1)
		if i < len(b) && b[i] == ']' {
			return append(dst, ']'), i + 1, true
		}
		for n := 0; ; n++ {
			if n > 0 {
				dst = append(dst, ',')
			}
			var ok bool
			if dst, i, ok = st.write(dst, b, i, depth+1); !ok {
				return dst, i, false
			}
			i = skipWS(b, i)
			if i >= len(b) {
				return dst, i, false
			}
			if b[i] == ']' {
				return append(dst, ']'), i + 1, true
			}
			if b[i] != ',' {
				return dst, i, false
			}
			i++
		}
	case c == 't' || c == 'f' || c == 'n':
		lit := "null"
		if c == 't' {
			lit = "true"
		} else if c == 'f' {
			lit = "false"
		}
		end, err := scanLiteral(b, i, lit)
		if err != nil {
			return dst, i, false
		}
		return append(dst, lit...), end, true
	case c == '-' || (c >= '0' && c <= '9'):
		end, err := scanNumber(b, i)
		if err != nil {
			return dst, i, false
		}
		v := b[i:end]
		if canonicalInt(v) {
			return append(dst, v...), end, true
		}
		f, err := strconv.ParseFloat(string(v), 64)
		if err != nil || math.IsInf(f, 0) {
			return dst, i, false
		}
		return appendES6(dst, f), end, true
	}
	return dst, i, false
}

// object is write for the object at b[i] == '{'.
func (st *canonState) object(dst, b []byte, i, depth int) ([]byte, int, bool) {
	base, namesBase := len(st.out), len(st.names)
	body := len(dst) + 1 // where the first member goes
	dst = append(dst, '{')
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return append(dst, '}'), i + 1, true
	}
	for {
		i = skipWS(b, i)
		if i >= len(b) || b[i] != '"' {
			return dst, i, false
		}
		end, esc, err := scanString(b, i)
		if err != nil {
			return dst, i, false
		}
		if len(st.out) > base {
			dst = append(dst, ',')
		}
		m := outMember{nameStart: i + 1, nameEnd: end - 1, start: len(dst)}
		if esc {
			var ok bool
			m.decoded, m.nameStart = true, len(st.names)
			if st.names, ok = appendUnquoted(st.names, b[i+1:end-1], false); !ok {
				return dst, i, false
			}
			m.nameEnd = len(st.names)
			m.prefix = namePrefix(st.names[m.nameStart:m.nameEnd])
			dst = appendCanonicalString(dst, st.names[m.nameStart:m.nameEnd])
		} else {
			m.prefix = namePrefix(b[i+1 : end-1])
			dst = append(dst, b[i:end]...)
		}
		if i = skipWS(b, end); i >= len(b) || b[i] != ':' {
			return dst, i, false
		}
		dst = append(dst, ':')
		var ok bool
		if dst, i, ok = st.write(dst, b, i+1, depth+1); !ok {
			return dst, i, false
		}
		m.end = len(dst)
		st.out = append(st.out, m)
		if i = skipWS(b, i); i >= len(b) {
			return dst, i, false
		}
		if b[i] == '}' {
			i++
			break
		}
		if b[i] != ',' {
			return dst, i, false
		}
		i++
	}
	ms := st.out[base:]
	sorted := true
	for j := 1; j < len(ms) && sorted; j++ {
		sorted = st.compareMembers(b, &ms[j-1], &ms[j]) < 0
	}
	if !sorted {
		// Sort by name (§3.2.3), reject duplicates (I-JSON), then
		// rewrite the members from a copy in the new order.
		if !st.sortMembers(b, ms) {
			return dst, i, false
		}
		st.reorder = append(st.reorder[:0], dst[body:]...)
		dst = dst[:body]
		for j, m := range ms {
			if j > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, st.reorder[m.start-body:m.end-body]...)
		}
	}
	st.out, st.names = st.out[:base], st.names[:namesBase]
	return append(dst, '}'), i, true
}

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
		sortFunc(ms, func(a, b jcsMember) int { return compareUTF16(a.key, b.key) })
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

// sortFunc sorts members by cmp, their names in UTF-16 code-unit order
// (RFC 8785 §3.2.3); objects are small, so insertion sort, without
// allocating.
func sortFunc[M any](ms []M, cmp func(a, b M) int) {
	if len(ms) > 32 {
		slices.SortFunc(ms, cmp)
		return
	}
	for i := 1; i < len(ms); i++ {
		for j := i; j > 0 && cmp(ms[j-1], ms[j]) > 0; j-- {
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
	dst = append(dst, '"')
	for _, c := range s {
		dst = appendCanonicalByte(dst, c)
	}
	return append(dst, '"')
}

// appendCanonicalRune appends r as it appears inside a canonical string.
func appendCanonicalRune(dst []byte, r rune) []byte {
	if r < utf8.RuneSelf {
		return appendCanonicalByte(dst, byte(r))
	}
	return utf8.AppendRune(dst, r)
}

// appendCanonicalByte appends one byte of a string's UTF-8 as it appears
// inside a canonical string: escaped as writeCanonicalString escapes it,
// or itself.
func appendCanonicalByte(dst []byte, c byte) []byte {
	const hexdig = "0123456789abcdef"
	switch {
	case c == '"':
		return append(dst, '\\', '"')
	case c == '\\':
		return append(dst, '\\', '\\')
	case c == '\b':
		return append(dst, '\\', 'b')
	case c == '\t':
		return append(dst, '\\', 't')
	case c == '\n':
		return append(dst, '\\', 'n')
	case c == '\f':
		return append(dst, '\\', 'f')
	case c == '\r':
		return append(dst, '\\', 'r')
	case c < 0x20:
		return append(dst, '\\', 'u', '0', '0', hexdig[c>>4], hexdig[c&0xf])
	}
	return append(dst, c)
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
// (ECMA-262 §7.1.12.1), which RFC 8785 §3.2.2.3 adopts.
func formatES6(f float64) (string, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "", fmt.Errorf("%w: NaN and Infinity are not JSON", ErrCanonical)
	}
	var buf [32]byte
	return string(appendES6(buf[:0], f)), nil
}

// appendES6 appends finite f as ECMAScript's Number.prototype.toString
// writes it (ECMA-262 §7.1.12.1): the shortest digits that round-trip,
// plain notation for exponents in [-7, 21), else d.ddde±x.
func appendES6(dst []byte, f float64) []byte {
	if f == 0 {
		return append(dst, '0') // also for -0
	}
	if f < 0 {
		dst = append(dst, '-')
		f = -f
	}
	// 'e' with precision -1 gives the shortest round-trip digits, as
	// d.ddde±xx.
	var ebuf [32]byte
	e := strconv.AppendFloat(ebuf[:0], f, 'e', -1, 64)
	p := bytes.IndexByte(e, 'e')
	var dbuf [24]byte
	digits := append(dbuf[:0], e[0])
	if p > 2 {
		digits = append(digits, e[2:p]...)
	}
	exp := 0
	for _, c := range e[p+2:] {
		exp = exp*10 + int(c-'0')
	}
	if e[p+1] == '-' {
		exp = -exp
	}
	k := len(digits)
	n := exp + 1 // position of the decimal point relative to the digits
	switch {
	case k <= n && n <= 21:
		dst = append(dst, digits...)
		for range n - k {
			dst = append(dst, '0')
		}
	case 0 < n && n <= 21:
		dst = append(dst, digits[:n]...)
		dst = append(dst, '.')
		dst = append(dst, digits[n:]...)
	case -6 < n && n <= 0:
		dst = append(dst, '0', '.')
		for range -n {
			dst = append(dst, '0')
		}
		dst = append(dst, digits...)
	default:
		dst = append(dst, digits[0])
		if k > 1 {
			dst = append(dst, '.')
			dst = append(dst, digits[1:]...)
		}
		dst = append(dst, 'e')
		if n-1 >= 0 {
			dst = append(dst, '+')
		}
		dst = strconv.AppendInt(dst, int64(n-1), 10)
	}
	return dst
}
