package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/jointcell/jointcell/internal/stix"
	"github.com/jointcell/jointcell/internal/store"
)

func fedVersion(t *testing.T, n int) store.Version {
	t.Helper()
	raw := fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":"indicator--%08x-0000-4000-8000-000000000000","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","pattern":"[ipv4-addr:value = '198.51.100.1']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"}`, n)
	o, err := stix.DecodeObject([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	return store.Version{Object: o, Audience: []string{store.ReaderAnyone}, Origin: "b"}
}

func TestFederationStore(t *testing.T) {
	ctx := context.Background()
	db := openTemp(t)
	if err := db.CreateCollection(ctx, store.Collection{ID: "c1", Title: "c1", Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	p := store.Peer{Name: "b", URL: "http://127.0.0.1:1", User: "u", Token: []byte{1, 2}, PublicKey: make([]byte, 32),
		Orgs: []string{"identity--x"}, Account: "peer-b", Created: time.Now().UTC().Truncate(time.Microsecond)}
	if err := db.PutPeer(ctx, p); err != nil {
		t.Fatal(err)
	}
	got, err := db.Peer(ctx, "b")
	if err != nil || got.Account != "peer-b" || len(got.Orgs) != 1 || len(got.PublicKey) != 32 || !got.Created.Equal(p.Created) {
		t.Fatalf("Peer = %+v, %v", got, err)
	}
	if _, err := db.Peer(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown peer: %v", err)
	}
	if err := db.PutLink(ctx, store.Link{Peer: "nope", Direction: store.Pull, Local: "c1", Remote: "r"}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("link to an unknown peer: %v", err)
	}
	l := store.Link{Peer: "b", Direction: store.Pull, Local: "c1", Remote: "r"}
	if err := db.PutLink(ctx, l); err != nil {
		t.Fatal(err)
	}

	// Versions, provenance and checkpoint move together.
	l.Checkpoint = "2026-01-01T00:00:00.000001Z"
	vs := []store.Version{fedVersion(t, 1), fedVersion(t, 2)}
	prov := []store.Provenance{{ObjectID: vs[0].Object.ID, Cell: "fp", Peer: "b"}}
	res, err := db.AddVersionsAt(ctx, "c1", vs, prov, l)
	if err != nil || res[0].Outcome != store.Added || res[1].Outcome != store.Added {
		t.Fatalf("AddVersionsAt = %+v, %v", res, err)
	}
	// The same page again (a retry after a crash): duplicates, stored once.
	res, err = db.AddVersionsAt(ctx, "c1", vs, prov, l)
	if err != nil || res[0].Outcome != store.Duplicate {
		t.Fatalf("again = %+v, %v", res, err)
	}
	links, err := db.ListLinks(ctx)
	if err != nil || len(links) != 1 || links[0].Checkpoint != l.Checkpoint {
		t.Fatalf("links = %+v, %v", links, err)
	}
	pv, err := db.Provenance(ctx, []string{vs[0].Object.ID, vs[1].Object.ID})
	if err != nil || len(pv) != 1 || pv[vs[0].Object.ID].Cell != "fp" {
		t.Fatalf("provenance = %+v, %v", pv, err)
	}
	// First provenance wins.
	if err := db.PutProvenance(ctx, []store.Provenance{{ObjectID: vs[0].Object.ID, Cell: "other", Peer: "c"}}); err != nil {
		t.Fatal(err)
	}
	if pv, _ := db.Provenance(ctx, []string{vs[0].Object.ID}); pv[vs[0].Object.ID].Cell != "fp" {
		t.Fatal("provenance was overwritten")
	}

	// A failing checkpoint (the link vanished) stores nothing.
	gone := store.Link{Peer: "b", Direction: store.Push, Local: "c1", Remote: "r", Checkpoint: "x"}
	if _, err := db.AddVersionsAt(ctx, "c1", []store.Version{fedVersion(t, 3)}, nil, gone); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("AddVersionsAt with an unknown link: %v", err)
	}
	page, err := db.Query(ctx, "c1", store.Filter{Limit: 10, Versions: []string{"all"}})
	if err != nil || len(page.Versions) != 2 {
		t.Fatalf("after a failed AddVersionsAt the collection has %d versions, %v; want 2", len(page.Versions), err)
	}
	if page.Versions[0].Origin != "b" {
		t.Fatalf("origin = %q", page.Versions[0].Origin)
	}
}

func TestFederationAddVersionsAtCountsSynced(t *testing.T) {
	ctx := context.Background()
	db := openTemp(t)
	if err := db.CreateCollection(ctx, store.Collection{ID: "c1", Title: "c1", Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := db.PutPeer(ctx, store.Peer{Name: "b", URL: "https://b"}); err != nil {
		t.Fatal(err)
	}
	l := store.Link{Peer: "b", Direction: store.Pull, Local: "c1", Remote: "r", Synced: 5}
	if err := db.PutLink(ctx, l); err != nil {
		t.Fatal(err)
	}
	vs := []store.Version{fedVersion(t, 1), fedVersion(t, 2)}
	for range 2 { // the second time: duplicates, not counted
		if _, err := db.AddVersionsAt(ctx, "c1", vs, nil, l); err != nil {
			t.Fatal(err)
		}
		l.Synced = 7 // what the caller keeps
	}
	links, err := db.ListLinks(ctx)
	if err != nil || len(links) != 1 || links[0].Synced != 7 {
		t.Fatalf("links = %+v, %v; want synced 7", links, err)
	}
}

// TestPutProvenanceRuns covers a batch whose records do not all share their
// cell and peer (one statement per run of records that do), with an id
// listed twice: the first record of an id is kept, in the batch as across
// batches.
func TestPutProvenanceRuns(t *testing.T) {
	ctx := context.Background()
	db := openTemp(t)
	defer db.Close()
	prov := []store.Provenance{
		{ObjectID: "indicator--1", Cell: "fp1", Peer: "b"},
		{ObjectID: "indicator--2", Cell: "fp1", Peer: "b"},
		{ObjectID: "indicator--3", Cell: "fp2", Peer: "b"},
		{ObjectID: "indicator--1", Cell: "fp2", Peer: "b"},
		{ObjectID: "indicator--4", Cell: "fp2", Peer: "c"},
		{ObjectID: `indicator--"quoted"\`, Cell: "fp1", Peer: "c"},
	}
	if err := db.PutProvenance(ctx, prov); err != nil {
		t.Fatal(err)
	}
	if err := db.PutProvenance(ctx, []store.Provenance{{ObjectID: "indicator--4", Cell: "fp3", Peer: "d"}}); err != nil {
		t.Fatal(err)
	}
	got, err := db.Provenance(ctx, []string{"indicator--1", "indicator--2", "indicator--3", "indicator--4", `indicator--"quoted"\`, "indicator--5"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]store.Provenance{
		"indicator--1":         {ObjectID: "indicator--1", Cell: "fp1", Peer: "b"},
		"indicator--2":         {ObjectID: "indicator--2", Cell: "fp1", Peer: "b"},
		"indicator--3":         {ObjectID: "indicator--3", Cell: "fp2", Peer: "b"},
		"indicator--4":         {ObjectID: "indicator--4", Cell: "fp2", Peer: "c"},
		`indicator--"quoted"\`: {ObjectID: `indicator--"quoted"\`, Cell: "fp1", Peer: "c"},
	}
	if len(got) != len(want) {
		t.Fatalf("Provenance = %+v, want %+v", got, want)
	}
	for id, p := range want {
		if got[id] != p {
			t.Errorf("Provenance[%s] = %+v, want %+v", id, got[id], p)
		}
	}
}

// TestProvenanceCellsMigration: a database at schema 101, whose provenance
// rows name their cell in full, keeps every record through migration 102
// (cells numbered in fed_cells), and takes new ones after it.
func TestProvenanceCellsMigration(t *testing.T) {
	ctx := context.Background()
	path, old := oldDatabase(t, func(version int) bool { return version <= 101 })
	rows := []store.Provenance{
		{ObjectID: "indicator--1", Cell: "9ab1fp", Peer: "uk"},
		{ObjectID: "indicator--2", Cell: "peer:plain", Peer: "plain"},
		{ObjectID: "indicator--3", Cell: "9ab1fp", Peer: "us"},
	}
	for _, p := range rows {
		if _, err := old.ExecContext(ctx, `INSERT INTO fed_provenance (object_id, cell, peer, first_us) VALUES (?, ?, ?, 1)`, p.ObjectID, p.Cell, p.Peer); err != nil {
			t.Fatal(err)
		}
	}
	old.Close()

	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if v, err := db.SchemaVersion(ctx); err != nil || v < 102 {
		t.Fatalf("SchemaVersion = %d, %v", v, err)
	}
	if err := db.PutProvenance(ctx, []store.Provenance{{ObjectID: "indicator--4", Cell: "9ab1fp", Peer: "uk"}, {ObjectID: "indicator--5", Cell: "new", Peer: "uk"}}); err != nil {
		t.Fatal(err)
	}
	got, err := db.Provenance(ctx, []string{"indicator--1", "indicator--2", "indicator--3", "indicator--4", "indicator--5"})
	if err != nil {
		t.Fatal(err)
	}
	want := append(rows, store.Provenance{ObjectID: "indicator--4", Cell: "9ab1fp", Peer: "uk"}, store.Provenance{ObjectID: "indicator--5", Cell: "new", Peer: "uk"})
	if len(got) != len(want) {
		t.Fatalf("Provenance = %+v, want %+v", got, want)
	}
	for _, p := range want {
		if got[p.ObjectID] != p {
			t.Errorf("Provenance[%s] = %+v, want %+v", p.ObjectID, got[p.ObjectID], p)
		}
	}
	var cells int
	if err := db.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM fed_cells`).Scan(&cells); err != nil || cells != 3 {
		t.Errorf("fed_cells holds %d names (%v), want 3: each cell once", cells, err)
	}
}

// TestMigrationAddedBelow: a core migration numbered below federation's
// (0002) but written after them is applied to a database that has
// federation's already, once.
func TestMigrationAddedBelow(t *testing.T) {
	ctx := context.Background()
	// As a database made before 0002 existed: every step but 0002.
	path, old := oldDatabase(t, func(version int) bool { return version != 2 })
	old.Close()
	for range 2 {
		db, err := Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.PutAuditOutbox(ctx, []byte(`{}`)); err != nil {
			t.Errorf("the outbox table is missing after the upgrade: %v", err)
		}
		var n int
		if err := db.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_version WHERE version = 2`).Scan(&n); err != nil || n != 1 {
			t.Errorf("version 2 recorded %d times (%v), want once", n, err)
		}
		db.Close()
	}
}

// oldDatabase makes a database as an older program left it: only the
// migrations keep selects applied and recorded. It returns its path and a
// plain connection to it, for the caller to fill and close.
func oldDatabase(t *testing.T, keep func(version int) bool) (string, *sql.DB) {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	if err := create(ctx, path); err != nil {
		t.Fatal(err)
	}
	old, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { old.Close() })
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.ExecContext(ctx, `CREATE TABLE schema_version (version INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if !keep(m.version) {
			continue
		}
		if _, err := old.ExecContext(ctx, m.sql); err != nil {
			t.Fatalf("%s: %v", m.name, err)
		}
		if _, err := old.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (?)`, m.version); err != nil {
			t.Fatal(err)
		}
	}
	return path, old
}
