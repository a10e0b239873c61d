package federation

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/jointcell/jointcell/internal/access"
	"github.com/jointcell/jointcell/internal/cputime"
	"github.com/jointcell/jointcell/internal/marking"
	"github.com/jointcell/jointcell/internal/stix"
	"github.com/jointcell/jointcell/internal/store"
	"github.com/jointcell/jointcell/internal/store/sqlite"
)

// pullFixture is a receiving cell (B) with cell A as a pull peer, on a
// real SQLite store: what a puller does with a page, without HTTP.
type pullFixture struct {
	s    *Service
	sn   *snapshot
	peer store.Peer
	coll store.Collection
	link store.Link
	keyA ed25519.PrivateKey
	acme string // an organisation of cell A
	bank string // another organisation of cell A
	pol  *access.Policy
	db   *sqlite.DB
}

func newPullFixture(tb testing.TB) *pullFixture {
	tb.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "b.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	f := &pullFixture{db: db, keyA: testKey(1), acme: "identity--11111111-1111-4111-8111-111111111111",
		bank: "identity--22222222-2222-4222-8222-222222222222"}
	f.pol = access.NewPolicy(access.PolicyConfig{Groups: db.ListGroups, Objects: db, DefinitionContent: Content})
	f.s = New(Config{Store: db, Key: testKey(2), Policy: f.pol})
	f.peer = store.Peer{Name: "a", URL: "https://a.invalid", PublicKey: f.keyA.Public().(ed25519.PublicKey),
		Orgs: []string{f.acme, f.bank}, Created: time.Now()}
	if err := db.PutPeer(ctx, f.peer); err != nil {
		tb.Fatal(err)
	}
	f.coll = store.Collection{ID: "6f0b1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d", Alias: "froma", Title: "From A", Created: time.Now()}
	if err := db.CreateCollection(ctx, f.coll); err != nil {
		tb.Fatal(err)
	}
	f.link = store.Link{Peer: "a", Direction: store.Pull, Local: f.coll.ID, Remote: "intel"}
	if err := db.PutLink(ctx, f.link); err != nil {
		tb.Fatal(err)
	}
	if f.sn, err = f.s.load(ctx); err != nil {
		tb.Fatal(err)
	}
	return f
}

// page returns n indicators numbered from first, signed by cell A as one
// batch, as A serves them to B.
func (f *pullFixture) page(tb testing.TB, first, n int) []json.RawMessage {
	tb.Helper()
	raws := make([][]byte, n)
	for i := range raws {
		k := first + i
		o := map[string]any{
			"type": "indicator", "spec_version": "2.1", "id": fmt.Sprintf("indicator--%08x-1111-4000-8000-%012x", k, k),
			"created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
			"name": fmt.Sprintf("catch-up %d", k), "description": "Command and control server of a banking trojan campaign seen against retail banks.",
			"pattern": fmt.Sprintf("[ipv4-addr:value = '198.51.%d.%d']", k/250%250, k%250), "pattern_type": "stix",
			"valid_from": "2026-01-01T00:00:00Z", "created_by_ref": f.acme, "object_marking_refs": []string{marking.TLP2Green},
			"labels": []string{"malicious-activity"}, "indicator_types": []string{"malicious-activity"},
		}
		b, err := json.Marshal(o)
		if err != nil {
			tb.Fatal(err)
		}
		raws[i] = b
	}
	signed, errs := SignBatch(raws, f.keyA, f.acme)
	out := make([]json.RawMessage, n)
	for i := range signed {
		if errs[i] != nil {
			tb.Fatal(errs[i])
		}
		out[i] = signed[i]
	}
	return out
}

// BenchmarkStorePage measures what a puller does with a page of 1000
// signed objects once it has been fetched: decode, verify, validate,
// admit, and store with provenance and checkpoint in one transaction.
func BenchmarkStorePage(b *testing.B) {
	const n = 1000
	f := newPullFixture(b)
	ctx := context.Background()
	pages := make([][]json.RawMessage, 0, b.N)
	for i := range b.N {
		pages = append(pages, f.page(b, i*n, n))
	}
	cur := f.link
	attempts := 0
	b.ResetTimer()
	cpu := cputime.Process()
	for i := range b.N {
		next, err := f.s.storePage(ctx, f.sn, f.peer, f.coll, cur, pages[i], fmt.Sprintf("2026-01-01T00:00:%02d.%06dZ", i/1000000%60, i%1000000), &attempts)
		if err != nil {
			b.Fatal(err)
		}
		if next.Synced != cur.Synced+n {
			b.Fatalf("page %d: synced %d -> %d, want +%d", i, cur.Synced, next.Synced, n)
		}
		cur = next
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "objects/s")
	// CPU per object is steadier than wall time on a shared machine.
	b.ReportMetric(float64((cputime.Process()-cpu).Nanoseconds())/1e3/float64(b.N*n), "cpu-µs/obj")
}

// TestStorePage checks the fixture itself: a page is stored once, with its
// provenance, and a second delivery of the same page adds nothing.
func TestStorePage(t *testing.T) {
	f := newPullFixture(t)
	ctx := context.Background()
	pg := f.page(t, 0, 50)
	attempts := 0
	next, err := f.s.storePage(ctx, f.sn, f.peer, f.coll, f.link, pg, "2026-01-01T00:00:00.000001Z", &attempts)
	if err != nil || next.Synced != 50 || next.Checkpoint != "2026-01-01T00:00:00.000001Z" {
		t.Fatalf("first delivery: %+v, %v", next, err)
	}
	again, err := f.s.storePage(ctx, f.sn, f.peer, f.coll, next, pg, "2026-01-01T00:00:00.000002Z", &attempts)
	if err != nil || again.Synced != 50 {
		t.Fatalf("second delivery: synced %d, %v", again.Synced, err)
	}
	prov, err := f.s.cfg.Store.Provenance(ctx, []string{"indicator--00000000-1111-4000-8000-000000000000"})
	if err != nil || prov["indicator--00000000-1111-4000-8000-000000000000"].Cell != Fingerprint(f.keyA.Public().(ed25519.PublicKey)) {
		t.Fatalf("provenance: %+v, %v", prov, err)
	}
}

// TestRefusedByStore covers the race of two paths: a version stored by one
// link while another admitted the same version from a different batch (so
// with other bytes) is a duplicate; a different content under the same
// version is a rejection.
func TestRefusedByStore(t *testing.T) {
	f := newPullFixture(t)
	ctx := context.Background()
	attempts := 0
	first := f.page(t, 0, 3)
	if _, err := f.s.storePage(ctx, f.sn, f.peer, f.coll, f.link, first, "2026-01-01T00:00:00.000001Z", &attempts); err != nil {
		t.Fatal(err)
	}
	// The same three objects signed in a batch of four: other bytes.
	again := f.page(t, 0, 4)[:3]
	// And one with the id and version of the first but another content.
	other := bytes.Replace(first[0], []byte("catch-up 0"), []byte("catch-up X"), 1)
	conflict, errs := SignBatch([][]byte{other}, f.keyA, f.acme)
	if errs[0] != nil {
		t.Fatal(errs[0])
	}
	var vs []store.Version
	for _, raw := range append(again, conflict[0]) {
		o, err := stix.DecodeObject(raw)
		if err != nil {
			t.Fatal(err)
		}
		vs = append(vs, store.Version{Object: o, Audience: []string{store.ReaderCommunity}})
	}
	if bytes.Equal(vs[0].Object.Raw, first[0]) {
		t.Fatal("the second batch signed the same bytes: the test proves nothing")
	}
	res, err := f.s.cfg.Store.AddVersions(ctx, f.coll.ID, vs)
	if err != nil {
		t.Fatal(err)
	}
	same, refused, err := f.s.refusedByStore(ctx, f.coll.ID, vs, res)
	if err != nil || same != 3 || len(refused) != 1 || refused[0].ID != vs[3].Object.ID {
		t.Fatalf("refusedByStore = %d, %+v, %v; want 3 duplicates and the conflicting version refused", same, refused, err)
	}
}

// TestStorePageValidates: a signed object is validated (without its
// provenance extension) before it is stored; an invalid one is refused
// and the rest of the page is stored.
func TestStorePageValidates(t *testing.T) {
	f := newPullFixture(t)
	ctx := context.Background()
	good := f.page(t, 0, 1)[0]
	body, _, err := canonicalBody(nil, good)
	if err != nil {
		t.Fatal(err)
	}
	// No pattern_type: invalid STIX 2.1 (§4.7), however well signed.
	bad := bytes.Replace(body, []byte(`"pattern_type":"stix",`), nil, 1)
	if bytes.Equal(bad, body) {
		t.Fatal("the fixture has no pattern_type to remove")
	}
	signed, errs := SignBatch([][]byte{bad, f.page(t, 1, 1)[0]}, f.keyA, f.acme)
	if errs[0] != nil || errs[1] != nil {
		t.Fatal(errs)
	}
	if _, b, err := f.s.ver.verifyBody(signed[0], f.s.verifyKey(f.sn)); err != nil || b == nil {
		t.Fatalf("verifyBody: body %v, %v", b != nil, err)
	}
	attempts := 0
	next, err := f.s.storePage(ctx, f.sn, f.peer, f.coll, f.link, []json.RawMessage{signed[0], signed[1]}, "2026-01-01T00:00:00.000001Z", &attempts)
	if err != nil || next.Synced != 1 {
		t.Fatalf("storePage: synced %d, %v; want the valid object only", next.Synced, err)
	}
}

// TestWritePagesLookupsAhead: the puller makes a page's store lookups
// while the page before it is being written, so they can miss that page.
// Page 2 carries a version of page 1's object published by another
// organisation of the same cell, which only the history written by page 1
// shows to be forbidden (only an object's creator versions it); the
// writing stage must make page 2's lookups again and refuse it.
func TestWritePagesLookupsAhead(t *testing.T) {
	f := newPullFixture(t)
	ctx := context.Background()
	first := f.page(t, 0, 1)[0]
	_, v2 := f.otherOrgVersion(t, first)
	signed, errs := SignBatch([][]byte{v2, f.page(t, 1, 1)[0]}, f.keyA, f.acme)
	if errs[0] != nil || errs[1] != nil {
		t.Fatal(errs)
	}
	// Both pages are checked, with their lookups, before page 1 is
	// written: the worst case of the pipeline.
	pg1 := f.s.checkPage(f.sn, []json.RawMessage{first}, "2026-01-01T00:00:00.000001Z")
	pg2 := f.s.checkPage(f.sn, []json.RawMessage{signed[0], signed[1]}, "2026-01-01T00:00:00.000002Z")
	for _, pg := range []*pulledPage{pg1, pg2} {
		var err error
		if pg.lk, err = f.s.lookup(ctx, f.coll, pg.objs); err != nil {
			t.Fatal(err)
		}
	}
	if cur := f.write(t, pg1, pg2); cur.Synced != 2 {
		t.Errorf("synced %d objects, want 2 (page 1's object and page 2's other one)", cur.Synced)
	}
	if vs := f.versions(t, "indicator--00000000-1111-4000-8000-000000000000"); len(vs) != 1 {
		t.Errorf("%d versions stored, want 1: the other organisation's version must be refused", len(vs))
	}
}

// TestStorePageUnknownGroup: an object marked with a sharing group this
// cell has not fetched yet (the peer created it a moment ago) is refused
// as transient, so the page comes again and nothing is lost, and the
// peer's groups are asked for at once; once they are installed, the
// object is stored.
func TestStorePageUnknownGroup(t *testing.T) {
	f := newPullFixture(t)
	ctx := context.Background()
	const groupID = "marking-definition--00000001-0000-4000-8000-000000000000"
	body, _, err := canonicalBody(nil, f.page(t, 0, 1)[0])
	if err != nil {
		t.Fatal(err)
	}
	marked := bytes.Replace(body, []byte(`"object_marking_refs":["`+marking.TLP2Green+`"]`),
		[]byte(`"object_marking_refs":["`+marking.TLP2Amber+`","`+groupID+`"]`), 1)
	if bytes.Equal(marked, body) {
		t.Fatal("the fixture's markings did not change")
	}
	signed, errs := SignBatch([][]byte{marked, f.page(t, 1, 1)[0]}, f.keyA, f.acme)
	if errs[0] != nil || errs[1] != nil {
		t.Fatal(errs)
	}
	page := []json.RawMessage{signed[0], signed[1]}
	attempts := 0
	next, err := f.s.storePage(ctx, f.sn, f.peer, f.coll, f.link, page, "2026-01-01T00:00:00.000001Z", &attempts)
	if !errors.Is(err, errTransient) || next.Checkpoint != f.link.Checkpoint || next.Synced != 1 {
		t.Fatalf("storePage = %+v, %v; want errTransient, the checkpoint kept and the other object stored", next, err)
	}
	select {
	case peer := <-f.s.groupsWanted:
		if peer != f.peer.Name {
			t.Errorf("groups wanted from %q, want %q", peer, f.peer.Name)
		}
	default:
		t.Error("the peer's groups were not asked for")
	}
	def, err := marking.GroupDefinition(groupID, "2026-01-01T00:00:00.000Z", "cell", []string{f.acme}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.s.cfg.Store.PutGroup(ctx, store.Group{Name: "a.cell", MarkingID: groupID, Members: []string{f.acme}, Definition: def}); err != nil {
		t.Fatal(err)
	}
	if err := f.pol.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	next, err = f.s.storePage(ctx, f.sn, f.peer, f.coll, next, page, "2026-01-01T00:00:00.000001Z", &attempts)
	if err != nil || next.Synced != 2 || next.Checkpoint != "2026-01-01T00:00:00.000001Z" {
		t.Fatalf("after the group arrived: %+v, %v; want both objects stored and the checkpoint moved", next, err)
	}
}
