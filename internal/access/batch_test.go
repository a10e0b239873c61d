package access_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/jointcell/jointcell/internal/access"
	"github.com/jointcell/jointcell/internal/stix"
	"github.com/jointcell/jointcell/internal/store"
)

// TestAdmitBatchAgrees checks that AdmitBatch decides every object of a
// batch as Admit does one by one, over more ids than one history query
// takes and more stored versions than one page holds.
func TestAdmitBatchAgrees(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	obj := func(n int, modified, extra string) string {
		return fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":"indicator--%08x-0000-4000-8000-000000000001","created":"2024-01-01T00:00:00.000Z","modified":%q,"pattern":"[ipv4-addr:value = '10.0.0.1']","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z"%s}`,
			n, modified, extra)
	}
	def := func(n int, stmt string) string {
		return fmt.Sprintf(`{"type":"marking-definition","spec_version":"2.1","id":"marking-definition--%08x-0000-4000-8000-000000000002","created":"2024-01-01T00:00:00.000Z","created_by_ref":%q,"definition_type":"statement","definition":{"statement":%q},"name":"s"}`,
			n, orgA, stmt)
	}
	decode := func(raw string) stix.Object {
		o, err := stix.DecodeObject([]byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	// Stored: 1200 indicators, every third by B, every fifth in two
	// versions; two statement markings by A.
	var stored []store.Version
	for n := range 1200 {
		p, by := f.a, `,"created_by_ref":"`+orgA+`"`
		if n%3 == 0 {
			p, by = f.b, `,"created_by_ref":"`+orgB+`"`
		}
		mods := []string{"2024-01-01T00:00:00.000Z"}
		if n%5 == 0 {
			mods = append(mods, "2024-02-01T00:00:00.000Z")
		}
		for _, m := range mods {
			v, err := f.pol.Admit(ctx, p, f.coll, decode(obj(n, m, by)))
			if err != nil {
				t.Fatal(err)
			}
			stored = append(stored, v)
		}
	}
	for n := range 2 {
		v, err := f.pol.Admit(ctx, f.a, f.coll, decode(def(n, "stored")))
		if err != nil {
			t.Fatal(err)
		}
		stored = append(stored, v)
	}
	if _, err := f.db.AddVersions(ctx, f.coll.ID, stored); err != nil {
		t.Fatal(err)
	}
	// Posted by A: a new version of every stored indicator and of new
	// ones, with and without created_by_ref, the markings again (same
	// and other content), a new marking used later in the batch, an SCO.
	var batch []stix.Object
	for n := range 1300 {
		extra := ""
		if n%2 == 0 {
			extra = `,"created_by_ref":"` + orgA + `"`
		}
		batch = append(batch, decode(obj(n, "2024-03-01T00:00:00.000Z", extra)))
	}
	batch = append(batch, decode(def(0, "stored")), decode(def(1, "changed")), decode(def(7, "new")),
		decode(obj(5000, "2024-03-01T00:00:00.000Z", `,"object_marking_refs":["marking-definition--00000007-0000-4000-8000-000000000002"]`)),
		decode(obj(5001, "2024-03-01T00:00:00.000Z", `,"object_marking_refs":["marking-definition--00000008-0000-4000-8000-000000000002"]`)),
		decode(`{"type":"ipv4-addr","spec_version":"2.1","id":"ipv4-addr--ff000000-0000-4000-8000-000000000001","value":"10.0.0.1"}`))

	one := access.NewPolicy(access.PolicyConfig{Groups: f.db.ListGroups, Objects: f.db})
	q := &countQueries{q: f.db}
	all := access.NewPolicy(access.PolicyConfig{Groups: f.db.ListGroups, Objects: q})
	vs, errs := all.AdmitBatch(ctx, f.a, f.coll, batch)
	// 1302 ids: three queries of at most 500 ids, one of them two pages;
	// the unknown marking is looked up once more.
	if q.n > 5 {
		t.Errorf("AdmitBatch made %d store queries", q.n)
	}
	if len(vs) != len(batch) || len(errs) != len(batch) {
		t.Fatalf("AdmitBatch: %d versions, %d errors for %d objects", len(vs), len(errs), len(batch))
	}
	refused := 0
	for i, o := range batch {
		v, err := one.Admit(ctx, f.a, f.coll, o)
		if fmt.Sprint(err) != fmt.Sprint(errs[i]) {
			t.Fatalf("%s: Admit: %v, AdmitBatch: %v", o.ID, err, errs[i])
		}
		if err != nil {
			refused++
			continue
		}
		if string(v.Object.Raw) != string(vs[i].Object.Raw) || !slices.Equal(v.Audience, vs[i].Audience) || v.Object.CreatedByRef != vs[i].Object.CreatedByRef {
			t.Fatalf("%s: Admit: %s %v, AdmitBatch: %s %v", o.ID, v.Object.Raw, v.Audience, vs[i].Object.Raw, vs[i].Audience)
		}
	}
	// 400 indicators of B, the changed marking, the unknown marking.
	if refused != 402 {
		t.Errorf("%d refused, want 402", refused)
	}

	// A reader may not write: everything is refused.
	r := f.b
	r.Role = access.RoleReader
	if _, errs := all.AdmitBatch(ctx, r, f.coll, batch[:3]); slices.Contains(errs, nil) {
		t.Errorf("reader admitted: %v", errs)
	}
}

// countQueries counts the store queries of a policy.
type countQueries struct {
	q access.Querier
	n int
}

func (c *countQueries) Query(ctx context.Context, collectionID string, f store.Filter) (store.Page, error) {
	c.n++
	return c.q.Query(ctx, collectionID, f)
}
