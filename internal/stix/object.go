// Package stix is the STIX 2.1 object model: decoding, validation,
// deterministic identifiers and canonical serialisation. It is pure: it does
// no I/O and imports only the standard library.
package stix

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Object is one STIX object as received. Raw holds the exact bytes of the
// object (never re-encoded, so timestamps keep their precision and the
// round trip is byte-identical); the other fields are the properties that
// storage, TAXII filters and access decisions index (see DESIGN.md).
type Object struct {
	Raw          json.RawMessage
	ID           string
	Type         string
	SpecVersion  string
	Created      string // exactly as received, "" when absent
	Modified     string // exactly as received, "" when absent
	Revoked      bool
	CreatedByRef string
	MarkingRefs  []string // object_marking_refs
	Granular     []GranularMarking
}

// GranularMarking is one entry of granular_markings (STIX 2.1 §7.2.3).
type GranularMarking struct {
	Selectors  []string `json:"selectors"`
	MarkingRef string   `json:"marking_ref,omitempty"`
	Lang       string   `json:"lang,omitempty"`
}

// Version is the timestamp that identifies this version of the object for
// TAXII match[version]: modified when present, else created, else "" (SCOs
// and other unversioned objects).
func (o Object) Version() string {
	if o.Modified != "" {
		return o.Modified
	}
	return o.Created
}

// ErrNotJSON is returned when input is not a JSON object, list or bundle.
var ErrNotJSON = errors.New("stix: input is not a STIX object, bundle or JSON list")

// DecodeObject decodes one object, keeping raw as its exact bytes. Only
// structural problems (not JSON, not an object, properties of the wrong JSON
// type among the indexed ones) are errors here; everything else is for
// Validate. It uses the package's allocation-free scanner rather than
// encoding/json: ingest decodes every object of every envelope.
func DecodeObject(raw []byte) (Object, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return Object{}, ErrNotJSON
	}
	o := Object{Raw: json.RawMessage(raw)}
	// The first pass checks the indexed properties and keeps their
	// contents as sub-slices of raw; the second copies them all into one
	// string, so that an object costs one allocation for its indexed
	// strings (plus the object_marking_refs slice) however many it has.
	var (
		fields [numIndexed][]byte
		// marks are the contents of the object_marking_refs list, nil
		// when it is absent or null; markBuf holds them for a typical
		// object without allocating.
		marks   [][]byte
		markBuf [8][]byte
	)
	it := newObjIter(raw, 0)
	for k, esc, val, ok := it.next(); ok; k, esc, val, ok = it.next() {
		key := k
		if esc {
			key = keyContent(k, true)
		}
		var err error
		f := -1
		switch string(key) {
		case "id":
			f = fID
		case "type":
			f = fType
		case "spec_version":
			f = fSpecVersion
		case "created":
			f = fCreated
		case "modified":
			f = fModified
		case "created_by_ref":
			f = fCreatedByRef
		case "revoked":
			switch kindOf(val) {
			case jBool:
				o.Revoked = val[0] == 't'
			case jNull:
			default:
				err = fmt.Errorf("stix: decode object: revoked must be a boolean, not %s", kindOf(val))
			}
		case "object_marking_refs":
			marks, err = stringContents(key, val, markBuf[:0])
		case "granular_markings":
			if kindOf(val) != jNull {
				// Into a variable of its own: &o.Granular would move the
				// whole Object to the heap on every call.
				var gm []GranularMarking
				if uerr := json.Unmarshal(val, &gm); uerr != nil {
					err = fmt.Errorf("stix: decode object: granular_markings: %w", uerr)
				}
				o.Granular = gm
			}
		}
		switch {
		case f < 0:
		case it.plain:
			fields[f] = val[1 : len(val)-1]
		default:
			fields[f], err = indexContent(key, val)
		}
		if err != nil {
			return Object{}, err
		}
	}
	if it.err != nil {
		return Object{}, fmt.Errorf("stix: decode object: %w", it.err)
	}

	total := 0
	for _, c := range fields {
		total += len(c)
	}
	for _, c := range marks {
		total += len(c)
	}
	var all string
	if total > 0 {
		var b strings.Builder
		b.Grow(total)
		for _, c := range fields {
			b.Write(c)
		}
		for _, c := range marks {
			b.Write(c)
		}
		all = b.String()
	}
	off := 0
	cut := func(n int) string {
		s := all[off : off+n]
		off += n
		return s
	}
	o.ID = cut(len(fields[fID]))
	o.Type = cut(len(fields[fType]))
	o.SpecVersion = cut(len(fields[fSpecVersion]))
	o.Created = cut(len(fields[fCreated]))
	o.Modified = cut(len(fields[fModified]))
	o.CreatedByRef = cut(len(fields[fCreatedByRef]))
	if marks != nil {
		o.MarkingRefs = make([]string, len(marks))
		for i, c := range marks {
			o.MarkingRefs[i] = cut(len(c))
		}
	}
	return o, nil
}

// The indexed string properties, in the order DecodeObject lays them out.
const (
	fID = iota
	fType
	fSpecVersion
	fCreated
	fModified
	fCreatedByRef
	numIndexed
)

// indexContent checks an indexed string property and returns its decoded
// content (nil for null).
func indexContent(key, val []byte) ([]byte, error) {
	switch kindOf(val) {
	case jString:
		return strContent(val), nil
	case jNull:
		return nil, nil
	}
	return nil, fmt.Errorf("stix: decode object: %s must be a string, not %s", key, kindOf(val))
}

// stringContents checks an indexed list of strings and appends the
// contents of its elements to dst[:0], nil for a null element, so that
// DecodeObject reads the list once. The result is nil when val is null,
// and not nil (dst[:0]) when it is an empty list.
func stringContents(key, val []byte, dst [][]byte) ([][]byte, error) {
	switch kindOf(val) {
	case jNull:
		return nil, nil
	case jArray:
	default:
		return nil, fmt.Errorf("stix: decode object: %s must be a list, not %s", key, kindOf(val))
	}
	dst = dst[:0]
	// objIter has checked val whole.
	it := newValidArrIter(val)
	for e, ok := it.next(); ok; e, ok = it.next() {
		c, err := indexContent(key, e)
		if err != nil {
			return nil, err
		}
		dst = append(dst, c)
	}
	return dst, nil
}

// Decode decodes a bundle, a single object, or a JSON list of objects, and
// returns the objects in order. A bundle is returned as its objects. The
// objects' Raw share one private copy of data.
func Decode(data []byte) ([]Object, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, ErrNotJSON
	}
	end, err := scanValue(data, 0, 0)
	if err != nil {
		if data[0] == '{' || data[0] == '[' {
			return nil, fmt.Errorf("stix: decode: %w", err)
		}
		return nil, ErrNotJSON
	}
	if end != len(data) {
		return nil, fmt.Errorf("stix: decode: %w", syntaxErr(end, "trailing data"))
	}
	data = bytes.Clone(data)
	var list []byte
	switch data[0] {
	case '[':
		list = data
	case '{':
		var typ, objects []byte
		it := newObjIter(data, 0)
		for k, esc, val, ok := it.next(); ok; k, esc, val, ok = it.next() {
			switch string(keyContent(k, esc)) {
			case "type":
				typ = val
			case "objects":
				objects = val
			}
		}
		if string(strContent(typ)) != "bundle" || kindOf(typ) != jString {
			o, err := DecodeObject(data)
			if err != nil {
				return nil, err
			}
			return []Object{o}, nil
		}
		switch kindOf(objects) {
		case jArray:
			list = objects
		case jInvalid, jNull:
			return []Object{}, nil
		default:
			return nil, fmt.Errorf("stix: decode: bundle objects must be a list, not %s", kindOf(objects))
		}
	default:
		return nil, ErrNotJSON
	}
	var objs []Object
	it := newArrIter(list, 0)
	for r, ok := it.next(); ok; r, ok = it.next() {
		o, err := DecodeObject(r)
		if err != nil {
			return nil, fmt.Errorf("stix: object %d: %w", len(objs), err)
		}
		objs = append(objs, o)
	}
	if objs == nil {
		objs = []Object{}
	}
	return objs, nil
}
