package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jointcell/jointcell/internal/store"
)

// CreateOrganisation creates an organisation; its name must be unused
// (store.ErrConflict). A zero Created is set to now.
func (db *DB) CreateOrganisation(ctx context.Context, o store.Organisation) error {
	if err := db.check("create organisation"); err != nil {
		return err
	}
	if o.Name == "" {
		return fmt.Errorf("sqlite: create organisation: empty name: %w", store.ErrInvalid)
	}
	if o.Created.IsZero() {
		o.Created = time.Now()
	}
	if o.Identity == nil {
		o.Identity = []byte{}
	}
	err := db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO organisations (name, identity_id, identity, created_us) VALUES (?, ?, ?, ?)`,
			o.Name, o.IdentityID, o.Identity, micros(o.Created))
		if isUnique(err) {
			return fmt.Errorf("organisation %q: %w", o.Name, store.ErrConflict)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: create organisation: %w", err)
	}
	return nil
}

const organisationColumns = `name, identity_id, identity, created_us`

func scanOrganisation(s scanner) (store.Organisation, error) {
	var (
		o       store.Organisation
		created int64
	)
	if err := s.Scan(&o.Name, &o.IdentityID, &o.Identity, &created); err != nil {
		return o, err
	}
	o.Created = fromMicros(created)
	return o, nil
}

// Organisation finds an organisation by name.
func (db *DB) Organisation(ctx context.Context, name string) (store.Organisation, error) {
	if err := db.check("organisation"); err != nil {
		return store.Organisation{}, err
	}
	o, err := scanOrganisation(db.r.QueryRowContext(ctx, `SELECT `+organisationColumns+` FROM organisations WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return o, fmt.Errorf("sqlite: organisation %q: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return o, fmt.Errorf("sqlite: organisation %q: %w", name, err)
	}
	return o, nil
}

// ListOrganisations lists every organisation by name.
func (db *DB) ListOrganisations(ctx context.Context) ([]store.Organisation, error) {
	if err := db.check("list organisations"); err != nil {
		return nil, err
	}
	var os []store.Organisation
	err := list(ctx, db.r, `SELECT `+organisationColumns+` FROM organisations ORDER BY name`, func(s scanner) error {
		o, err := scanOrganisation(s)
		os = append(os, o)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: list organisations: %w", err)
	}
	return os, nil
}

// CreateUser creates a user; its id, name and token hash must be unused
// (store.ErrConflict). An empty ID is set to a new random UUID and a zero
// Created to now.
func (db *DB) CreateUser(ctx context.Context, u store.User) error {
	if err := db.check("create user"); err != nil {
		return err
	}
	if u.Name == "" {
		return fmt.Errorf("sqlite: create user: empty name: %w", store.ErrInvalid)
	}
	if u.ID == "" {
		u.ID = newUUID()
	}
	if u.Created.IsZero() {
		u.Created = time.Now()
	}
	err := db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO users (id, name, org_name, role, token_hash, created_us) VALUES (?, ?, ?, ?, ?, ?)`,
			u.ID, u.Name, u.OrgName, u.Role, nullBytes(u.TokenHash), micros(u.Created))
		if isUnique(err) {
			return fmt.Errorf("user %q: %w", u.Name, store.ErrConflict)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: create user: %w", err)
	}
	return nil
}

const userColumns = `id, name, org_name, role, token_hash, created_us`

func scanUser(s scanner) (store.User, error) {
	var (
		u       store.User
		created int64
	)
	if err := s.Scan(&u.ID, &u.Name, &u.OrgName, &u.Role, &u.TokenHash, &created); err != nil {
		return u, err
	}
	u.Created = fromMicros(created)
	return u, nil
}

// User finds a user by name.
func (db *DB) User(ctx context.Context, name string) (store.User, error) {
	if err := db.check("user"); err != nil {
		return store.User{}, err
	}
	u, err := scanUser(db.r.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return u, fmt.Errorf("sqlite: user %q: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return u, fmt.Errorf("sqlite: user %q: %w", name, err)
	}
	return u, nil
}

// UserByTokenHash finds the user whose API token hashes to hash.
func (db *DB) UserByTokenHash(ctx context.Context, hash []byte) (store.User, error) {
	if err := db.check("user by token"); err != nil {
		return store.User{}, err
	}
	if len(hash) == 0 {
		return store.User{}, fmt.Errorf("sqlite: user by token: %w", store.ErrNotFound)
	}
	u, err := scanUser(db.r.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE token_hash = ?`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return u, fmt.Errorf("sqlite: user by token: %w", store.ErrNotFound)
	}
	if err != nil {
		return u, fmt.Errorf("sqlite: user by token: %w", err)
	}
	return u, nil
}

// ListUsers lists every user by name.
func (db *DB) ListUsers(ctx context.Context) ([]store.User, error) {
	if err := db.check("list users"); err != nil {
		return nil, err
	}
	var us []store.User
	err := list(ctx, db.r, `SELECT `+userColumns+` FROM users ORDER BY name`, func(s scanner) error {
		u, err := scanUser(s)
		us = append(us, u)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: list users: %w", err)
	}
	return us, nil
}

// SetUserToken replaces (or, with an empty hash, removes) a user's token.
func (db *DB) SetUserToken(ctx context.Context, name string, hash []byte) error {
	if err := db.check("set user token"); err != nil {
		return err
	}
	err := db.write(ctx, func(tx *sql.Tx) error {
		r, err := tx.ExecContext(ctx, `UPDATE users SET token_hash = ? WHERE name = ?`, nullBytes(hash), name)
		if isUnique(err) {
			return fmt.Errorf("token of %q: %w", name, store.ErrConflict)
		}
		if err != nil {
			return err
		}
		if n, err := r.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("user %q: %w", name, store.ErrNotFound)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: set user token: %w", err)
	}
	return nil
}

// PutGroup creates or replaces a sharing group by name.
func (db *DB) PutGroup(ctx context.Context, g store.Group) error {
	if err := db.check("put group"); err != nil {
		return err
	}
	if g.Name == "" {
		return fmt.Errorf("sqlite: put group: empty name: %w", store.ErrInvalid)
	}
	if g.Definition == nil {
		g.Definition = []byte{}
	}
	err := db.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO groups (name, marking_id, definition) VALUES (?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET marking_id = excluded.marking_id, definition = excluded.definition`,
			g.Name, g.MarkingID, g.Definition); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM group_members WHERE group_name = ?`, g.Name); err != nil {
			return err
		}
		seen := make(map[string]bool, len(g.Members))
		for _, m := range g.Members {
			if seen[m] {
				continue
			}
			seen[m] = true
			if _, err := tx.ExecContext(ctx, `INSERT INTO group_members (group_name, identity_id, position) VALUES (?, ?, ?)`,
				g.Name, m, len(seen)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: put group: %w", err)
	}
	return nil
}

// Group finds a sharing group by name, with its members in the order given.
func (db *DB) Group(ctx context.Context, name string) (store.Group, error) {
	if err := db.check("group"); err != nil {
		return store.Group{}, err
	}
	gs, err := db.groups(ctx, `WHERE g.name = ?`, name)
	if err != nil {
		return store.Group{}, fmt.Errorf("sqlite: group %q: %w", name, err)
	}
	if len(gs) == 0 {
		return store.Group{}, fmt.Errorf("sqlite: group %q: %w", name, store.ErrNotFound)
	}
	return gs[0], nil
}

// ListGroups lists every sharing group by name.
func (db *DB) ListGroups(ctx context.Context) ([]store.Group, error) {
	if err := db.check("list groups"); err != nil {
		return nil, err
	}
	gs, err := db.groups(ctx, ``)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list groups: %w", err)
	}
	return gs, nil
}

// groups loads groups and their members with one query.
func (db *DB) groups(ctx context.Context, where string, args ...any) ([]store.Group, error) {
	var gs []store.Group
	err := list(ctx, db.r, `SELECT g.name, g.marking_id, g.definition, m.identity_id
		FROM groups g LEFT JOIN group_members m ON m.group_name = g.name `+where+`
		ORDER BY g.name, m.position`, func(s scanner) error {
		var (
			g      store.Group
			member sql.NullString
		)
		if err := s.Scan(&g.Name, &g.MarkingID, &g.Definition, &member); err != nil {
			return err
		}
		if n := len(gs); n == 0 || gs[n-1].Name != g.Name {
			gs = append(gs, g)
		}
		if member.Valid {
			last := &gs[len(gs)-1]
			last.Members = append(last.Members, member.String)
		}
		return nil
	}, args...)
	return gs, err
}

// list runs a query and calls fn for each row.
func list(ctx context.Context, db *sql.DB, q string, fn func(scanner) error, args ...any) error {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

func nullBytes(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
