package federation

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/jointcell/jointcell/internal/access"
	"github.com/jointcell/jointcell/internal/store"
)

// TestOneBatchOtherOrgVersion: a version of an object published by
// another organisation of the same cell is refused also when the first
// version travels in the same batch (one page, or pages merged into one
// write), where no stored history shows it yet.
func TestOneBatchOtherOrgVersion(t *testing.T) {
	f := newPullFixture(t)
	first := f.page(t, 0, 1)[0]
	body, v2 := f.otherOrgVersion(t, first)
	signed, errs := SignBatch([][]byte{body, v2}, f.keyA, f.acme)
	if errs[0] != nil || errs[1] != nil {
		t.Fatal(errs)
	}
	f.write(t, f.s.checkPage(f.sn, []json.RawMessage{signed[0], signed[1]}, "2026-01-01T00:00:00.000001Z"))
	if vs := f.versions(t, "indicator--00000000-1111-4000-8000-000000000000"); len(vs) != 1 {
		t.Errorf("%d versions stored, want 1: the other organisation's version must be refused", len(vs))
	}
}

// TestOneBatchMarkingDefinitionContent: a marking definition keeps one
// content also within one batch: a second one with the same id and other
// content is refused and the first is kept (the policy remembers the
// definitions it admits).
func TestOneBatchMarkingDefinitionContent(t *testing.T) {
	f := newPullFixture(t)
	const id = "marking-definition--3a6f1b2c-4d5e-4f60-8a7b-9c0d1e2f3a4b"
	md := func(created, statement string) []byte {
		return []byte(`{"created":"` + created + `","created_by_ref":"` + f.acme + `","definition":{"statement":"` + statement +
			`"},"definition_type":"statement","id":"` + id + `","spec_version":"2.1","type":"marking-definition"}`)
	}
	signed, errs := SignBatch([][]byte{md("2026-01-01T00:00:00.000Z", "a"), md("2026-02-01T00:00:00.000Z", "b")}, f.keyA, f.acme)
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	pg := f.s.checkPage(f.sn, []json.RawMessage{signed[0], signed[1]}, "2026-01-01T00:00:00.000001Z")
	for _, v := range pg.pre {
		if v.problems != "" || v.err != nil {
			t.Fatalf("the fixture's marking definitions do not pass the pure checks: %q, %v", v.problems, v.err)
		}
	}
	f.write(t, pg)
	if vs := f.versions(t, id); len(vs) != 1 || !bytes.Contains(vs[0].Object.Raw, []byte(`"statement":"a"`)) {
		t.Errorf("stored %d versions, want the first content only", len(vs))
	}
}

// TestMarkingDefinitionTwoPaths: the same marking definition reaching a
// cell twice, signed in two batches (by two paths), is stored once and
// not refused as another content: its content is compared without the
// provenance extension (Content). The same holds after a restart, when
// the policy no longer remembers it and reads the stored copy.
func TestMarkingDefinitionTwoPaths(t *testing.T) {
	f := newPullFixture(t)
	ctx := context.Background()
	const id = "marking-definition--3a6f1b2c-4d5e-4f60-8a7b-9c0d1e2f3a4b"
	md := []byte(`{"created":"2026-01-01T00:00:00.000Z","created_by_ref":"` + f.acme + `","definition":{"statement":"a"},"definition_type":"statement","id":"` + id + `","spec_version":"2.1","type":"marking-definition"}`)
	other, _, err := canonicalBody(nil, f.page(t, 5, 1)[0])
	if err != nil {
		t.Fatal(err)
	}
	first, _ := SignBatch([][]byte{md}, f.keyA, f.acme)
	second, _ := SignBatch([][]byte{other, md}, f.keyA, f.acme)
	if bytes.Equal(first[0], second[1]) {
		t.Fatal("the two signed copies are the same bytes: the test needs two batches")
	}
	write := func(raws ...[]byte) []*Rejection {
		js := make([]json.RawMessage, len(raws))
		for i, r := range raws {
			js[i] = r
		}
		pg := f.s.checkPage(f.sn, js, "2026-01-01T00:00:00.000001Z")
		lk, err := f.s.lookup(ctx, f.coll, pg.objs)
		if err != nil {
			t.Fatal(err)
		}
		adm, err := f.s.admitLooked(f.sn, f.peer, f.coll, pg.objs, pg.pre, lk)
		if err != nil {
			t.Fatal(err)
		}
		var rejs []*Rejection
		var vs []store.Version
		for _, a := range adm {
			if a.rej != nil {
				rejs = append(rejs, a.rej)
				continue
			}
			vs = append(vs, a.v)
		}
		if _, err := f.s.cfg.Store.AddVersions(ctx, f.coll.ID, vs); err != nil {
			t.Fatal(err)
		}
		return rejs
	}
	if rejs := write(first[0]); len(rejs) != 0 {
		t.Fatalf("first copy refused: %s", rejs[0].Reason)
	}
	if rejs := write(second[0], second[1]); len(rejs) != 0 {
		t.Errorf("second copy refused: %s", rejs[0].Reason)
	}
	// A restarted cell: a new policy, which knows the definition only
	// from the store.
	f.pol = access.NewPolicy(access.PolicyConfig{Groups: f.db.ListGroups, Objects: f.db, DefinitionContent: Content})
	f.s.cfg.Policy = f.pol
	third, _ := SignBatch([][]byte{md, other}, f.keyA, f.acme)
	if rejs := write(third[0]); len(rejs) != 0 {
		t.Errorf("a third copy after a restart refused: %s", rejs[0].Reason)
	}
	if vs := f.versions(t, id); len(vs) != 1 {
		t.Errorf("%d versions stored, want 1", len(vs))
	}
}

// write stores checked pages with the writing stage of a pull.
func (f *pullFixture) write(t *testing.T, pgs ...*pulledPage) store.Link {
	t.Helper()
	checked := make(chan *pulledPage, len(pgs))
	for _, pg := range pgs {
		checked <- pg
	}
	close(checked)
	attempts := 0
	cur, err := f.s.writePages(context.Background(), f.sn, f.peer, f.coll, f.link, checked, &attempts)
	if err != nil {
		t.Fatal(err)
	}
	return cur
}

// versions returns the stored versions of id in the fixture's collection.
func (f *pullFixture) versions(t *testing.T, id string) []store.Version {
	t.Helper()
	page, err := f.s.cfg.Store.Query(context.Background(), f.coll.ID, store.Filter{IDs: []string{id}, Versions: []string{"all"}, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	return page.Versions
}

// otherOrgVersion returns the content of the signed object raw, published
// by acme, and a later version of it published by bank, another
// organisation of the same cell: one that only acme may publish.
func (f *pullFixture) otherOrgVersion(t *testing.T, raw []byte) (body, v2 []byte) {
	t.Helper()
	body, _, err := canonicalBody(nil, raw)
	if err != nil {
		t.Fatal(err)
	}
	v2 = bytes.Replace(body, []byte(`"created_by_ref":"`+f.acme+`"`), []byte(`"created_by_ref":"`+f.bank+`"`), 1)
	v2 = bytes.Replace(v2, []byte(`"modified":"2026-01-01T00:00:00.000Z"`), []byte(`"modified":"2026-02-01T00:00:00.000Z"`), 1)
	if bytes.Equal(v2, body) {
		t.Fatal("the fixture's object did not change")
	}
	return body, v2
}
