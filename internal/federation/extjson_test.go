package federation

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/jointcell/jointcell/internal/stix"
)

// addExtensionSlow is the reference: the extension marshalled by
// encoding/json and the whole object canonicalized again.
func addExtensionSlow(t *testing.T, body []byte, ext sigExt) []byte {
	t.Helper()
	eb, err := json.Marshal(ext)
	if err != nil {
		t.Fatal(err)
	}
	var obj map[string]any
	if err := json.Unmarshal(body, &obj); err != nil {
		t.Fatal(err)
	}
	exts, _ := obj["extensions"].(map[string]any)
	if exts == nil {
		exts = map[string]any{}
	}
	exts[Extension] = json.RawMessage(eb)
	obj["extensions"] = exts
	raw, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	out, err := stix.Canonicalize(raw)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestAddExtensionMatchesCanonicalForm(t *testing.T) {
	exts := []sigExt{
		{ExtensionType: "property-extension", Cell: "ab12", Signature: "c2ln"},
		{ExtensionType: "property-extension", Cell: "ab12", Signature: "c2ln", SignedBy: "identity--3c1a0f7e-4a5b-4c6d-8e9f-0a1b2c3d4e5f",
			BatchRoot: "cm9vdA==", BatchSize: 1000, BatchIndex: 17, BatchProof: []string{"aGFzaDE=", "aGFzaDI="}},
		{ExtensionType: "property-extension", Cell: "ab12", Signature: "c2ln", BatchRoot: "cm9vdA==", BatchSize: 2, BatchIndex: 0, BatchProof: []string{"aGFzaDE="}},
		{ExtensionType: "property-extension", Cell: "ab12", Signature: "c2ln", SignedBy: "identity--\u00e9t\u00e9"}, // not plain: the slow path
	}
	bodies := []string{
		`{}`,
		`{"a":1}`,
		`{"type":"indicator"}`,
		`{"created":"x","id":"indicator--1","type":"indicator"}`,
		`{"aaa":1,"extensions":{},"zzz":2}`,
		`{"extensions":{"aaa":{"x":1}},"id":"x"}`,
		`{"extensions":{"extension-definition--ffffffff-0000-4000-8000-000000000000":{"extension_type":"toplevel-property-extension"}},"id":"x"}`,
		`{"extensions":{"aaa":1,"zzz":2}}`,
		`{"ext":1,"extensionsz":2}`,
		`{"\u00e9":1,"id":"x"}`, // a key that is not plain: the slow path
		`{"extensions":{"\u00e9":{"x":1}},"id":"x"}`,
	}
	for _, b := range bodies {
		body, err := stix.Canonicalize([]byte(b))
		if err != nil {
			t.Fatal(err)
		}
		for i, e := range exts {
			got, err := addExtension(body, e)
			if err != nil {
				t.Fatalf("%s, ext %d: %v", b, i, err)
			}
			if want := addExtensionSlow(t, body, e); !bytes.Equal(got, want) {
				t.Errorf("%s, ext %d:\n got %s\nwant %s", b, i, got, want)
			}
			// And what was added comes off again, leaving body (as
			// canonicalBody reads it: an empty extensions is absent).
			plainBody, _, _ := canonicalBody(nil, body)
			back, eb, err := canonicalBody(nil, got)
			if err != nil || !bytes.Equal(back, plainBody) {
				t.Errorf("%s, ext %d: canonicalBody = %s, %v", b, i, back, err)
			}
			if pe, err := parseExt(eb); err != nil || !reflect.DeepEqual(pe, normalise(e)) {
				t.Errorf("%s, ext %d: parseExt = %+v, %v", b, i, pe, err)
			}
		}
	}
}

// normalise is e as it reads back (omitempty drops zero values).
func normalise(e sigExt) sigExt {
	if len(e.BatchProof) == 0 {
		e.BatchProof = nil
	}
	return e
}

func TestParseExt(t *testing.T) {
	for _, in := range []string{
		`{}`,
		`{"cell":"ab","extension_type":"property-extension","signature":"c2ln"}`,
		`{"batch_index":3,"batch_proof":["a","b"],"batch_root":"r","batch_size":4,"cell":"ab","extension_type":"e","signature":"s","signed_by":"i"}`,
		`{"batch_proof":[],"cell":"ab"}`,
		`{"cell":"a\"b"}`,
		`{"Cell":"ab"}`,
		`{"cell":"ab","other":{"x":[1,2]}}`,
		`{"batch_size":"4"}`,
		`{"batch_size":-4}`,
		`{"batch_size":4.0}`,
		`{"batch_size":01}`,
		`{"batch_size":99999999999999999999}`,
		`{"cell":1}`,
		`{"cell":null}`,
		`{"batch_proof":["a",1]}`,
		`{"batch_proof":"a"}`,
		`{"cell":"ab",}`,
		`{"cell":"ab"`,
		`{"cell""ab"}`,
		`[]`,
		`{"cell":"\u00e9"}`,
		`{"batch_proof":["AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","BBBB",""],"cell":"ab"}`,
		`{"batch_proof":["AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"A"]}`,
		`{"batch_proof":["AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\\"]}`,
		`{"batch_proof":["AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",]}`,
		`{"batch_proof":["AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="]`,
		`{"batch_proof":["AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=""]}`,
		`{"batch_proof":[,"a"]}`,
		`{"batch_proof":[["a"]]}`,
		`{"batch_proof":null}`,
		`{"batch_proof":["a"],"batch_proof":["b","c"]}`,
		`{"batch_proof":["a"}`,
	} {
		got, gerr := parseExt([]byte(in))
		var want sigExt
		werr := json.Unmarshal([]byte(in), &want)
		if (gerr == nil) != (werr == nil) || (gerr == nil && !reflect.DeepEqual(got, want)) {
			if gerr == nil && werr == nil && len(got.BatchProof) == 0 && len(want.BatchProof) == 0 {
				continue // [] and null read as an empty proof either way
			}
			t.Errorf("%s: parseExt = %+v, %v; json.Unmarshal = %+v, %v", in, got, gerr, want, werr)
		}
	}
}

// FuzzParseExt checks the direct reader of the provenance extension, an
// untrusted input, against encoding/json.
func FuzzParseExt(f *testing.F) {
	f.Add([]byte(`{"batch_index":3,"batch_proof":["a","b"],"batch_root":"r","batch_size":4,"cell":"ab","extension_type":"e","signature":"s","signed_by":"i"}`))
	f.Add([]byte(`{"cell":"ab","extension_type":"property-extension","signature":"c2ln"}`))
	f.Add([]byte(`{"batch_proof":["a",`))
	f.Add([]byte(`{"batch_size":01}`))
	k := testKey(1)
	signed, _ := SignBatch([][]byte{[]byte(indicator), []byte(indicator), []byte(indicator)}, k, "identity--3c1a0f7e-4a5b-4c6d-8e9f-0a1b2c3d4e5f")
	for _, o := range signed {
		if _, eb, err := canonicalBody(nil, o); err == nil {
			f.Add(eb)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, ok := parseExtDirect(b)
		if !ok {
			return
		}
		var want sigExt
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatalf("%q: direct read accepted what encoding/json refuses: %v", b, err)
		}
		if len(got.BatchProof) == 0 && len(want.BatchProof) == 0 {
			got.BatchProof, want.BatchProof = nil, nil
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: direct %+v, encoding/json %+v", b, got, want)
		}
	})
}

// FuzzPlain checks plain, eight bytes at a time, against plainByte.
func FuzzPlain(f *testing.F) {
	for _, s := range []string{"", "abc", "0123456789abcdef+/==", "identity--3c1a0f7e-4a5b", "abcdefg\"", "abcdefgh\\",
		"abcdefgh\x1f", "abcdefgh\x7f", "abcdefgh\x80", "\x20\x21\x23\x5b\x5d\x7f\x7e\x20", "\xff\xff\xff\xff\xff\xff\xff\xff"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		want := true
		for _, c := range b {
			want = want && plainByte[c]
		}
		if plain(b) != want || plain(string(b)) != want {
			t.Fatalf("plain(%q) = %v, want %v", b, !want, want)
		}
	})
}

// TestPlainWords checks plain on every pair of byte values at neighbouring
// places of an eight-byte word, where a borrow could carry.
func TestPlainWords(t *testing.T) {
	for c1 := range 256 {
		for c2 := range 256 {
			for p := range 8 {
				w := []byte("abcdefgh")
				w[p], w[(p+1)%8] = byte(c1), byte(c2)
				if want := plainByte[c1] && plainByte[c2]; plain(w) != want {
					t.Fatalf("plain(%q) = %v", w, !want)
				}
			}
		}
	}
}
