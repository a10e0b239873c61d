package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/jointcell/jointcell/internal/stix"
	"github.com/jointcell/jointcell/internal/store"
	"github.com/jointcell/jointcell/internal/store/storetest"
)

func openTemp(t testing.TB) *DB {
	t.Helper()
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "jointcell.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return db
}

// The suite's optional tests must not skip for this store.
var (
	_ storetest.StoredIDFinder = (*DB)(nil)
	_ storetest.AuditOutbox    = (*DB)(nil)
)

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openTemp(t) })
}

func TestOpenRejectsNonFiles(t *testing.T) {
	for _, p := range []string{"", ":memory:", "file:x.db?mode=memory"} {
		if _, err := Open(context.Background(), p); err == nil {
			t.Errorf("Open(%q) succeeded", p)
		}
	}
}

func TestMigrations(t *testing.T) {
	ctx := context.Background()
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 || ms[0].version != 1 {
		t.Fatalf("migrations: %+v", ms)
	}
	path := filepath.Join(t.TempDir(), "m.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := db.SchemaVersion(ctx); err != nil || v != ms[len(ms)-1].version {
		t.Errorf("SchemaVersion = %d, %v; want %d", v, err, ms[len(ms)-1].version)
	}
	if err := db.PutSetting(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	db.Close()

	// Reopening applies nothing twice and keeps the data.
	db, err = Open(ctx, path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	if v, err := db.Setting(ctx, "k"); err != nil || string(v) != "v" {
		t.Errorf("setting after reopen: %q, %v", v, err)
	}
	var rows int
	if err := db.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_version`).Scan(&rows); err != nil || rows != len(ms) {
		t.Errorf("schema_version has %d rows, %v; want %d", rows, err, len(ms))
	}
	// A database from a newer program is refused rather than misread.
	if _, err := db.w.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (9999)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := Open(ctx, path); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Errorf("Open of a newer schema: %v", err)
	}
}

func TestPragmas(t *testing.T) {
	db := openTemp(t)
	defer db.Close()
	ctx := context.Background()
	for _, tc := range []struct{ pragma, want string }{
		{"journal_mode", "wal"},
		{"foreign_keys", "1"},
		{"synchronous", "1"}, // NORMAL
		{"busy_timeout", "10000"},
	} {
		for _, d := range []struct {
			name string
			q    queryer
		}{{"writer", db.w}, {"reader", db.r}} {
			var got string
			if err := d.q.QueryRowContext(ctx, "PRAGMA "+tc.pragma).Scan(&got); err != nil {
				t.Fatalf("%s: PRAGMA %s: %v", d.name, tc.pragma, err)
			}
			if got != tc.want {
				t.Errorf("%s: PRAGMA %s = %s, want %s", d.name, tc.pragma, got, tc.want)
			}
		}
	}
	// Readers cannot write.
	if _, err := db.r.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES ('x', 'y')`); err == nil {
		t.Error("a reader connection wrote")
	}
}

// TestSeveralHandles opens the same file twice, as the server and the CLI
// do from two processes, and writes through both at once: writes are
// serialised across handles, date_added stays strictly increasing, and
// each handle reads what the other wrote.
func TestSeveralHandles(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "shared.db")
	var dbs []*DB
	for range 3 {
		db, err := Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		dbs = append(dbs, db)
	}
	coll := "2e1a5b7c-0000-4000-8000-000000000001"
	if err := dbs[0].CreateCollection(ctx, store.Collection{ID: coll, Title: "shared"}); err != nil {
		t.Fatal(err)
	}
	const batches, size = 10, 50
	var wg sync.WaitGroup
	errs := make(chan error, len(dbs)*batches)
	for h, db := range dbs {
		wg.Go(func() {
			if err := addBatches(ctx, db, coll, fmt.Sprintf("%08x", h), batches, size); err != nil {
				errs <- err
			}
		})
	}
	// A user created through another handle while the writes run.
	if err := dbs[2].CreateUser(ctx, store.User{Name: "cli-user", Role: "reader"}); err != nil {
		t.Error(err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, db := range dbs {
		p, err := db.Query(ctx, coll, store.Filter{Limit: 10000})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Versions) != len(dbs)*batches*size {
			t.Errorf("%d versions, want %d", len(p.Versions), len(dbs)*batches*size)
		}
		for i := 1; i < len(p.Versions); i++ {
			if !p.Versions[i].DateAdded.After(p.Versions[i-1].DateAdded) {
				t.Fatalf("date_added not strictly increasing at %d", i)
			}
		}
		if _, err := db.User(ctx, "cli-user"); err != nil {
			t.Errorf("user written through another handle: %v", err)
		}
	}
}

// addBatches adds batches of distinct indicators, prefixed by who, to coll.
func addBatches(ctx context.Context, db *DB, coll, who string, batches, size int) error {
	for b := range batches {
		vs := make([]store.Version, size)
		for i := range vs {
			id := fmt.Sprintf("indicator--%s-0000-4000-8000-%012x", who, b*size+i)
			o, err := stix.DecodeObject([]byte(`{"type":"indicator","spec_version":"2.1","id":"` + id + `","created":"2020-01-01T00:00:00Z","modified":"2020-01-01T00:00:00Z"}`))
			if err != nil {
				return err
			}
			vs[i] = store.Version{Object: o, Audience: []string{store.ReaderAnyone}}
		}
		res, err := db.AddVersions(ctx, coll, vs)
		if err != nil {
			return err
		}
		for _, r := range res {
			if r.Outcome != store.Added {
				return fmt.Errorf("%s: outcome %v %s", who, r.Outcome, r.Message)
			}
		}
	}
	return nil
}

// TestSeveralProcesses runs writers in child processes (this test binary,
// re-executed) and in this one against the same file at once.
func TestSeveralProcesses(t *testing.T) {
	if path := os.Getenv("JOINTCELL_SQLITE_CHILD"); path != "" {
		ctx := context.Background()
		db, err := Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := addBatches(ctx, db, os.Getenv("JOINTCELL_SQLITE_COLL"), os.Getenv("JOINTCELL_SQLITE_WHO"), 10, 50); err != nil {
			t.Fatal(err)
		}
		return
	}
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "shared.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	coll := "2e1a5b7c-0000-4000-8000-000000000002"
	if err := db.CreateCollection(ctx, store.Collection{ID: coll, Title: "shared"}); err != nil {
		t.Fatal(err)
	}
	var cmds []*exec.Cmd
	for _, who := range []string{"0000000a", "0000000b"} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestSeveralProcesses$", "-test.count=1")
		cmd.Env = append(os.Environ(), "JOINTCELL_SQLITE_CHILD="+path, "JOINTCELL_SQLITE_COLL="+coll, "JOINTCELL_SQLITE_WHO="+who)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	if err := addBatches(ctx, db, coll, "0000000c", 10, 50); err != nil {
		t.Error(err)
	}
	for _, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("child writer: %v", err)
		}
	}
	p, err := db.Query(ctx, coll, store.Filter{Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Versions) != 3*10*50 {
		t.Errorf("%d versions, want %d", len(p.Versions), 3*10*50)
	}
	for i := 1; i < len(p.Versions); i++ {
		if !p.Versions[i].DateAdded.After(p.Versions[i-1].DateAdded) {
			t.Fatalf("date_added not strictly increasing at %d", i)
		}
	}
}

// TestReadsDuringWrite checks that a read completes while a write
// transaction is open.
func TestReadsDuringWrite(t *testing.T) {
	db := openTemp(t)
	defer db.Close()
	ctx := context.Background()
	if err := db.PutSetting(ctx, "k", []byte("before")); err != nil {
		t.Fatal(err)
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE settings SET value = 'during' WHERE key = 'k'`); err != nil {
		t.Fatal(err)
	}
	v, err := db.Setting(ctx, "k")
	if err != nil || string(v) != "before" {
		t.Errorf("read during a write: %q, %v; want the committed value", v, err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
}

// TestQueryPlans checks with EXPLAIN QUERY PLAN that the common queries
// scan an index in date_added order instead of sorting the collection, that
// visibility is checked on the index, and that a reader who sees a few
// audience sets merges them in date_added order.
func TestQueryPlans(t *testing.T) {
	db := openTemp(t)
	defer db.Close()
	ctx := context.Background()
	all := visibility{all: true}
	some := visibility{sets: []int64{1, 2}, visible: 10, total: 100}
	many := visibility{sets: []int64{1, 2, 3}, visible: 90, total: 100}
	for _, tc := range []struct {
		name   string
		filter store.Filter
		vis    visibility
		want   []string
		reject []string
	}{
		{"default", store.Filter{Limit: 100}, all, []string{"objects_added"}, []string{"TEMP B-TREE"}},
		{"readers", store.Filter{Limit: 100}, many, []string{"SEARCH p USING COVERING INDEX objects_version", "objects_added (coll=?)"},
			[]string{"TEMP B-TREE", "SCAN"}},
		{"readers outside a snapshot", store.Filter{Limit: 100, AddedAfter: fromMicros(1)}, visibility{readers: `["*","community"]`},
			[]string{"objects_added (coll=? AND date_added_us>?)", "MATERIALIZE visible", "SEARCH ar USING PRIMARY KEY (reader=?)", "SEARCH p USING COVERING INDEX objects_version"},
			[]string{"TEMP B-TREE", "SCAN o", "CORRELATED LIST SUBQUERY"}},
		{"added_after all", store.Filter{Limit: 100, Versions: []string{"all"}, AddedAfter: fromMicros(1)}, all, []string{"objects_added (coll=? AND date_added_us>?)"}, []string{"TEMP B-TREE"}},
		{"one type", store.Filter{Limit: 100, Types: []string{"indicator"}}, all, []string{"objects_type (coll=? AND type=?)"}, []string{"TEMP B-TREE"}},
		{"one type added_after", store.Filter{Limit: 100, Types: []string{"indicator"}, AddedAfter: fromMicros(1)}, some, []string{"objects_type (coll=? AND type=? AND date_added_us>?)"}, []string{"TEMP B-TREE"}},
		{"types", store.Filter{Limit: 100, Types: []string{"indicator", "malware"}}, all, []string{"objects_added (coll=?)"}, []string{"TEMP B-TREE"}},
		{"ids", store.Filter{Limit: 100, IDs: []string{"indicator--x"}}, all, []string{"SEARCH o USING INDEX objects_version (coll=? AND object_id=?)"}, nil},
		{"ids and type", store.Filter{Limit: 100, IDs: []string{"indicator--x", "indicator--y"}, Types: []string{"indicator"}, AddedAfter: fromMicros(1)}, some,
			[]string{"SEARCH o USING INDEX objects_version (coll=? AND object_id=?)"}, []string{"objects_type", "objects_added"}},
		{"merge", store.Filter{Limit: 100, AddedAfter: fromMicros(1)}, some,
			[]string{"MERGE (UNION ALL)", "objects_aud (coll=? AND aud=? AND date_added_us>?)"}, []string{"TEMP B-TREE", "objects_added"}},
		{"merge one set", store.Filter{Limit: 100, Versions: []string{"first", "last"}}, visibility{sets: []int64{1}, visible: 90, total: 100},
			[]string{"objects_aud (coll=? AND aud=?)"}, []string{"TEMP B-TREE", "objects_added"}},
		{"merge types", store.Filter{Limit: 100, Types: []string{"indicator", "malware"}}, some,
			[]string{"MERGE (UNION ALL)", "objects_aud (coll=? AND aud=?)"}, []string{"TEMP B-TREE", "objects_added"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sel := selector{coll: 1, f: tc.filter, vis: tc.vis}
			q, args, err := sel.pageQuery(sel.merge())
			if err != nil {
				t.Fatal(err)
			}
			rows, err := db.r.QueryContext(ctx, `EXPLAIN QUERY PLAN `+q, append(args, 101)...)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var plan []string
			for rows.Next() {
				var id, parent, notused int
				var detail string
				if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, detail)
			}
			all := strings.Join(plan, "\n")
			for _, w := range tc.want {
				if !strings.Contains(all, w) {
					t.Errorf("plan lacks %q:\n%s", w, all)
				}
			}
			for _, r := range tc.reject {
				if strings.Contains(all, r) {
					t.Errorf("plan has %q:\n%s", r, all)
				}
			}
		})
	}
}

func TestIsUnique(t *testing.T) {
	db := openTemp(t)
	defer db.Close()
	ctx := context.Background()
	if _, err := db.w.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES ('a', 'b')`); err != nil {
		t.Fatal(err)
	}
	_, err := db.w.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES ('a', 'b')`)
	if !isUnique(err) {
		t.Errorf("isUnique(%v) = false", err)
	}
	if isUnique(errors.New("x")) || isUnique(nil) {
		t.Error("isUnique of a non-constraint error")
	}
}

func TestSpecRank(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
	}{{"2.0", 2000}, {"2.1", 2001}, {"2.10", 2010}, {"3", 0}, {"x.y", 0}, {"", 0}, {"-1.0", 0}} {
		if got := specRank(tc.in); got != tc.want {
			t.Errorf("specRank(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

// TestRawBytesKept checks what pageDecoder.scan relies on: the driver
// reads each blob into a new slice, so the sql.RawBytes of a row stays
// intact after the next rows are read and the rows are closed.
func TestRawBytesKept(t *testing.T) {
	db := openTemp(t)
	defer db.Close()
	ctx := context.Background()
	rows, err := db.r.QueryContext(ctx, `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100)
		SELECT CAST(printf('blob %d %s', i, zeroblob(i)) AS BLOB) FROM n`)
	if err != nil {
		t.Fatal(err)
	}
	var kept [][]byte
	for rows.Next() {
		var raw sql.RawBytes
		if err := rows.Scan(&raw); err != nil {
			t.Fatal(err)
		}
		kept = append(kept, raw)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if len(kept) != 100 {
		t.Fatalf("%d rows", len(kept))
	}
	for i, b := range kept {
		if want := fmt.Sprintf("blob %d ", i+1); !strings.HasPrefix(string(b), want) {
			t.Fatalf("row %d: %q, want prefix %q: the driver reuses blob buffers, pageDecoder.scan must copy", i, b, want)
		}
	}
}

// TestWritePlans checks with EXPLAIN QUERY PLAN that the batch lookup of
// stored versions seeks objects_version once per id.
func TestWritePlans(t *testing.T) {
	db := openTemp(t)
	defer db.Close()
	rows, err := db.r.QueryContext(context.Background(), `EXPLAIN QUERY PLAN `+sqlStoredVersions, 1, `["a","b"]`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	all := strings.Join(plan, "\n")
	if !strings.Contains(all, "SEARCH o USING INDEX objects_version (coll=? AND object_id=?)") || strings.Contains(all, "SCAN o") {
		t.Errorf("plan:\n%s", all)
	}
}

// TestAddVersionsStatus checks that the versions and their status are
// stored together, and that neither is when the status cannot be.
func TestAddVersionsStatus(t *testing.T) {
	db := openTemp(t)
	defer db.Close()
	ctx := context.Background()
	coll := "2e1a5b7c-0000-4000-8000-000000000003"
	if err := db.CreateCollection(ctx, store.Collection{ID: coll, Title: "status"}); err != nil {
		t.Fatal(err)
	}
	version := func(n int) store.Version {
		o, err := stix.DecodeObject([]byte(fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":"indicator--%08x-0000-4000-8000-000000000000","created":"2020-01-01T00:00:00Z","modified":"2020-01-01T00:00:00Z"}`, n)))
		if err != nil {
			t.Fatal(err)
		}
		return store.Version{Object: o, Audience: []string{store.ReaderAnyone}}
	}
	res, err := db.AddVersionsStatus(ctx, coll, []store.Version{version(1), version(1), version(2)}, func(res []store.AddResult) (store.Status, error) {
		st := store.Status{ID: "s1", CollectionID: coll, Status: "complete", Total: len(res)}
		for _, r := range res {
			st.Successes = append(st.Successes, store.StatusDetail{ID: fmt.Sprint(r.Outcome)})
		}
		return st, nil
	})
	if err != nil || len(res) != 3 || res[0].Outcome != store.Added || res[1].Outcome != store.Duplicate || res[2].Outcome != store.Added {
		t.Fatalf("AddVersionsStatus: %+v, %v", res, err)
	}
	if st, err := db.Status(ctx, "s1"); err != nil || len(st.Successes) != 3 || st.Successes[1].ID != fmt.Sprint(store.Duplicate) {
		t.Errorf("status: %+v, %v", st, err)
	}
	// A status that cannot be stored (no id) stores nothing.
	if _, err := db.AddVersionsStatus(ctx, coll, []store.Version{version(3)}, func([]store.AddResult) (store.Status, error) {
		return store.Status{}, nil
	}); err == nil {
		t.Error("AddVersionsStatus with an invalid status succeeded")
	}
	if p, err := db.Query(ctx, coll, store.Filter{Limit: 10}); err != nil || len(p.Versions) != 2 {
		t.Errorf("after a failed AddVersionsStatus: %d versions, %v; want 2", len(p.Versions), err)
	}
}
