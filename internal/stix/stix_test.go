package stix

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

// TestStrict checks each SHOULD rule: silent by default, a Warning at the
// right path under Options.Strict.
func TestStrict(t *testing.T) {
	const ind = `"type":"indicator","spec_version":"2.1","created":"2016-04-06T20:03:48.000Z","modified":"2016-04-06T20:03:48.000Z","pattern":"[ipv4-addr:value = '1.2.3.4']","pattern_type":"stix","valid_from":"2016-01-01T00:00:00Z"`
	const indID = `"id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"`
	tests := []struct {
		name, obj, path, msg string
	}{
		{"sco id not deterministic", `{"type":"ipv4-addr","id":"ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd","value":"198.51.100.3"}`,
			"id", "should be the deterministic id ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4"},
		{"sdo with uuidv5", `{` + ind + `,"id":"indicator--8e2e2d2b-17d4-5cbf-938f-98ee46b3cd3f"}`, "id", "should use a UUIDv4"},
		{"process with uuidv5", `{"type":"process","id":"process--8e2e2d2b-17d4-5cbf-938f-98ee46b3cd3f","pid":1}`, "id", "should use a UUIDv4"},
		{"open vocabulary", `{` + ind + `,` + indID + `,"indicator_types":["evil"]}`, "indicator_types.[0]", "not in the open vocabulary indicator-type-ov"},
		{"pattern type", `{"type":"indicator","spec_version":"2.1",` + indID + `,"created":"2016-04-06T20:03:48.000Z","modified":"2016-04-06T20:03:48.000Z","pattern":"x","pattern_type":"kql","valid_from":"2016-01-01T00:00:00Z"}`, "pattern_type", "pattern-type-ov"},
		{"kill chain case", `{` + ind + `,` + indID + `,"kill_chain_phases":[{"kill_chain_name":"lockheed","phase_name":"Delivery"}]}`, "kill_chain_phases.[0].phase_name", "should be all lowercase"},
		{"custom x- extension", `{"type":"file","id":"file--5a4dbb6f-bd9c-5fb4-9e8b-5f6fd5bd1cc1","name":"a","extensions":{"x-acme-ext":{"a":1}}}`, "extensions.x-acme-ext", "deprecated"},
		{"dictionary key", `{"type":"process","id":"process--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","environment_variables":{"my var":"x"}}`, "environment_variables.my var", "should use only letters"},
		{"observed-data objects", `{"type":"observed-data","spec_version":"2.1","id":"observed-data--b67d30ff-02ac-498a-92f9-32f845f448cf","created":"2016-04-06T19:58:16.000Z","modified":"2016-04-06T19:58:16.000Z","first_observed":"2015-12-21T19:00:00Z","last_observed":"2015-12-21T19:00:00Z","number_observed":1,"objects":{"0":{"type":"ipv4-addr","value":"1.2.3.4"}}}`, "objects", "deprecated"},
		{"relationship type", `{"type":"relationship","spec_version":"2.1","id":"relationship--57b56a43-b8b0-4cba-9deb-34e3e1faed9e","created":"2016-04-06T20:06:37.000Z","modified":"2016-04-06T20:06:37.000Z","relationship_type":"likes","source_ref":"identity--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","target_ref":"malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b"}`, "relationship_type", "not one the specification defines"},
		{"relative url", `{"type":"url","id":"url--c1477287-23ac-5971-a010-5c287877fa60","value":"example.com/x"}`, "value", "should be an absolute URL"},
		{"hash algorithm", `{"type":"file","id":"file--5a4dbb6f-bd9c-5fb4-9e8b-5f6fd5bd1cc1","hashes":{"FOO":"abc"}}`, "hashes.FOO", "hash-algorithm-ov"},
		// STIX 2.1 §11.1: custom property names SHOULD (not MUST) start
		// with x_, so an unprefixed well-formed name is only a warning.
		{"custom property without x_", `{` + ind + `,` + indID + `,"colour":"red"}`, "colour", "should start with x_"},
		{"property-extension property at top level", `{` + ind + `,` + indID + `,"rank":5,"extensions":{"extension-definition--d83fce45-ef58-4c6c-a3f4-1fbc32e98c6e":{"extension_type":"property-extension","rank":5}}}`, "rank", "should start with x_"},
		// STIX 2.1 §3.2/§6.1: extension keys SHOULD be an extension
		// definition id or a predefined extension name.
		// Marking definitions with second-precision created (the OASIS
		// schema accepts them; ACS and ATT&CK publish them) are a warning.
		{"marking created in seconds", `{"type":"marking-definition","spec_version":"2.1","id":"marking-definition--0b6d4e7c-2a3b-4c5d-8e9f-a0b1c2d3e4f5","created":"2017-06-01T00:00:00Z","definition_type":"statement","definition":{"statement":"Copyright 2017"}}`, "created", "should be precise to at least the millisecond"},
		{"custom extension key", `{"type":"file","id":"file--5a4dbb6f-bd9c-5fb4-9e8b-5f6fd5bd1cc1","name":"a","extensions":{"zip-ext":{"a":"b"}}}`, "extensions.zip-ext", "unknown extension"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := DecodeObject([]byte(tt.obj))
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range Validate(o, Options{}) {
				t.Errorf("not strict: unexpected %v", p)
			}
			probs := Validate(o, Options{Strict: true})
			for _, p := range probs {
				if p.Severity == Warning && p.Path == tt.path && strings.Contains(p.Message, tt.msg) {
					return
				}
			}
			t.Errorf("strict: want warning at %q containing %q, got %v", tt.path, tt.msg, probs)
		})
	}
}

// TestSCOID checks deterministic ids against vectors published by the
// STIX 2.1 specification (§2.9, ipv4-addr) and by the OASIS reference
// implementation cti-python-stix2 (test_deterministic_ids.py and its
// datastore tests).
func TestSCOID(t *testing.T) {
	tests := []struct{ obj, want string }{
		{`{"type":"ipv4-addr","value":"198.51.100.3"}`, "ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4"},
		{`{"type":"domain-name","value":"example.com"}`, "domain-name--bedb4899-d24b-5401-bc86-8f6b4cc18ec7"},
		{`{"type":"domain-name","spec_version":"2.1","id":"domain-name--00000000-0000-4000-8000-000000000000","value":"example.com","resolves_to_refs":["ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4"]}`,
			"domain-name--bedb4899-d24b-5401-bc86-8f6b4cc18ec7"},
		// File with a PE extension: extensions contribute, and the float
		// 7.980693 must be written in ECMAScript form.
		{`{"type":"file","name":"example.exe","size":68000,"magic_number_hex":"50000000","hashes":{"SHA-256":"841a8921140aba50671ebb0770fecc4ee308c4952cfeff8de154ab14eeef4649"},"extensions":{"windows-pebinary-ext":{"pe_type":"exe","machine_hex":"014c","sections":[{"name":".data","size":4096,"entropy":7.980693,"hashes":{"SHA-256":"6e3b6f3978e5cd96ba7abee35c24e867b7e64072e2ecb22d0ee7a6e6af6894d0"}}]}}}`,
			"file--ced31cd4-bdcb-537d-aefa-92d291bfc11d"},
		{`{"type":"windows-registry-key","values":[{"name":"Foo","data":"qwerty"},{"name":"Bar","data":"42"}]}`,
			"windows-registry-key--36594eba-bcc7-5014-9835-0e154264e588"},
	}
	for _, tt := range tests {
		got, err := SCOIDFromJSON([]byte(tt.obj))
		if err != nil || got != tt.want {
			t.Errorf("SCOIDFromJSON(%s) = %q, %v; want %q", tt.obj, got, err, tt.want)
		}
	}
	// SCOID over plain Go values gives the same ids.
	got, err := SCOID(map[string]any{"type": "ipv4-addr", "value": "198.51.100.3", "x_extra": 1})
	if err != nil || got != "ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4" {
		t.Errorf("SCOID(map) = %q, %v", got, err)
	}
}

// TestSCOIDHashes checks the single-hash rule of STIX 2.1 §2.9: MD5 wins
// over SHA-1 over SHA-256 over SHA-512, the other hashes do not count.
func TestSCOIDHashes(t *testing.T) {
	const md5 = "d41d8cd98f00b204e9800998ecf8427e"
	const sha1 = "da39a3ee5e6b4b0d3255bfef95601890afd80709"
	const sha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	id := func(h map[string]any) string {
		t.Helper()
		s, err := SCOID(map[string]any{"type": "file", "hashes": h})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	onlyMD5 := id(map[string]any{"MD5": md5})
	if got := id(map[string]any{"MD5": md5, "SHA-1": sha1, "SHA-256": sha256}); got != onlyMD5 {
		t.Errorf("MD5 should win: %s != %s", got, onlyMD5)
	}
	onlySHA1 := id(map[string]any{"SHA-1": sha1})
	if got := id(map[string]any{"SHA-256": sha256, "SHA-1": sha1}); got != onlySHA1 {
		t.Errorf("SHA-1 should win over SHA-256")
	}
	if onlyMD5 == onlySHA1 {
		t.Error("different hashes gave the same id")
	}
	if _, err := SCOID(map[string]any{"type": "file", "hashes": map[string]any{}}); err == nil {
		t.Error("empty hashes: want an error")
	}
	for _, obj := range []map[string]any{
		{"type": "process", "pid": 1},      // no ID-contributing properties
		{"type": "ipv4-addr"},              // none present
		{"type": "indicator", "name": "x"}, // not an SCO
	} {
		if _, err := SCOID(obj); !errors.Is(err, ErrNoDeterministicID) {
			t.Errorf("SCOID(%v): want ErrNoDeterministicID, got %v", obj, err)
		}
	}
}

// TestCanonicalizeNumbers uses the number serialisation table of RFC 8785
// Appendix B (IEEE 754 bit patterns and their expected JCS form).
func TestCanonicalizeNumbers(t *testing.T) {
	tests := []struct {
		bits uint64
		want string
	}{
		{0x0000000000000000, "0"},
		{0x8000000000000000, "0"},
		{0x0000000000000001, "5e-324"},
		{0x8000000000000001, "-5e-324"},
		{0x7fefffffffffffff, "1.7976931348623157e+308"},
		{0xffefffffffffffff, "-1.7976931348623157e+308"},
		{0x4340000000000000, "9007199254740992"},
		{0xc340000000000000, "-9007199254740992"},
		{0x4430000000000000, "295147905179352830000"},
		{0x44b52d02c7e14af5, "9.999999999999997e+22"},
		{0x44b52d02c7e14af6, "1e+23"},
		{0x44b52d02c7e14af7, "1.0000000000000001e+23"},
		{0x444b1ae4d6e2ef4e, "999999999999999700000"},
		{0x444b1ae4d6e2ef4f, "999999999999999900000"},
		{0x444b1ae4d6e2ef50, "1e+21"},
		{0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"},
		{0x3eb0c6f7a0b5ed8d, "0.000001"},
		{0x41b3de4355555553, "333333333.3333332"},
		{0x41b3de4355555554, "333333333.33333325"},
		{0x41b3de4355555555, "333333333.3333333"},
		{0x41b3de4355555556, "333333333.3333334"},
		{0x41b3de4355555557, "333333333.33333343"},
		{0xbecbf647612f3696, "-0.0000033333333333333333"},
		{0x43143ff3c1cb0959, "1424953923781206.2"},
	}
	for _, tt := range tests {
		f := math.Float64frombits(tt.bits)
		got, err := formatES6(f)
		if err != nil || got != tt.want {
			t.Errorf("%016x: got %q, %v; want %q", tt.bits, got, err, tt.want)
		}
		// And through Canonicalize, from Go's own shortest form.
		in, _ := json.Marshal(f)
		if c, err := Canonicalize(in); err != nil || string(c) != tt.want {
			t.Errorf("Canonicalize(%s) = %q, %v; want %q", in, c, err, tt.want)
		}
	}
	for _, f := range []float64{math.NaN(), math.Inf(1)} {
		if _, err := formatES6(f); err == nil {
			t.Errorf("formatES6(%v): want an error", f)
		}
	}
}

// TestCanonicalize uses the examples of RFC 8785 §3.2.2 (whitespace,
// numbers, string escapes, literals) and §3.2.3 (UTF-16 key ordering).
func TestCanonicalize(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{
  "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
  "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
  "literals": [null, true, false]
}`, `{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}`},
		{`{
  "\u20ac": "Euro Sign",
  "\r": "Carriage Return",
  "\ufb33": "Hebrew Letter Dalet With Dagesh",
  "1": "One",
  "\ud83d\ude00": "Emoji: Grinning Face",
  "\u0080": "Control",
  "\u00f6": "Latin Small Letter O With Diaeresis"
}`, "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u0080\":\"Control\",\"\u00f6\":\"Latin Small Letter O With Diaeresis\",\"\u20ac\":\"Euro Sign\",\"\U0001F600\":\"Emoji: Grinning Face\",\"\ufb33\":\"Hebrew Letter Dalet With Dagesh\"}"},
		{` [ 1 , "a" , { } , [ ] ] `, `[1,"a",{},[]]`},
		{`"\u2028\t"`, "\"\u2028\\t\""},
	}
	for _, tt := range tests {
		got, err := Canonicalize([]byte(tt.in))
		if err != nil || string(got) != tt.want {
			t.Errorf("Canonicalize(%s)\n got %s, %v\nwant %s", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{`{"a":1,"a":2}`, `{"a":}`, `1e400`, `[1] x`, "\"\xff\"", ``} {
		if _, err := Canonicalize([]byte(bad)); !errors.Is(err, ErrCanonical) {
			t.Errorf("Canonicalize(%q): want ErrCanonical, got %v", bad, err)
		}
	}
}

func TestParseTimestamp(t *testing.T) {
	good := []struct {
		in   string
		want time.Time
	}{
		{"2016-05-12T08:17:27Z", time.Date(2016, 5, 12, 8, 17, 27, 0, time.UTC)},
		{"2016-05-12T08:17:27.000Z", time.Date(2016, 5, 12, 8, 17, 27, 0, time.UTC)},
		{"2016-05-12T08:17:27.123456Z", time.Date(2016, 5, 12, 8, 17, 27, 123456000, time.UTC)},
		{"2016-02-29T23:59:59.1Z", time.Date(2016, 2, 29, 23, 59, 59, 100000000, time.UTC)},
		{"2016-05-12T08:17:27.1234567891Z", time.Date(2016, 5, 12, 8, 17, 27, 123456789, time.UTC)},
		// RFC 3339 time-second allows 60 (leap second); so does the OASIS
		// timestamp schema.
		{"2016-12-31T23:59:60Z", time.Date(2017, 1, 1, 0, 0, 0, 0, time.UTC)},
	}
	for _, tt := range good {
		got, err := ParseTimestamp(tt.in)
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("ParseTimestamp(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "2016-05-12", "2016-05-12T08:17:27", "2016-05-12T08:17:27z", "2016-05-12t08:17:27Z",
		"2016-05-12T08:17:27+00:00", "2016-05-12 08:17:27Z", "2015-02-29T00:00:00Z", "2016-13-01T00:00:00Z",
		"2016-05-12T24:00:00Z", "2016-05-12T08:17:27.Z", "2016-05-12T08:17:27,5Z", "+016-05-12T08:17:27Z",
		"2016-05-12T08:17:61Z"} {
		if _, err := ParseTimestamp(bad); !errors.Is(err, ErrTimestamp) {
			t.Errorf("ParseTimestamp(%q): want ErrTimestamp, got %v", bad, err)
		}
	}
	ts := time.Date(2021, 3, 4, 5, 6, 7, 891234567, time.FixedZone("x", 3600))
	if got := FormatTimestamp(ts); got != "2021-03-04T04:06:07.891Z" {
		t.Errorf("FormatTimestamp = %q", got)
	}
	if got := FormatTimestamp(time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)); got != "2021-03-04T05:06:07.000Z" {
		t.Errorf("FormatTimestamp = %q", got)
	}
}

func TestNewID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := NewID("indicator")
		typ, version, msg := splitID([]byte(id))
		if msg != "" || string(typ) != "indicator" || version != 4 {
			t.Fatalf("NewID = %q: %s (version %d)", id, msg, version)
		}
		if seen[id] {
			t.Fatalf("NewID repeated %q", id)
		}
		seen[id] = true
	}
}

// TestBuiltinMarkings checks the nine TLP marking definitions: their ids,
// their bytes (identical to the embedded OASIS files) and their validity.
func TestBuiltinMarkings(t *testing.T) {
	want := []struct{ id, name string }{
		{TLP1White, "TLP:WHITE"}, {TLP1Green, "TLP:GREEN"}, {TLP1Amber, "TLP:AMBER"}, {TLP1Red, "TLP:RED"},
		{TLP2Clear, "TLP:CLEAR"}, {TLP2Green, "TLP:GREEN"}, {TLP2Amber, "TLP:AMBER"},
		{TLP2AmberStrict, "TLP:AMBER+STRICT"}, {TLP2Red, "TLP:RED"},
	}
	got := BuiltinMarkings()
	if len(got) != len(want) {
		t.Fatalf("%d markings, want %d", len(got), len(want))
	}
	for i, m := range got {
		if m.ID != want[i].id || m.Type != "marking-definition" || m.Created == "" {
			t.Errorf("marking %d: %+v", i, m)
		}
		var named struct{ Name string }
		if err := json.Unmarshal(m.Raw, &named); err != nil || named.Name != want[i].name {
			t.Errorf("marking %d: name %q, want %q", i, named.Name, want[i].name)
		}
		file, err := markingFiles.ReadFile("markings/" + markingOrder[i])
		if err != nil {
			t.Fatal(err)
		}
		if i < 4 && !bytes.Equal(bytes.TrimSpace(file), m.Raw) || !bytes.Contains(file, m.Raw) {
			t.Errorf("marking %d: Raw is not the published bytes", i)
		}
		for _, p := range Validate(m, Options{Strict: true}) {
			t.Errorf("marking %d: %v", i, p)
		}
	}
	// Each call returns fresh values.
	got[0].Raw[0] = 'X'
	if BuiltinMarkings()[0].Raw[0] != '{' {
		t.Error("BuiltinMarkings shares memory between calls")
	}
}

// TestValidateAll checks the rules across objects and the objects.[i]
// path prefix.
func TestValidateAll(t *testing.T) {
	ind := func(modified string, revoked bool) Object {
		rev := ""
		if revoked {
			rev = `,"revoked":true`
		}
		o, err := DecodeObject([]byte(`{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2016-04-06T20:03:48.000Z","modified":"` + modified + `","pattern":"[ipv4-addr:value = '1.2.3.4']","pattern_type":"stix","valid_from":"2016-01-01T00:00:00Z"` + rev + `}`))
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	ok := []Object{ind("2016-04-06T20:03:48.000Z", false), ind("2017-01-01T00:00:00.000Z", true)}
	if probs := ValidateAll(ok, Options{Strict: true}); len(probs) != 0 {
		t.Errorf("revocation in the last version: %v", probs)
	}
	bad := []Object{ind("2017-01-01T00:00:00.000Z", true), ind("2018-01-01T00:00:00.000Z", false)}
	probs := ValidateAll(bad, Options{})
	if len(probs) != 1 || probs[0].Path != "objects.[1].revoked" || !strings.Contains(probs[0].Message, "revocation is final") {
		t.Errorf("unrevoked after revoked: %v", probs)
	}
	m1, _ := DecodeObject([]byte(`{"type":"marking-definition","spec_version":"2.1","id":"marking-definition--089a6ecb-cc15-43cc-9494-767639779123","created":"2016-08-01T00:00:00.000Z","definition_type":"statement","definition":{"statement":"a"}}`))
	m2, _ := DecodeObject([]byte(`{"type":"marking-definition","spec_version":"2.1","id":"marking-definition--089a6ecb-cc15-43cc-9494-767639779123","created":"2016-08-01T00:00:00.000Z","definition_type":"statement","definition":{"statement":"b"}}`))
	probs = ValidateAll([]Object{m1, m1, m2}, Options{})
	if len(probs) != 1 || probs[0].Path != "objects.[2]" || !strings.Contains(probs[0].Message, "cannot be versioned") {
		t.Errorf("versioned marking: %v", probs)
	}
	broken := ind("2016-04-06T20:03:48Z", false)
	probs = ValidateAll([]Object{ok[0], broken}, Options{})
	if len(probs) != 1 || probs[0].Path != "objects.[1].modified" || probs[0].ObjectID != broken.ID {
		t.Errorf("prefix: %v", probs)
	}
}

// TestValidateJSON checks the bundle envelope and the paths for each
// input shape.
func TestValidateJSON(t *testing.T) {
	const obj = `{"type":"ipv4-addr","id":"ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4","value":"1.2.3.4.5"}`
	tests := []struct{ in, path, msg string }{
		{obj, "value", "IPv4"},
		{`[` + obj + `]`, "[0].value", "IPv4"},
		{`{"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d","objects":[` + obj + `]}`, "objects.[0].value", "IPv4"},
		{`{"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d","objects":[]}`, "objects", "must not be an empty list"},
		{`{"type":"bundle","id":"report--5d0092c5-5f74-4287-9642-33f4c354e56d"}`, "id", "bundle--UUID"},
		{`{"type":"bundle"}`, "id", "id is required on bundle"},
	}
	for _, tt := range tests {
		_, probs, err := ValidateJSON([]byte(tt.in), Options{})
		if err != nil {
			t.Errorf("%s: %v", tt.in, err)
			continue
		}
		found := false
		for _, p := range probs {
			found = found || p.Path == tt.path && strings.Contains(p.Message, tt.msg)
		}
		if !found {
			t.Errorf("%s: want %q at %q, got %v", tt.in, tt.msg, tt.path, probs)
		}
	}
	// A bundle property other than type, id and objects is only a warning
	// (the OASIS bundle schema allows them; 2.0 bundles had spec_version).
	bundle20 := `{"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d","spec_version":"2.0","objects":[` + `{"type":"ipv4-addr","id":"ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4","value":"198.51.100.3"}]}`
	if _, probs, err := ValidateJSON([]byte(bundle20), Options{}); err != nil || len(probs) != 0 {
		t.Errorf("bundle with spec_version: %v %v", probs, err)
	}
	if _, probs, _ := ValidateJSON([]byte(bundle20), Options{Strict: true}); len(probs) != 1 || probs[0].Severity != Warning || probs[0].Path != "spec_version" {
		t.Errorf("bundle with spec_version, strict: want one warning at spec_version, got %v", probs)
	}
	for _, bad := range []string{``, `1`, `"x"`, `{`, `[1]`, `{"type":"bundle","objects":[1]}`} {
		if _, _, err := ValidateJSON([]byte(bad), Options{}); err == nil {
			t.Errorf("ValidateJSON(%q): want an error", bad)
		}
	}
}

// TestDecodeRoundTrip checks that Raw keeps the exact bytes, timestamps
// with their precision and key order included.
func TestDecodeRoundTrip(t *testing.T) {
	in := []byte(`{"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d","objects":[ {"z":1, "type":"identity","id":"identity--e5f1b90a-d9b6-40ab-81a9-8a29df4b6b65","created":"2016-04-06T20:03:00.1234567Z"} ,{"type":"x-a","id":"x-a--e5f1b90a-d9b6-40ab-81a9-8a29df4b6b65"}]}`)
	objs, err := Decode(in)
	if err != nil || len(objs) != 2 {
		t.Fatal(objs, err)
	}
	if string(objs[0].Raw) != `{"z":1, "type":"identity","id":"identity--e5f1b90a-d9b6-40ab-81a9-8a29df4b6b65","created":"2016-04-06T20:03:00.1234567Z"}` {
		t.Errorf("Raw = %s", objs[0].Raw)
	}
	if objs[0].Created != "2016-04-06T20:03:00.1234567Z" || objs[0].Version() != objs[0].Created {
		t.Errorf("Created = %q", objs[0].Created)
	}
}
