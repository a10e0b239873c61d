package redact

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzApplyFastPath checks that Apply's fast paths give exactly what the
// general path gives: the same bytes, or an error in the same cases.
func FuzzApplyFastPath(f *testing.F) {
	ins, _ := filepath.Glob("testdata/*.in.json")
	for _, in := range ins {
		data, err := os.ReadFile(in)
		if err != nil {
			f.Fatal(err)
		}
		var c goldenCase
		if err := json.Unmarshal(data, &c); err != nil {
			f.Fatal(err)
		}
		f.Add([]byte(c.Object), strings.Join(c.Remove, ","), true)
	}
	for _, s := range []struct{ raw, remove string }{
		{`{"type":"indicator","description":"x","granular_markings":[{"selectors":["description"],"marking_ref":"m"}]}`, "description"},
		{` { "type" : "indicator" , "description" : "x" , "name":"n", "granular_markings" : [ {"selectors":["description","name"],"marking_ref":"m"} , {"selectors":["name"],"marking_ref":"n"} ] } `, "description"},
		{`{"a":1,"a":2,"b":[],"granular_markings":[{"selectors":["a","b.[0]"]}],"granular_markings":[]}`, "a,a,c"},
		{`{"a\u0041":1,"b":2}`, "b"},
		{`{"a":1,"b":tru}`, "a"},
		{`{"a":1}x`, "a"},
		{`{"a":1,"granular_markings":[{"selectors":["a"]}]}`, "a,[0]"},
		{`{"a":1,"granular_markings":{"selectors":["a"]}}`, "a"},
		{`{"é":1,"b":2}`, "b"},
		{`{}`, "a"},
	} {
		f.Add([]byte(s.raw), s.remove, false)
		f.Add([]byte(s.raw), s.remove, true)
	}
	r := New(testKey)
	std := Standard()
	f.Fuzz(func(t *testing.T, raw []byte, remove string, standard bool) {
		var sels []string
		if remove != "" {
			sels = strings.Split(remove, ",")
		}
		var p *Profile
		if standard {
			p = std
		}
		var head struct {
			Type string `json:"type"`
		}
		_ = json.Unmarshal(raw, &head)
		got, gerr := r.Apply(raw, head.Type, p, sels)
		if len(sels) == 0 && !r.needed(raw, head.Type, p) {
			return // the general path is not meant for these
		}
		want, werr := r.apply(raw, head.Type, p, sels)
		if (gerr == nil) != (werr == nil) || (gerr != nil && gerr.Error() != werr.Error()) {
			t.Fatalf("Apply(%s, %q): error %v, general path %v", raw, remove, gerr, werr)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("Apply(%s, %q):\n got %s\nwant %s", raw, remove, got, want)
		}
		// Again, from the memo, on a copy of raw: the same bytes.
		again, aerr := r.Apply(bytes.Clone(raw), head.Type, p, sels)
		if (aerr == nil) != (gerr == nil) || !bytes.Equal(again, got) {
			t.Fatalf("Apply(%s, %q) again: %s, %v; first %s, %v", raw, remove, again, aerr, got, gerr)
		}
	})
}

// TestApplyMemo checks what the memo hands out: raw itself when nothing
// changes, and a copy of its own when something does, so that a caller
// writing into the result cannot change what the next reader gets.
func TestApplyMemo(t *testing.T) {
	r := New(testKey)
	std := Standard()
	plain := []byte(`{"type":"indicator","id":"indicator--1","name":"n"}`)
	for range 2 {
		out, err := r.Apply(plain, "indicator", std, nil)
		if err != nil || &out[0] != &plain[0] {
			t.Fatalf("unchanged object: got %s, %v; want raw itself", out, err)
		}
	}
	raw := []byte(`{"type":"indicator","id":"indicator--1","description":"x","granular_markings":[{"selectors":["description"],"marking_ref":"m"}]}`)
	want := `{"type":"indicator","id":"indicator--1"}`
	for range 3 {
		out, err := r.Apply(raw, "indicator", std, []string{"description"})
		if err != nil || string(out) != want {
			t.Fatalf("got %s, %v; want %s", out, err, want)
		}
		out[0] = 'X'
	}
}

// TestApplyObjectMemo checks that the id given to ApplyObject only
// locates remembered results: other bytes under the same id, another
// profile or other selectors get what Apply computes for them, whatever
// calls came before, also once the id has more entries than the memo
// keeps for one id.
func TestApplyObjectMemo(t *testing.T) {
	r := New(testKey)
	std := Standard()
	const id = "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"
	raws := [][]byte{
		[]byte(`{"type":"indicator","id":"` + id + `","name":"n","description":"nothing personal"}`),
		[]byte(`{"type":"indicator","id":"` + id + `","name":"n","description":"write to soc@example.com"}`),
		[]byte(`{"type":"indicator","id":"` + id + `","name":"n","description":"x","granular_markings":[{"selectors":["description"],"marking_ref":"m"}]}`),
	}
	// Eight calls an object, as many as the memo keeps for one id, so
	// that the second round is served from it; more in the third.
	sels := [][]string{nil, {"description"}, {"name"}, {"description", "name"}}
	calls := 0
	for round := range 3 {
		if round == 2 {
			sels = append(sels, []string{"name", "description"})
		}
		for _, raw := range raws {
			for _, p := range []*Profile{nil, std} {
				for _, sel := range sels {
					want, werr := New(testKey).applyOnce(raw, "indicator", p, sel)
					got, gerr := r.ApplyObject(bytes.Clone(raw), "indicator", id, p, sel)
					if (gerr == nil) != (werr == nil) || !bytes.Equal(got, want) {
						t.Fatalf("ApplyObject(%s, %q, standard %v) after %d calls: %s, %v; want %s, %v", raw, sel, p != nil, calls, got, gerr, want, werr)
					}
					calls++
				}
			}
		}
	}
	if n := len(r.memo.m[id]); n == 0 || n > memoPerID {
		t.Fatalf("the memo holds %d entries for the id, want 1 to %d", n, memoPerID)
	}
}

// TestApplyObjectMemoSecondSighting: an object is remembered the second
// time it is presented, not the first (a peer catching up reads each
// object once, and remembering costs a copy of it); the third
// presentation is served from the memo, without Apply's work.
func TestApplyObjectMemoSecondSighting(t *testing.T) {
	r := New(testKey)
	const id = "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"
	raw := []byte(`{"type":"indicator","id":"` + id + `","name":"n","description":"write to soc@example.com"}`)
	want, err := r.applyOnce(raw, "indicator", Standard(), nil)
	if err != nil || bytes.Equal(want, raw) {
		t.Fatalf("the standard profile must change the fixture: %s, %v", want, err)
	}
	std := Standard()
	for i, remembered := range []int{0, 1, 1} {
		got, err := r.ApplyObject(bytes.Clone(raw), "indicator", id, std, nil)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("presentation %d: %s, %v; want %s", i+1, got, err, want)
		}
		if n := len(r.memo.m[id]); n != remembered {
			t.Errorf("after presentation %d: %d entries remembered, want %d", i+1, n, remembered)
		}
	}
	if _, ok := r.memo.seen[id]; ok {
		t.Error("a remembered id is still noted as seen once")
	}
}
