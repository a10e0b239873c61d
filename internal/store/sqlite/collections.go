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

// CreateCollection creates a collection. Its id and alias must be unused,
// as ids or as aliases, or it fails with store.ErrConflict. A zero Created
// is set to now.
func (db *DB) CreateCollection(ctx context.Context, c store.Collection) error {
	if err := db.check("create collection"); err != nil {
		return err
	}
	if c.ID == "" {
		return fmt.Errorf("sqlite: create collection: empty id: %w", store.ErrInvalid)
	}
	if c.Created.IsZero() {
		c.Created = time.Now()
	}
	readBy, writeBy, err := rights(c)
	if err != nil {
		return fmt.Errorf("sqlite: create collection: %w", err)
	}
	err = db.write(ctx, func(tx *sql.Tx) error {
		if err := nameClash(ctx, tx, c, true); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO collections (id, alias, title, description, read_by, write_by, created_us)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, c.ID, nullString(c.Alias), c.Title, c.Description, readBy, writeBy, micros(c.Created))
		if isUnique(err) {
			return fmt.Errorf("collection %q: %w", c.ID, store.ErrConflict)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: create collection: %w", err)
	}
	return nil
}

// UpdateCollection replaces the title, description, alias and rights of an
// existing collection; Created is kept.
func (db *DB) UpdateCollection(ctx context.Context, c store.Collection) error {
	if err := db.check("update collection"); err != nil {
		return err
	}
	readBy, writeBy, err := rights(c)
	if err != nil {
		return fmt.Errorf("sqlite: update collection: %w", err)
	}
	err = db.write(ctx, func(tx *sql.Tx) error {
		if err := nameClash(ctx, tx, c, false); err != nil {
			return err
		}
		r, err := tx.ExecContext(ctx, `UPDATE collections SET alias = ?, title = ?, description = ?, read_by = ?, write_by = ?
			WHERE id = ?`, nullString(c.Alias), c.Title, c.Description, readBy, writeBy, c.ID)
		if isUnique(err) {
			return fmt.Errorf("alias %q: %w", c.Alias, store.ErrConflict)
		}
		if err != nil {
			return err
		}
		if n, err := r.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("collection %q: %w", c.ID, store.ErrNotFound)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: update collection: %w", err)
	}
	return nil
}

// nameClash keeps ids and aliases one namespace, since Collection looks a
// collection up by either: an alias may not be another collection's id or
// alias, and a new id may not be an existing alias.
func nameClash(ctx context.Context, tx *sql.Tx, c store.Collection, create bool) error {
	var n int
	if create {
		err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM collections WHERE id = ? OR alias = ?`, c.ID, c.ID).Scan(&n)
		if err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("collection %q: %w", c.ID, store.ErrConflict)
		}
	}
	if c.Alias == "" {
		return nil
	}
	err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM collections WHERE (id = ? OR alias = ?) AND id <> ?`, c.Alias, c.Alias, c.ID).Scan(&n)
	if err != nil {
		return err
	}
	if n > 0 {
		return fmt.Errorf("alias %q: %w", c.Alias, store.ErrConflict)
	}
	return nil
}

func rights(c store.Collection) (string, string, error) {
	r, err := json.Marshal(nonNil(c.ReadBy))
	if err != nil {
		return "", "", err
	}
	w, err := json.Marshal(nonNil(c.WriteBy))
	if err != nil {
		return "", "", err
	}
	return string(r), string(w), nil
}

const collectionColumns = `id, COALESCE(alias, ''), title, description, read_by, write_by, created_us`

const sqlCollectionByName = `SELECT ` + collectionColumns + ` FROM collections WHERE id = ?
		UNION ALL SELECT ` + collectionColumns + ` FROM collections WHERE alias = ? LIMIT 1`

// Collection finds a collection by id or alias.
func (db *DB) Collection(ctx context.Context, idOrAlias string) (store.Collection, error) {
	if err := db.check("collection"); err != nil {
		return store.Collection{}, err
	}
	r := &reads{db: db}
	c, err := scanCollection(r.QueryRowContext(ctx, sqlCollectionByName, idOrAlias, idOrAlias))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Collection{}, fmt.Errorf("sqlite: collection %q: %w", idOrAlias, store.ErrNotFound)
	}
	if err != nil {
		return store.Collection{}, fmt.Errorf("sqlite: collection %q: %w", idOrAlias, err)
	}
	return c, nil
}

// ListCollections lists every collection, oldest first.
func (db *DB) ListCollections(ctx context.Context) ([]store.Collection, error) {
	if err := db.check("list collections"); err != nil {
		return nil, err
	}
	rows, err := db.r.QueryContext(ctx, `SELECT `+collectionColumns+` FROM collections ORDER BY created_us, id`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list collections: %w", err)
	}
	defer rows.Close()
	var cs []store.Collection
	for rows.Next() {
		c, err := scanCollection(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list collections: %w", err)
		}
		cs = append(cs, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list collections: %w", err)
	}
	return cs, nil
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

func scanCollection(s scanner) (store.Collection, error) {
	var (
		c               store.Collection
		readBy, writeBy string
		created         int64
	)
	if err := s.Scan(&c.ID, &c.Alias, &c.Title, &c.Description, &readBy, &writeBy, &created); err != nil {
		return c, err
	}
	if err := json.Unmarshal([]byte(readBy), &c.ReadBy); err != nil {
		return c, err
	}
	if err := json.Unmarshal([]byte(writeBy), &c.WriteBy); err != nil {
		return c, err
	}
	if len(c.ReadBy) == 0 {
		c.ReadBy = nil
	}
	if len(c.WriteBy) == 0 {
		c.WriteBy = nil
	}
	c.Created = fromMicros(created)
	return c, nil
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}
