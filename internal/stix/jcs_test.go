package stix

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// slowCanonical is the reference: decode into Go values, then write them
// (the path SCOIDs use).
func slowCanonical(raw []byte) ([]byte, error) {
	v, err := parseJSON(raw)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := writeCanonical(&buf, v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

var jcsSamples = []string{
	`{"b":1,"a":[1.0,-0,0,-0.0,1e2,100,123456789012345,1234567890123456,-12,0.5,1E-7]}`,
	`{"\ud83d\ude00":1,"\ufb33":2,"\uffff":3,"\ue000":4,"a\u0000":5,"a":6,"":7}`,
	`{"x":"a\/b\u00e9\t\"\\","y":{"z":{},"a":[]}}`,
	`{"😀":1,"דּ":2,"é":3,"e":4}`,
	`[{"b":{"d":1,"c":2},"a":{"f":[{"h":1,"g":2}],"e":3}}]`,
	`{"a":"\ud800"}`,
	`"plain"`, `true`, `null`, `-5`, `9007199254740993`,
}

// TestCanonicalizeMatchesReference checks the single-pass canonicaliser
// against the value-based one on samples and the STIX corpus.
func TestCanonicalizeMatchesReference(t *testing.T) {
	inputs := make([][]byte, 0, len(jcsSamples))
	for _, s := range jcsSamples {
		inputs = append(inputs, []byte(s))
	}
	for _, dir := range []string{"testdata/valid", "testdata/invalid", "markings"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
		for _, name := range files {
			if data, err := os.ReadFile(name); err == nil {
				inputs = append(inputs, data)
			}
		}
	}
	for _, in := range inputs {
		want, werr := slowCanonical(in)
		got, err := Canonicalize(in)
		if (err == nil) != (werr == nil) || !bytes.Equal(got, want) {
			t.Errorf("Canonicalize(%.200s)\n got %s, %v\nwant %s, %v", in, got, err, want, werr)
		}
		if err != nil && !errors.Is(err, ErrCanonical) {
			t.Errorf("Canonicalize(%.200s): error %v is not ErrCanonical", in, err)
		}
	}
}

// FuzzCanonicalize compares the single-pass canonicaliser with the
// reference on arbitrary input.
func FuzzCanonicalize(f *testing.F) {
	addSeeds(f)
	for _, s := range jcsSamples {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		want, werr := slowCanonical(data)
		got, err := Canonicalize(data)
		if (err == nil) != (werr == nil) || !bytes.Equal(got, want) {
			t.Fatalf("Canonicalize(%q)\n got %s, %v\nwant %s, %v", data, got, err, want, werr)
		}
		if err == nil {
			again, err := Canonicalize(got)
			if err != nil || !bytes.Equal(again, got) {
				t.Fatalf("not idempotent: %s -> %s, %v", got, again, err)
			}
		}
	})
}

func BenchmarkCanonicalize(b *testing.B) {
	raw := []byte(`{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
 "created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","name":"bad, \u00e9vil","description":"A long description of the indicator that makes the object about one kilobyte, as typical indicators in feeds are, with some more words to pad it.",
 "pattern":"[ipv4-addr:value = '198.51.100.1']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z","confidence":50,
 "labels":["malicious-activity","c2"],"object_marking_refs":["marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"],
 "external_references":[{"source_name":"feed","url":"https://example.com/a/b/c","external_id":"X-1"}],
 "kill_chain_phases":[{"kill_chain_name":"mitre-attack","phase_name":"command-and-control"}],
 "extensions":{"extension-definition--d83fce45-ef58-4c6c-a3f4-1fbc32e98c6e":{"extension_type":"property-extension","rank":5,"score":0.75}}}`)
	b.SetBytes(int64(len(raw)))
	b.Run("fast", func(b *testing.B) {
		buf := make([]byte, 0, 2048)
		for b.Loop() {
			var err error
			if buf, err = AppendCanonical(buf[:0], raw); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("reference", func(b *testing.B) {
		for b.Loop() {
			if _, err := slowCanonical(raw); err != nil {
				b.Fatal(err)
			}
		}
	})
}
