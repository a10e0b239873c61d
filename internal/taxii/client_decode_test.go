package taxii

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// decodeCase runs one of the client's decoders and json.Unmarshal into the
// same resource, so that tests can compare them.
type decodeCase struct {
	name string
	fast func([]byte) (any, error)
	std  func([]byte) (any, error)
}

var clientDecoders = []decodeCase{
	{"envelope",
		func(b []byte) (any, error) { v, err := decodeEnvelopeBody(b); return v, err },
		func(b []byte) (any, error) { var v Envelope; err := json.Unmarshal(b, &v); return v, err }},
	{"manifest",
		func(b []byte) (any, error) { v, err := decodeManifestBody(b); return v, err },
		func(b []byte) (any, error) { var v Manifest; err := json.Unmarshal(b, &v); return v, err }},
	{"versions",
		func(b []byte) (any, error) { v, err := decodeVersionsBody(b); return v, err },
		func(b []byte) (any, error) { var v Versions; err := json.Unmarshal(b, &v); return v, err }},
}

// sameResource compares two decoded resources, taking an empty list and a
// missing one for the same, as the client's callers do.
func sameResource(a, b any) bool {
	switch a := a.(type) {
	case Envelope:
		b := b.(Envelope)
		if a.More != b.More || a.Next != b.Next || len(a.Objects) != len(b.Objects) {
			return false
		}
		for i := range a.Objects {
			if !bytes.Equal(a.Objects[i], b.Objects[i]) {
				return false
			}
		}
		return true
	case Manifest:
		b := b.(Manifest)
		return a.More == b.More && a.Next == b.Next && len(a.Objects) == len(b.Objects) &&
			(len(a.Objects) == 0 || reflect.DeepEqual(a.Objects, b.Objects))
	case Versions:
		b := b.(Versions)
		return a.More == b.More && a.Next == b.Next && len(a.Versions) == len(b.Versions) &&
			(len(a.Versions) == 0 || reflect.DeepEqual(a.Versions, b.Versions))
	}
	return false
}

func TestClientDecodeMatchesEncodingJSON(t *testing.T) {
	for _, body := range []string{
		`{}`, ` {"more":true,"next":"n1","objects":[{"id":"x"}, {"id":"y"} ]} `,
		`{"more":false,"next":null,"objects":null,"versions":null}`,
		`{"objects":[],"versions":[]}`,
		`{"MORE":true,"Next":"\u0041b\/c","OBJECTS":[{"id":"a","date_added":"d","version":"v","media_type":"m"}]}`,
		`{"objectſ":[{"ID":"a"}],"versionſ":["v1",null]}`, // ſ folds to s, for encoding/json too
		`{"\u006dore":true,"objects":[null,{"Id":null}]}`,
		"{\"next\":\"bad \xff utf-8\",\"objects\":[\"\xfe\"]}",
		`{"x":1e999999,"y":-0.5E-3,"z":[{"a":[[]]}],"objects":[{"more":"not the envelope's"}]}`,
		`{"more":true,"more2":1,"nexts":2,"objects":[{"id":"a","x":{"id":1,"id":2}}]}`,
		`{"versions":["2020-01-01T00:00:00.000Z","2021-01-01T00:00:00.000Z"],"more":true}`,
	} {
		accepted := 0
		for _, dc := range clientDecoders {
			got, err := dc.fast([]byte(body))
			want, jerr := dc.std([]byte(body))
			switch {
			case (err == nil) != (jerr == nil):
				t.Errorf("%s %s: %v, encoding/json: %v", dc.name, body, err, jerr)
			case err == nil && !sameResource(got, want):
				t.Errorf("%s %s:\n got %+v\nwant %+v", dc.name, body, got, want)
			case err == nil:
				accepted++
			}
		}
		if accepted == 0 {
			t.Errorf("%s: no decoder accepts it", body)
		}
	}
}

func TestClientDecodeErrors(t *testing.T) {
	deep := `{"objects":[` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `]}`
	for _, tc := range []struct {
		decoder string // "" for all three
		body    string
		want    string // in the message
		dup     bool   // errDuplicate
		syntax  bool   // a *json.SyntaxError
	}{
		{"", ``, "unexpected end of JSON input", false, true},
		{"", `{"objects":[{}]`, "unexpected end of JSON input", false, true},
		{"", `{"objects":[{}]} x`, "after top-level value", false, true},
		{"", `{"objects":[]}{}`, "after top-level value", false, true},
		{"", `{"x":[1,]}`, "invalid character ']'", false, true},
		{"", `{"more":tru}`, "invalid character '}'", false, true},
		{"", `{"next":"a` + "\x01" + `"}`, "invalid character '\\x01' in string literal", false, true},
		{"", `{"x":[[[{"a":nul}]]],"objects":[]}`, "invalid character '}'", false, true},
		{"", `{"objects":[],}`, "invalid character '}'", false, true},
		{"", `{"x":01}`, "after object key:value pair", false, true},
		{"", deep, "exceeded max depth", false, true},
		{"", "\ufeff{}", "invalid character 'ï'", false, true},
		{"", `[]`, "the body must be a JSON object, not a list", false, false},
		{"", `null`, "the body must be a JSON object, not null", false, false},
		{"", ` "objects" `, "the body must be a JSON object, not a string", false, false},
		{"", `1e999`, "the body must be a JSON object, not a number", false, false},
		{"", `{"more":"true"}`, "more must be a JSON boolean, not a string (at byte 8)", false, false},
		{"", `{"more":1e999}`, "more must be a JSON boolean, not a number", false, false},
		{"", `{"next":1}`, "next must be a JSON string, not a number", false, false},
		{"", `{"next":["n"]}`, "next must be a JSON string, not a list", false, false},
		{"", `{"more":true,"more":true}`, `duplicate member "more"`, true, false},
		{"", `{"more":true,"More":false}`, `duplicate member "More"`, true, false},
		{"", `{"next":"a","\u006eext":"b"}`, `duplicate member "next"`, true, false},
		{"envelope", `{"objects":{}}`, "objects must be a JSON list, not an object", false, false},
		{"envelope", `{"objects":"x"}`, "objects must be a JSON list, not a string", false, false},
		{"envelope", `{"objects":[],"objects":null}`, `duplicate member "objects"`, true, false},
		{"envelope", `{"objects":[{"id":"a"}],"Objects":[{"id":"b"}]}`, `duplicate member "Objects"`, true, false},
		{"manifest", `{"objects":[1]}`, "objects[0] must be a JSON object, not a number", false, false},
		{"manifest", `{"objects":[{},"r"]}`, "objects[1] must be a JSON object, not a string", false, false},
		{"manifest", `{"objects":[{"id":1}]}`, "objects[0].id must be a JSON string, not a number", false, false},
		{"manifest", `{"objects":[{"id":"a"},{"Date_Added":true}]}`, "objects[1].Date_Added must be a JSON string, not a boolean", false, false},
		{"manifest", `{"objects":[{"id":"a","ID":"b"}]}`, `duplicate member "ID" in objects[0]`, true, false},
		{"manifest", `{"objects":[{"id":"a","x":1,}]}`, "invalid character '}'", false, true},
		{"versions", `{"versions":{"v":1}}`, "versions must be a JSON list, not an object", false, false},
		{"versions", `{"versions":["a",2]}`, "versions[1] must be a JSON string, not a number", false, false},
		{"versions", `{"versions":[],"versions":[]}`, `duplicate member "versions"`, true, false},
	} {
		for _, dc := range clientDecoders {
			if tc.decoder != "" && tc.decoder != dc.name {
				continue
			}
			_, err := dc.fast([]byte(tc.body))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s %.60q: got %v, want %q", dc.name, tc.body, err, tc.want)
				continue
			}
			var se *json.SyntaxError
			if errors.Is(err, errDuplicate) != tc.dup || errors.As(err, &se) != tc.syntax {
				t.Errorf("%s %.60q: %v (%T): duplicate %v, syntax %v", dc.name, tc.body, err, err, errors.Is(err, errDuplicate), errors.As(err, &se))
			}
		}
	}
}

// FuzzClientDecode checks the client's decoders against encoding/json:
// they never panic, and whenever one succeeds, the body is a JSON object
// that json.Unmarshal decodes to the same resource. When one fails, it
// calls the body invalid JSON (a *json.SyntaxError) exactly when
// json.Valid does, and unless the failure is a duplicate member,
// json.Unmarshal fails too (or takes the body for null).
func FuzzClientDecode(f *testing.F) {
	for _, s := range []string{
		`{"more":true,"next":"abc","objects":[{"type":"indicator","id":"indicator--` + uuidN(1) + `"}]}`,
		`{"objects":[{"id":"a","date_added":"2020-01-01T00:00:00.000000Z","version":"v","media_type":"application/stix+json;version=2.1"}]}`,
		`{"more":false,"versions":["2020-01-01T00:00:00.000Z"]}`,
		`{}`, `null`, `[]`, `"x"`, `1`, ``, ` `,
		`{"objects":[{}]`, `{"more":tr`, `{"next":"ab`, `{"objects":[{"a":[1,2`,
		`{"more":"true"}`, `{"more":1}`, `{"next":1}`, `{"next":true}`, `{"objects":{}}`, `{"objects":"x"}`, `{"versions":[1]}`,
		`{"objects":[1]}`, `{"objects":[{"id":1}]}`, `{"objects":[null,{"id":null}]}`,
		`{"more":true,"more":false}`, `{"objects":[],"OBJECTS":[]}`, `{"next":"a","\u006eext":"b"}`, `{"objects":[{"id":"a","Id":"b"}]}`,
		`{"x":1e999999,"objects":[1e999]}`, `{"more":-1e-999}`, `{"x":123456789012345678901234567890}`,
		`{"x":[[[[{"y":{"z":[]}}]]]],"objects":[[[{}]]]}`, `{"x":[}`, `{"x":{]}`, `{"objects":[{}]}}`, `{"objects":[]} x`,
		`{"objectſ":[{}],"versionſ":[null]}`, "{\"next\":\"\xff\"}", `{"next":"\ud800"}`, `{"next":"\u00e9\n\"\\"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, dc := range clientDecoders {
			got, err := dc.fast(body)
			want, jerr := dc.std(body)
			if err == nil {
				var obj map[string]json.RawMessage
				if json.Unmarshal(body, &obj) != nil || obj == nil {
					t.Fatalf("%s: accepted %q, which is not a JSON object", dc.name, body)
				}
				if jerr != nil {
					t.Fatalf("%s: accepted %q, encoding/json: %v", dc.name, body, jerr)
				}
				if !sameResource(got, want) {
					t.Fatalf("%s %q:\n got %+v\nwant %+v", dc.name, body, got, want)
				}
				continue
			}
			if jerr == nil && string(bytes.TrimSpace(body)) != "null" && !errors.Is(err, errDuplicate) {
				t.Fatalf("%s: refused %q (%v), which encoding/json accepts", dc.name, body, err)
			}
			var se *json.SyntaxError
			if errors.As(err, &se) == json.Valid(body) {
				t.Fatalf("%s: %q: %v, json.Valid %v", dc.name, body, err, json.Valid(body))
			}
		}
	})
}
