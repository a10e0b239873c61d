package marking

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const (
	prod  = "identity--00000000-0000-4000-8000-000000000001"
	orgB  = "identity--00000000-0000-4000-8000-000000000002"
	orgC  = "identity--00000000-0000-4000-8000-000000000003"
	grpG  = "marking-definition--00000000-0000-4000-8000-0000000000a1"
	grpH  = "marking-definition--00000000-0000-4000-8000-0000000000a2"
	rcpB  = "marking-definition--00000000-0000-4000-8000-0000000000b1"
	stmt  = "marking-definition--00000000-0000-4000-8000-0000000000c1"
	unkID = "marking-definition--00000000-0000-4000-8000-0000000000ff"
)

func resolver(id string) (Definition, bool) {
	switch id {
	case grpG:
		return Definition{ID: id, Kind: KindGroup, Name: "g", Members: []string{orgB}}, true
	case grpH:
		return Definition{ID: id, Kind: KindGroup, Name: "h", Members: []string{orgC}}, true
	case rcpB:
		return Definition{ID: id, Kind: KindRecipients, Members: []string{orgB}}, true
	case stmt:
		return Definition{ID: id, Kind: KindStatement, Statement: "(c)"}, true
	}
	return Definition{}, false
}

func TestAudience(t *testing.T) {
	org := ReaderOrg
	tests := []struct {
		name  string
		refs  []string
		rules Rules
		want  []string
	}{
		{"unmarked is green by default", nil, Rules{}, []string{ReaderCommunity}},
		{"unmarked configurable", nil, Rules{Unmarked: Amber}, []string{org(prod)}},
		{"unmarked configurable clear", nil, Rules{Unmarked: Clear}, []string{ReaderAnyone}},
		{"statement only is unmarked", []string{stmt}, Rules{}, []string{ReaderCommunity}},
		{"tlp1 white", []string{TLP1White}, Rules{}, []string{ReaderAnyone}},
		{"tlp2 clear", []string{TLP2Clear}, Rules{}, []string{ReaderAnyone}},
		{"tlp1 green", []string{TLP1Green}, Rules{}, []string{ReaderCommunity}},
		{"tlp2 green with statement", []string{TLP2Green, stmt}, Rules{}, []string{ReaderCommunity}},
		{"tlp2 amber", []string{TLP2Amber}, Rules{}, []string{org(prod)}},
		{"tlp1 amber", []string{TLP1Amber}, Rules{}, []string{org(prod)}},
		{"amber strict", []string{TLP2AmberStrict}, Rules{}, []string{org(prod)}},
		{"red", []string{TLP2Red}, Rules{}, []string{org(prod)}},
		{"most restrictive wins", []string{TLP2Clear, TLP1Red, TLP2Green}, Rules{}, []string{org(prod)}},
		{"amber names group", []string{TLP2Amber, grpG}, Rules{}, []string{ReaderGroup(grpG), org(prod)}},
		{"amber names recipients", []string{TLP1Amber, rcpB}, Rules{}, []string{org(prod), org(orgB)}},
		{"group alone narrows to amber", []string{grpG}, Rules{}, []string{ReaderGroup(grpG), org(prod)}},
		{"group narrows green", []string{TLP2Green, grpG, grpH}, Rules{}, []string{ReaderGroup(grpG), ReaderGroup(grpH), org(prod)}},
		{"group narrows clear", []string{TLP2Clear, grpG}, Rules{Unmarked: Clear}, []string{ReaderGroup(grpG), org(prod)}},
		{"amber strict ignores names", []string{TLP2AmberStrict, grpG, rcpB}, Rules{}, []string{org(prod)}},
		{"red keeps recipients only", []string{TLP2Red, grpG, rcpB}, Rules{}, []string{org(prod), org(orgB)}},
		{"red with group only", []string{TLP2Red, grpG}, Rules{}, []string{org(prod)}},
		{"duplicates collapse", []string{rcpB, rcpB, TLP2Amber}, Rules{}, []string{org(prod), org(orgB)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Audience(prod, tt.refs, resolver, tt.rules)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Audience(%v) = %v, want %v", tt.refs, got, tt.want)
			}
		})
	}
}

func TestAudienceUnknown(t *testing.T) {
	_, err := Audience(prod, []string{TLP2Green, unkID}, resolver, Rules{})
	if !errors.Is(err, ErrUnknown) {
		t.Fatalf("err = %v, want ErrUnknown", err)
	}
	if _, err := Audience(prod, []string{unkID}, nil, Rules{}); !errors.Is(err, ErrUnknown) {
		t.Fatalf("nil resolver: err = %v, want ErrUnknown", err)
	}
}

func TestAudienceNoProducer(t *testing.T) {
	got, err := Audience("", []string{TLP2Red}, resolver, Rules{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Errorf("red without producer = %v, want nobody", got)
	}
}

func TestMeets(t *testing.T) {
	p := []string{ReaderAnyone, ReaderCommunity, ReaderOrg(orgB)}
	if !Meets(p, []string{ReaderOrg(prod), ReaderOrg(orgB)}) {
		t.Error("should meet on org")
	}
	if Meets(p, []string{ReaderOrg(prod)}) {
		t.Error("should not meet")
	}
	if Meets(p, nil) {
		t.Error("empty audience is admins only")
	}
}

func TestIntersect(t *testing.T) {
	members := func(g string) []string {
		d, _ := resolver(g)
		return d.Members
	}
	any1, com := []string{ReaderAnyone}, []string{ReaderCommunity}
	tests := []struct {
		name string
		a, b []string
		want []string
	}{
		{"anyone and community", any1, com, com},
		{"community and anyone", com, any1, com},
		{"anyone and named", any1, []string{ReaderOrg(prod)}, []string{ReaderOrg(prod)}},
		{"named and community", []string{ReaderGroup(grpG)}, com, []string{ReaderGroup(grpG)}},
		{"shared group kept", []string{ReaderGroup(grpG), ReaderOrg(prod)}, []string{ReaderGroup(grpG)}, []string{ReaderGroup(grpG), ReaderOrg(orgB)}},
		{"group meets org", []string{ReaderGroup(grpG), ReaderOrg(prod)}, []string{ReaderOrg(prod), ReaderOrg(orgB)}, []string{ReaderOrg(prod), ReaderOrg(orgB)}},
		{"disjoint", []string{ReaderGroup(grpH)}, []string{ReaderOrg(orgB)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Intersect(tt.a, tt.b, members)
			if !slices.Equal(got, tt.want) {
				t.Errorf("Intersect = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseDefinitionCorpus(t *testing.T) {
	want := map[string]Definition{
		"tlp1-white.json":        {Kind: KindTLP, Level: Clear},
		"tlp1-red.json":          {Kind: KindTLP, Level: Red},
		"tlp2-amber-strict.json": {Kind: KindTLP, Level: AmberStrict},
		"tlp2-clear.json":        {Kind: KindTLP, Level: Clear},
		"statement.json":         {Kind: KindStatement},
		"group.json":             {Kind: KindGroup, Name: "energy", Revision: 3},
		"recipients.json":        {Kind: KindRecipients},
	}
	files, err := filepath.Glob("testdata/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus: %v", err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			d, err := ParseDefinition(raw)
			if strings.HasPrefix(name, "bad-") {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("err = %v, want ErrInvalid", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			w, ok := want[name]
			if !ok {
				t.Fatalf("no expectation for %s", name)
			}
			if d.Kind != w.Kind || d.Level != w.Level || d.Name != w.Name || d.Revision != w.Revision {
				t.Errorf("got %+v, want %+v", d, w)
			}
			if d.Kind == KindRecipients && len(d.Members) != 1 {
				t.Errorf("recipients = %v", d.Members)
			}
		})
	}
}

func TestBuildersRoundTrip(t *testing.T) {
	raw, err := GroupDefinition(grpG, "2024-01-01T00:00:00.000Z", "energy", []string{orgC, orgB, orgB}, 2)
	if err != nil {
		t.Fatal(err)
	}
	d, err := ParseDefinition(raw)
	if err != nil {
		t.Fatal(err)
	}
	if d.Kind != KindGroup || d.ID != grpG || d.Name != "energy" || d.Revision != 2 || !slices.Equal(d.Members, []string{orgB, orgC}) {
		t.Errorf("group round trip: %+v", d)
	}
	raw, err = RecipientsDefinition(rcpB, "2024-01-01T00:00:00.000Z", prod, []string{orgB})
	if err != nil {
		t.Fatal(err)
	}
	d, err = ParseDefinition(raw)
	if err != nil {
		t.Fatal(err)
	}
	if d.Kind != KindRecipients || d.CreatedBy != prod || !slices.Equal(d.Members, []string{orgB}) {
		t.Errorf("recipients round trip: %+v", d)
	}
	if _, err := RecipientsDefinition(rcpB, "2024-01-01T00:00:00.000Z", prod, nil); err == nil {
		t.Error("empty recipients accepted")
	}
	if _, err := GroupDefinition(grpG, "2024-01-01T00:00:00.000Z", " ", nil, 1); err == nil {
		t.Error("empty group name accepted")
	}
	if _, err := GroupDefinition(grpG, "2024-01-01T00:00:00.000Z", "g", []string{"nope"}, 1); err == nil {
		t.Error("bad member accepted")
	}
}

func TestParseLevel(t *testing.T) {
	for in, want := range map[string]Level{"CLEAR": Clear, "white": Clear, "Green": Green, "amber": Amber, "AMBER+STRICT": AmberStrict, "red": Red} {
		got, err := ParseLevel(in)
		if err != nil || got != want {
			t.Errorf("ParseLevel(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := ParseLevel("purple"); err == nil {
		t.Error("purple accepted")
	}
}

func FuzzParseDefinition(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.json")
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Add([]byte(`{"type":"marking-definition","id":"marking-definition--x","extensions":null}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		d, err := ParseDefinition(raw)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error not ErrInvalid: %v", err)
			}
			return
		}
		if !strings.HasPrefix(d.ID, "marking-definition--") {
			t.Fatalf("accepted id %q", d.ID)
		}
		if d.Kind == KindTLP {
			if l, ok := TLP(d.ID); !ok || l != d.Level {
				t.Fatalf("TLP %v accepted under non-canonical id %s", d.Level, d.ID)
			}
		}
		if d.Kind == KindRecipients && len(d.Members) == 0 {
			t.Fatal("recipients without members accepted")
		}
	})
}
