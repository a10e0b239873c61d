// Package sqlite is the SQLite backend of the store: one database file in
// WAL mode, opened through the pure-Go modernc.org/sqlite driver (no cgo).
//
// Writes go through a single connection and run in BEGIN IMMEDIATE
// transactions, so they are serialised in this process and, through SQLite's
// file locks and busy timeout, with any other process that has the same file
// open (the CLI manages users while the server runs). Reads use a separate
// pool of query-only connections and, thanks to WAL, proceed while a write is
// in progress.
//
// For speed: a commit is durable once its frames are in the write-ahead log
// (synchronous=NORMAL: it survives a crash of the process; the log is synced
// when checkpointed); a goroutine with a connection of its own checkpoints
// after writes, so that the writer does not; pages are 16 KiB, so that a batch
// is fewer log frames; the statements that every write or page runs are
// prepared once; and each version refers to its audience set by id (see
// 0001_init.sql), which makes visibility a check of one integer on an index.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/jointcell/jointcell/internal/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is a cell database. It is safe for concurrent use.
type DB struct {
	w      *sql.DB // exactly one connection: every write
	r      *sql.DB // query-only connections: every read
	closed atomic.Bool

	mu sync.Mutex
	// Committed audience sets (see audiences in 0001_init.sql), both ways.
	// A set never changes once committed, so these never go stale; sets
	// created by a transaction wait in pending until it commits.
	audByKey map[string]int64
	audByID  map[int64][]string
	pending  map[*sql.Tx]map[string]int64
	pks      map[string]int64        // collection keys by id (collectionPK)
	scans    map[string]scanDecision // by collection key and reader keys (queryPage)
	visSets  map[string]visibility   // likewise: the sets a reader sees there (cachedSets)
	// Statements of the writer connection prepared once and reused by
	// every transaction, by SQL, and of the readers' pool (prepared on
	// each connection as it first runs them), up to maxReadStmts.
	stmts  map[string]*sql.Stmt
	rstmts map[string]*sql.Stmt

	// The checkpointer: written is signalled after each commit, stop
	// ends it and stopped is closed when it has.
	written, stop, stopped chan struct{}
}

// walPages is the size of the write-ahead log, in pages, at which the
// writer checkpoints by itself: only when the checkpointer falls behind
// or readers keep it from finishing.
const walPages = 16384

// checkpoint copies committed pages from the write-ahead log into the
// database file after writes, on its own connection ck, so that the writer
// does not (WAL checkpoints never block readers or the writer). It waits
// checkpointEvery between checkpoints, so that a page that many
// transactions change is copied once rather than after each of them. It
// runs until stop is closed.
func (db *DB) checkpoint(ck *sql.DB) {
	defer close(db.stopped)
	defer ck.Close()
	pause := time.NewTimer(checkpointEvery)
	pause.Stop()
	for {
		select {
		case <-db.stop:
			return
		case <-db.written:
		}
		// PASSIVE: what readers or the writer keep from being copied now
		// will be by a later checkpoint. Failures are left to the next one.
		var busy, logged, copied int
		_ = ck.QueryRow(`PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &logged, &copied)
		pause.Reset(checkpointEvery)
		select {
		case <-db.stop:
			return
		case <-pause.C:
		}
	}
}

// checkpointEvery is the shortest time between two checkpoints. During a
// burst of writes (a federation catch-up, a bulk POST) a page that many
// transactions change is copied once a second rather than after each of
// them: at 50ms the checkpoints cost a federation catch-up about 8% of the
// receiving cell's CPU. The log grows by at most a second of writes.
const checkpointEvery = time.Second

// busyTimeout is how long a write waits for another connection or process
// holding the write lock before it fails with SQLITE_BUSY.
const busyTimeout = 10 * time.Second

// Open opens (creating it when absent) the database at path and brings its
// schema up to date. path must be a file: an in-memory database cannot be
// shared between the writer and the readers.
func Open(ctx context.Context, path string) (*DB, error) {
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("sqlite: open %q: a plain file path is required", path)
	}
	pragmas := []string{
		"busy_timeout(" + strconv.FormatInt(busyTimeout.Milliseconds(), 10) + ")",
		"journal_mode(WAL)",
		"synchronous(NORMAL)",
		"foreign_keys(1)",
		"temp_store(MEMORY)",
		"cache_size(-32768)",    // 32 MiB per connection
		"mmap_size(1073741824)", // reads map up to 1 GiB of the file instead of copying pages
	}
	dsn := func(extra ...string) string {
		q := url.Values{}
		for _, p := range append(pragmas, extra...) {
			q.Add("_pragma", p)
		}
		return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
	}

	if err := create(ctx, path); err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}

	// The writer checkpoints only when the log has grown large (walPages):
	// a goroutine with a connection of its own copies committed pages from
	// the log into the database file after writes, off the writer's path.
	w, err := sql.Open("sqlite", dsn("wal_autocheckpoint("+strconv.Itoa(walPages)+")")+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := migrate(ctx, w); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}

	r, err := sql.Open("sqlite", dsn("query_only(1)"))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	r.SetConnMaxIdleTime(0)
	if err := r.PingContext(ctx); err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	ck, err := sql.Open("sqlite", dsn())
	if err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	ck.SetMaxOpenConns(1)
	ck.SetMaxIdleConns(1)
	ck.SetConnMaxIdleTime(0)
	db := &DB{w: w, r: r, audByKey: map[string]int64{}, audByID: map[int64][]string{},
		pks: map[string]int64{}, scans: map[string]scanDecision{}, visSets: map[string]visibility{},
		pending: map[*sql.Tx]map[string]int64{}, stmts: map[string]*sql.Stmt{}, rstmts: map[string]*sql.Stmt{},
		written: make(chan struct{}, 1), stop: make(chan struct{}), stopped: make(chan struct{})}
	go db.checkpoint(ck)
	if err := db.prepare(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	return db, nil
}

// pageSize is the page size of a new database: four times SQLite's
// default, so that a batch of versions is written to the log as a quarter
// of the frames (ingest costs about 15% less CPU; pages read as fast).
const pageSize = "16384"

// create gives a database that is new (empty) its page size and WAL mode,
// in that order: once in WAL mode the page size can no longer change, and
// the driver applies DSN pragmas in alphabetical order, journal_mode first.
// Both are no-ops on an existing database.
func create(ctx context.Context, path string) error {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout("+strconv.FormatInt(busyTimeout.Milliseconds(), 10)+")")
	q.Add("_pragma", "page_size("+pageSize+")")
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?"+q.Encode())
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.ExecContext(ctx, `PRAGMA journal_mode = WAL`)
	return err
}

// Close closes the database. Calls after Close fail with store.ErrClosed.
func (db *DB) Close() error {
	if db.closed.Swap(true) {
		return nil
	}
	db.mu.Lock()
	for _, st := range db.stmts {
		st.Close()
	}
	for _, st := range db.rstmts {
		st.Close()
	}
	db.stmts, db.rstmts = nil, nil
	db.mu.Unlock()
	close(db.stop)
	<-db.stopped
	return errors.Join(db.r.Close(), db.w.Close())
}

// check returns ErrClosed, wrapped with op, once the database is closed.
func (db *DB) check(op string) error {
	if db.closed.Load() {
		return fmt.Errorf("sqlite: %s: %w", op, store.ErrClosed)
	}
	return nil
}

// write runs fn in one BEGIN IMMEDIATE transaction on the writer connection.
// Audience sets that fn created are cached once the transaction commits.
func (db *DB) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	err = fn(tx)
	if err != nil {
		tx.Rollback()
	} else {
		err = tx.Commit()
	}
	db.settle(tx, err == nil)
	if err == nil {
		select {
		case db.written <- struct{}{}:
		default: // a checkpoint is due already
		}
	}
	return err
}

// settle caches the audience sets that tx created, when it committed, and
// forgets them otherwise.
func (db *DB) settle(tx *sql.Tx, committed bool) {
	db.mu.Lock()
	defer db.mu.Unlock()
	created, ok := db.pending[tx]
	if !ok {
		return
	}
	delete(db.pending, tx)
	if committed {
		for key, id := range created {
			db.audByKey[key] = id
		}
	}
}

// stmt returns the statement for query in tx: the one prepared on the
// writer connection by Open when there is one (the only connection, so it
// is reused as is), else one prepared for tx alone.
func (db *DB) stmt(ctx context.Context, tx *sql.Tx, query string) (*sql.Stmt, error) {
	db.mu.Lock()
	st, ok := db.stmts[query]
	db.mu.Unlock()
	if !ok {
		return tx.PrepareContext(ctx, query)
	}
	return tx.StmtContext(ctx, st), nil
}

// prepare prepares the writer's reusable statements, and the readers'
// fixed ones. It runs before any transaction, while the writer connection
// is free.
func (db *DB) prepare(ctx context.Context) error {
	for _, q := range writerStatements() {
		st, err := db.w.PrepareContext(ctx, q)
		if err != nil {
			return fmt.Errorf("prepare: %w", err)
		}
		db.stmts[q] = st
	}
	for _, q := range []string{sqlCollectionPK, sqlVisibleSets, sqlCollectionSets, sqlAudiences, sqlCollectionByName} {
		if err := db.prepareRead(ctx, q); err != nil {
			return fmt.Errorf("prepare: %w", err)
		}
	}
	return nil
}

// maxReadStmts bounds the statements kept prepared for readers: pages
// take a few shapes of query (how many ids, types, audience sets), each
// kept once seen.
const maxReadStmts = 256

// readStmt returns the reusable statement of the readers for query, nil
// when there is none.
func (db *DB) readStmt(query string) *sql.Stmt {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.rstmts[query]
}

// prepareRead prepares query for reuse by readers, unless it is already
// or there are maxReadStmts. The caller must not hold a connection of the
// pool, which the preparation needs.
func (db *DB) prepareRead(ctx context.Context, query string) error {
	db.mu.Lock()
	_, ok := db.rstmts[query]
	full := len(db.rstmts) >= maxReadStmts
	db.mu.Unlock()
	if ok || full {
		return nil
	}
	st, err := db.r.PrepareContext(ctx, query)
	if err != nil {
		return err
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	if _, ok := db.rstmts[query]; ok || db.rstmts == nil {
		st.Close()
		return nil
	}
	db.rstmts[query] = st
	return nil
}

// migration is one embedded schema step.
type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations returns the embedded migrations in version order. Their
// file names start with the version number: 0001_init.sql.
func loadMigrations() ([]migration, error) {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must start with a positive number and '_'", base)
		}
		body, err := fs.ReadFile(migrations, name)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: base, sql: string(body)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i := 1; i < len(ms); i++ {
		if ms[i].version == ms[i-1].version {
			return nil, fmt.Errorf("migrations %s and %s share a version", ms[i-1].name, ms[i].name)
		}
	}
	return ms, nil
}

// migrate applies the migrations the database has not seen, in one
// immediate transaction, so that processes opening a new file at the same
// time apply each step exactly once. A migration is seen when its version
// is recorded, whatever the others: the core schema is numbered from 1 and
// federation's from 100, so a core step added later (0002) is applied to a
// database that has federation's already. Each step therefore depends only
// on lower-numbered steps of its own series.
func migrate(ctx context.Context, w *sql.DB) error {
	ms, err := loadMigrations()
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	tx, err := w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	applied := map[int]bool{}
	rows, err := tx.QueryContext(ctx, `SELECT version FROM schema_version`)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	current := 0
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return fmt.Errorf("migrate: %w", err)
		}
		applied[v], current = true, max(current, v)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if len(ms) > 0 && current > ms[len(ms)-1].version {
		return fmt.Errorf("migrate: database schema version %d is newer than this program's %d", current, ms[len(ms)-1].version)
	}
	for _, m := range ms {
		if applied[m.version] {
			continue
		}
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return fmt.Errorf("migrate: %s: %w", m.name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (?)`, m.version); err != nil {
			return fmt.Errorf("migrate: %s: %w", m.name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// SchemaVersion returns the version of the last migration applied.
func (db *DB) SchemaVersion(ctx context.Context) (int, error) {
	if err := db.check("schema version"); err != nil {
		return 0, err
	}
	var v int
	if err := db.r.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&v); err != nil {
		return 0, fmt.Errorf("sqlite: schema version: %w", err)
	}
	return v, nil
}

// isUnique reports whether err is a UNIQUE or PRIMARY KEY violation.
func isUnique(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	return e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

// micros converts a time to stored microseconds; the zero time is 0.
func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// fromMicros converts stored microseconds back to a UTC time; 0 is the zero time.
func fromMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}
