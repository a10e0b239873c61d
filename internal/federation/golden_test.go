package federation

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The provenance extension is a wire format: other cells verify what this
// one signs, and stores keep signed bytes. The golden file pins the exact
// output of Sign and SignBatch, as written before their fast paths, for a
// fixed key and input, so that no optimisation changes one byte of it.

// goldenFile holds the pinned outputs. Small batches are kept in full (a
// diff shows what moved); large ones, which exercise deep proofs and
// multi-digit indexes, by the SHA-256 of their outputs and errors.
const goldenFile = "testdata/provenance_golden.json"

type golden struct {
	Sign    []goldenOut   `json:"sign"`
	Batches []goldenBatch `json:"batches"`
}

type goldenOut struct {
	Out string `json:"out,omitempty"`
	Err bool   `json:"err,omitempty"`
}

type goldenBatch struct {
	Name   string      `json:"name"`
	Outs   []goldenOut `json:"outs,omitempty"`
	Digest string      `json:"digest,omitempty"`
}

const goldenIdentity = "identity--3c1a0f7e-4a5b-4c6d-8e9f-0a1b2c3d4e5f"

// goldenInputs are objects of every shape the signing paths tell apart:
// canonical or not, with other extensions, with an empty extensions, with
// a provenance extension already (replaced), with keys that sort around
// "extensions", with a key or a string that is not plain ASCII (the slow
// paths), with numbers JCS rewrites, and ones that cannot be signed.
func goldenInputs() []string {
	canonical := `{"created":"2026-01-01T00:00:00.000Z","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","modified":"2026-01-01T00:00:00.000Z","pattern":"[ipv4-addr:value = '198.51.100.7']","pattern_type":"stix","spec_version":"2.1","type":"indicator","valid_from":"2026-01-01T00:00:00Z"}`
	signedElsewhere := `{"extensions":{"` + Extension + `":{"cell":"00","extension_type":"property-extension","signature":"c2ln"}},"id":"x--1","type":"x"}`
	return []string{
		indicator,
		withExtension,
		canonical,
		signedElsewhere,
		`{"extensions":{},"id":"x--2","type":"x"}`,
		`{"aaa":1,"extensionsz":2,"ext":[1,2,{"b":1,"a":2}]}`,
		`{"\u00e9":1,"id":"x--3"}`,
		`{"extensions":{"\u00e9":{"x":1}},"id":"x--4"}`,
		`{"id":"x--5","n":[1E2,1e21,0.10,-0,1.5e-7],"s":"tab\there \u2028 \ud83d\ude00"}`,
		`{"extensions":{"extension-definition--ffffffff-0000-4000-8000-000000000000":{"extension_type":"toplevel-property-extension"}},"id":"x--6"}`,
		`{}`,
		`[1]`,
		`{"id":"x--7","id":"x--8"}`,
		`not json`,
	}
}

// goldenBatchInputs returns the batches pinned: name and objects.
func goldenBatchInputs() []struct {
	name string
	raws [][]byte
} {
	in := goldenInputs()
	var bs []struct {
		name string
		raws [][]byte
	}
	add := func(name string, raws [][]byte) {
		bs = append(bs, struct {
			name string
			raws [][]byte
		}{name, raws})
	}
	all := make([][]byte, len(in))
	for i, s := range in {
		all[i] = []byte(s)
	}
	add("shapes", all)
	for _, n := range []int{1, 2, 3, 5, 8, 13, 33, 1000, 1025} {
		raws := make([][]byte, n)
		for i := range raws {
			raws[i] = []byte(strings.Replace(indicator, "198.51.100.1", fmt.Sprintf("198.51.%d.%d", i/256, i%256), 1))
		}
		if n > 2 {
			raws[2] = []byte(in[3]) // a provenance extension to replace
		}
		add(fmt.Sprintf("n=%d", n), raws)
	}
	return bs
}

// goldenOutputs computes what the golden file pins, with the code as it
// is now.
func goldenOutputs() golden {
	k := testKey(7)
	var g golden
	for _, s := range goldenInputs() {
		for _, id := range []string{goldenIdentity, "", "identity--\u00e9t\u00e9"} {
			out, err := Sign([]byte(s), k, id)
			g.Sign = append(g.Sign, goldenOut{Out: string(out), Err: err != nil})
		}
	}
	for _, b := range goldenBatchInputs() {
		for _, id := range []string{goldenIdentity, "identity--\u00e9t\u00e9"} {
			outs, errs := SignBatch(b.raws, k, id)
			gb := goldenBatch{Name: b.name + " " + id}
			if len(outs) <= 33 {
				for i := range outs {
					gb.Outs = append(gb.Outs, goldenOut{Out: string(outs[i]), Err: errs[i] != nil})
				}
			} else {
				h := sha256.New()
				for i := range outs {
					fmt.Fprintf(h, "%d %t %d:", i, errs[i] != nil, len(outs[i]))
					h.Write(outs[i])
				}
				gb.Digest = hex.EncodeToString(h.Sum(nil))
			}
			g.Batches = append(g.Batches, gb)
		}
	}
	return g
}

func TestSignGolden(t *testing.T) {
	want, err := os.ReadFile(filepath.FromSlash(goldenFile))
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.MarshalIndent(goldenOutputs(), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	if bytes.Equal(got, want) {
		return
	}
	var w golden
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatal(err)
	}
	g := goldenOutputs()
	for i := range min(len(g.Sign), len(w.Sign)) {
		if g.Sign[i] != w.Sign[i] {
			t.Errorf("Sign, case %d:\n got %+v\nwant %+v", i, g.Sign[i], w.Sign[i])
		}
	}
	for i := range min(len(g.Batches), len(w.Batches)) {
		gb, wb := g.Batches[i], w.Batches[i]
		if gb.Digest != wb.Digest {
			t.Errorf("SignBatch %s: digest %s, want %s", gb.Name, gb.Digest, wb.Digest)
		}
		for j := range min(len(gb.Outs), len(wb.Outs)) {
			if gb.Outs[j] != wb.Outs[j] {
				t.Errorf("SignBatch %s, object %d:\n got %+v\nwant %+v", gb.Name, j, gb.Outs[j], wb.Outs[j])
			}
		}
	}
	t.Fatalf("output differs from %s", goldenFile)
}
