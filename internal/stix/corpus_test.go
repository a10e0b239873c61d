package stix

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestValidCorpus checks that every example under testdata/valid (the STIX
// 2.1 specification's examples for every type, plus custom-content
// examples) validates without problems, and that decoding keeps each
// object's bytes exactly.
func TestValidCorpus(t *testing.T) {
	files, err := filepath.Glob("testdata/valid/*.json")
	if err != nil || len(files) < 42 {
		t.Fatalf("valid corpus: %d files, %v", len(files), err)
	}
	types := map[string]bool{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		objs, probs, err := ValidateJSON(data, Options{})
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		for _, p := range probs {
			t.Errorf("%s: %v", f, p)
		}
		raws := rawObjects(t, data)
		if len(raws) != len(objs) {
			t.Fatalf("%s: %d raw objects, %d decoded", f, len(raws), len(objs))
		}
		for i, o := range objs {
			types[o.Type] = true
			if !bytes.Equal(o.Raw, raws[i]) {
				t.Errorf("%s: object %d: Raw is not byte-identical to the input", f, i)
			}
		}
	}
	for _, typ := range allTypes {
		if !types[typ] {
			t.Errorf("valid corpus has no %s example", typ)
		}
	}
}

// allTypes is every STIX 2.1 object type (STIX 2.1 §4 to §7).
var allTypes = strings.Fields(`attack-pattern campaign course-of-action grouping identity incident indicator
	infrastructure intrusion-set location malware malware-analysis note observed-data opinion report threat-actor
	tool vulnerability relationship sighting artifact autonomous-system directory domain-name email-addr
	email-message file ipv4-addr ipv6-addr mac-addr mutex network-traffic process software url user-account
	windows-registry-key x509-certificate language-content marking-definition extension-definition`)

// rawObjects finds the exact bytes of each object in a file with the
// package's own scanner, independently of Decode.
func rawObjects(t *testing.T, data []byte) [][]byte {
	t.Helper()
	data = bytes.TrimSpace(data)
	var list []byte
	switch data[0] {
	case '[':
		list = data
	case '{':
		it := newObjIter(data, 0)
		isBundle := false
		var objects []byte
		for k, _, v, ok := it.next(); ok; k, _, v, ok = it.next() {
			if string(k) == "type" && string(v) == `"bundle"` {
				isBundle = true
			}
			if string(k) == "objects" {
				objects = v
			}
		}
		if !isBundle {
			return [][]byte{data}
		}
		list = objects
	}
	var out [][]byte
	it := newArrIter(list, 0)
	for e, ok := it.next(); ok; e, ok = it.next() {
		out = append(out, e)
	}
	return out
}

// TestInvalidCorpus checks that each hand-made invalid object under
// testdata/invalid is rejected with an error at the path, and with the
// message, that its .want sidecar names (PATH<TAB>SUBSTRING).
func TestInvalidCorpus(t *testing.T) {
	files, err := filepath.Glob("testdata/invalid/*.json")
	if err != nil || len(files) < 50 {
		t.Fatalf("invalid corpus: %d files, %v", len(files), err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(strings.TrimSuffix(f, ".json") + ".want")
			if err != nil {
				t.Fatal(err)
			}
			path, msg, ok := strings.Cut(strings.TrimRight(string(want), "\n"), "\t")
			if !ok {
				t.Fatalf("bad .want file %q", want)
			}
			probs := Validate(Object{Raw: data}, Options{})
			for _, p := range probs {
				if p.Severity == Error && p.Path == path && strings.Contains(p.Message, msg) {
					return
				}
			}
			t.Errorf("want error at %q containing %q, got %v", path, msg, probs)
		})
	}
}
