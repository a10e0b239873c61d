package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jointcell/jointcell/internal/store"
)

// Setting returns the value of a setting, store.ErrNotFound when unset.
func (db *DB) Setting(ctx context.Context, key string) ([]byte, error) {
	if err := db.check("setting"); err != nil {
		return nil, err
	}
	var v []byte
	err := db.r.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: setting %q: %w", key, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: setting %q: %w", key, err)
	}
	if v == nil {
		v = []byte{}
	}
	return v, nil
}

// PutSetting creates or replaces a setting.
func (db *DB) PutSetting(ctx context.Context, key string, value []byte) error {
	if err := db.check("put setting"); err != nil {
		return err
	}
	if value == nil {
		value = []byte{}
	}
	err := db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES (?, ?)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: put setting %q: %w", key, err)
	}
	return nil
}
