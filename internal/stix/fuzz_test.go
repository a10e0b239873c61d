package stix

import (
	"os"
	"path/filepath"
	"testing"
)

func addSeeds(f *testing.F) {
	for _, dir := range []string{"testdata/valid", "testdata/invalid", "markings"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
		for _, name := range files {
			data, err := os.ReadFile(name)
			if err == nil {
				f.Add(data)
			}
		}
	}
	for _, s := range []string{``, `[`, `{`, `{"type":`, `[{}]`, `{"type":"bundle","objects":[{"type":"x"}]}`, "\"\xff\"", `{"a":"\ud800"}`} {
		f.Add([]byte(s))
	}
}

// FuzzDecode: decoding and canonicalising untrusted bytes never panics,
// and decoded objects keep bytes that decode again to the same id.
func FuzzDecode(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		objs, err := Decode(data)
		if err == nil {
			for _, o := range objs {
				again, err := DecodeObject(o.Raw)
				if err != nil || again.ID != o.ID {
					t.Fatalf("Raw of a decoded object does not decode again: %v", err)
				}
			}
		}
		_, _ = Canonicalize(data)
		_, _ = SCOIDFromJSON(data)
	})
}

// FuzzValidate: validating arbitrary bytes, strict or not, never panics,
// and every problem has a message.
func FuzzValidate(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, strict := range []bool{false, true} {
			for _, p := range Validate(Object{Raw: data}, Options{Strict: strict}) {
				if p.Message == "" {
					t.Fatalf("problem without message: %+v", p)
				}
			}
			_, _, _ = ValidateJSON(data, Options{Strict: strict})
		}
	})
}
