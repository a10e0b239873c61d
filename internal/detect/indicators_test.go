package detect

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

var indicatorInputs = []string{
	`{"type":"indicator","id":"indicator--a1b2c3d4-0000-4000-8000-000000000001","pattern":"[ipv4-addr:value = '1.2.3.4']","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z","modified":"2024-01-01T00:00:00.000Z","created":"2024-01-01T00:00:00.000Z"}`,
	`{"type":"indicator","id":"x","revoked":true,"valid_until":"2025-01-01T00:00:00Z","labels":["a","b"],"external_references":[{"id":"nested"}]}`,
	`{"type":"indicator","id":"x","revoked":null,"pattern":null}`,
	`{"type":"indicator","id":"x","revoked":"yes"}`,
	`{"type":"indicator","id":7}`,
	`{"type":"indicator","id":["x"]}`,
	`{"type":"indicator","id":{"a":"b"}}`,
	`{"type":"indicator","id":{}}`,
	`{"type":"indicator","id":[]}`,
	`{"type":"indicator","ID":"upper","id":"lower"}`,
	`{"Type":"indicator","id":"x"}`,
	`{"type":"indicator","id":"x","id":"y"}`,
	`{"type":"indicator","revoked":true,"revoked":null}`,
	`{"type":"indicator","pattern":"[domain-name:value = 'caf\u00e9\ud83d\ude00\ud800']"}`,
	"{\"type\":\"indicator\",\"pattern\":\"bad \xff utf8\"}",
	`{"type":"malware","id":"malware--1"}`,
	`{"type":"indicator","id":"x"`,
	`[{"type":"indicator"}]`,
	`{"type":"indicator","x.id":"dotted key","id":"x"}`,
	`  {"type" : "indicator" , "id" : "spaced"}  `,
}

// TestParseIndicatorAgreesWithEncodingJSON: the fast path reads exactly
// what encoding/json reads, or defers to it.
func TestParseIndicatorAgreesWithEncodingJSON(t *testing.T) {
	for _, in := range indicatorInputs {
		checkParseIndicator(t, []byte(in))
	}
}

func checkParseIndicator(t *testing.T, raw []byte) {
	t.Helper()
	var want Indicator
	wantErr := json.Unmarshal(raw, &want)
	got, ok := parseIndicatorFast(raw)
	if ok && (wantErr != nil || !reflect.DeepEqual(got, want)) {
		t.Fatalf("%q: fast path read %+v, encoding/json %+v (%v)", raw, got, want, wantErr)
	}
	full, err := ParseIndicator(raw)
	if (err == nil) != (wantErr == nil && want.Type == "indicator") {
		t.Fatalf("%q: ParseIndicator error %v, encoding/json %v type %q", raw, err, wantErr, want.Type)
	}
	if err == nil && !reflect.DeepEqual(full, want) {
		t.Fatalf("%q: ParseIndicator %+v, encoding/json %+v", raw, full, want)
	}
}

func FuzzParseIndicator(f *testing.F) {
	for _, in := range indicatorInputs {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, raw []byte) { checkParseIndicator(t, raw) })
}

// TestDecodeIndicatorLines: order kept across the parallel parts, other
// objects skipped, blank lines counted, a broken line reported by number.
func TestDecodeIndicatorLines(t *testing.T) {
	var b strings.Builder
	n := 5000
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "%s\n", indicatorJSON(fmt.Sprintf("indicator--%08x-0000-4000-8000-000000000000", i), benchPattern(i), "2024-01-01T00:00:00.000Z", nil))
		if i%1000 == 0 {
			b.WriteString("\n{\"type\":\"malware\",\"id\":\"malware--x\"}\r\n")
		}
	}
	inds, err := DecodeIndicatorLines([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if len(inds) != n {
		t.Fatalf("%d indicators, want %d", len(inds), n)
	}
	for i, in := range inds {
		if want := fmt.Sprintf("indicator--%08x-0000-4000-8000-000000000000", i); in.ID != want || in.Pattern != benchPattern(i) {
			t.Fatalf("indicator %d is %s %q", i, in.ID, in.Pattern)
		}
	}
	lines := strings.Split(b.String(), "\n")
	lines[4000] = `{"type":"indicator",`
	_, err = DecodeIndicatorLines([]byte(strings.Join(lines, "\n")))
	if le, ok := err.(*LineError); !ok || le.Line != 4001 {
		t.Fatalf("broken line: %v", err)
	}
}
