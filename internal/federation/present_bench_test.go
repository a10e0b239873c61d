package federation

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/jointcell/jointcell/internal/access"
	"github.com/jointcell/jointcell/internal/marking"
	"github.com/jointcell/jointcell/internal/redact"
	"github.com/jointcell/jointcell/internal/stix"
	"github.com/jointcell/jointcell/internal/store"
	"github.com/jointcell/jointcell/internal/store/sqlite"
)

// presentFixture is a serving cell (A) with cell B as a peer whose account
// reads one collection, on a real SQLite store: what the TAXII server's
// read path hands to Guard.PresentBatch when B pulls a page.
type presentFixture struct {
	s       *Service
	g       *Guard
	pol     *access.Policy
	sn      *snapshot
	peer    store.Peer
	coll    store.Collection
	account access.Principal // peer-b as Guard.Authenticate returns it
	page    []store.Version  // as the store returns them, in date_added order
	third   store.Peer       // cell C, a peer of A
	acme    string           // an organisation of cell A
	bank    string           // an organisation of cell B
	shared  string           // marking id of a group of acme and bank
}

// newPresentFixture stores n indicators in A's collection: mostly GREEN
// with a description (which the standard egress profile scrubs, so the
// redaction prefilter has text to look at), some CLEAR, some AMBER (not
// visible to the account at all), some AMBER for a group spanning both
// cells (which leaves), some for a group of A's organisations only, the
// account's among them (visible to the account, but it may not leave), a
// few AMBER+STRICT for that group, a few published on behalf of the
// peer's organisation, a tenth with a granular RED marking on the
// description, and a few with an e-mail address in it (rewritten by the
// profile). With relay, a few come from a third cell with its signature,
// which A verifies again before they leave as they are; the benchmark
// leaves them out, to measure the common case.
func newPresentFixture(tb testing.TB, n int, relay bool) *presentFixture {
	tb.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "a.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	f := &presentFixture{}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	orgs := map[string]string{}
	for i, name := range []string{"admin", "acme", "cellb", "telco"} {
		id := fmt.Sprintf("identity--%08d-0000-4000-8000-000000000000", i+1)
		if err := db.CreateOrganisation(ctx, store.Organisation{Name: name, IdentityID: id, Created: now}); err != nil {
			tb.Fatal(err)
		}
		orgs[name] = id
	}
	f.acme, f.bank = orgs["acme"], "identity--22222222-2222-4222-8222-222222222222"
	// Groups with fixed ids (access.NewGroup draws them at random), so
	// that the page is the same bytes in every run.
	group := func(n int, name string, members ...string) store.Group {
		id := fmt.Sprintf("marking-definition--%08d-0000-4000-8000-000000000000", n)
		def, err := marking.GroupDefinition(id, "2026-01-01T00:00:00.000Z", name, members, 1)
		if err != nil {
			tb.Fatal(err)
		}
		return store.Group{Name: name, MarkingID: id, Members: members, Definition: def}
	}
	shared := group(1, "shared", f.acme, f.bank)
	local := group(2, "local", f.acme, orgs["cellb"])
	for _, g := range []store.Group{shared, local} {
		if err := db.PutGroup(ctx, g); err != nil {
			tb.Fatal(err)
		}
	}
	f.shared = shared.MarkingID
	f.pol = access.NewPolicy(access.PolicyConfig{Groups: db.ListGroups, Objects: db,
		Redaction: redact.DefaultConfig(), Redactor: redact.New([]byte("redaction key"))})
	f.s = New(Config{Store: db, Key: testKey(1), Policy: f.pol})
	f.g = f.s.Guard(nil, f.pol)
	f.peer = store.Peer{Name: "b", URL: "https://b.invalid", PublicKey: testKey(2).Public().(ed25519.PublicKey),
		Orgs: []string{f.bank}, Account: "peer-b", Created: now}
	// A third cell, whose objects reach B through A with C's signature.
	f.third = store.Peer{Name: "c", URL: "https://c.invalid", PublicKey: testKey(3).Public().(ed25519.PublicKey),
		Orgs: []string{"identity--33333333-3333-4333-8333-333333333333"}, Created: now}
	for _, p := range []store.Peer{f.peer, f.third} {
		if err := db.PutPeer(ctx, p); err != nil {
			tb.Fatal(err)
		}
	}
	readBy := []string{store.ReaderOrg(f.acme), store.ReaderOrg(orgs["cellb"])}
	f.coll = store.Collection{ID: "7a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d", Alias: "intel", Title: "Intel",
		ReadBy: readBy, WriteBy: []string{store.ReaderOrg(f.acme)}, Created: now}
	if err := db.CreateCollection(ctx, f.coll); err != nil {
		tb.Fatal(err)
	}
	if f.sn, err = f.s.load(ctx); err != nil {
		tb.Fatal(err)
	}
	groups := []store.Group{shared, local}
	readers := append(access.ReaderKeys(orgs["cellb"], groups), f.sn.peerKeys(f.peer)...)
	slices.Sort(readers)
	f.account = access.Principal{UserName: "peer-b", OrgName: "cellb", OrgID: orgs["cellb"], Role: access.RoleReader,
		Readers: slices.Compact(readers)}

	analyst := access.Principal{UserName: "acme-analyst", OrgName: "acme", OrgID: f.acme, Role: access.RoleAnalyst,
		Readers: access.ReaderKeys(f.acme, groups)}
	admin := access.Principal{UserName: "admin", OrgName: "admin", OrgID: orgs["admin"], Role: access.RoleAdmin}
	vs := make([]store.Version, 0, n)
	for i := range n {
		refs := []string{marking.TLP2Green}
		switch i % 20 {
		case 0, 1:
			refs = []string{marking.TLP2Clear}
		case 2, 3:
			refs = []string{marking.TLP2Amber}
		case 4:
			refs = []string{marking.TLP2Amber, shared.MarkingID}
		case 5:
			refs = []string{marking.TLP2Amber, local.MarkingID}
		case 6:
			refs = []string{marking.TLP2AmberStrict, local.MarkingID}
		}
		producer, by := f.acme, analyst
		switch i % 20 {
		case 9:
			// Published here on behalf of the peer's organisation: it
			// never goes back to the peer.
			producer, by = f.bank, admin
		case 10:
			if relay {
				// Pulled from cell C, signed by C.
				producer, by = f.third.Orgs[0], admin
			}
		}
		desc := "Command and control server of a banking trojan campaign seen against retail banks."
		if i%50 == 7 {
			desc = "Reported by soc@acme.example; call +44 20 7946 0958 for the samples."
		}
		o := map[string]any{
			"type": "indicator", "spec_version": "2.1", "id": fmt.Sprintf("indicator--%08x-2222-4000-8000-%012x", i, i),
			"created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
			"name": fmt.Sprintf("served %d", i), "description": desc,
			"pattern": fmt.Sprintf("[ipv4-addr:value = '198.51.%d.%d']", i/250%250, i%250), "pattern_type": "stix",
			"valid_from": "2026-01-01T00:00:00Z", "created_by_ref": producer, "object_marking_refs": refs,
			"labels": []string{"malicious-activity"}, "indicator_types": []string{"malicious-activity"},
		}
		if i%10 == 8 {
			o["granular_markings"] = []map[string]any{{"selectors": []string{"description"}, "marking_ref": marking.TLP2Red}}
		}
		raw, err := json.Marshal(o)
		if err != nil {
			tb.Fatal(err)
		}
		if producer == f.third.Orgs[0] {
			signed, err := Sign(raw, testKey(3), producer)
			if err != nil {
				tb.Fatal(err)
			}
			raw = signed
		}
		obj, err := stix.DecodeObject(raw)
		if err != nil {
			tb.Fatal(err)
		}
		v, err := f.pol.Admit(ctx, by, f.coll, obj)
		if err != nil {
			tb.Fatal(err)
		}
		if producer == f.third.Orgs[0] {
			v.Origin = f.third.Name
		}
		vs = append(vs, v)
	}
	if _, err := db.AddVersions(ctx, f.coll.ID, vs); err != nil {
		tb.Fatal(err)
	}
	// The page as the TAXII server reads it for the account: visibility
	// in SQL first, then PresentBatch.
	pg, err := db.Query(ctx, f.coll.ID, store.Filter{Limit: n, Readers: f.account.Readers})
	if err != nil {
		tb.Fatal(err)
	}
	f.page = pg.Versions
	return f
}

// BenchmarkPresentBatch measures Guard.PresentBatch on a page of 1000
// served to a peer cell's account: the egress rules, the read path
// (Policy.Present) and the signature of the page (page), and the same
// without the signature (unsigned: egressPage, what PresentBatch does
// before SignBatch), which is the part to compare: SignBatch dominates
// the page and runs on every core.
func BenchmarkPresentBatch(b *testing.B) {
	const n = 1000
	f := newPresentFixture(b, n, false)
	served := 0
	for _, raw := range f.g.PresentBatch(f.account, f.coll, f.page) {
		if raw != nil {
			served++
		}
	}
	b.Run("page", func(b *testing.B) {
		for b.Loop() {
			f.g.PresentBatch(f.account, f.coll, f.page)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/object")
		b.ReportMetric(float64(served)/n, "served")
	})
	b.Run("unsigned", func(b *testing.B) {
		ctx := context.Background()
		for b.Loop() {
			sn, peer, ok := f.g.peerOf(ctx, f.account)
			if !ok {
				b.Fatal("the account is not the peer's")
			}
			f.s.egressPage(sn, peer, f.page, presenter(f.pol, f.account, f.coll))
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/object")
	})
}

// TestPresentBatch checks PresentBatch against the rules written out
// plainly: a version leaves for the peer when it did not come from the
// peer nor from one of its organisations, is not AMBER+STRICT and its
// audience meets the peer's keys; what leaves is what Policy.Present
// gives the peer's account, as it is when another cell signed it, and
// otherwise signed by this cell as one batch, byte for byte.
func TestPresentBatch(t *testing.T) {
	f := newPresentFixture(t, 200, true)
	peerKeys := []string{store.ReaderAnyone, store.ReaderCommunity, store.ReaderOrg(f.bank), store.ReaderGroup(f.shared)}
	var want [][]byte
	var at []int
	relayed := map[int][]byte{}
	for i, v := range f.page {
		if v.Origin == f.peer.Name || v.Object.CreatedByRef == f.bank ||
			slices.Contains(v.Object.MarkingRefs, marking.TLP2AmberStrict) || !marking.Meets(peerKeys, v.Audience) {
			continue
		}
		b, ok := f.pol.Present(f.account, f.coll, v)
		if !ok {
			continue
		}
		if v.Origin == f.third.Name {
			// It leaves as it is, with C's signature.
			relayed[i] = b
			continue
		}
		want = append(want, b)
		at = append(at, i)
	}
	if len(relayed) == 0 {
		t.Fatal("no version relayed from C leaves: the fixture proves nothing")
	}
	if len(at) == 0 || len(at) == len(f.page) {
		t.Fatalf("%d of %d versions leave: the fixture proves nothing", len(at), len(f.page))
	}
	signed, errs := SignBatch(want, f.s.cfg.Key, f.sn.identity)
	got := f.g.PresentBatch(f.account, f.coll, f.page)
	if len(got) != len(f.page) {
		t.Fatalf("PresentBatch returned %d results for %d versions", len(got), len(f.page))
	}
	j := 0
	for i, b := range got {
		if j < len(at) && at[j] == i {
			if errs[j] != nil {
				t.Fatal(errs[j])
			}
			if string(b) != string(signed[j]) {
				t.Fatalf("version %d (%s):\n got %s\nwant %s", i, f.page[i].Object.ID, b, signed[j])
			}
			j++
			continue
		}
		if r, ok := relayed[i]; ok {
			if string(b) != string(r) {
				t.Fatalf("version %d (%s) from C:\n got %s\nwant %s", i, f.page[i].Object.ID, b, r)
			}
			continue
		}
		if b != nil {
			t.Fatalf("version %d (%s, audience %v) left for the peer", i, f.page[i].Object.ID, f.page[i].Audience)
		}
	}
	// A page served to the peer again is the same bytes, and so is one
	// served version by version (Present), apart from the batch proof.
	again := f.g.PresentBatch(f.account, f.coll, f.page)
	for i := range got {
		if string(again[i]) != string(got[i]) {
			t.Fatalf("version %d: a second PresentBatch gave other bytes", i)
		}
		one, ok := f.g.Present(f.account, f.coll, f.page[i])
		if ok != (got[i] != nil) {
			t.Fatalf("version %d: Present %v, PresentBatch %v", i, ok, got[i] != nil)
		}
		if ok {
			if _, err := Verify(one, f.s.verifyKey(f.sn)); err != nil {
				t.Fatalf("version %d: Present: %v", i, err)
			}
		}
	}
}

// TestMayCarryExtension checks the prefilter of signerOf against what it
// stands for, bytes.Contains with the extension's id.
func TestMayCarryExtension(t *testing.T) {
	signed, err := Sign([]byte(indicator), testKey(1), "identity--3c1a0f7e-4a5b-4c6d-8e9f-0a1b2c3d4e5f")
	if err != nil {
		t.Fatal(err)
	}
	ext := string(extID)
	for _, raw := range []string{
		"", "x", "ex", ext, ext[:len(ext)-1], "x" + ext, "e" + ext, "xx" + ext + "xx", "exex" + ext[2:],
		ext[:10] + ext, `{"extensions":{"` + ext[:len(ext)-1] + `"}}`, indicator, withExtension, string(signed),
	} {
		if got, want := mayCarryExtension([]byte(raw)), bytes.Contains([]byte(raw), extID); got != want {
			t.Errorf("mayCarryExtension(%q) = %v, want %v", raw, got, want)
		}
	}
}
