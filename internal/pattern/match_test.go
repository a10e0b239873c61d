package pattern

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func loadObservations(t testing.TB, name, version string) []Observation {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	obs, err := ObservationsFromJSON(data, version)
	if err != nil {
		t.Fatal(err)
	}
	return obs
}

func runMatchCorpus(t *testing.T, cases, data, version string) {
	obs := loadObservations(t, data, version)
	for _, c := range readCases(t, cases) {
		p, err := Parse(c.pattern)
		if err != nil {
			if c.want != "ERROR" {
				t.Errorf("%s:%d: parse %q: %v", cases, c.line, c.pattern, err)
			}
			continue
		}
		ok, err := p.Match(obs)
		got := "NOMATCH"
		switch {
		case err != nil:
			got = "ERROR"
			var me *MatchError
			if !errors.As(err, &me) {
				t.Errorf("%s:%d: error is %T, want *MatchError", cases, c.line, err)
			}
		case ok:
			got = "MATCH"
		}
		if got != c.want {
			t.Errorf("%s:%d: %s: got %s (%v), want %s", cases, c.line, c.pattern, got, err, c.want)
		}
	}
}

func TestPatternMatchCorpus21(t *testing.T) {
	runMatchCorpus(t, "match21.txt", "observed21.json", Version21)
}
func TestPatternMatchCorpus20(t *testing.T) {
	runMatchCorpus(t, "match20.txt", "observed20.json", Version20)
}

func TestPatternObservationsFromJSON(t *testing.T) {
	tests := []struct {
		name, json, version string
		wantErr             bool
		wantObs             int
	}{
		{"bundle", `{"type":"bundle","objects":[{"type":"observed-data","id":"observed-data--1","first_observed":"2020-01-01T00:00:00Z","last_observed":"2020-01-01T00:00:00Z","number_observed":1,"object_refs":[]}]}`, Version21, false, 1},
		{"no objects", `[]`, Version21, true, 0},
		{"missing refs", `[{"type":"bundle","objects":[{"type":"observed-data","id":"x","first_observed":"2020-01-01T00:00:00Z","last_observed":"2020-01-01T00:00:00Z","number_observed":1}]}]`, Version21, true, 0},
		{"zero observed", `[{"type":"bundle","objects":[{"type":"observed-data","id":"x","first_observed":"2020-01-01T00:00:00Z","last_observed":"2020-01-01T00:00:00Z","number_observed":0,"object_refs":[]}]}]`, Version21, true, 0},
		{"lower-case timestamp", `[{"type":"bundle","objects":[{"type":"observed-data","id":"x","first_observed":"2020-01-01t00:00:00Z","last_observed":"2020-01-01T00:00:00Z","number_observed":1,"object_refs":[]}]}]`, Version21, true, 0},
		{"sco without id", `[{"type":"bundle","objects":[{"type":"file"}]}]`, Version21, true, 0},
		{"empty 2.0", `[]`, Version20, false, 0},
		{"2.0 missing keys", `[{"type":"observed-data","objects":{}}]`, Version20, true, 0},
		{"not json", `[`, Version20, true, 0},
	}
	for _, tt := range tests {
		obs, err := ObservationsFromJSON([]byte(tt.json), tt.version)
		if (err != nil) != tt.wantErr || len(obs) != tt.wantObs {
			t.Errorf("%s: got %d observations, err %v", tt.name, len(obs), err)
		}
	}
}

func TestPatternPyTimestamp(t *testing.T) {
	tests := []struct {
		in   string
		want string // RFC 3339 or "" for an error
	}{
		{"2020-01-02T03:04:05Z", "2020-01-02T03:04:05Z"},
		{"2020-01-02T03:04:05.1Z", "2020-01-02T03:04:05.1Z"},
		{"2020-01-02T03:04:05.123456789Z", "2020-01-02T03:04:05.123456Z"},
		{"2020-1-2T3:4:5Z", "2020-01-02T03:04:05Z"},
		{"2020-02-29T00:00:00Z", "2020-02-29T00:00:00Z"},
		{"2019-02-29T00:00:00Z", ""},
		{"2020-01-02T03:04:60Z", ""},
		{"0000-01-01T00:00:00Z", ""},
		{"2020-01-02t03:04:05Z", ""},
		{"2020-01-02T03:04:05+00:00", ""},
		{"2020-01-02T03:04:05.Z", ""},
	}
	for _, tt := range tests {
		got, err := parsePyTimestamp(tt.in, false)
		if tt.want == "" {
			if err == nil {
				t.Errorf("%q: want error, got %v", tt.in, got)
			}
			continue
		}
		if err != nil || got.Format(time.RFC3339Nano) != tt.want {
			t.Errorf("%q: got %v, %v; want %s", tt.in, got, err, tt.want)
		}
	}
}

func TestPatternInetAton(t *testing.T) {
	tests := []struct {
		in   string
		want uint32
		ok   bool
	}{
		{"1.2.3.4", 0x01020304, true},
		{"10", 10, true},
		{"1.2", 0x01000002, true},
		{"1.2.3", 0x01020003, true},
		{"0x7f.1", 0x7f000001, true},
		{"010.0.0.1", 0x08000001, true},
		{"1.2.3.4 trailing", 0x01020304, true},
		{"1.2.3.4x", 0, false},
		{"256.1.1.1", 0, false},
		{"1.2.3.4.5", 0, false},
		{"08.1.1.1", 0, false},
		{"::1", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		got, ok := inetAton(tt.in)
		if ok != tt.ok || got != tt.want {
			t.Errorf("%q: got %#x %v, want %#x %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestPatternPyB64(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"aGVsbG8=", "hello", true},
		{"aGVs bG8=", "hello", true},
		{"aGVsbG8", "", false},
		{"aGVsbG8=junk", "hello", true},
		{"a", "", false},
		{"", "", true},
	}
	for _, tt := range tests {
		got, err := pyB64Decode(tt.in)
		if (err == nil) != tt.ok || (tt.ok && string(got) != tt.want) {
			t.Errorf("%q: got %q, %v", tt.in, got, err)
		}
	}
}

func TestPatternUnicodeEscape(t *testing.T) {
	got := PyUnicodeEscape("[a:b = 'é\\\t\U0001F600']")
	want := `[a:b = '\xe9\\\t\U0001f600']`
	if got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestPatternMatchTimestampLiteralPrecision(t *testing.T) {
	obs := []Observation{{
		FirstObserved: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), LastObserved: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), NumberObserved: 1,
		Objects: []Object{{ID: "0", Type: "x", Props: map[string]any{"type": "x", "t": "2020-01-01T00:00:00.1234567Z", "n": 3, "f": float32(1.5)}}},
	}}
	for _, tt := range []struct {
		p    string
		want bool
	}{
		{"[x:t = t'2020-01-01T00:00:00.123456Z']", true},
		{"[x:t = t'2020-01-01T00:00:00.1234569Z']", true},
		{"[x:t > t'2020-01-01T00:00:00.123455Z']", true},
		{"[x:n = 3]", true},
		{"[x:f = 1.5]", true},
	} {
		p, err := Parse(tt.p)
		if err != nil {
			t.Fatal(err)
		}
		got, err := p.Match(obs)
		if err != nil || got != tt.want {
			t.Errorf("%s: got %v %v", tt.p, got, err)
		}
	}
}
