// Package stix is the STIX 2.1 object model: decoding, validation,
// deterministic identifiers and canonical serialisation. It is pure: it does
// no I/O and imports only the standard library.
package stix

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
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

// indexed is the subset of properties decoded for indexing.
type indexed struct {
	ID           string            `json:"id"`
	Type         string            `json:"type"`
	SpecVersion  string            `json:"spec_version"`
	Created      string            `json:"created"`
	Modified     string            `json:"modified"`
	Revoked      bool              `json:"revoked"`
	CreatedByRef string            `json:"created_by_ref"`
	MarkingRefs  []string          `json:"object_marking_refs"`
	Granular     []GranularMarking `json:"granular_markings"`
}

// ErrNotJSON is returned when input is not a JSON object, list or bundle.
var ErrNotJSON = errors.New("stix: input is not a STIX object, bundle or JSON list")

// DecodeObject decodes one object, keeping raw as its exact bytes. Only
// structural problems (not JSON, not an object, properties of the wrong JSON
// type among the indexed ones) are errors here; everything else is for
// Validate.
func DecodeObject(raw []byte) (Object, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return Object{}, ErrNotJSON
	}
	var ix indexed
	if err := json.Unmarshal(raw, &ix); err != nil {
		return Object{}, fmt.Errorf("stix: decode object: %w", err)
	}
	return Object{
		Raw:          json.RawMessage(raw),
		ID:           ix.ID,
		Type:         ix.Type,
		SpecVersion:  ix.SpecVersion,
		Created:      ix.Created,
		Modified:     ix.Modified,
		Revoked:      ix.Revoked,
		CreatedByRef: ix.CreatedByRef,
		MarkingRefs:  ix.MarkingRefs,
		Granular:     ix.Granular,
	}, nil
}

// Decode decodes a bundle, a single object, or a JSON list of objects, and
// returns the objects in order. A bundle is returned as its objects.
func Decode(data []byte) ([]Object, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, ErrNotJSON
	}
	var raws []json.RawMessage
	switch data[0] {
	case '[':
		if err := json.Unmarshal(data, &raws); err != nil {
			return nil, fmt.Errorf("stix: decode list: %w", err)
		}
	case '{':
		var head struct {
			Type    string            `json:"type"`
			Objects []json.RawMessage `json:"objects"`
		}
		if err := json.Unmarshal(data, &head); err != nil {
			return nil, fmt.Errorf("stix: decode: %w", err)
		}
		if head.Type != "bundle" {
			o, err := DecodeObject(data)
			if err != nil {
				return nil, err
			}
			return []Object{o}, nil
		}
		raws = head.Objects
	default:
		return nil, ErrNotJSON
	}
	objs := make([]Object, 0, len(raws))
	for i, r := range raws {
		o, err := DecodeObject(r)
		if err != nil {
			return nil, fmt.Errorf("stix: object %d: %w", i, err)
		}
		objs = append(objs, o)
	}
	return objs, nil
}
