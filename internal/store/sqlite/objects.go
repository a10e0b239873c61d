package sqlite

import (
	"bytes"
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

// markings is what the markings column holds: the marking properties of a
// version, so that a page is decoded without parsing each raw object.
type markings struct {
	Refs     []string               `json:"r,omitempty"`
	Granular []stix.GranularMarking `json:"g,omitempty"`
}

// versionKey is how a version is identified and ordered within its object.
type versionKey struct {
	versioned bool  // false for objects with neither modified nor created
	us        int64 // the instant of modified, else created, in microseconds
}

// keyOf computes the version key of o.
//
// The version of a STIX object is its modified timestamp, else its created
// timestamp (STIX 2.1 §3.6; TAXII 2.1 §3.4.2 match[version]). Objects with
// neither, such as SCOs, carry no version information of their own; TAXII
// 2.1 §5.3 (manifest-record "version") then leaves it to the server to use
// a value that is consistent for the server. This store uses the version's
// date_added: each distinct content of such an object becomes its own
// version identified by its arrival time, which is what the manifest
// reports, what match[version] compares exact values with, and what orders
// "first" and "last". Identical bytes are still a Duplicate, never a second
// version. Timestamps compare as instants at microsecond precision, so
// "2016-01-01T00:00:00Z" and "2016-01-01T00:00:00.000Z" are the same version.
func keyOf(o stix.Object) (versionKey, error) {
	s := o.Version()
	if s == "" {
		return versionKey{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return versionKey{}, fmt.Errorf("version timestamp %q is not RFC 3339", s)
	}
	return versionKey{versioned: true, us: t.UnixMicro()}, nil
}

// effectiveSpec is the spec version an object is written in. STIX 2.0
// objects carry no spec_version property (only their bundle did), and STIX
// 2.1 makes it optional on SCOs (STIX 2.1 §3.2), which 2.0 never had as
// top-level objects. So an object without the property is 2.1 when it has
// no created timestamp (an SCO) and 2.0 otherwise.
func effectiveSpec(o stix.Object) string {
	if o.SpecVersion != "" {
		return o.SpecVersion
	}
	if o.Created == "" && o.Modified == "" {
		return "2.1"
	}
	return "2.0"
}

// specRank orders spec versions numerically ("2.10" after "2.9");
// unparseable ones rank lowest.
func specRank(spec string) int64 {
	maj, min, ok := strings.Cut(spec, ".")
	a, err1 := strconv.ParseInt(maj, 10, 32)
	b, err2 := strconv.ParseInt(min, 10, 32)
	if !ok || err1 != nil || err2 != nil || a < 0 || b < 0 || b >= 1000 {
		return 0
	}
	return a*1000 + b
}

// AddVersions stores a batch in one transaction. See store.Objects.
//
// Each new version gets date_added = max(now, last + 1µs), where last is
// the highest date_added ever assigned in the collection (kept in the
// collection row, so that deleting the newest versions never lets a later
// one reuse an arrival time a client has already paged past). The write
// lock held by the immediate transaction makes this strictly increasing
// across goroutines and processes, so no two versions of a collection share
// an arrival time and paging with added_after never skips or repeats
// (added_after, TAXII 2.1 §3.4).
func (db *DB) AddVersions(ctx context.Context, collectionID string, vs []store.Version) ([]store.AddResult, error) {
	if err := db.check("add versions"); err != nil {
		return nil, err
	}
	res := make([]store.AddResult, len(vs))
	err := db.write(ctx, func(tx *sql.Tx) error { return db.addVersionsTx(ctx, tx, collectionID, vs, res) })
	if err != nil {
		return nil, fmt.Errorf("sqlite: add versions: %w", err)
	}
	return res, nil
}

// addVersionsTx is the body of AddVersions inside tx, filling res; it lets
// other writes (federation checkpoints) share the transaction that stores
// the versions.
func (db *DB) addVersionsTx(ctx context.Context, tx *sql.Tx, collectionID string, vs []store.Version, res []store.AddResult) error {
	var coll, last int64
	err := tx.QueryRowContext(ctx, `SELECT pk, last_added_us FROM collections WHERE id = ?`, collectionID).Scan(&coll, &last)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("collection %q: %w", collectionID, store.ErrNotFound)
	}
	if err != nil {
		return err
	}
	first := last
	ins, err := tx.PrepareContext(ctx, `INSERT INTO objects
			(coll, object_id, type, spec_version, spec, spec_rank, created, modified, versioned, sole,
			 version_us, date_added_us, revoked, created_by_ref, markings, audience, origin, raw)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (coll, object_id, version_us) DO NOTHING`)
	if err != nil {
		return err
	}
	defer ins.Close()
	same, err := tx.PrepareContext(ctx, `SELECT raw, date_added_us FROM objects WHERE coll = ? AND object_id = ? AND version_us = ?`)
	if err != nil {
		return err
	}
	defer same.Close()
	unversioned, err := tx.PrepareContext(ctx, `SELECT raw, date_added_us FROM objects WHERE coll = ? AND object_id = ? AND versioned = 0`)
	if err != nil {
		return err
	}
	defer unversioned.Close()
	taken, err := tx.PrepareContext(ctx, `SELECT COUNT(*) FROM objects WHERE coll = ? AND object_id = ? AND version_us = ?`)
	if err != nil {
		return err
	}
	defer taken.Close()

	now := time.Now().UnixMicro()
	for i, v := range vs {
		o := v.Object
		if o.ID == "" || len(o.Raw) == 0 {
			res[i] = store.AddResult{Outcome: store.Rejected, Message: "object has no id or no content"}
			continue
		}
		k, err := keyOf(o)
		if err != nil {
			res[i] = store.AddResult{Outcome: store.Rejected, Message: err.Error()}
			continue
		}
		if !k.versioned {
			// Identical bytes of an unversioned object are the same
			// version, whenever they arrived.
			dup, at, err := findIdentical(ctx, unversioned, o.Raw, coll, o.ID)
			if err != nil {
				return err
			}
			if dup {
				res[i] = store.AddResult{Outcome: store.Duplicate, DateAdded: fromMicros(at)}
				continue
			}
		}
		added := max(now, last+1)
		if !k.versioned {
			// Its version is its date_added; skip any instant that a
			// versioned row of the same id already uses.
			for {
				var n int
				if err := taken.QueryRowContext(ctx, coll, o.ID, added).Scan(&n); err != nil {
					return err
				}
				if n == 0 {
					break
				}
				added++
			}
			k.us = added
		}
		mk := ""
		if len(o.MarkingRefs) > 0 || len(o.Granular) > 0 {
			b, err := json.Marshal(markings{Refs: o.MarkingRefs, Granular: o.Granular})
			if err != nil {
				return err
			}
			mk = string(b)
		}
		audience, err := json.Marshal(nonNil(v.Audience))
		if err != nil {
			return err
		}
		spec := effectiveSpec(o)
		r, err := ins.ExecContext(ctx, coll, o.ID, o.Type, o.SpecVersion, spec, specRank(spec), o.Created, o.Modified,
			k.versioned, k.us, added, o.Revoked, o.CreatedByRef, mk, string(audience), v.Origin, []byte(o.Raw))
		if err != nil {
			return err
		}
		n, err := r.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			// The same id and version is stored: a duplicate when the
			// bytes are identical, otherwise a conflicting edit of an
			// immutable version (STIX 2.1 §3.6).
			var raw []byte
			var at int64
			if err := same.QueryRowContext(ctx, coll, o.ID, k.us).Scan(&raw, &at); err != nil {
				return err
			}
			if bytes.Equal(raw, o.Raw) {
				res[i] = store.AddResult{Outcome: store.Duplicate, DateAdded: fromMicros(at)}
			} else {
				res[i] = store.AddResult{Outcome: store.Rejected, DateAdded: fromMicros(at),
					Message: fmt.Sprintf("version %s of %s is already stored with different content; versions are immutable", o.Version(), o.ID)}
			}
			continue
		}
		last = added
		res[i] = store.AddResult{Outcome: store.Added, DateAdded: fromMicros(added)}
	}
	if last == first {
		return nil // nothing new
	}
	// The audience rows of everything this batch stored, in one
	// statement: its versions are exactly those of the collection
	// added after the previous last date_added.
	if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO audience (seq, reader)
			SELECT o.seq, j.value FROM objects o, json_each(o.audience) j
			WHERE o.coll = ? AND o.date_added_us > ?`, coll, first); err != nil {
		return err
	}
	// Versions of objects that now have several are no longer sole.
	if _, err := tx.ExecContext(ctx, `UPDATE objects SET sole = 0
			WHERE coll = ?1 AND sole = 1 AND object_id IN (
				SELECT n.object_id FROM objects n WHERE n.coll = ?1 AND n.date_added_us > ?2
				AND EXISTS (SELECT 1 FROM objects x WHERE x.coll = ?1 AND x.object_id = n.object_id AND x.seq <> n.seq))`,
		coll, first); err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `UPDATE collections SET last_added_us = ? WHERE pk = ?`, last, coll)
	return err
}

// findIdentical looks for a stored unversioned version of id with exactly
// the bytes raw.
func findIdentical(ctx context.Context, stmt *sql.Stmt, raw []byte, coll int64, id string) (bool, int64, error) {
	rows, err := stmt.QueryContext(ctx, coll, id)
	if err != nil {
		return false, 0, err
	}
	defer rows.Close()
	for rows.Next() {
		var b []byte
		var at int64
		if err := rows.Scan(&b, &at); err != nil {
			return false, 0, err
		}
		if bytes.Equal(b, raw) {
			return true, at, nil
		}
	}
	return false, 0, rows.Err()
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Query answers one page of a filter. See store.Filter for the semantics.
func (db *DB) Query(ctx context.Context, collectionID string, f store.Filter) (store.Page, error) {
	if err := db.check("query"); err != nil {
		return store.Page{}, err
	}
	if f.Limit <= 0 {
		return store.Page{}, fmt.Errorf("sqlite: query: limit %d: %w", f.Limit, store.ErrInvalid)
	}
	coll, err := db.collectionPK(ctx, db.r, collectionID)
	if err != nil {
		return store.Page{}, fmt.Errorf("sqlite: query: %w", err)
	}
	from, where, args, err := selection(coll, f, false)
	if err != nil {
		return store.Page{}, fmt.Errorf("sqlite: query: %w", err)
	}
	if f.AddedAfter.After(time.Time{}) {
		// AddedAfter applies to what is selected: strictly after, compared
		// at the microsecond precision of date_added.
		where += ` AND o.date_added_us > ?`
		args = append(args, f.AddedAfter.UnixMicro())
	}
	q := `SELECT o.object_id, o.type, o.spec_version, o.created, o.modified, o.revoked, o.created_by_ref,
		o.markings, o.audience, o.origin, o.date_added_us, o.raw
		FROM ` + from + ` WHERE ` + where + ` ORDER BY o.date_added_us LIMIT ?`
	args = append(args, f.Limit+1)
	rows, err := db.r.QueryContext(ctx, q, args...)
	if err != nil {
		return store.Page{}, fmt.Errorf("sqlite: query: %w", err)
	}
	defer rows.Close()
	page := store.Page{Versions: make([]store.Version, 0, min(f.Limit, 1024))}
	var d pageDecoder
	for rows.Next() {
		if len(page.Versions) == f.Limit {
			page.More = true
			break
		}
		v, err := d.scan(rows)
		if err != nil {
			return store.Page{}, fmt.Errorf("sqlite: query: %w", err)
		}
		page.Versions = append(page.Versions, v)
	}
	if err := rows.Err(); err != nil {
		return store.Page{}, fmt.Errorf("sqlite: query: %w", err)
	}
	return page, nil
}

// pageDecoder decodes the rows of one page. Most versions of a page share
// a handful of audiences and marking sets, so each distinct JSON value is
// decoded once and copied for every version that has it.
type pageDecoder struct {
	audiences map[string][]string
	markings  map[string]markings
}

// scan decodes one row of the Query select list.
func (d *pageDecoder) scan(rows *sql.Rows) (store.Version, error) {
	var (
		v       store.Version
		o       = &v.Object
		mk, aud string
		added   int64
		raw     []byte
	)
	if err := rows.Scan(&o.ID, &o.Type, &o.SpecVersion, &o.Created, &o.Modified, &o.Revoked, &o.CreatedByRef,
		&mk, &aud, &v.Origin, &added, &raw); err != nil {
		return v, err
	}
	o.Raw = json.RawMessage(raw)
	if mk != "" {
		m, ok := d.markings[mk]
		if !ok {
			if err := json.Unmarshal([]byte(mk), &m); err != nil {
				return v, fmt.Errorf("markings of %s: %w", o.ID, err)
			}
			if d.markings == nil {
				d.markings = map[string]markings{}
			}
			d.markings[mk] = m
		}
		o.MarkingRefs = slices.Clone(m.Refs)
		if len(m.Granular) > 0 {
			o.Granular = make([]stix.GranularMarking, len(m.Granular))
			for i, g := range m.Granular {
				o.Granular[i] = g
				o.Granular[i].Selectors = slices.Clone(g.Selectors)
			}
		}
	}
	a, ok := d.audiences[aud]
	if !ok {
		if err := json.Unmarshal([]byte(aud), &a); err != nil {
			return v, fmt.Errorf("audience of %s: %w", o.ID, err)
		}
		if d.audiences == nil {
			d.audiences = map[string][]string{}
		}
		d.audiences[aud] = a
	}
	v.Audience = slices.Clone(a)
	v.DateAdded = fromMicros(added)
	return v, nil
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
		from, where, args, err := selection(coll, f, true)
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
		if _, err := tx.ExecContext(ctx, `DELETE FROM audience WHERE seq IN (SELECT seq FROM temp.doomed)`); err != nil {
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

// queryer is what both *sql.DB and *sql.Tx offer.
type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// collectionPK finds the internal key of a collection by its id.
func (db *DB) collectionPK(ctx context.Context, q queryer, id string) (int64, error) {
	var pk int64
	err := q.QueryRowContext(ctx, `SELECT pk FROM collections WHERE id = ?`, id).Scan(&pk)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("collection %q: %w", id, store.ErrNotFound)
	}
	return pk, err
}

// selection builds the FROM and WHERE clauses that select, as "o", the
// versions of collection coll matching f, in the order store.Filter
// documents:
//
//  1. visibility: only versions whose audience meets f.Readers;
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
// index) so that pages are full and nothing invisible is counted. The sole
// flag short-circuits those subqueries for the common object that has a
// single stored version, which is then trivially first, last and latest.
//
// The index of the outer scan is chosen here rather than by the planner,
// which has no statistics to go by and would otherwise scan every version
// of a type to avoid sorting the few versions of the listed ids:
// objects_version when ids are listed (a handful of rows, sorted after),
// objects_type for one type, and otherwise objects_added, which yields rows
// in date_added order so that a page stops after Limit+1 matches. For
// DeleteVersions (del), empty Versions and SpecVersions mean all.
func selection(coll int64, f store.Filter, del bool) (from, where string, args []any, err error) {
	switch {
	case len(f.IDs) > 0:
		from = `objects o INDEXED BY objects_version`
	case len(f.Types) == 1:
		from = `objects o INDEXED BY objects_type`
	default:
		from = `objects o INDEXED BY objects_added`
	}
	var w strings.Builder
	w.WriteString(`o.coll = ?`)
	args = append(args, coll)

	// vis appends the visibility condition of alias a.
	vis := func(a string) {
		if f.Readers == nil {
			return
		}
		if len(f.Readers) == 0 {
			w.WriteString(` AND 0 = 1`)
			return
		}
		w.WriteString(` AND EXISTS (SELECT 1 FROM audience au WHERE au.seq = ` + a + `.seq AND au.reader IN (` + marks(len(f.Readers)) + `))`)
		for _, r := range f.Readers {
			args = append(args, r)
		}
	}
	in := func(col string, vals []string) {
		w.WriteString(` AND ` + col + ` IN (` + marks(len(vals)) + `)`)
		for _, v := range vals {
			args = append(args, v)
		}
	}

	vis("o")
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
	case del:
		pSpec = func() {}
	default:
		w.WriteString(` AND (o.sole = 1 OR NOT EXISTS (SELECT 1 FROM objects p WHERE p.coll = o.coll AND p.object_id = o.object_id AND p.spec_rank > o.spec_rank`)
		vis("p")
		w.WriteString(`))`)
		pSpec = func() { w.WriteString(` AND p.spec_rank = o.spec_rank`) }
	}

	versions := f.Versions
	if len(versions) == 0 {
		if del {
			versions = []string{"all"}
		} else {
			versions = []string{"last"}
		}
	}
	var (
		first, last, all bool
		exact            []int64
	)
	for _, v := range versions {
		switch v {
		case "first":
			first = true
		case "last":
			last = true
		case "all":
			all = true
		default:
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return "", "", nil, fmt.Errorf("match[version] %q: %w", v, store.ErrInvalid)
			}
			exact = append(exact, t.UnixMicro())
		}
	}
	if all {
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
	}{{last, ">"}, {first, "<"}} {
		if !side.on {
			continue
		}
		term()
		w.WriteString(`o.sole = 1 OR NOT EXISTS (SELECT 1 FROM objects p WHERE p.coll = o.coll AND p.object_id = o.object_id AND p.version_us ` + side.op + ` o.version_us`)
		pSpec()
		vis("p")
		w.WriteString(`)`)
	}
	if len(exact) > 0 {
		term()
		w.WriteString(`o.version_us IN (` + marks(len(exact)) + `)`)
		for _, us := range exact {
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
