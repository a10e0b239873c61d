package access_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jointcell/jointcell/internal/access"
	"github.com/jointcell/jointcell/internal/marking"
	"github.com/jointcell/jointcell/internal/stix"
	"github.com/jointcell/jointcell/internal/store"
	"github.com/jointcell/jointcell/internal/store/sqlite"
)

const (
	orgA = "identity--0a000000-0000-4000-8000-000000000001"
	orgB = "identity--0b000000-0000-4000-8000-000000000002"
	orgC = "identity--0c000000-0000-4000-8000-000000000003"
)

func TestReaderKeysAgree(t *testing.T) {
	// package marking duplicates the key format to stay pure.
	if marking.ReaderAnyone != store.ReaderAnyone || marking.ReaderCommunity != store.ReaderCommunity ||
		marking.ReaderOrg(orgA) != store.ReaderOrg(orgA) || marking.ReaderGroup("m") != store.ReaderGroup("m") {
		t.Fatal("marking and store reader keys differ")
	}
}

func TestGroups(t *testing.T) {
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	g, err := access.NewGroup("energy", []string{orgB, orgA}, now)
	if err != nil {
		t.Fatal(err)
	}
	if g.Name != "energy" || !strings.HasPrefix(g.MarkingID, "marking-definition--") || !slices.Equal(g.Members, []string{orgA, orgB}) {
		t.Fatalf("group: %+v", g)
	}
	g2, err := access.NewGroup("energy", []string{orgA}, now)
	if err != nil || g2.MarkingID == g.MarkingID {
		t.Fatalf("group ids must be random: %v %v", g2.MarkingID, err)
	}
	added, err := access.AddMembers(g, []string{orgC, orgA})
	if err != nil {
		t.Fatal(err)
	}
	d, err := marking.ParseDefinition(added.Definition)
	if err != nil {
		t.Fatal(err)
	}
	if added.MarkingID != g.MarkingID || d.Revision != 2 || !slices.Equal(added.Members, []string{orgA, orgB, orgC}) {
		t.Fatalf("after add: %+v rev %d", added, d.Revision)
	}
	if !strings.Contains(string(added.Definition), `"created":"2024-05-01T12:00:00.000Z"`) {
		t.Errorf("created changed: %s", added.Definition)
	}
	removed, err := access.RemoveMembers(added, []string{orgA, "identity--ffffffff-0000-4000-8000-000000000009"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(removed.Members, []string{orgB, orgC}) {
		t.Fatalf("after remove: %+v", removed.Members)
	}
	if _, err := access.NewGroup("", []string{orgA}, now); !errors.Is(err, access.ErrGroup) {
		t.Errorf("empty name: %v", err)
	}
	if _, err := access.NewGroup("x", []string{"acme"}, now); !errors.Is(err, access.ErrGroup) {
		t.Errorf("bad member: %v", err)
	}
	broken := g
	broken.Definition = []byte(`{}`)
	if _, err := access.AddMembers(broken, []string{orgC}); !errors.Is(err, access.ErrGroup) {
		t.Errorf("broken definition: %v", err)
	}
}

type fixture struct {
	db   *sqlite.DB
	pol  *access.Policy
	coll store.Collection
	grp  store.Group
	a, b access.Principal
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "jointcell.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	g, err := access.NewGroup("g", []string{orgA, orgC}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := db.PutGroup(ctx, g); err != nil {
		t.Fatal(err)
	}
	groups := []store.Group{g}
	c := store.Collection{ID: "0e9f1c52-7c4e-4c84-8a53-0d7d3e7f1a10", Title: "t",
		ReadBy: []string{store.ReaderOrg(orgA), store.ReaderOrg(orgB)}, WriteBy: []string{store.ReaderOrg(orgA), store.ReaderOrg(orgB)}}
	if err := db.CreateCollection(ctx, c); err != nil {
		t.Fatal(err)
	}
	pr := func(org string) access.Principal {
		return access.Principal{UserName: "u-" + org, OrgID: org, Role: access.RoleAnalyst, Readers: access.ReaderKeys(org, groups)}
	}
	return &fixture{db: db, pol: access.NewPolicy(access.PolicyConfig{Groups: db.ListGroups, Objects: db}), coll: c, grp: g, a: pr(orgA), b: pr(orgB)}
}

func (f *fixture) admit(t *testing.T, p access.Principal, raw string) (store.Version, error) {
	t.Helper()
	o, err := stix.DecodeObject([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	v, err := f.pol.Admit(context.Background(), p, f.coll, o)
	if err == nil {
		if _, err := f.db.AddVersions(context.Background(), f.coll.ID, []store.Version{v}); err != nil {
			t.Fatal(err)
		}
	}
	return v, err
}

const ind = `{"type":"indicator","spec_version":"2.1","id":"indicator--1d000000-0000-4000-8000-000000000001","created":"2024-01-01T00:00:00.000Z","modified":%q,
  "pattern":"[ipv4-addr:value = '10.0.0.1']","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z"%s}`

func indicator(modified, extra string) string {
	return strings.Replace(strings.Replace(ind, "%q", `"`+modified+`"`, 1), "%s", extra, 1)
}

func TestAdmitFillsCreatedBy(t *testing.T) {
	f := newFixture(t)
	raw := indicator("2024-01-01T00:00:00.000Z", "")
	v, err := f.admit(t, f.a, raw)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"created_by_ref":"` + orgA + `",` + raw[1:]
	if string(v.Object.Raw) != want {
		t.Errorf("raw =\n%s\nwant\n%s", v.Object.Raw, want)
	}
	if v.Object.CreatedByRef != orgA || !slices.Equal(v.Audience, []string{store.ReaderCommunity}) {
		t.Errorf("version: %+v", v)
	}
}

func TestAdmitRules(t *testing.T) {
	f := newFixture(t)
	if _, err := f.admit(t, f.a, indicator("2024-01-01T00:00:00.000Z", "")); err != nil {
		t.Fatal(err)
	}
	reader := f.b
	reader.Role = access.RoleReader
	admin := access.Principal{UserName: "root", Role: access.RoleAdmin}
	tests := []struct {
		name string
		p    access.Principal
		raw  string
		deny string // substring of the error, "" when admitted
		aud  []string
	}{
		{"reader cannot write", reader, indicator("2024-02-01T00:00:00.000Z", ""), "may not add", nil},
		{"publish as another org", f.b, indicator("2024-02-01T00:00:00.000Z", `,"created_by_ref":"`+orgA+`"`), "publishes only as itself", nil},
		{"version another org's object", f.b, indicator("2024-02-01T00:00:00.000Z", ""), "only its creator", nil},
		{"admin versions on behalf", admin, indicator("2024-02-01T00:00:00.000Z", `,"created_by_ref":"`+orgA+`"`), "", []string{store.ReaderCommunity}},
		{"admin cannot change creator", admin, indicator("2024-02-02T00:00:00.000Z", `,"created_by_ref":"`+orgB+`"`), "only its creator", nil},
		{"creator versions with amber", f.a, indicator("2024-03-01T00:00:00.000Z", `,"object_marking_refs":["`+marking.TLP2Amber+`"]`), "", []string{store.ReaderOrg(orgA)}},
		{"unknown marking", f.a, indicator("2024-04-01T00:00:00.000Z", `,"object_marking_refs":["marking-definition--00000000-0000-4000-8000-000000000bad"]`), "unknown marking-definition", nil},
		{"member uses group", f.a, indicator("2024-05-01T00:00:00.000Z", `,"object_marking_refs":["`+f.grp.MarkingID+`"]`), "", []string{store.ReaderGroup(f.grp.MarkingID), store.ReaderOrg(orgA)}},
		{"non-member uses group", f.b, `{"type":"malware","spec_version":"2.1","id":"malware--1d000000-0000-4000-8000-000000000002","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","is_family":true,"object_marking_refs":["` + f.grp.MarkingID + `"]}`, "not a member", nil},
		{"granular red on required narrows", f.a, indicator("2024-06-01T00:00:00.000Z", `,"object_marking_refs":["`+f.grp.MarkingID+`"],"granular_markings":[{"selectors":["pattern"],"marking_ref":"`+marking.TLP2Red+`"}]`), "", []string{store.ReaderOrg(orgA)}},
		{"granular on free text does not narrow", f.a, indicator("2024-07-01T00:00:00.000Z", `,"description":"x","granular_markings":[{"selectors":["description"],"marking_ref":"`+marking.TLP2Red+`"}]`), "", []string{store.ReaderCommunity}},
		{"tlp definition is public", f.b, `{"type":"marking-definition","spec_version":"2.1","id":"marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9","created":"2017-01-20T00:00:00.000Z","definition_type":"tlp","name":"TLP:WHITE","definition":{"tlp":"white"}}`, "", []string{store.ReaderAnyone}},
		{"tlp look-alike", f.b, `{"type":"marking-definition","spec_version":"2.1","id":"marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc8","created":"2017-01-20T00:00:00.000Z","definition_type":"tlp","name":"TLP:WHITE","definition":{"tlp":"white"}}`, "canonical", nil},
		{"group definitions are the operator's", f.a, string(f.grp.Definition), "managed by the cell operator", nil},
		{"sco records its poster", f.b, `{"type":"ipv4-addr","spec_version":"2.1","id":"ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4","value":"198.51.100.3","object_marking_refs":["` + marking.TLP2AmberStrict + `"]}`, "", []string{store.ReaderOrg(orgB), marking.ProducerKey(orgB)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := f.admit(t, tt.p, tt.raw)
			if tt.deny != "" {
				if err == nil || !errors.Is(err, access.ErrDenied) || !strings.Contains(err.Error(), tt.deny) {
					t.Fatalf("err = %v, want denied %q", err, tt.deny)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(v.Audience, tt.aud) {
				t.Errorf("audience = %v, want %v", v.Audience, tt.aud)
			}
		})
	}
}

func TestRecipientMarkings(t *testing.T) {
	f := newFixture(t)
	def, err := access.NewRecipients(orgA, []string{orgB}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	d, _ := marking.ParseDefinition(def)
	// The definition and an object using it in the same envelope: the
	// object is admitted before the definition is stored.
	o1, _ := stix.DecodeObject(def)
	if _, err := f.pol.Admit(context.Background(), f.a, f.coll, o1); err != nil {
		t.Fatal(err)
	}
	v, err := f.admit(t, f.a, indicator("2024-01-01T00:00:00.000Z", `,"object_marking_refs":["`+marking.TLP2Red+`","`+d.ID+`"]`))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(v.Audience, []string{store.ReaderOrg(orgA), store.ReaderOrg(orgB)}) {
		t.Errorf("red to recipients: %v", v.Audience)
	}
	if _, ok := f.pol.Present(f.b, f.coll, v); !ok {
		t.Error("recipient cannot read")
	}
	// Another organisation may not borrow A's recipient list.
	_, err = f.admit(t, f.b, `{"type":"malware","spec_version":"2.1","id":"malware--1d000000-0000-4000-8000-000000000003","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","is_family":true,"object_marking_refs":["`+d.ID+`"]}`)
	if !errors.Is(err, access.ErrDenied) {
		t.Errorf("borrowed recipient marking: %v", err)
	}
	// A second content under the same id is refused.
	other := strings.Replace(string(def), orgB, orgC, 1)
	o2, _ := stix.DecodeObject([]byte(other))
	if _, err := f.pol.Admit(context.Background(), f.a, f.coll, o2); !errors.Is(err, access.ErrDenied) {
		t.Errorf("redefined marking: %v", err)
	}
	// After a restart, Present finds the stored definition for a granular
	// marking.
	if _, err := f.db.AddVersions(context.Background(), f.coll.ID, []store.Version{{Object: o1, Audience: []string{store.ReaderCommunity}}}); err != nil {
		t.Fatal(err)
	}
	v2, err := f.admit(t, f.a, `{"type":"malware","spec_version":"2.1","id":"malware--1d000000-0000-4000-8000-000000000004","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","is_family":true,"name":"n","description":"only for B","granular_markings":[{"selectors":["description"],"marking_ref":"`+d.ID+`"}]}`)
	if err != nil {
		t.Fatal(err)
	}
	fresh := access.NewPolicy(access.PolicyConfig{Groups: f.db.ListGroups, Objects: f.db})
	c := access.Principal{UserName: "c", OrgID: orgC, Role: access.RoleReader, Readers: access.ReaderKeys(orgC, nil)}
	f.coll.ReadBy = append(f.coll.ReadBy, store.ReaderOrg(orgC))
	outB, okB := fresh.Present(f.b, f.coll, v2)
	outC, okC := fresh.Present(c, f.coll, v2)
	if !okB || !okC || !strings.Contains(string(outB), "only for B") || strings.Contains(string(outC), "only for B") {
		t.Errorf("granular recipients: B %v %s; C %v %s", okB, outB, okC, outC)
	}
}

func TestCollectionRights(t *testing.T) {
	f := newFixture(t)
	c := access.Principal{OrgID: orgC, Role: access.RoleAnalyst, Readers: access.ReaderKeys(orgC, []store.Group{f.grp})}
	admin := access.Principal{Role: access.RoleAdmin}
	reader := f.a
	reader.Role = access.RoleReader
	coll := f.coll
	coll.ReadBy = []string{store.ReaderGroup(f.grp.MarkingID)}
	coll.WriteBy = []string{store.ReaderOrg(orgA)}
	tests := []struct {
		p           access.Principal
		read, write bool
	}{
		{f.a, true, true},
		{reader, true, false},
		{f.b, false, false},
		{c, true, false},
		{admin, true, true},
		{access.Principal{Role: "", Readers: f.a.Readers}, true, false},
	}
	for i, tt := range tests {
		if got := f.pol.CanRead(tt.p, coll); got != tt.read {
			t.Errorf("%d: CanRead = %v", i, got)
		}
		if got := f.pol.CanWrite(tt.p, coll); got != tt.write {
			t.Errorf("%d: CanWrite = %v", i, got)
		}
	}
}

func TestPresentDefenceInDepth(t *testing.T) {
	f := newFixture(t)
	o, _ := stix.DecodeObject([]byte(indicator("2024-01-01T00:00:00.000Z", `,"created_by_ref":"`+orgA+`"`)))
	v := store.Version{Object: o, Audience: []string{store.ReaderOrg(orgA)}}
	if _, ok := f.pol.Present(f.b, f.coll, v); ok {
		t.Error("presented outside the audience")
	}
	if out, ok := f.pol.Present(f.a, f.coll, v); !ok || string(out) != string(o.Raw) {
		t.Error("producer should get the bytes as stored")
	}
	// A protected property under a marking the reader is not cleared
	// for (not admitted by this policy, e.g. a hand-edited database).
	o2, _ := stix.DecodeObject([]byte(indicator("2024-01-01T00:00:00.000Z", `,"created_by_ref":"`+orgA+`","granular_markings":[{"selectors":["pattern"],"marking_ref":"`+marking.TLP2Red+`"}]`)))
	v2 := store.Version{Object: o2, Audience: []string{store.ReaderCommunity}}
	if _, ok := f.pol.Present(f.b, f.coll, v2); ok {
		t.Error("presented with its pattern removed")
	}
	if _, ok := f.pol.Present(f.a, f.coll, v2); !ok {
		t.Error("producer withheld")
	}
}

// FuzzAdmit feeds arbitrary objects to Admit (no store: ownership and
// stored definitions are out of the picture) and checks what it admits.
func FuzzAdmit(f *testing.F) {
	f.Add([]byte(indicator("2024-01-01T00:00:00.000Z", "")))
	f.Add([]byte(`{"type":"malware","created":"x","created_by_ref":""}`))
	f.Add([]byte(`{"type":"malware","created":"x","created_by_ref":null}`))
	f.Add([]byte(`{ }`))
	f.Add([]byte(`{"type":"ipv4-addr","value":"1.2.3.4","object_marking_refs":["` + marking.TLP2Red + `"],"granular_markings":[{"selectors":["value"],"marking_ref":"` + marking.TLP2Clear + `"}]}`))
	pol := access.NewPolicy(access.PolicyConfig{})
	p := access.Principal{OrgID: orgA, Role: access.RoleAnalyst, Readers: access.ReaderKeys(orgA, nil)}
	c := store.Collection{ID: "c", ReadBy: []string{store.ReaderOrg(orgA)}, WriteBy: []string{store.ReaderOrg(orgA)}}
	f.Fuzz(func(t *testing.T, raw []byte) {
		o, err := stix.DecodeObject(raw)
		if err != nil {
			return
		}
		v, err := pol.Admit(context.Background(), p, c, o)
		if err != nil {
			if !errors.Is(err, access.ErrDenied) {
				t.Fatalf("error is not a denial: %v", err)
			}
			return
		}
		if o.Created != "" && v.Object.CreatedByRef != orgA {
			t.Fatalf("admitted with created_by_ref %q", v.Object.CreatedByRef)
		}
		if _, err := stix.DecodeObject(v.Object.Raw); err != nil {
			t.Fatalf("admitted bytes do not decode: %v", err)
		}
		if _, ok := pol.Present(p, c, v); !ok && len(v.Audience) > 0 && slices.Contains(v.Audience, store.ReaderOrg(orgA)) {
			t.Fatalf("producer cannot read its own object: %s", v.Object.Raw)
		}
	})
}
