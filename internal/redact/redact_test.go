package redact

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var testKey = []byte("jointcell test redaction key")

type goldenCase struct {
	Profile json.RawMessage `json:"profile"`
	Remove  []string        `json:"remove"`
	Object  json.RawMessage `json:"object"`
}

func (c goldenCase) profile(t *testing.T) *Profile {
	var name string
	if json.Unmarshal(c.Profile, &name) == nil {
		switch name {
		case ProfileNone:
			return nil
		case ProfileStandard:
			return Standard()
		}
		t.Fatalf("unknown profile %q", name)
	}
	var p Profile
	if err := json.Unmarshal(c.Profile, &p); err != nil {
		t.Fatal(err)
	}
	return &p
}

func TestGolden(t *testing.T) {
	ins, err := filepath.Glob("testdata/*.in.json")
	if err != nil || len(ins) == 0 {
		t.Fatalf("no golden inputs: %v", err)
	}
	r := New(testKey)
	for _, in := range ins {
		name := strings.TrimSuffix(filepath.Base(in), ".in.json")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			var c goldenCase
			if err := json.Unmarshal(data, &c); err != nil {
				t.Fatal(err)
			}
			var head struct {
				Type string `json:"type"`
			}
			if err := json.Unmarshal(c.Object, &head); err != nil {
				t.Fatal(err)
			}
			got, err := r.Apply(c.Object, head.Type, c.profile(t), c.Remove)
			if err != nil {
				t.Fatal(err)
			}
			if !json.Valid(got) {
				t.Fatalf("output is not JSON: %s", got)
			}
			again, err := r.Apply(c.Object, head.Type, c.profile(t), c.Remove)
			if err != nil || !bytes.Equal(got, again) {
				t.Fatalf("not deterministic: %s vs %s (%v)", got, again, err)
			}
			golden := filepath.Join("testdata", name+".golden.json")
			if *update {
				if err := os.WriteFile(golden, append(got, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if !bytes.Equal(got, bytes.TrimSuffix(want, []byte("\n"))) {
				t.Errorf("got\n%s\nwant\n%s", got, want)
			}
		})
	}
}

func TestApplyUnchangedIsIdentical(t *testing.T) {
	raw := []byte("{\n  \"type\": \"malware\",\n  \"name\": \"x\",\n  \"description\": \"nothing personal here\"\n}")
	got, err := New(testKey).Apply(raw, "malware", Standard(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if &got[0] != &raw[0] || len(got) != len(raw) {
		t.Errorf("unchanged object was rewritten: %s", got)
	}
}

func TestPseudonymsKeyed(t *testing.T) {
	a, b := New([]byte("k1")), New([]byte("k2"))
	if a.Pseudonym("x@y.example") == b.Pseudonym("x@y.example") {
		t.Error("pseudonym does not depend on the key")
	}
	if a.Pseudonym("x@y.example") != a.Pseudonym("X@Y.example") {
		t.Error("e-mail pseudonyms should ignore case")
	}
	if !strings.HasSuffix(a.Pseudonym("x@y.example"), "@"+PseudonymDomain) {
		t.Error("e-mail pseudonym not e-mail shaped")
	}
	if a.ID("email-addr--1") == a.ID("email-addr--2") {
		t.Error("ids collide")
	}
	id := a.ID("email-addr--2d77a846-6264-5d51-b586-e43822ea1ea3")
	if !strings.HasPrefix(id, "email-addr--") || len(id) != len("email-addr--")+36 || id[len("email-addr--")+14] != '5' {
		t.Errorf("pseudonymous id %q is not a UUIDv5-shaped STIX id", id)
	}
}

func TestScrubPhones(t *testing.T) {
	r := New(testKey)
	tests := []struct {
		text  string
		phone bool
	}{
		{"call +44 20 7946 0958 now", true},
		{"call +1 (555) 123-4567", true},
		{"+33 1 23 45 67 89", true},
		{"+491701234567", true},
		{"+49-30-1234567", true},
		{"(555) 123-4567", true},
		{"020 7946 0958", true},
		{"tel: 030 1234567", true},
		{"06 12 34 56 78", true},
		{"0049 30 1234567", true},
		{"555-123-4567", true},
		{"555.123.4567", true},
		{"on 2024-01-15 at 10:00", false},
		{"2024-01-15T10:00:00.000Z", false},
		{"from 192.168.100.1", false},
		{"CVE-2021-44228", false},
		{"version 10.0.19041.1234", false},
		{"md5 d41d8cd98f00b204e9800998ecf8427e", false},
		{"epoch 1700000000", false},
		{"01-15-2024", false},
		{"port 8080 and 443", false},
		{"AS64496", false},
		{"+1 2", false},
		{"MS17-010", false},
		{"1.555.123.4567.8", false},
	}
	for _, tt := range tests {
		got := r.scrubText(tt.text)
		if changed := got != tt.text; changed != tt.phone {
			t.Errorf("scrub(%q) = %q; phone found = %v, want %v", tt.text, got, changed, tt.phone)
		}
	}
}

func TestScrubEmails(t *testing.T) {
	r := New(testKey)
	got := r.scrubText("write to a.b+c@mail.example.com or x@y.org; not @handle or a@b")
	if strings.Contains(got, "a.b+c@mail.example.com") || strings.Contains(got, "x@y.org") {
		t.Errorf("addresses survived: %q", got)
	}
	if !strings.Contains(got, "@handle") || !strings.Contains(got, " a@b") {
		t.Errorf("non-addresses changed: %q", got)
	}
	if again := r.scrubText(got); again != got {
		t.Errorf("scrubbing is not idempotent: %q -> %q", got, again)
	}
}

func TestConfig(t *testing.T) {
	c, err := ParseConfig([]byte(`{"default":"standard","profiles":{"strict":{"drop":[{"type":"*","property":"description"}]}},"collections":{"open":"none"},"peers":{"peer-cell-b":"strict"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if p := c.For("id1", "open", "acme"); p != nil {
		t.Errorf("collection alias: got %+v, want none", p)
	}
	if p := c.For("id1", "open", "peer-cell-b"); p == nil || len(p.Drop) != 1 {
		t.Errorf("peer should win: %+v", p)
	}
	if p := c.For("id2", "", "acme"); p == nil || len(p.Pseudonymise) == 0 {
		t.Errorf("default standard: %+v", p)
	}
	var nilc *Config
	if nilc.For("a", "b", "c") != nil {
		t.Error("nil config redacts")
	}
	bad := []string{
		`{"default":"missing"}`,
		`{"defualt":"standard"}`,
		`{"profiles":{"none":{}}}`,
		`{"profiles":{"p":{"drop":[{"type":"*"}]}}}`,
		`{"profiles":{"p":{"drop":[{"type":"*","property":"id"}]}}}`,
		`{"profiles":{"p":{"scrub":["*"]}}}`,
		`{"peers":{"x":"nope"}}`,
		`{"profiles":{"p":null}}`,
		`[]`,
	}
	for _, b := range bad {
		if _, err := ParseConfig([]byte(b)); err == nil {
			t.Errorf("ParseConfig(%s) accepted", b)
		}
	}
}

func TestSelectorShift(t *testing.T) {
	tests := []struct {
		sel, removed, want string
		ok                 bool
	}{
		{"a.[2].b", "a.[1]", "a.[1].b", true},
		{"a.[0].b", "a.[1]", "a.[0].b", true},
		{"a.[1].b", "a.[1]", "", false},
		{"a", "a", "", false},
		{"b.[3]", "a.[1]", "b.[3]", true},
		{"a.[5]", "a.[2].x", "a.[5]", true},
	}
	for _, tt := range tests {
		s, _ := parseSelector(tt.sel)
		rm, _ := parseSelector(tt.removed)
		got, ok := shiftSelector(s, rm)
		if ok != tt.ok || (ok && formatSelector(got) != tt.want) {
			t.Errorf("shift(%s after %s) = %s, %v; want %s, %v", tt.sel, tt.removed, formatSelector(got), ok, tt.want, tt.ok)
		}
	}
	if _, err := parseSelector("a..b"); err == nil {
		t.Error("empty step accepted")
	}
	if _, err := parseSelector("a.[-1]"); err == nil {
		t.Error("negative index accepted")
	}
}

func FuzzApply(f *testing.F) {
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
		f.Add([]byte(c.Object), strings.Join(c.Remove, ","))
	}
	f.Add([]byte(`{"a":[1,{"b":[]}],"c":{"d":"x@y.example"}}`), "a.[1].b.[0],c.d,a.[0]")
	r := New(testKey)
	std := Standard()
	f.Fuzz(func(t *testing.T, raw []byte, remove string) {
		if !json.Valid(raw) {
			return
		}
		var sels []string
		if remove != "" {
			sels = strings.Split(remove, ",")
		}
		var head struct {
			Type string `json:"type"`
		}
		_ = json.Unmarshal(raw, &head)
		out, err := r.Apply(raw, head.Type, std, sels)
		if err != nil {
			return
		}
		if !json.Valid(out) {
			t.Fatalf("invalid output %q from %q", out, raw)
		}
	})
}

func TestScrubPrefilter(t *testing.T) {
	tests := []struct {
		raw   string
		field string
		may   bool
	}{
		{`{"description":"plain words only"}`, "description", false},
		{`{"description" : "mail x@y.example"}`, "description", true},
		{`{"description":"call 020 7946 0958"}`, "description", true},
		{`{"description":"escaped \u0040 sign"}`, "description", true},
		{`{"description":["list"]}`, "description", true},
		{`{"name":"description","x":"a@b.example"}`, "description", false},
		{`{"created":"2024-01-01T00:00:00.000Z","description":"v 1.2"}`, "description", false},
		{`{"x_note":"n","x_phone":"+44 20 7946 0958"}`, "x_*", true},
		{`{"x_note":"n"}`, "x_*", false},
		{`{"descriptions":"a@b.example"}`, "description", false},
	}
	for _, tt := range tests {
		if got := scrubMayChange([]byte(tt.raw), tt.field); got != tt.may {
			t.Errorf("scrubMayChange(%s, %s) = %v, want %v", tt.raw, tt.field, got, tt.may)
		}
	}
}

// FuzzScrubPrefilter checks that the prefilter is conservative: when it
// says scrubbing cannot change a description, scrubbing indeed does not.
func FuzzScrubPrefilter(f *testing.F) {
	for _, s := range []string{"plain", "a@b.example", "+44 20 7946 0958", "x \\u0040 y", "555-123-4567"} {
		f.Add(s)
	}
	r := New(testKey)
	f.Fuzz(func(t *testing.T, text string) {
		raw, err := json.Marshal(map[string]string{"description": text})
		if err != nil {
			return
		}
		if !scrubMayChange(raw, "description") && r.scrubText(text) != text {
			t.Fatalf("prefilter missed %q", text)
		}
	})
}

// FuzzNeeded checks that the prefilter is conservative: when needed says
// a profile cannot change an object, applying the profile indeed changes
// nothing.
func FuzzNeeded(f *testing.F) {
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
		f.Add([]byte(c.Object))
	}
	for _, s := range []string{
		`{"type":"indicator","id":"indicator--1","description":"call 020 7946 0958","x_a":{"b":"c@d.example"}}`,
		`{"type":"note","object_refs":["email-addr--2d77a846-6264-5d51-b586-e43822ea1ea3"],"ext":{"k":{"from_ref":"user-account--1"}}}`,
		`{"type":"email-addr","id":"email-addr--1","value":"a"}`,
		`{"type":"x","description":"a\"b@c.example\\","x_n":1234567}`,
	} {
		f.Add([]byte(s))
	}
	r := New(testKey)
	custom := &Profile{
		Drop:         []Rule{{Type: "*", Property: "x_internal"}, {Type: "indicator", Property: "name"}},
		Pseudonymise: []Rule{{Type: "note", Property: "authors"}},
		Scrub:        []string{"description", "x_*", "name"},
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if !json.Valid(raw) {
			return
		}
		var head struct {
			Type string `json:"type"`
		}
		_ = json.Unmarshal(raw, &head)
		ms, err := splitObject(raw)
		if err != nil {
			return
		}
		for _, p := range []*Profile{Standard(), custom} {
			if r.needed(raw, head.Type, p) {
				continue
			}
			c, err := r.profile(slices.Clone(ms), head.Type, p)
			if err != nil {
				continue
			}
			if c.changed || len(c.dropped) > 0 {
				t.Fatalf("needed is false but the profile changes %s", raw)
			}
		}
	})
}
