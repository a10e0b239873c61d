package taxii

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// The client decodes the paged resources it GETs, the envelope (TAXII 2.1
// §3.7), the manifest (§5.3.1) and the versions (§5.8.1), with the
// package's JSON scanner (envelope.go) in one pass over the body. Each
// object of an envelope is checked once and kept as a sub-slice of the
// body, where json.Unmarshal into []json.RawMessage checks the whole body
// first, then scans every object again and copies it.
//
// The decoders accept what json.Unmarshal into Envelope, Manifest and
// Versions accepts and decode it to the same values (FuzzClientDecode
// checks this), with two exceptions, both refusals: a body that is the
// literal null, which json.Unmarshal takes for an empty resource, and a
// member of the resource or of a manifest record that appears twice. RFC
// 8259 §4 leaves the meaning of duplicate names to the implementation,
// I-JSON (RFC 7493 §2.3), which TAXII 2.1 §3.1 requires, forbids them, and
// which of two "more" or "next" a peer meant is worth an error rather than
// a guess. Member names match as with encoding/json: after unescaping,
// case-insensitively (encoding/json folds names as bytes.EqualFold does).
// Members the resource does not define are checked to be JSON and skipped.

// errNotJSON marks a body that is not JSON. decodeWith replaces it with
// encoding/json's description, which gives the offset and the reason.
// (Should the scanner ever refuse what encoding/json accepts, errNotJSON
// is the error; FuzzEnvelopeScanner and FuzzClientDecode check that it
// does not.)
var errNotJSON = errors.New("invalid JSON")

// errDuplicate marks a member that appears twice.
var errDuplicate = errors.New("duplicate member")

// decodeEnvelopeBody decodes an envelope (TAXII 2.1 §3.7). Objects are
// sub-slices of body, so a caller that keeps one object keeps the body.
// Like json.Unmarshal into []json.RawMessage, it accepts any JSON value as
// an element of objects: whether each is a STIX object is the caller's
// business, which federation records per object.
func decodeEnvelopeBody(body []byte) (Envelope, error) {
	var env Envelope
	err := decodeWith(body, "objects", &env.More, &env.Next, func(d *decoder, _ int) error {
		start := d.i
		if !d.value(2) {
			return errNotJSON
		}
		env.Objects = append(env.Objects, d.b[start:d.i])
		return nil
	})
	if err != nil {
		return Envelope{}, err
	}
	return env, nil
}

// decodeManifestBody decodes a manifest (TAXII 2.1 §5.3.1).
func decodeManifestBody(body []byte) (Manifest, error) {
	var m Manifest
	err := decodeWith(body, "objects", &m.More, &m.Next, func(d *decoder, i int) error {
		r, err := d.manifestRecord(i)
		if err != nil {
			return err
		}
		m.Objects = append(m.Objects, r)
		return nil
	})
	if err != nil {
		return Manifest{}, err
	}
	return m, nil
}

// decodeVersionsBody decodes a versions resource (TAXII 2.1 §5.8.1).
func decodeVersionsBody(body []byte) (Versions, error) {
	var v Versions
	err := decodeWith(body, "versions", &v.More, &v.Next, func(d *decoder, i int) error {
		s, err := d.string(2)
		if err != nil {
			return at(err, "versions", i, "")
		}
		v.Versions = append(v.Versions, s)
		return nil
	})
	if err != nil {
		return Versions{}, err
	}
	return v, nil
}

// decodeWith decodes the top-level object of a paged resource into more,
// next and the list named list, calling elem for each of its elements with
// d.i at the element, which elem must consume.
func decodeWith(body []byte, list string, more *bool, next *string, elem func(d *decoder, i int) error) error {
	d := decoder{scanner{b: body}}
	err := d.resource(list, more, next, elem)
	if err != nil {
		// The decoder stops at the first error, which may come before the
		// body turns out not to be JSON. As with json.Unmarshal, that it is
		// not JSON is the error then, described by encoding/json with where
		// and why: only a failed decode pays for this second scan (into a
		// RawMessage, encoding/json only checks).
		var raw json.RawMessage
		if jerr := json.Unmarshal(body, &raw); jerr != nil {
			return jerr
		}
	}
	return err
}

// decoder decodes JSON values with the scanner's checks.
type decoder struct {
	scanner
}

// The members of a paged resource.
const (
	memberMore = iota
	memberNext
	memberList
	memberOther
)

func (d *decoder) resource(list string, more *bool, next *string, elem func(d *decoder, i int) error) error {
	d.ws()
	if !d.peek('{') {
		start := d.i
		if !d.value(0) || !d.end() {
			return errNotJSON
		}
		return fmt.Errorf("the body must be a JSON object, not %s", kindOf(d.b[start]))
	}
	var seen [memberOther]bool
	err := d.object(func(key []byte, esc bool) error {
		name := memberName(key, esc)
		m := memberOther
		switch {
		case bytes.EqualFold(name, []byte("more")):
			m = memberMore
		case bytes.EqualFold(name, []byte("next")):
			m = memberNext
		case bytes.EqualFold(name, []byte(list)):
			m = memberList
		}
		if m == memberOther {
			if !d.value(1) {
				return errNotJSON
			}
			return nil
		}
		if seen[m] {
			return fmt.Errorf("%w %q at byte %d", errDuplicate, name, d.i)
		}
		seen[m] = true
		var err error
		switch m {
		case memberMore:
			*more, err = d.boolean(1)
			err = at(err, "more", -1, "")
		case memberNext:
			*next, err = d.string(1)
			err = at(err, "next", -1, "")
		default:
			err = d.list(list, elem)
		}
		return err
	})
	if err != nil {
		return err
	}
	if !d.end() {
		return errNotJSON
	}
	return nil
}

// manifestRecord decodes element i of a manifest's objects: a manifest
// record (TAXII 2.1 §5.3.1) or null, the zero record as for encoding/json.
func (d *decoder) manifestRecord(i int) (ManifestRecord, error) {
	var r ManifestRecord
	if d.lit("null") {
		return r, nil
	}
	if !d.peek('{') {
		return r, at(d.wrongType("object", 2), "objects", i, "")
	}
	var seen [4]bool
	err := d.object(func(key []byte, esc bool) error {
		name := memberName(key, esc)
		var f *string
		var n int
		switch {
		case bytes.EqualFold(name, []byte("id")):
			f, n = &r.ID, 0
		case bytes.EqualFold(name, []byte("date_added")):
			f, n = &r.DateAdded, 1
		case bytes.EqualFold(name, []byte("version")):
			f, n = &r.Version, 2
		case bytes.EqualFold(name, []byte("media_type")):
			f, n = &r.MediaType, 3
		default:
			if !d.value(3) {
				return errNotJSON
			}
			return nil
		}
		if seen[n] {
			return fmt.Errorf("%w %q in objects[%d] at byte %d", errDuplicate, name, i, d.i)
		}
		seen[n] = true
		var err error
		if *f, err = d.string(3); err != nil {
			return at(err, "objects", i, string(name))
		}
		return nil
	})
	return r, err
}

// object scans the object at d.i, which starts with '{', calling member
// for each member with d.i at its value, which member must consume.
func (d *decoder) object(member func(key []byte, esc bool) error) error {
	d.i++ // {
	d.ws()
	if d.peek('}') {
		d.i++
		return nil
	}
	for {
		start := d.i
		esc, ok := d.str()
		if !ok {
			return errNotJSON
		}
		key := d.b[start+1 : d.i-1]
		d.ws()
		if !d.peek(':') {
			return errNotJSON
		}
		d.i++
		d.ws()
		if err := member(key, esc); err != nil {
			return err
		}
		d.ws()
		if d.peek(',') {
			d.i++
			d.ws()
			continue
		}
		if !d.peek('}') {
			return errNotJSON
		}
		d.i++
		return nil
	}
}

// list decodes the value of the member name at depth 1: a list, whose
// elements elem decodes, or null, which leaves the list nil.
func (d *decoder) list(name string, elem func(d *decoder, i int) error) error {
	if d.lit("null") {
		return nil
	}
	if !d.peek('[') {
		return at(d.wrongType("list", 1), name, -1, "")
	}
	d.i++ // [
	d.ws()
	if d.peek(']') {
		d.i++
		return nil
	}
	for n := 0; ; n++ {
		if err := elem(d, n); err != nil {
			return err
		}
		d.ws()
		if d.peek(',') {
			d.i++
			d.ws()
			continue
		}
		if !d.peek(']') {
			return errNotJSON
		}
		d.i++
		return nil
	}
}

// boolean decodes true, false or null (false) at depth.
func (d *decoder) boolean(depth int) (bool, error) {
	switch {
	case d.lit("true"):
		return true, nil
	case d.lit("false"), d.lit("null"):
		return false, nil
	}
	return false, d.wrongType("boolean", depth)
}

// string decodes a string or null ("") at depth. A string without escapes
// that is valid UTF-8 is its bytes; any other is left to encoding/json,
// which also decides how invalid UTF-8 is replaced.
func (d *decoder) string(depth int) (string, error) {
	if d.lit("null") {
		return "", nil
	}
	if !d.peek('"') {
		return "", d.wrongType("string", depth)
	}
	start := d.i
	esc, ok := d.str()
	if !ok {
		return "", errNotJSON
	}
	if raw := d.b[start+1 : d.i-1]; !esc && utf8.Valid(raw) {
		return string(raw), nil
	}
	var s string
	if err := json.Unmarshal(d.b[start:d.i], &s); err != nil {
		return "", errNotJSON
	}
	return s, nil
}

// typeError is a JSON value of the wrong kind.
type typeError struct {
	path   string // where: more, objects[3].id
	want   string // the kind it should have been
	got    string // the kind it is
	offset int
}

func (e *typeError) Error() string {
	return fmt.Sprintf("%s must be a JSON %s, not %s (at byte %d)", e.path, e.want, e.got, e.offset)
}

// wrongType scans the value at d.i, nested depth levels deep, and reports
// that it should have been a want; the caller names where with at. A
// value that is not even JSON is errNotJSON.
func (d *decoder) wrongType(want string, depth int) error {
	start := d.i
	if !d.value(depth) {
		return errNotJSON
	}
	return &typeError{want: want, got: kindOf(d.b[start]), offset: start}
}

// at names where a typeError happened: member list, its element i when i
// is not negative, and that element's member field when not empty. The
// path is built only for an error, never on the way of a good body.
func at(err error, list string, i int, field string) error {
	te, ok := err.(*typeError)
	if !ok {
		return err
	}
	te.path = list
	if i >= 0 {
		te.path += "[" + strconv.Itoa(i) + "]"
	}
	if field != "" {
		te.path += "." + field
	}
	return te
}

// end reports whether only white space follows.
func (d *decoder) end() bool {
	d.ws()
	return d.i == len(d.b)
}

// memberName is a member name as encoding/json matches it: unescaped.
func memberName(key []byte, esc bool) []byte {
	if !esc {
		return key
	}
	var s string
	if json.Unmarshal(append(append([]byte{'"'}, key...), '"'), &s) != nil {
		return key
	}
	return []byte(s)
}

// kindOf names the kind of the JSON value that starts with c.
func kindOf(c byte) string {
	switch c {
	case '{':
		return "an object"
	case '[':
		return "a list"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}
