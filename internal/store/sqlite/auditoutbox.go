package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/jointcell/jointcell/internal/store"
)

// PutAuditOutbox leaves an audit entry (JSON) for the process that holds
// the audit log to append (0002_audit_outbox.sql).
func (db *DB) PutAuditOutbox(ctx context.Context, entry []byte) error {
	if err := db.check("put audit outbox"); err != nil {
		return err
	}
	if len(entry) == 0 {
		return fmt.Errorf("sqlite: put audit outbox: empty entry: %w", store.ErrInvalid)
	}
	err := db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO audit_outbox (entry) VALUES (?)`, entry)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: put audit outbox: %w", err)
	}
	return nil
}

// AuditOutbox returns up to limit waiting entries, oldest first.
func (db *DB) AuditOutbox(ctx context.Context, limit int) ([]store.AuditOutboxEntry, error) {
	if err := db.check("audit outbox"); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, fmt.Errorf("sqlite: audit outbox: limit %d: %w", limit, store.ErrInvalid)
	}
	rows, err := db.r.QueryContext(ctx, `SELECT id, entry FROM audit_outbox ORDER BY id LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: audit outbox: %w", err)
	}
	defer rows.Close()
	var out []store.AuditOutboxEntry
	for rows.Next() {
		var e store.AuditOutboxEntry
		if err := rows.Scan(&e.ID, &e.Entry); err != nil {
			return nil, fmt.Errorf("sqlite: audit outbox: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: audit outbox: %w", err)
	}
	return out, nil
}

// DeleteAuditOutbox removes the entries with the given ids (appended to
// the log); ids not waiting are ignored.
func (db *DB) DeleteAuditOutbox(ctx context.Context, ids []int64) error {
	if err := db.check("delete audit outbox"); err != nil {
		return err
	}
	if len(ids) == 0 {
		return nil
	}
	err := db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM audit_outbox WHERE id IN (SELECT value FROM json_each(?))`, jsonArray(ids))
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: delete audit outbox: %w", err)
	}
	return nil
}
