package detect

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// seedLines adds every line of testdata/<name>.jsonl to the corpus.
func seedLines(f *testing.F, name string) {
	data, err := os.ReadFile(filepath.Join("testdata", name+".jsonl"))
	if err != nil {
		f.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f.Add(bytes.Clone(sc.Bytes()))
	}
	f.Add([]byte(`{"a":"\ud83d\ude00\u0000"}`))
	f.Add([]byte(`{`))
	f.Add([]byte(``))
}

// fuzzDecoder checks the invariants of any decoder on any input: no panic,
// an event always has a time and objects, references stay inside the event,
// and the walker-based decoders never accept what encoding/json rejects.
func fuzzDecoder(t *testing.T, f Format, data []byte) {
	dec, err := NewDecoder(f)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	err = dec.Decode(data, func(ev *Event) {
		n++
		if ev.Time.IsZero() {
			t.Fatalf("event without time from %q", data)
		}
		if len(ev.Objects) == 0 {
			t.Fatalf("event without objects from %q", data)
		}
		for _, o := range ev.Objects {
			if o.Type == "" {
				t.Fatalf("object without type from %q", data)
			}
			for _, p := range o.Props {
				if (p.Kind == KindRef || p.Kind == KindRefs) && (p.Int < 0 || int(p.Int) >= len(ev.Objects)) {
					t.Fatalf("reference %d out of range from %q", p.Int, data)
				}
			}
		}
		// The maps the evaluator gets must encode.
		if _, err := json.Marshal(ev.Maps()); err != nil {
			t.Fatalf("event does not encode: %v", err)
		}
	})
	if err == nil && n == 0 {
		t.Fatalf("no error and no event from %q", data)
	}
	if err == nil && f != FormatSTIX && !json.Valid(data) {
		t.Fatalf("accepted invalid JSON %q", data)
	}
}

func FuzzECS(f *testing.F) {
	seedLines(f, "ecs")
	f.Fuzz(func(t *testing.T, data []byte) { fuzzDecoder(t, FormatECS, data) })
}

func FuzzZeek(f *testing.F) {
	seedLines(f, "zeek")
	f.Fuzz(func(t *testing.T, data []byte) { fuzzDecoder(t, FormatZeek, data) })
}

func FuzzEVE(f *testing.F) {
	seedLines(f, "eve")
	f.Fuzz(func(t *testing.T, data []byte) { fuzzDecoder(t, FormatEVE, data) })
}

func FuzzSTIXEvents(f *testing.F) {
	seedLines(f, "stix")
	f.Fuzz(func(t *testing.T, data []byte) { fuzzDecoder(t, FormatSTIX, data) })
}
