package taxii

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestParseQuery(t *testing.T) {
	ts := time.Date(2021, 6, 10, 1, 2, 3, 456789000, time.UTC)
	tests := []struct {
		raw  string
		ep   endpoint
		want string // fmt of the query, or "error"
	}{
		{"", epObjects, fmt.Sprint(query{})},
		{"added_after=2021-06-10T01:02:03.456789Z", epObjects, fmt.Sprint(query{AddedAfter: ts})},
		{"limit=5&next=abc", epManifest, fmt.Sprint(query{Limit: 5, Next: "abc"})},
		{"match[type]=indicator,malware&match[id]=indicator--" + uuidN(1), epObjects,
			fmt.Sprint(query{IDs: []string{"indicator--" + uuidN(1)}, Types: []string{"indicator", "malware"}})},
		{"match%5Btype%5D=indicator", epObjects, fmt.Sprint(query{Types: []string{"indicator"}})},
		{"match[version]=first,2021-06-10T01:02:03Z&match[spec_version]=2.0,2.1", epObject,
			fmt.Sprint(query{Versions: []string{"first", "2021-06-10T01:02:03Z"}, SpecVersions: []string{"2.0", "2.1"}})},
		// Parameters an endpoint does not support are ignored (§3.4.2).
		{"match[type]=indicator&match[id]=x", epObject, fmt.Sprint(query{})},
		{"limit=5&added_after=x", epDelete, fmt.Sprint(query{})},
		{"match[created_by_ref]=identity--x&foo=bar", epObjects, fmt.Sprint(query{})},
		{"limit=0", epObjects, "error"},
		{"limit=-3", epVersions, "error"},
		{"limit=99999999999999999999", epObjects, "error"},
		{"added_after=2021-06-10", epObjects, "error"},
		{"added_after=2021-06-10T01:02:03.456789+00:00", epObjects, "error"},
		{"added_after=2021-13-10T01:02:03Z", epObjects, "error"},
		{"next=a&next=b", epObjects, "error"},
		{"match[id]=indicator--" + uuidN(1) + ",", epObjects, "error"},
		{"match[version]=latest", epDelete, "error"},
		{"match[spec_version]=2", epVersions, "error"},
		{"a=%", epObjects, "error"},
	}
	for _, tt := range tests {
		q, err := parseQuery(tt.raw, tt.ep)
		got := fmt.Sprint(q)
		if err != nil {
			got = "error"
			var ae *apiError
			if !errors.As(err, &ae) || ae.kind != errBadFilter {
				t.Errorf("%s: error %v is not a bad-filter apiError", tt.raw, err)
			}
		}
		if got != tt.want {
			t.Errorf("parseQuery(%q, %s) = %s, want %s", tt.raw, tt.ep, got, tt.want)
		}
	}
}

func TestCanonicalFilterIgnoresOrderAndRepetition(t *testing.T) {
	a, _ := parseQuery("match[type]=malware,indicator,malware&match[version]=all", epObjects)
	b, _ := parseQuery("match[version]=all&match[type]=indicator,malware", epObjects)
	if !a.canonical().equal(b.canonical()) {
		t.Errorf("%+v != %+v", a.canonical(), b.canonical())
	}
	c, _ := parseQuery("match[type]=indicator", epObjects)
	if a.canonical().equal(c.canonical()) {
		t.Error("different filters compare equal")
	}
}

func TestCursorRoundTripAndTamper(t *testing.T) {
	key := []byte("k")
	c := cursor{Collection: collRW, Endpoint: epVersions, Object: indicatorID(1), Filter: boundFilter{Types: []string{"indicator"}, AddedAfter: 5}, Last: 42}
	tok := encodeCursor(key, c)
	if strings.ContainsAny(tok, "+/=&?# ") {
		t.Errorf("token %q is not URL-safe", tok)
	}
	got, err := decodeCursor(key, tok)
	if err != nil || fmt.Sprint(got) != fmt.Sprint(c) {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	for _, bad := range []string{"", ".", tok + "x", "x" + tok, strings.Replace(tok, ".", "", 1), tamper(tok), encodeCursor([]byte("other"), c)} {
		if _, err := decodeCursor(key, bad); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{
		"", "limit=10", "added_after=2021-06-10T01:02:03.456789Z", "match[type]=indicator,malware",
		"match[id]=indicator--" + uuidN(1), "match[version]=first,last,all", "match[spec_version]=2.1",
		"limit=1&limit=2", "next=abc.def", "%zz", "match[type]=,", "added_after=2021-06-10T01:02:03+01:00",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		for _, ep := range []endpoint{epManifest, epObjects, epObject, epDelete, epVersions} {
			q, err := parseQuery(raw, ep)
			if err != nil {
				var ae *apiError
				if !errors.As(err, &ae) || catalogue[ae.kind].Status != 400 {
					t.Fatalf("%q: error %v is not a 400", raw, err)
				}
				continue
			}
			if q.Limit < 0 {
				t.Fatalf("%q: negative limit", raw)
			}
			for _, v := range append(append(append(q.IDs, q.Types...), q.Versions...), q.SpecVersions...) {
				if v == "" || strings.Contains(v, ",") {
					t.Fatalf("%q: bad value %q", raw, v)
				}
			}
			// The canonical filter survives a cursor round trip.
			c := cursor{Collection: "c", Endpoint: ep, Filter: q.canonical()}
			back, err := decodeCursor([]byte("k"), encodeCursor([]byte("k"), c))
			if err != nil || !back.Filter.equal(c.Filter) {
				t.Fatalf("%q: cursor round trip: %v", raw, err)
			}
		}
	})
}

func FuzzDecodeEnvelope(f *testing.F) {
	for _, s := range []string{
		`{"objects":[]}`, `{"objects":[{"type":"indicator","id":"indicator--` + uuidN(1) + `"}]}`, `{}`, `[]`, `{"objects":[1]}`,
		`{"objects":{}}`, `{"more":true,"objects":[{"id":1}]}`, ` {"objects":[{}]} `, `{"objects":[{"type":"x"}],"objects":null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		objs, err := DecodeEnvelope(body)
		if err != nil {
			var ee *EnvelopeError
			if !errors.As(err, &ee) || !errors.Is(err, errEnvelope) {
				t.Fatalf("error %v is not an EnvelopeError", err)
			}
			return
		}
		for _, o := range objs {
			if len(o.Raw) == 0 || o.Raw[0] != '{' {
				t.Fatalf("object without raw JSON object: %q", o.Raw)
			}
		}
	})
}

func TestDecodeEnvelope(t *testing.T) {
	objs, err := DecodeEnvelope([]byte(`{"more":false,"objects":[` + indicator(1, "2020-01-01T00:00:00.000Z") + `, ` + malware(2, "2020-01-01T00:00:00.000Z") + `]}`))
	if err != nil || len(objs) != 2 || objs[0].ID != indicatorID(1) || string(objs[1].Raw) != malware(2, "2020-01-01T00:00:00.000Z") {
		t.Fatalf("decode: %v %+v", err, objs)
	}
	for body, index := range map[string]int{
		`{"objects":[{}, 7]}`:   1,
		`{"objects":"x"}`:       -1,
		`{"no":"objects"}`:      -1,
		`{"objects":[{"id":1}]`: -1,
	} {
		_, err := DecodeEnvelope([]byte(body))
		var ee *EnvelopeError
		if !errors.As(err, &ee) || ee.Index != index {
			t.Errorf("%s: %v, want index %d", body, err, index)
		}
	}
}

func TestAcceptable(t *testing.T) {
	for h, want := range map[string]bool{
		"": true, "*/*": true, "application/taxii+json;version=2.1": true, "APPLICATION/TAXII+JSON; VERSION=2.1": true,
		"application/taxii+json;version=2.0": false, "application/json": false, "*/*;q=0": false, "*/*;q=0.000": false,
		"application/taxii+json;q=0.5": true, ";;;": false,
	} {
		if got := acceptable(h); got != want {
			t.Errorf("acceptable(%q) = %v", h, got)
		}
	}
}

// FuzzEnvelopeScanner checks that the envelope scanner accepts exactly the
// JSON that encoding/json accepts and finds the objects it would decode.
func FuzzEnvelopeScanner(f *testing.F) {
	for _, s := range []string{
		`{"objects":[]}`, `{"objects":[{"type":"indicator","id":"indicator--` + uuidN(1) + `"}]}`, `{}`, `[]`, `{"objects":[1]}`,
		`{"objects":{}}`, `{"more":true,"objects":[{"id":1}]}`, ` {"objects":[{}]} `, `{"objects":[{"type":"x"}],"objects":null}`,
		`{"Objects":[{}],"x":[1,{"a":[-0.5e+3,true,false,null,"\u00e9\n"]}]}`, `{"objects":"x","objects":[]}`, `{"\u006fbjects":[{}]}`,
		`{"objectſ":[{}]}`, `{"OBJECTS":[{}]}`, `{"objects":[01]}`, `{"objects":[1.]}`, `{"objects":["\x01"]}`, `{"objects":[{"a":tru}]}`, `{"a":[[[]]],}`, `{"objects":[{}]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		elems, list, ok := envelopeObjects(body)
		if ok != json.Valid(body) {
			t.Fatalf("scanner says %v, json.Valid %v", ok, !ok)
		}
		if !ok {
			return
		}
		var env struct {
			Objects *[]json.RawMessage `json:"objects"`
		}
		err := json.Unmarshal(body, &env)
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te) && te.Field == "objects":
			if list != objectsWrongType {
				t.Fatalf("objects member %v, encoding/json: %v", list, err)
			}
		case err != nil:
			// A body that is not an object: DecodeEnvelope refuses it first.
		case env.Objects == nil:
			if list != objectsMissing {
				t.Fatalf("objects member %v, encoding/json: none", list)
			}
		default:
			if list != objectsList || len(elems) != len(*env.Objects) {
				t.Fatalf("objects member %v with %d elements, encoding/json: %d", list, len(elems), len(*env.Objects))
			}
			for i, e := range elems {
				if !bytes.Equal(e, (*env.Objects)[i]) {
					t.Fatalf("element %d: %q, encoding/json: %q", i, e, (*env.Objects)[i])
				}
			}
		}
	})
}
