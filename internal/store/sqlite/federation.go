package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jointcell/jointcell/internal/store"
)

var _ store.Federation = (*DB)(nil)

// PutPeer creates or replaces a peer. See store.Federation.
func (db *DB) PutPeer(ctx context.Context, p store.Peer) error {
	if err := db.check("put peer"); err != nil {
		return err
	}
	orgs, err := json.Marshal(nonNil(p.Orgs))
	if err != nil {
		return fmt.Errorf("sqlite: put peer: %w", err)
	}
	if p.Token == nil {
		p.Token = []byte{}
	}
	err = db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO fed_peers
			(name, url, user, token, ca_file, insecure, public_key, identity, orgs, account, created_us)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET url = excluded.url, user = excluded.user, token = excluded.token,
			ca_file = excluded.ca_file, insecure = excluded.insecure, public_key = excluded.public_key,
			identity = excluded.identity, orgs = excluded.orgs, account = excluded.account`,
			p.Name, p.URL, p.User, p.Token, p.CAFile, p.Insecure, optBytes(p.PublicKey), p.Identity, string(orgs), p.Account, micros(p.Created))
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: put peer %s: %w", p.Name, err)
	}
	return nil
}

// optBytes stores an empty key as NULL.
func optBytes(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

const peerColumns = `name, url, user, token, ca_file, insecure, public_key, identity, orgs, account, created_us`

func scanPeer(sc interface{ Scan(...any) error }) (store.Peer, error) {
	var (
		p       store.Peer
		orgs    string
		created int64
	)
	if err := sc.Scan(&p.Name, &p.URL, &p.User, &p.Token, &p.CAFile, &p.Insecure, &p.PublicKey, &p.Identity, &orgs, &p.Account, &created); err != nil {
		return p, err
	}
	if err := json.Unmarshal([]byte(orgs), &p.Orgs); err != nil {
		return p, fmt.Errorf("orgs of peer %s: %w", p.Name, err)
	}
	if len(p.Orgs) == 0 {
		p.Orgs = nil
	}
	if len(p.PublicKey) == 0 {
		p.PublicKey = nil
	}
	p.Created = fromMicros(created)
	return p, nil
}

// Peer finds a peer by name.
func (db *DB) Peer(ctx context.Context, name string) (store.Peer, error) {
	if err := db.check("peer"); err != nil {
		return store.Peer{}, err
	}
	p, err := scanPeer(db.r.QueryRowContext(ctx, `SELECT `+peerColumns+` FROM fed_peers WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Peer{}, fmt.Errorf("sqlite: peer %q: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return store.Peer{}, fmt.Errorf("sqlite: peer %q: %w", name, err)
	}
	return p, nil
}

// ListPeers lists the peers by name.
func (db *DB) ListPeers(ctx context.Context) ([]store.Peer, error) {
	if err := db.check("list peers"); err != nil {
		return nil, err
	}
	rows, err := db.r.QueryContext(ctx, `SELECT `+peerColumns+` FROM fed_peers ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list peers: %w", err)
	}
	defer rows.Close()
	var out []store.Peer
	for rows.Next() {
		p, err := scanPeer(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list peers: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list peers: %w", err)
	}
	return out, nil
}

// PutLink creates a link, keeping the progress of an existing one.
func (db *DB) PutLink(ctx context.Context, l store.Link) error {
	if err := db.check("put link"); err != nil {
		return err
	}
	if l.Direction != store.Pull && l.Direction != store.Push {
		return fmt.Errorf("sqlite: put link: direction %q: %w", l.Direction, store.ErrInvalid)
	}
	err := db.write(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM fed_peers WHERE name = ?`, l.Peer).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("peer %q: %w", l.Peer, store.ErrNotFound)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO fed_links (peer, direction, local_coll, remote_coll, checkpoint)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, l.Peer, l.Direction, l.Local, l.Remote, l.Checkpoint)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: put link: %w", err)
	}
	return nil
}

// ListLinks lists the links by peer, direction and collections.
func (db *DB) ListLinks(ctx context.Context) ([]store.Link, error) {
	if err := db.check("list links"); err != nil {
		return nil, err
	}
	rows, err := db.r.QueryContext(ctx, `SELECT peer, direction, local_coll, remote_coll, checkpoint,
		last_success_us, last_error, last_error_us, synced FROM fed_links ORDER BY peer, direction, local_coll, remote_coll`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list links: %w", err)
	}
	defer rows.Close()
	var out []store.Link
	for rows.Next() {
		var (
			l       store.Link
			ok, bad int64
		)
		if err := rows.Scan(&l.Peer, &l.Direction, &l.Local, &l.Remote, &l.Checkpoint, &ok, &l.LastError, &bad, &l.Synced); err != nil {
			return nil, fmt.Errorf("sqlite: list links: %w", err)
		}
		l.LastSuccess, l.LastErrorAt = fromMicros(ok), fromMicros(bad)
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list links: %w", err)
	}
	return out, nil
}

// UpdateLink writes the progress of an existing link.
func (db *DB) UpdateLink(ctx context.Context, l store.Link) error {
	if err := db.check("update link"); err != nil {
		return err
	}
	err := db.write(ctx, func(tx *sql.Tx) error { return updateLink(ctx, tx, l) })
	if err != nil {
		return fmt.Errorf("sqlite: update link: %w", err)
	}
	return nil
}

func updateLink(ctx context.Context, tx *sql.Tx, l store.Link) error {
	r, err := tx.ExecContext(ctx, `UPDATE fed_links SET checkpoint = ?, last_success_us = ?, last_error = ?, last_error_us = ?, synced = ?
		WHERE peer = ? AND direction = ? AND local_coll = ? AND remote_coll = ?`,
		l.Checkpoint, micros(l.LastSuccess), l.LastError, micros(l.LastErrorAt), l.Synced,
		l.Peer, l.Direction, l.Local, l.Remote)
	if err != nil {
		return err
	}
	n, err := r.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("link %s: %w", l.Key(), store.ErrNotFound)
	}
	return nil
}

// AddVersionsAt stores versions, their provenance and the progress of a
// link in one transaction. See store.Federation.
func (db *DB) AddVersionsAt(ctx context.Context, collectionID string, vs []store.Version, prov []store.Provenance, l store.Link) ([]store.AddResult, error) {
	if err := db.check("add versions at"); err != nil {
		return nil, err
	}
	res := make([]store.AddResult, len(vs))
	err := db.write(ctx, func(tx *sql.Tx) error {
		if len(vs) > 0 {
			if err := db.addVersionsTx(ctx, tx, collectionID, vs, res); err != nil {
				return err
			}
		}
		if err := db.putProvenance(ctx, tx, prov); err != nil {
			return err
		}
		for _, r := range res {
			if r.Outcome == store.Added {
				l.Synced++
			}
		}
		return updateLink(ctx, tx, l)
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: add versions at: %w", err)
	}
	return res, nil
}

// sqlPutProvenance records the provenance of the objects whose ids are
// ?1 (a JSON array), all produced by cell ?2 (a fed_cells name, stored
// before by sqlPutCell) and received from peer ?3, at ?4, keeping the
// records that exist. A pull stores a page of up to 20000 of them per
// transaction, which share their cell and peer: binding the ids as one
// value costs a fraction of binding four values per row, and the cell's
// number is looked up once per statement (a constant subquery).
//
// OR IGNORE rather than ON CONFLICT DO NOTHING: both keep an existing
// record, but a statement that may abort (as an upsert may, on its NOT
// NULL constraints) makes SQLite copy every page it changes into a
// statement journal first, which with ids spread over the whole table was
// most of the cost of a page. None of the values can be NULL: the cell is
// stored first, in the same transaction (OR IGNORE would skip a row whose
// cell were missing, not fail).
const sqlPutProvenance = `INSERT OR IGNORE INTO fed_provenance (object_id, cell, peer, first_us)
	SELECT value, (SELECT id FROM fed_cells WHERE name = ?2), ?3, ?4 FROM json_each(?1)`

// sqlPutCell stores the name of a cell once (see 102_provenance_cells.sql).
const sqlPutCell = `INSERT OR IGNORE INTO fed_cells (name) VALUES (?)`

// putProvenance records prov in tx, one statement per run of records that
// share their cell and peer, keeping what is already recorded.
func (db *DB) putProvenance(ctx context.Context, tx *sql.Tx, prov []store.Provenance) error {
	now := time.Now().UnixMicro()
	var ids []string
	for len(prov) > 0 {
		n := 1
		for n < len(prov) && prov[n].Cell == prov[0].Cell && prov[n].Peer == prov[0].Peer {
			n++
		}
		ids = ids[:0]
		for _, p := range prov[:n] {
			ids = append(ids, p.ObjectID)
		}
		list, err := json.Marshal(ids)
		if err != nil {
			return err
		}
		if _, err := db.exec(ctx, tx, sqlPutCell, prov[0].Cell); err != nil {
			return err
		}
		if _, err := db.exec(ctx, tx, sqlPutProvenance, string(list), prov[0].Cell, prov[0].Peer, now); err != nil {
			return err
		}
		prov = prov[n:]
	}
	return nil
}

// sqlProvenance finds the recorded provenance of the ids of ?1 (a JSON
// array): the ids bound as one value and the statement prepared once,
// where a list of placeholders made a new statement for every length.
const sqlProvenance = `SELECT p.object_id, c.name, p.peer FROM json_each(?1) j
	CROSS JOIN fed_provenance p CROSS JOIN fed_cells c WHERE p.object_id = j.value AND c.id = p.cell`

// Provenance returns the recorded provenance of the objects that have one.
func (db *DB) Provenance(ctx context.Context, objectIDs []string) (map[string]store.Provenance, error) {
	if err := db.check("provenance"); err != nil {
		return nil, err
	}
	out := map[string]store.Provenance{}
	if len(objectIDs) == 0 {
		return out, nil
	}
	list, err := json.Marshal(objectIDs)
	if err != nil {
		return nil, fmt.Errorf("sqlite: provenance: %w", err)
	}
	r := &reads{db: db}
	defer r.done(ctx)
	rows, err := r.QueryContext(ctx, sqlProvenance, string(list))
	if err != nil {
		return nil, fmt.Errorf("sqlite: provenance: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var p store.Provenance
		if err := rows.Scan(&p.ObjectID, &p.Cell, &p.Peer); err != nil {
			return nil, fmt.Errorf("sqlite: provenance: %w", err)
		}
		out[p.ObjectID] = p
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: provenance: %w", err)
	}
	return out, nil
}

// PutProvenance records provenance, keeping what is already recorded.
func (db *DB) PutProvenance(ctx context.Context, prov []store.Provenance) error {
	if err := db.check("put provenance"); err != nil {
		return err
	}
	if err := db.write(ctx, func(tx *sql.Tx) error { return db.putProvenance(ctx, tx, prov) }); err != nil {
		return fmt.Errorf("sqlite: put provenance: %w", err)
	}
	return nil
}
