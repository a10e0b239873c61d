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

// AddVersionsStatus stores a batch as AddVersions does and, in the same
// transaction, the status resource that status returns from the results
// (PutStatus), so that a TAXII Add Objects request costs one transaction.
// status is called once; when it or storing its status fails, nothing is
// stored.
func (db *DB) AddVersionsStatus(ctx context.Context, collectionID string, vs []store.Version,
	status func([]store.AddResult) (store.Status, error)) ([]store.AddResult, error) {
	if err := db.check("add versions"); err != nil {
		return nil, err
	}
	res := make([]store.AddResult, len(vs))
	err := db.write(ctx, func(tx *sql.Tx) error {
		if err := db.addVersionsTx(ctx, tx, collectionID, vs, res); err != nil {
			return err
		}
		st, err := status(res)
		if err != nil {
			return err
		}
		return db.putStatusTx(ctx, tx, st)
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: add versions: %w", err)
	}
	return res, nil
}

// stored is one version of an object that a batch deals with: already
// stored (seq > 0) or added by the batch itself (seq 0).
type stored struct {
	seq       int64
	us        int64 // version_us
	versioned bool
	added     int64 // date_added_us
	sole      bool
	size      int64  // length of raw
	raw       []byte // for versions of the batch, and stored ones it must compare with
}

// row is a new version to insert.
type row struct {
	v     *store.Version
	key   versionKey
	added int64
	aud   int64
}

// The statements of a batch. Everything that depends on how many ids or
// rows a batch has goes through a JSON array (json_each) or a fixed-size
// multi-row insert, so that all of them are prepared once per connection.
const (
	// The stored versions of the objects of a batch; raw only by length,
	// since comparing bytes is rare.
	sqlStoredVersions = `SELECT o.seq, o.object_id, o.version_us, o.versioned, o.date_added_us, o.sole, length(o.raw)
		FROM json_each(?2) j CROSS JOIN objects o INDEXED BY objects_version
		WHERE o.coll = ?1 AND o.object_id = j.value`
	sqlStoredRaw = `SELECT seq, raw FROM objects WHERE seq IN (SELECT value FROM json_each(?))`
	// OR FAIL, like the inserts below: without a conflict clause that may
	// abort, SQLite keeps no statement journal of the pages it changes.
	sqlNotSole       = `UPDATE OR FAIL objects SET sole = 0 WHERE seq IN (SELECT value FROM json_each(?))`
	sqlCollection    = `SELECT pk, last_added_us FROM collections WHERE id = ?`
	sqlLastAdded     = `UPDATE collections SET last_added_us = ? WHERE pk = ?`
	sqlCountAudience = `INSERT INTO collection_audiences (coll, aud, n) VALUES (?, ?, ?)
		ON CONFLICT (coll, aud) DO UPDATE SET n = n + excluded.n`
	sqlFindAudience   = `SELECT id FROM audiences WHERE readers = ?`
	sqlCreateAudience = `INSERT INTO audiences (readers) VALUES (?)`
	sqlAudienceReader = `INSERT OR IGNORE INTO audience_readers (reader, audience) VALUES (?, ?)`

	// OR FAIL: a failing insert fails the transaction anyway, so SQLite
	// need not journal each statement to undo it alone.
	insertColumns = 12
	sqlInsertHead = `INSERT OR FAIL INTO objects (coll, object_id, type, spec, spec_rank, versioned, sole,
		version_us, date_added_us, aud, meta, raw) VALUES `
)

// insertSizes are the row counts of the prepared multi-row inserts: a
// batch is written with as many of the largest as fit, then smaller ones.
var insertSizes = []int{128, 32, 8, 1}

// insertSQL is the insert of each of insertSizes rows.
var insertSQL = func() map[int]string {
	m := map[int]string{}
	one := "(" + marks(insertColumns) + ")"
	for _, n := range insertSizes {
		m[n] = sqlInsertHead + strings.TrimSuffix(strings.Repeat(one+",", n), ",")
	}
	return m
}()

// writerStatements are the statements prepared once on the writer.
func writerStatements() []string {
	qs := []string{sqlStoredVersions, sqlStoredRaw, sqlNotSole, sqlCollection, sqlLastAdded, sqlCountAudience,
		sqlFindAudience, sqlCreateAudience, sqlAudienceReader, sqlPutStatus, sqlPutCell, sqlPutProvenance}
	for _, n := range insertSizes {
		qs = append(qs, insertSQL[n])
	}
	return qs
}

// addVersionsTx is the body of AddVersions inside tx, filling res; it lets
// other writes (federation checkpoints) share the transaction that stores
// the versions.
//
// A batch costs a fixed number of statements whatever its size: one query
// finds the stored versions of all its ids (and a second fetches the bytes
// of the few it must compare with), the outcome of every object is decided
// in memory in input order, and the new versions go in with multi-row
// inserts.
func (db *DB) addVersionsTx(ctx context.Context, tx *sql.Tx, collectionID string, vs []store.Version, res []store.AddResult) error {
	var coll, last int64
	if err := db.queryRow(ctx, tx, sqlCollection, collectionID).Scan(&coll, &last); errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("collection %q: %w", collectionID, store.ErrNotFound)
	} else if err != nil {
		return err
	}

	keys := make([]versionKey, len(vs))
	valid := make([]bool, len(vs))
	ids := make([]string, 0, len(vs))
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
		keys[i], valid[i] = k, true
		ids = append(ids, o.ID)
	}
	if len(ids) == 0 {
		return nil
	}
	versions, err := db.storedVersions(ctx, tx, coll, ids)
	if err != nil {
		return err
	}
	if err := db.storedRaw(ctx, tx, vs, keys, valid, versions); err != nil {
		return err
	}

	// Decide every object in input order; what the batch adds counts for
	// the objects after it.
	now := time.Now().UnixMicro()
	rows := make([]row, 0, len(vs))
	for i := range vs {
		if !valid[i] {
			continue
		}
		o, k := vs[i].Object, keys[i]
		vers := versions[o.ID]
		if !k.versioned {
			// Identical bytes of an unversioned object are the same
			// version, whenever they arrived.
			if s := identical(vers, o.Raw); s != nil {
				res[i] = store.AddResult{Outcome: store.Duplicate, DateAdded: fromMicros(s.added)}
				continue
			}
		} else if s := versionAt(vers, k.us); s != nil {
			// The same id and version is stored: a duplicate when the
			// bytes are identical, otherwise a conflicting edit of an
			// immutable version (STIX 2.1 §3.6).
			if bytes.Equal(s.raw, o.Raw) {
				res[i] = store.AddResult{Outcome: store.Duplicate, DateAdded: fromMicros(s.added)}
			} else {
				res[i] = store.AddResult{Outcome: store.Rejected, DateAdded: fromMicros(s.added),
					Message: fmt.Sprintf("version %s of %s is already stored with different content; versions are immutable", o.Version(), o.ID)}
			}
			continue
		}
		added := max(now, last+1)
		if !k.versioned {
			// Its version is its date_added; skip any instant that a
			// versioned version of the same id already uses.
			for versionAt(vers, added) != nil {
				added++
			}
			k.us = added
		}
		versions[o.ID] = append(vers, &stored{us: k.us, versioned: k.versioned, added: added, size: int64(len(o.Raw)), raw: o.Raw})
		rows = append(rows, row{v: &vs[i], key: k, added: added})
		last = added
		res[i] = store.AddResult{Outcome: store.Added, DateAdded: fromMicros(added)}
	}
	if len(rows) == 0 {
		return nil // nothing new
	}

	counts, err := db.resolveAudiences(ctx, tx, rows)
	if err != nil {
		return err
	}
	// Versions of objects that now have several are no longer sole.
	var notSole []int64
	for _, r := range rows {
		vers := versions[r.v.Object.ID]
		if len(vers) < 2 {
			continue
		}
		for _, s := range vers {
			if s.seq > 0 && s.sole {
				notSole = append(notSole, s.seq)
				s.sole = false
			}
		}
	}
	if err := db.insertRows(ctx, tx, coll, rows, versions); err != nil {
		return err
	}
	if len(notSole) > 0 {
		if _, err := db.exec(ctx, tx, sqlNotSole, jsonArray(notSole)); err != nil {
			return err
		}
	}
	for aud, n := range counts {
		if _, err := db.exec(ctx, tx, sqlCountAudience, coll, aud, n); err != nil {
			return err
		}
	}
	_, err = db.exec(ctx, tx, sqlLastAdded, last, coll)
	return err
}

// identical finds a version among vers that is unversioned and has exactly
// the bytes raw (stored ones of another length were never fetched).
func identical(vers []*stored, raw []byte) *stored {
	for _, s := range vers {
		if !s.versioned && s.size == int64(len(raw)) && s.raw != nil && bytes.Equal(s.raw, raw) {
			return s
		}
	}
	return nil
}

// versionAt finds the version among vers whose version instant is us.
func versionAt(vers []*stored, us int64) *stored {
	for _, s := range vers {
		if s.us == us {
			return s
		}
	}
	return nil
}

// storedVersions returns the stored versions of ids in coll, by id.
func (db *DB) storedVersions(ctx context.Context, tx *sql.Tx, coll int64, ids []string) (map[string][]*stored, error) {
	// One of each id: the query joins them.
	slices.Sort(ids)
	ids = slices.Compact(ids)
	list, err := json.Marshal(ids)
	if err != nil {
		return nil, err
	}
	rows, err := db.query(ctx, tx, sqlStoredVersions, coll, string(list))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make(map[string][]*stored, len(ids))
	for rows.Next() {
		var (
			s               stored
			id              string
			versioned, sole int64
		)
		if err := rows.Scan(&s.seq, &id, &s.us, &versioned, &s.added, &sole, &s.size); err != nil {
			return nil, err
		}
		s.versioned, s.sole = versioned != 0, sole != 0
		out[id] = append(out[id], &s)
	}
	return out, rows.Err()
}

// storedRaw fetches the bytes of the stored versions that objects of the
// batch must be compared with: the same version of a versioned object, and
// unversioned ones of the same length as an unversioned object.
func (db *DB) storedRaw(ctx context.Context, tx *sql.Tx, vs []store.Version, keys []versionKey, valid []bool, versions map[string][]*stored) error {
	want := map[int64]*stored{}
	for i, v := range vs {
		if !valid[i] {
			continue
		}
		for _, s := range versions[v.Object.ID] {
			if keys[i].versioned && s.us == keys[i].us || !keys[i].versioned && !s.versioned && s.size == int64(len(v.Object.Raw)) {
				want[s.seq] = s
			}
		}
	}
	if len(want) == 0 {
		return nil
	}
	seqs := make([]int64, 0, len(want))
	for seq := range want {
		seqs = append(seqs, seq)
	}
	rows, err := db.query(ctx, tx, sqlStoredRaw, jsonArray(seqs))
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var seq int64
		var raw []byte
		if err := rows.Scan(&seq, &raw); err != nil {
			return err
		}
		if s := want[seq]; s != nil {
			s.raw = raw
		}
	}
	return rows.Err()
}

// resolveAudiences sets the audience set id of every row, creating the
// sets not stored yet, and returns how many rows each set has.
func (db *DB) resolveAudiences(ctx context.Context, tx *sql.Tx, rows []row) (map[int64]int64, error) {
	counts := map[int64]int64{}
	var prev []string
	var prevID int64
	for i := range rows {
		aud := rows[i].v.Audience
		if i == 0 || !equalStrings(aud, prev) {
			id, err := db.audienceID(ctx, tx, aud)
			if err != nil {
				return nil, err
			}
			prev, prevID = aud, id
		}
		rows[i].aud = prevID
		counts[prevID]++
	}
	return counts, nil
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// audienceID returns the id of the audience set of readers in tx, creating
// it when it is not stored.
func (db *DB) audienceID(ctx context.Context, tx *sql.Tx, readers []string) (int64, error) {
	set := canonicalAudience(readers)
	b, err := json.Marshal(set)
	if err != nil {
		return 0, err
	}
	key := string(b)
	db.mu.Lock()
	id, ok := db.audByKey[key]
	if !ok {
		id, ok = db.pending[tx][key]
	}
	db.mu.Unlock()
	if ok {
		return id, nil
	}
	err = db.queryRow(ctx, tx, sqlFindAudience, key).Scan(&id)
	if err == nil {
		// Every set this transaction created is in pending, so this
		// one is committed.
		db.mu.Lock()
		db.audByKey[key] = id
		db.mu.Unlock()
		return id, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return 0, err
	}
	r, err := db.exec(ctx, tx, sqlCreateAudience, key)
	if err != nil {
		return 0, err
	}
	if id, err = r.LastInsertId(); err != nil {
		return 0, err
	}
	for _, reader := range set {
		if _, err := db.exec(ctx, tx, sqlAudienceReader, reader, id); err != nil {
			return 0, err
		}
	}
	db.mu.Lock()
	if db.pending[tx] == nil {
		db.pending[tx] = map[string]int64{}
	}
	db.pending[tx][key] = id
	db.mu.Unlock()
	return id, nil
}

// canonicalAudience is a set of reader keys sorted and without duplicates.
func canonicalAudience(readers []string) []string {
	set := append(make([]string, 0, len(readers)), readers...)
	// Insertion sort: audiences have a handful of keys.
	for i := 1; i < len(set); i++ {
		for j := i; j > 0 && set[j] < set[j-1]; j-- {
			set[j], set[j-1] = set[j-1], set[j]
		}
	}
	out := set[:0]
	for i, r := range set {
		if i == 0 || r != set[i-1] {
			out = append(out, r)
		}
	}
	return out
}

// insertRows inserts the new versions of a batch with multi-row inserts.
func (db *DB) insertRows(ctx context.Context, tx *sql.Tx, coll int64, rows []row, versions map[string][]*stored) error {
	args := make([]any, 0, insertSizes[0]*insertColumns)
	var mk markingsJSON
	var meta strings.Builder
	for len(rows) > 0 {
		n := insertSizes[len(insertSizes)-1]
		for _, size := range insertSizes {
			if size <= len(rows) {
				n = size
				break
			}
		}
		args = args[:0]
		for _, r := range rows[:n] {
			o := &r.v.Object
			m, err := mk.of(o)
			if err != nil {
				return err
			}
			sole := int64(0)
			if len(versions[o.ID]) == 1 {
				sole = 1
			}
			spec := effectiveSpec(*o)
			args = append(args, coll, o.ID, o.Type, spec, specRank(spec), boolInt(r.key.versioned), sole,
				r.key.us, r.added, r.aud, packMeta(&meta, o, r.v.Origin, m), []byte(o.Raw))
		}
		if _, err := db.exec(ctx, tx, insertSQL[n], args...); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}

// markingsJSON encodes the marking properties of versions for the meta
// column, remembering the last marking refs: most versions of a batch
// share them.
type markingsJSON struct {
	refs []string
	json string
}

func (m *markingsJSON) of(o *stix.Object) (string, error) {
	switch {
	case len(o.Granular) > 0:
		b, err := json.Marshal(markings{Refs: o.MarkingRefs, Granular: o.Granular})
		return string(b), err
	case len(o.MarkingRefs) == 0:
		return "", nil
	case m.refs != nil && equalStrings(o.MarkingRefs, m.refs):
		return m.json, nil
	}
	b, err := json.Marshal(markings{Refs: o.MarkingRefs})
	if err != nil {
		return "", err
	}
	m.refs, m.json = o.MarkingRefs, string(b)
	return m.json, nil
}

// The fields of the meta column, in order: each is its length in decimal,
// a colon and its bytes, so that any content round-trips.
const (
	metaSpecVersion = iota
	metaCreated
	metaModified
	metaCreatedByRef
	metaOrigin
	metaRevoked // "1" or ""
	metaMarkings
	metaFields
)

// packMeta writes the meta column of a version using b.
func packMeta(b *strings.Builder, o *stix.Object, origin, markings string) string {
	b.Reset()
	b.Grow(64 + len(o.SpecVersion) + len(o.Created) + len(o.Modified) + len(o.CreatedByRef) + len(origin) + len(markings))
	revoked := ""
	if o.Revoked {
		revoked = "1"
	}
	for _, f := range [metaFields]string{o.SpecVersion, o.Created, o.Modified, o.CreatedByRef, origin, revoked, markings} {
		var num [20]byte
		b.Write(strconv.AppendInt(num[:0], int64(len(f)), 10))
		b.WriteByte(':')
		b.WriteString(f)
	}
	return b.String()
}

// unpackMeta splits a meta column into its fields, which share its memory.
func unpackMeta(meta string) (f [metaFields]string, err error) {
	for i := range f {
		colon := strings.IndexByte(meta, ':')
		n, perr := strconv.Atoi(meta[:max(colon, 0)])
		if colon < 0 || perr != nil || n < 0 || n > len(meta)-colon-1 {
			return f, fmt.Errorf("malformed meta column")
		}
		f[i], meta = meta[colon+1:colon+1+n], meta[colon+1+n:]
	}
	if meta != "" {
		return f, fmt.Errorf("malformed meta column")
	}
	return f, nil
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// jsonArray writes integers as a JSON array, for json_each.
func jsonArray(ns []int64) string {
	b := make([]byte, 0, len(ns)*8+2)
	b = append(b, '[')
	for i, n := range ns {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, n, 10)
	}
	return string(append(b, ']'))
}

// exec, query and queryRow run one of the writer's prepared statements.
func (db *DB) exec(ctx context.Context, tx *sql.Tx, q string, args ...any) (sql.Result, error) {
	st, err := db.stmt(ctx, tx, q)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

func (db *DB) query(ctx context.Context, tx *sql.Tx, q string, args ...any) (*sql.Rows, error) {
	st, err := db.stmt(ctx, tx, q)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

func (db *DB) queryRow(ctx context.Context, tx *sql.Tx, q string, args ...any) *sql.Row {
	st, err := db.stmt(ctx, tx, q)
	if err != nil {
		return tx.QueryRowContext(ctx, q, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
