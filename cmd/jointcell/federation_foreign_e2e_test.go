package main

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jointcell/jointcell/internal/federation"
	"github.com/jointcell/jointcell/internal/marking"
	"github.com/jointcell/jointcell/internal/taxii"
)

// TestFederationForeignServer links a cell with a TAXII 2.1 server that is
// not a cell (medallionStub: medallion's paging, strict media types, a
// max_content_length of 2000 bytes) in both directions, across a restart:
// what the server holds is pulled in once, unsigned and attributed to the
// peer; what the cell publishes is pushed in envelopes the server accepts;
// what may not leave never reaches it; and the cell's own objects, served
// back by the server, are not stored again.
func TestFederationForeignServer(t *testing.T) {
	stub := &medallionStub{pages: map[string][2]any{}, clock: time.Now().UTC().Add(-time.Hour)}
	ts := httptest.NewServer(stub)
	t.Cleanup(ts.Close)
	stub.url = ts.URL
	const producer = "identity--7d3f1e2a-0000-4000-8000-00000000f00d" // the foreign producer
	foreign := func(n int) {
		stub.mu.Lock()
		defer stub.mu.Unlock()
		o := fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":"indicator--%08x-0000-4000-8000-00000000f00d","created":"2020-01-01T00:00:00.000Z","modified":"2020-01-01T00:00:00.000Z","created_by_ref":%q,"name":"foreign %d","pattern":"[ipv4-addr:value = '203.0.113.%d']","pattern_type":"stix","valid_from":"2020-01-01T00:00:00Z","object_marking_refs":[%q]}`,
			n, producer, n, n, marking.TLP2Green)
		stub.clock = stub.clock.Add(time.Millisecond)
		stub.objs = append(stub.objs, json.RawMessage(o))
		stub.added = append(stub.added, stub.clock)
	}
	for i := range 12 {
		foreign(i)
	}

	a := startFedCell(t, "A", filepath.Join(t.TempDir(), "a"))
	a.cli("org", "create", "acme")
	tok := a.cli("user", "create", "acme-analyst", "--org", "acme", "--role", "analyst")
	in := a.cli("collection", "create", "--title", "In", "--alias", "in", "--read", "acme")
	a.cli("collection", "create", "--title", "Out", "--alias", "out", "--read", "acme", "--write", "acme")
	acme := orgID(t, a, "acme")
	out := a.cli("peer", "add", "medallion", "--url", ts.URL+"/trustgroup1/", "--user", "admin", "--token", "Password0", "--foreign")
	if !strings.Contains(out, "foreign TAXII server") {
		t.Fatalf("peer add printed %q", out)
	}
	a.cli("peer", "link", "medallion", "--pull", stubColl+"=in")
	a.cli("peer", "link", "medallion", "--push", "out="+stubColl)

	ctx := context.Background()
	cl := a.client(t, a.base, "acme-analyst", tok)
	var objs []json.RawMessage
	for i := range 5 {
		objs = append(objs, fedObject(t, 300+i, fmt.Sprintf("ours %d", i), acme, marking.TLP2Green))
	}
	strict := fedObject(t, 399, "ours, strict", acme, marking.TLP2AmberStrict)
	if st, err := cl.AddObjects(ctx, "out", append(objs, strict)); err != nil || st.SuccessCount != 6 {
		t.Fatalf("publish: %+v, %v", st, err)
	}

	// stubIDs returns how often each id is held by the server.
	stubIDs := func() map[string]int {
		stub.mu.Lock()
		defer stub.mu.Unlock()
		ids := map[string]int{}
		for _, o := range stub.objs {
			var v struct{ ID string }
			json.Unmarshal(o, &v)
			ids[v.ID]++
		}
		return ids
	}
	inIDs := func() map[string]int {
		ids := map[string]int{}
		err := cl.Iterate(ctx, "in", taxii.Filter{Versions: []string{"all"}}, func(p *taxii.ObjectsPage) error {
			for _, raw := range p.Objects {
				var v struct{ ID string }
				json.Unmarshal(raw, &v)
				ids[v.ID]++
			}
			return nil
		})
		if err != nil {
			t.Fatalf("read in: %v", err)
		}
		return ids
	}
	settled := func(wantStub, wantIn int) (map[string]int, map[string]int) {
		deadline := time.Now().Add(60 * time.Second)
		for {
			s, i := stubIDs(), inIDs()
			if len(s) >= wantStub && len(i) >= wantIn {
				// One more round of both loops, so that anything extra
				// would show.
				time.Sleep(600 * time.Millisecond)
				return stubIDs(), inIDs()
			}
			if time.Now().After(deadline) {
				t.Fatalf("not settled: server holds %d ids (want %d), in holds %d (want %d)\n%s\n%s",
					len(s), wantStub, len(i), wantIn, a.cli("peer", "status"), a.logs())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	check := func(s, i map[string]int, nForeign int) {
		t.Helper()
		for id, n := range s {
			if n != 1 {
				t.Errorf("the server holds %s %d times", id, n)
			}
		}
		if s["indicator--0000018f-1111-4000-8000-00000000018f"] != 0 {
			t.Error("AMBER+STRICT reached the foreign server")
		}
		for k := range 5 {
			if id := fmt.Sprintf("indicator--%08x-1111-4000-8000-%012x", 300+k, 300+k); s[id] != 1 {
				t.Errorf("%s was not pushed once: %d", id, s[id])
			} else if i[id] != 0 {
				t.Errorf("%s, the cell's own object, came back into in", id)
			}
		}
		if len(i) != nForeign {
			t.Errorf("in holds %d ids, want the %d foreign ones: %v", len(i), nForeign, i)
		}
		for id, n := range i {
			if n != 1 || !strings.HasSuffix(id, "-00000000f00d") {
				t.Errorf("in holds %s %d times", id, n)
			}
		}
	}
	s, i := settled(12+5, 12)
	check(s, i, 12)

	// What was pushed is signed by the cell, in envelopes within the
	// server's max_content_length (the stub refuses larger ones with 413).
	stub.mu.Lock()
	pushed := stub.objs[12]
	stub.mu.Unlock()
	key := cellKey(t, a.dir)
	if sig, err := federation.Verify(pushed, func(fp string) (ed25519.PublicKey, bool) { return key, fp == federation.Fingerprint(key) }); err != nil || sig.Cell == "" {
		t.Errorf("a pushed object does not verify with the cell's key: %v", err)
	}

	// A restart resumes from the checkpoints: the new foreign objects
	// come in, nothing twice.
	a.kill(syscall.SIGTERM)
	for i := 12; i < 20; i++ {
		foreign(i)
	}
	a.start()
	cl = a.client(t, a.base, "acme-analyst", tok)
	s, i = settled(20+5, 20)
	check(s, i, 20)

	// The foreign objects are recorded as coming, unsigned, from the peer.
	st := a.cli("peer", "status")
	if !strings.Contains(st, "medallion") || strings.Contains(st, "413") {
		t.Errorf("peer status:\n%s", st)
	}
	if !strings.Contains(a.logs(), "own=5") {
		t.Error("the cell's own objects served back were not recognised as its own")
	}
	_ = in
}
