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

// PutStatus creates or replaces a status resource (TAXII 2.1 §4.3.1), so
// that a pending status can be completed later.
func (db *DB) PutStatus(ctx context.Context, s store.Status) error {
	if err := db.check("put status"); err != nil {
		return err
	}
	if err := db.write(ctx, func(tx *sql.Tx) error { return db.putStatusTx(ctx, tx, s) }); err != nil {
		return fmt.Errorf("sqlite: put status: %w", err)
	}
	return nil
}

const sqlPutStatus = `INSERT INTO statuses
	(id, collection_id, owner_user_id, status, request_us, total, successes, failures, pendings)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (id) DO UPDATE SET collection_id = excluded.collection_id,
		owner_user_id = excluded.owner_user_id, status = excluded.status,
		request_us = excluded.request_us, total = excluded.total, successes = excluded.successes,
		failures = excluded.failures, pendings = excluded.pendings`

// putStatusTx is PutStatus inside tx.
func (db *DB) putStatusTx(ctx context.Context, tx *sql.Tx, s store.Status) error {
	if s.ID == "" {
		return fmt.Errorf("empty id: %w", store.ErrInvalid)
	}
	details := make([]string, 3)
	for i, d := range [][]store.StatusDetail{s.Successes, s.Failures, s.Pendings} {
		b, err := json.Marshal(d)
		if err != nil {
			return err
		}
		details[i] = string(b)
	}
	_, err := db.exec(ctx, tx, sqlPutStatus, s.ID, s.CollectionID, s.OwnerUserID, s.Status, micros(s.RequestTime), int64(s.Total),
		details[0], details[1], details[2])
	return err
}

// Status returns a status resource by id.
func (db *DB) Status(ctx context.Context, id string) (store.Status, error) {
	if err := db.check("status"); err != nil {
		return store.Status{}, err
	}
	var (
		s          store.Status
		req        int64
		ok, ko, pe string
	)
	err := db.r.QueryRowContext(ctx, `SELECT id, collection_id, owner_user_id, status, request_us, total,
		successes, failures, pendings FROM statuses WHERE id = ?`, id).
		Scan(&s.ID, &s.CollectionID, &s.OwnerUserID, &s.Status, &req, &s.Total, &ok, &ko, &pe)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Status{}, fmt.Errorf("sqlite: status %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Status{}, fmt.Errorf("sqlite: status %q: %w", id, err)
	}
	s.RequestTime = fromMicros(req)
	for _, d := range []struct {
		src string
		dst *[]store.StatusDetail
	}{{ok, &s.Successes}, {ko, &s.Failures}, {pe, &s.Pendings}} {
		if err := json.Unmarshal([]byte(d.src), d.dst); err != nil {
			return store.Status{}, fmt.Errorf("sqlite: status %q: %w", id, err)
		}
	}
	return s, nil
}

// PurgeStatuses deletes statuses requested before the cut-off.
func (db *DB) PurgeStatuses(ctx context.Context, before time.Time) (int, error) {
	if err := db.check("purge statuses"); err != nil {
		return 0, err
	}
	var n int64
	err := db.write(ctx, func(tx *sql.Tx) error {
		r, err := tx.ExecContext(ctx, `DELETE FROM statuses WHERE request_us < ?`, before.UnixMicro())
		if err != nil {
			return err
		}
		n, err = r.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("sqlite: purge statuses: %w", err)
	}
	return int(n), nil
}
