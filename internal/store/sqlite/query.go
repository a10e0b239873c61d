package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jointcell/jointcell/internal/stix"
	"github.com/jointcell/jointcell/internal/store"
)

// queryer is what both *sql.DB and *sql.Tx offer.
type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

const sqlCollectionPK = `SELECT pk FROM collections WHERE id = ?`

// collectionPK finds the internal key of a collection by its id.
// Collections are never deleted, so the keys found are kept.
func (db *DB) collectionPK(ctx context.Context, q queryer, id string) (int64, error) {
	db.mu.Lock()
	pk, ok := db.pks[id]
	db.mu.Unlock()
	if ok {
		return pk, nil
	}
	err := q.QueryRowContext(ctx, sqlCollectionPK, id).Scan(&pk)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("collection %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return 0, err
	}
	if _, isTx := q.(*sql.Tx); !isTx { // a write may yet roll back
		db.mu.Lock()
		if len(db.pks) >= maxCached {
			clear(db.pks)
		}
		db.pks[id] = pk
		db.mu.Unlock()
	}
	return pk, nil
}

// maxCached bounds the small caches of a DB (collection keys, scan
// decisions); a full one starts over.
const maxCached = 4096

// scanDecision is a reader's recent decision to scan a collection rather
// than merge audience sets (selector.merge). Only a decision to scan is
// remembered, for scanFor: a page read by scanning is right whatever the
// sets are now, only perhaps slower.
type scanDecision struct{ at time.Time }

const scanFor = time.Second

// reads runs the statements of one read, on the readers' pool or in a
// read transaction, with the statements prepared for reuse (readStmt) when
// there are. It remembers the ones it had to prepare for itself, and
// prepares them for reuse when the read is done: preparing takes a
// connection of the pool, and the read may hold the last one.
type reads struct {
	db     *DB
	tx     *sql.Tx // nil: the pool
	missed []string
}

func (r *reads) stmt(ctx context.Context, query string) *sql.Stmt {
	st := r.db.readStmt(query)
	if st == nil {
		r.missed = append(r.missed, query)
		return nil
	}
	if r.tx != nil {
		return r.tx.StmtContext(ctx, st)
	}
	return st
}

func (r *reads) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := r.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	if r.tx != nil {
		return r.tx.QueryContext(ctx, query, args...)
	}
	return r.db.r.QueryContext(ctx, query, args...)
}

func (r *reads) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := r.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	if r.tx != nil {
		return r.tx.QueryRowContext(ctx, query, args...)
	}
	return r.db.r.QueryRowContext(ctx, query, args...)
}

// done prepares the statements the read missed, once it holds no
// connection any more.
func (r *reads) done(ctx context.Context) {
	for _, q := range r.missed {
		r.db.prepareRead(ctx, q)
	}
	r.missed = nil
}

// Merging the audience sets of a reader (see plan) pays when they hold
// less than 1/mergeFraction of the collection, and takes at most
// maxMerge sets.
const (
	mergeFraction = 4
	maxMerge      = 16
)

// visibility is what a reader may see of a collection: the audience sets
// it may see that the collection holds versions of, and how many versions
// those sets and the whole collection hold.
type visibility struct {
	all     bool    // no restriction (an admin, or every set is visible)
	sets    []int64 // otherwise the visible sets, possibly none
	visible int64
	total   int64
	// readers (a JSON array of reader keys), when set, makes the query
	// work the visible sets out itself rather than list sets: a query
	// read outside a snapshot that sets were read in.
	readers string
	// guard, when positive, is how many audience sets the collection had
	// (rows of collection_audiences, which are never deleted) when all and
	// sets were worked out: the query then selects nothing unless it still
	// has as many, so that sets read in an earlier snapshot (cachedSets)
	// are right in the query's own.
	guard int64
}

// sqlCollectionSets lists every audience set a collection has ever held
// versions of (collection_audiences rows are never deleted) and whether
// the reader keys (a JSON array) see it.
const sqlCollectionSets = `SELECT ca.aud, EXISTS (SELECT 1 FROM audience_readers ar
		WHERE ar.reader IN (SELECT value FROM json_each(?)) AND ar.audience = ca.aud)
	FROM collection_audiences ca WHERE ca.coll = ?`

// cachedSets returns the audience sets that readers (a JSON array) see of
// coll, with the guard that makes a query select nothing once they may
// be stale, from the cache of the DB under key or else read through q
// and cached. ok is false when they are of no use (no set is visible).
func (db *DB) cachedSets(ctx context.Context, q queryer, coll int64, key, readers string) (visibility, bool, error) {
	db.mu.Lock()
	v, ok := db.visSets[key]
	db.mu.Unlock()
	if !ok {
		rows, err := q.QueryContext(ctx, sqlCollectionSets, readers, coll)
		if err != nil {
			return v, false, err
		}
		defer rows.Close()
		v = visibility{sets: []int64{}}
		for rows.Next() {
			var aud int64
			var seen bool
			if err := rows.Scan(&aud, &seen); err != nil {
				return v, false, err
			}
			v.guard++
			if seen {
				v.sets = append(v.sets, aud)
			}
		}
		if err := rows.Err(); err != nil {
			return v, false, err
		}
		if v.all = v.guard > 0 && int64(len(v.sets)) == v.guard; v.all {
			v.sets = nil
		}
		db.mu.Lock()
		if len(db.visSets) >= maxCached {
			clear(db.visSets)
		}
		db.visSets[key] = v
		db.mu.Unlock()
	}
	return v, v.guard > 0 && (v.all || len(v.sets) > 0), nil
}

// forgetSets drops the cached sets of key, when a guarded query selected
// nothing: they may be stale.
func (db *DB) forgetSets(key string) {
	db.mu.Lock()
	delete(db.visSets, key)
	db.mu.Unlock()
}

// sqlVisibleSets lists the audience sets of a collection, how many
// versions each has there, and whether the reader keys (a JSON array) see it.
const sqlVisibleSets = `SELECT ca.aud, ca.n, EXISTS (SELECT 1 FROM audience_readers ar
		WHERE ar.reader IN (SELECT value FROM json_each(?)) AND ar.audience = ca.aud)
	FROM collection_audiences ca WHERE ca.coll = ? AND ca.n > 0`

// visibleSets works out what readers may see of coll.
func visibleSets(ctx context.Context, q queryer, coll int64, readers []string) (visibility, error) {
	if readers == nil {
		return visibility{all: true}, nil
	}
	var v visibility
	if len(readers) == 0 {
		return v, nil
	}
	list, err := json.Marshal(readers)
	if err != nil {
		return v, err
	}
	rows, err := q.QueryContext(ctx, sqlVisibleSets, string(list), coll)
	if err != nil {
		return v, err
	}
	defer rows.Close()
	for rows.Next() {
		var aud, n int64
		var ok bool
		if err := rows.Scan(&aud, &n, &ok); err != nil {
			return v, err
		}
		v.total += n
		if ok {
			v.sets = append(v.sets, aud)
			v.visible += n
		}
	}
	if err := rows.Err(); err != nil {
		return v, err
	}
	v.all = v.visible == v.total && v.total > 0
	return v, nil
}

// readerSets returns every audience set that readers may see, in any
// collection (nil readers: no restriction).
func readerSets(ctx context.Context, q queryer, readers []string) (visibility, error) {
	if readers == nil {
		return visibility{all: true}, nil
	}
	v := visibility{sets: []int64{}}
	if len(readers) == 0 {
		return v, nil
	}
	args := make([]any, len(readers))
	for i, r := range readers {
		args[i] = r
	}
	rows, err := q.QueryContext(ctx, `SELECT DISTINCT audience FROM audience_readers WHERE reader IN (`+marks(len(readers))+`)`, args...)
	if err != nil {
		return v, err
	}
	defer rows.Close()
	for rows.Next() {
		var aud int64
		if err := rows.Scan(&aud); err != nil {
			return v, err
		}
		v.sets = append(v.sets, aud)
	}
	return v, rows.Err()
}

// pageColumns is the select list of a page, decoded by pageDecoder.scan.
const pageColumns = `o.object_id, o.type, o.meta, o.aud, o.date_added_us, o.raw`

// Query answers one page of a filter. See store.Filter for the semantics.
//
// A reader's page is read in one statement that works out the audience
// sets the reader may see (visibleSets decides how, outside it), unless it
// merges sets (selector.merge) or the reader sees nothing: then the page
// and the sets it lists are read in one transaction, so that they are of
// one snapshot.
func (db *DB) Query(ctx context.Context, collectionID string, f store.Filter) (store.Page, error) {
	if err := db.check("query"); err != nil {
		return store.Page{}, err
	}
	if f.Limit <= 0 {
		return store.Page{}, fmt.Errorf("sqlite: query: limit %d: %w", f.Limit, store.ErrInvalid)
	}
	if _, err := parseVersions(f.Versions); err != nil {
		return store.Page{}, fmt.Errorf("sqlite: query: %w", err)
	}
	r := &reads{db: db}
	page, err := db.queryPage(ctx, r, collectionID, f)
	if errors.Is(err, errSnapshot) {
		var tx *sql.Tx
		if tx, err = db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true}); err == nil {
			r.tx = tx
			page, err = db.queryPage(ctx, r, collectionID, f)
			tx.Rollback()
		}
	}
	r.done(ctx)
	if err != nil {
		return store.Page{}, fmt.Errorf("sqlite: query: %w", err)
	}
	return page, nil
}

// errSnapshot is what queryPage returns, outside a transaction, when the
// page must be read in one.
var errSnapshot = errors.New("a snapshot is needed")

func (db *DB) queryPage(ctx context.Context, r *reads, collectionID string, f store.Filter) (store.Page, error) {
	coll, err := db.collectionPK(ctx, r, collectionID)
	if err != nil {
		return store.Page{}, err
	}
	sel := selector{coll: coll, f: f, vis: visibility{all: true}}
	merge := false
	if f.Readers != nil && len(f.Readers) == 0 {
		return store.Page{Versions: []store.Version{}}, nil // sees nothing
	}
	var key, readersJSON string // the cache key of the reader's sets, when they are used
	if f.Readers != nil {
		sorted := slices.Clone(f.Readers)
		slices.Sort(sorted)
		readers, err := json.Marshal(slices.Compact(sorted))
		if err != nil {
			return store.Page{}, err
		}
		k := strconv.FormatInt(coll, 10) + " " + string(readers)
		db.mu.Lock()
		d, scan := db.scans[k]
		db.mu.Unlock()
		if !scan || time.Since(d.at) > scanFor || r.tx != nil {
			if sel.vis, err = visibleSets(ctx, r, coll, f.Readers); err != nil {
				return store.Page{}, err
			}
			merge = sel.merge()
			scan = !merge && len(sel.vis.sets) > 0
		}
		if r.tx == nil {
			if !scan {
				return store.Page{}, errSnapshot
			}
			db.mu.Lock()
			if len(db.scans) >= maxCached {
				clear(db.scans)
			}
			db.scans[k] = scanDecision{at: time.Now()}
			db.mu.Unlock()
			// The sets read may be stale by the time the page is: the
			// page query either checks that the cached ones are not
			// (guard) or works them out itself.
			sel.vis = visibility{readers: string(readers)}
			v, ok, err := db.cachedSets(ctx, r, coll, k, string(readers))
			if err != nil {
				return store.Page{}, err
			}
			if ok {
				sel.vis, key, readersJSON = v, k, string(readers)
			}
		}
	}
	if !sel.vis.all && sel.vis.readers == "" && len(sel.vis.sets) == 0 {
		return store.Page{Versions: []store.Version{}}, nil
	}
	page, err := db.readPage(ctx, r, sel, merge)
	if err == nil && key != "" && len(page.Versions) == 0 {
		// Nothing selected: perhaps the guard failed. Read again
		// with the sets worked out by the query.
		db.forgetSets(key)
		sel.vis = visibility{readers: readersJSON}
		page, err = db.readPage(ctx, r, sel, merge)
	}
	return page, err
}

// readPage reads the page that sel selects, merging audience sets or not.
func (db *DB) readPage(ctx context.Context, r *reads, sel selector, merge bool) (store.Page, error) {
	f := sel.f
	query, args, err := sel.pageQuery(merge)
	if err != nil {
		return store.Page{}, err
	}
	args = append(args, f.Limit+1)
	rows, err := r.QueryContext(ctx, query, args...)
	if err != nil {
		return store.Page{}, err
	}
	defer rows.Close()
	page := store.Page{Versions: make([]store.Version, 0, min(f.Limit, 1024))}
	d := newPageDecoder(db)
	for rows.Next() {
		if len(page.Versions) == f.Limit {
			page.More = true
			break
		}
		page.Versions = append(page.Versions, store.Version{})
		if err := d.scan(rows, &page.Versions[len(page.Versions)-1]); err != nil {
			return store.Page{}, err
		}
	}
	if err := rows.Err(); err != nil {
		return store.Page{}, err
	}
	rows.Close()
	if err := d.audiences(ctx, r, page.Versions); err != nil {
		return store.Page{}, err
	}
	return page, nil
}

// pageDecoder decodes the rows of one page. Most versions of a page share
// a handful of audiences and marking sets, so each distinct value is
// decoded once and copied for every version that has it; the copies of a
// page share a few allocations (strs).
type pageDecoder struct {
	db       *DB
	markings map[string]markings
	auds     []int64 // the audience set of each version decoded
	strs     []string

	// What rows.Scan writes, and dest pointing at it, for all the rows.
	id, typ, meta string
	aud, added    int64
	// The driver reads every blob into a new slice, which database/sql
	// would copy again into a []byte; RawBytes keeps that slice
	// (TestRawBytesKept checks that the driver does not reuse it).
	raw  sql.RawBytes
	dest []any
}

func newPageDecoder(db *DB) *pageDecoder {
	d := &pageDecoder{db: db}
	d.dest = []any{&d.id, &d.typ, &d.meta, &d.aud, &d.added, &d.raw}
	return d
}

// scan decodes one row of the pageColumns select list into v; the
// audience is filled in by audiences once the rows are closed.
func (d *pageDecoder) scan(rows *sql.Rows, v *store.Version) error {
	if err := rows.Scan(d.dest...); err != nil {
		return err
	}
	o := &v.Object
	o.ID, o.Type, o.Raw = d.id, d.typ, json.RawMessage(d.raw)
	f, err := unpackMeta(d.meta)
	if err != nil {
		return fmt.Errorf("version %s: %w", o.ID, err)
	}
	o.SpecVersion, o.Created, o.Modified, o.CreatedByRef = f[metaSpecVersion], f[metaCreated], f[metaModified], f[metaCreatedByRef]
	o.Revoked = f[metaRevoked] != ""
	v.Origin = f[metaOrigin]
	if mk := f[metaMarkings]; mk != "" {
		m, ok := d.markings[mk]
		if !ok {
			if err := json.Unmarshal([]byte(mk), &m); err != nil {
				return fmt.Errorf("markings of %s: %w", o.ID, err)
			}
			if d.markings == nil {
				d.markings = map[string]markings{}
			}
			d.markings[mk] = m
		}
		o.MarkingRefs = d.clone(m.Refs)
		if len(m.Granular) > 0 {
			o.Granular = make([]stix.GranularMarking, len(m.Granular))
			for i, g := range m.Granular {
				o.Granular[i] = g
				o.Granular[i].Selectors = d.clone(g.Selectors)
			}
		}
	}
	d.auds = append(d.auds, d.aud)
	v.DateAdded = fromMicros(d.added)
	return nil
}

// clone copies s into the page's shared backing array; the copy has no
// spare capacity, so appending to it never touches another version's.
func (d *pageDecoder) clone(s []string) []string {
	if s == nil {
		return nil
	}
	if cap(d.strs)-len(d.strs) < len(s) {
		d.strs = make([]string, 0, max(256, len(s)))
	}
	start := len(d.strs)
	d.strs = append(d.strs, s...)
	return d.strs[start:len(d.strs):len(d.strs)]
}

const sqlAudiences = `SELECT id, readers FROM audiences WHERE id IN (SELECT value FROM json_each(?))`

// audiences fills in the audience of every version scanned, from the
// cache of audience sets, reading the sets it lacks through q.
func (d *pageDecoder) audiences(ctx context.Context, q queryer, vs []store.Version) error {
	db := d.db
	var missing []int64
	db.mu.Lock()
	for _, aud := range d.auds[:len(vs)] {
		if _, ok := db.audByID[aud]; !ok && !slices.Contains(missing, aud) {
			missing = append(missing, aud)
		}
	}
	db.mu.Unlock()
	if len(missing) > 0 {
		rows, err := q.QueryContext(ctx, sqlAudiences, jsonArray(missing))
		if err != nil {
			return err
		}
		defer rows.Close()
		found := map[int64][]string{}
		for rows.Next() {
			var id int64
			var readers string
			if err := rows.Scan(&id, &readers); err != nil {
				return err
			}
			var set []string
			if err := json.Unmarshal([]byte(readers), &set); err != nil {
				return fmt.Errorf("audience set %d: %w", id, err)
			}
			found[id] = set
		}
		if err := rows.Err(); err != nil {
			return err
		}
		// Only committed sets are visible to a read: cache them.
		db.mu.Lock()
		for id, set := range found {
			db.audByID[id] = set
		}
		db.mu.Unlock()
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	d.strs = make([]string, 0, len(vs)*2)
	for i := range vs {
		set, ok := db.audByID[d.auds[i]]
		if !ok {
			return fmt.Errorf("version %s: audience set %d is missing", vs[i].Object.ID, d.auds[i])
		}
		vs[i].Audience = d.clone(set)
	}
	return nil
}

// DeleteVersions deletes the selected versions of one object. See
// store.Objects.
func (db *DB) DeleteVersions(ctx context.Context, collectionID, objectID string, f store.Filter) (int, error) {
	if err := db.check("delete versions"); err != nil {
		return 0, err
	}
	f.IDs = []string{objectID}
	f.AddedAfter = time.Time{}
	var n int64
	err := db.write(ctx, func(tx *sql.Tx) error {
		coll, err := db.collectionPK(ctx, tx, collectionID)
		if err != nil {
			return err
		}
		vis, err := readerSets(ctx, tx, f.Readers)
		if err != nil {
			return err
		}
		from, where, args, err := selector{coll: coll, f: f, del: true, vis: vis}.build(nil)
		if err != nil {
			return err
		}
		// The selection is computed before anything is deleted: "first" and
		// "last" mean the first and last before this request.
		if _, err := tx.ExecContext(ctx, `CREATE TEMP TABLE IF NOT EXISTS doomed (seq INTEGER PRIMARY KEY)`); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM temp.doomed`); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO temp.doomed (seq) SELECT o.seq FROM `+from+` WHERE `+where, args...); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE collection_audiences AS c SET n = c.n - d.n
			FROM (SELECT o.aud, COUNT(*) AS n FROM temp.doomed t JOIN objects o ON o.seq = t.seq GROUP BY o.aud) AS d
			WHERE c.coll = ? AND c.aud = d.aud`, coll); err != nil {
			return err
		}
		r, err := tx.ExecContext(ctx, `DELETE FROM objects WHERE seq IN (SELECT seq FROM temp.doomed)`)
		if err != nil {
			return err
		}
		if n, err = r.RowsAffected(); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE objects SET sole = (SELECT COUNT(*) = 1 FROM objects x
			WHERE x.coll = objects.coll AND x.object_id = objects.object_id) WHERE coll = ? AND object_id = ?`, coll, objectID)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("sqlite: delete versions: %w", err)
	}
	if n == 0 {
		return 0, fmt.Errorf("sqlite: delete versions: %s: %w", objectID, store.ErrNotFound)
	}
	return int(n), nil
}

// versionSelection is a parsed match[version].
type versionSelection struct {
	first, last, all bool
	exact            []int64
}

func parseVersions(versions []string) (versionSelection, error) {
	var s versionSelection
	for _, v := range versions {
		switch v {
		case "first":
			s.first = true
		case "last":
			s.last = true
		case "all":
			s.all = true
		default:
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return s, fmt.Errorf("match[version] %q: %w", v, store.ErrInvalid)
			}
			s.exact = append(s.exact, t.UnixMicro())
		}
	}
	return s, nil
}

// selector builds the SQL that selects, as "o", the versions of collection
// coll matching f, in the order store.Filter documents:
//
//  1. visibility: only versions of the audience sets the reader may see;
//  2. match[id] and match[type] (TAXII 2.1 §3.4.2);
//  3. match[spec_version]: the listed spec versions, or by default only the
//     latest spec version of each object among its visible versions;
//  4. match[version] among the versions left by 1-3: "last" and "first"
//     per object, "all", or exact timestamps compared as instants; several
//     values OR.
//
// Spec-version selection comes before version selection so that "first"
// and "last" pick among the versions actually served: with a 2.0 first
// version and 2.1 later ones, "first" is the first 2.1 version rather than
// a 2.0 version that the default spec-version rule would then hide.
//
// Everything is pushed into SQL (correlated NOT EXISTS on the objects_version
// index, which covers them) so that pages are full and nothing invisible is
// counted. The sole flag short-circuits those subqueries for the common
// object that has a single stored version, which is then trivially first,
// last and latest. For DeleteVersions (del), empty Versions and
// SpecVersions mean all.
type selector struct {
	coll int64
	f    store.Filter
	del  bool
	vis  visibility
}

// merge reports whether a page is read by merging, in date_added order, the
// versions of each audience set the reader may see (objects_aud) rather
// than by scanning the collection and skipping what the reader may not see
// (objects_added): when the reader sees a small part of the collection, a
// scan would read many versions per match. Filters on ids or one type have
// their own index.
func (s selector) merge() bool {
	if s.vis.all || len(s.vis.sets) == 0 || len(s.vis.sets) > maxMerge || len(s.f.IDs) > 0 || len(s.f.Types) == 1 {
		return false
	}
	return len(s.vis.sets) == 1 || s.vis.visible*mergeFraction < s.vis.total
}

// pageQuery is the query of a page, merging audience sets or not; its
// last placeholder is the LIMIT, left to fill.
func (s selector) pageQuery(merge bool) (string, []any, error) {
	if merge {
		return s.mergeQuery()
	}
	from, where, args, err := s.build(nil)
	if err != nil {
		return "", nil, err
	}
	return s.with() + `SELECT ` + pageColumns + ` FROM ` + from + ` WHERE ` + where + ` ORDER BY o.date_added_us LIMIT ?`,
		append(s.withArgs(), args...), nil
}

// mergeQuery is the page query that merges the audience sets: one SELECT
// per set on objects_aud, each in date_added order, so that SQLite merges
// them and stops after the limit (the LIMIT placeholder is left to fill).
func (s selector) mergeQuery() (string, []any, error) {
	var b strings.Builder
	var args []any
	for i, aud := range s.vis.sets {
		from, where, a, err := s.build(&aud)
		if err != nil {
			return "", nil, err
		}
		if i > 0 {
			b.WriteString(" UNION ALL ")
		}
		b.WriteString(`SELECT ` + pageColumns + ` FROM ` + from + ` WHERE ` + where)
		args = append(args, a...)
	}
	if len(s.vis.sets) == 1 {
		b.WriteString(` ORDER BY o.date_added_us LIMIT ?`)
	} else {
		b.WriteString(` ORDER BY 5 LIMIT ?`)
	}
	return b.String(), args, nil
}

// with is the WITH clause that the conditions of build need: the visible
// audience sets, worked out once per query, when the query works them out.
func (s selector) with() string {
	if s.vis.readers == "" {
		return ""
	}
	return `WITH visible (aud) AS MATERIALIZED (SELECT ar.audience FROM audience_readers ar
		WHERE ar.reader IN (SELECT value FROM json_each(?))) `
}

func (s selector) withArgs() []any {
	if s.vis.readers == "" {
		return nil
	}
	return []any{s.vis.readers}
}

// inlineSets is how many audience set ids are written as placeholders;
// longer lists go as one JSON array.
const inlineSets = 64

// build returns the FROM and WHERE clauses. With own, the versions are
// those of that one audience set, read through objects_aud; otherwise the
// index of the scan is chosen here rather than by the planner, which has no
// statistics to go by and would otherwise scan every version of a type to
// avoid sorting the few versions of the listed ids: objects_version when
// ids are listed (a handful of rows, sorted after), objects_type for one
// type, and otherwise objects_added, which yields rows in date_added order
// so that a page stops after Limit+1 matches.
func (s selector) build(own *int64) (from, where string, args []any, err error) {
	f := s.f
	sel, err := parseVersions(f.Versions)
	if err != nil {
		return "", "", nil, err
	}
	switch {
	case own != nil:
		from = `objects o INDEXED BY objects_aud`
	case len(f.IDs) > 0:
		from = `objects o INDEXED BY objects_version`
	case len(f.Types) == 1:
		from = `objects o INDEXED BY objects_type`
	default:
		from = `objects o INDEXED BY objects_added`
	}
	var w strings.Builder
	w.WriteString(`o.coll = ?`)
	args = append(args, s.coll)
	if s.vis.guard > 0 && s.vis.readers == "" {
		w.WriteString(` AND (SELECT count(*) FROM collection_audiences WHERE coll = ?) = ?`)
		args = append(args, s.coll, s.vis.guard)
	}

	// vis appends the visibility condition of alias a.
	vis := func(a string) {
		switch {
		case s.vis.readers != "":
			w.WriteString(` AND ` + a + `.aud IN visible`)
		case s.vis.all:
		case len(s.vis.sets) == 0:
			w.WriteString(` AND 0 = 1`)
		case len(s.vis.sets) > inlineSets:
			w.WriteString(` AND ` + a + `.aud IN (SELECT value FROM json_each(?))`)
			args = append(args, jsonArray(s.vis.sets))
		default:
			w.WriteString(` AND ` + a + `.aud IN (` + marks(len(s.vis.sets)) + `)`)
			for _, id := range s.vis.sets {
				args = append(args, id)
			}
		}
	}
	in := func(col string, vals []string) {
		w.WriteString(` AND ` + col + ` IN (` + marks(len(vals)) + `)`)
		for _, v := range vals {
			args = append(args, v)
		}
	}

	if own != nil {
		w.WriteString(` AND o.aud = ?`)
		args = append(args, *own)
	} else {
		vis("o")
	}
	if !f.AddedAfter.IsZero() {
		// AddedAfter applies to what is selected: strictly after, compared
		// at the microsecond precision of date_added.
		w.WriteString(` AND o.date_added_us > ?`)
		args = append(args, f.AddedAfter.UnixMicro())
	}
	if len(f.IDs) > 0 {
		in("o.object_id", f.IDs)
	}
	if len(f.Types) > 0 {
		in("o.type", f.Types)
	}

	// Spec-version selection, and the matching condition on another version
	// p of the same object for the version selection below.
	var pSpec func()
	switch {
	case len(f.SpecVersions) > 0:
		in("o.spec", f.SpecVersions)
		pSpec = func() { in("p.spec", f.SpecVersions) }
	case s.del:
		pSpec = func() {}
	default:
		w.WriteString(` AND (o.sole = 1 OR NOT EXISTS (SELECT 1 FROM objects p INDEXED BY objects_version
			WHERE p.coll = o.coll AND p.object_id = o.object_id AND p.spec_rank > o.spec_rank`)
		vis("p")
		w.WriteString(`))`)
		pSpec = func() { w.WriteString(` AND p.spec_rank = o.spec_rank`) }
	}

	if len(f.Versions) == 0 {
		if s.del {
			sel.all = true
		} else {
			sel.last = true
		}
	}
	if sel.all {
		return from, w.String(), args, nil
	}
	var terms int
	term := func() {
		if terms > 0 {
			w.WriteString(` OR `)
		}
		terms++
	}
	w.WriteString(` AND (`)
	for _, side := range []struct {
		on bool
		op string
	}{{sel.last, ">"}, {sel.first, "<"}} {
		if !side.on {
			continue
		}
		term()
		w.WriteString(`o.sole = 1 OR NOT EXISTS (SELECT 1 FROM objects p INDEXED BY objects_version
			WHERE p.coll = o.coll AND p.object_id = o.object_id AND p.version_us ` + side.op + ` o.version_us`)
		pSpec()
		vis("p")
		w.WriteString(`)`)
	}
	if len(sel.exact) > 0 {
		term()
		w.WriteString(`o.version_us IN (` + marks(len(sel.exact)) + `)`)
		for _, us := range sel.exact {
			args = append(args, us)
		}
	}
	w.WriteString(`)`)
	return from, w.String(), args, nil
}

// marks returns n comma-separated placeholders.
func marks(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

// sqlStoredIDs keeps the ids of ?2 (a JSON array) that have a stored
// version in collection ?1: one probe of objects_version per id, which
// stops at the first version found.
const sqlStoredIDs = `SELECT j.value FROM json_each(?2) j
	WHERE EXISTS (SELECT 1 FROM objects o INDEXED BY objects_version WHERE o.coll = ?1 AND o.object_id = j.value)`

// StoredIDs returns those of ids that have at least one stored version in
// the collection, each once, in key order. It lets a batch skip
// the history of the ids a collection has never seen (most of a federation
// catch-up) with one cheap query instead of a page query over all of
// them.
func (db *DB) StoredIDs(ctx context.Context, collectionID string, ids []string) ([]string, error) {
	if err := db.check("stored ids"); err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, nil
	}
	// Each id once, probed in key order: neighbouring probes find their
	// index pages already in the connection's cache.
	list, err := json.Marshal(slices.Compact(slices.Sorted(slices.Values(ids))))
	if err != nil {
		return nil, fmt.Errorf("sqlite: stored ids: %w", err)
	}
	r := &reads{db: db}
	defer r.done(ctx)
	coll, err := db.collectionPK(ctx, r, collectionID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: stored ids: %w", err)
	}
	rows, err := r.QueryContext(ctx, sqlStoredIDs, coll, string(list))
	if err != nil {
		return nil, fmt.Errorf("sqlite: stored ids: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("sqlite: stored ids: %w", err)
		}
		out = append(out, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: stored ids: %w", err)
	}
	return out, nil
}
