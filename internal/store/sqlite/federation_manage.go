package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/jointcell/jointcell/internal/store"
)

// DeletePeer deletes a peer and its links in one transaction. The links
// are deleted explicitly rather than left to the foreign key's ON DELETE
// CASCADE, so that the outcome does not depend on the foreign_keys pragma.
// Provenance rows naming the peer stay: they record where objects came
// from, which remains true after the peer is gone. See store.Federation.
func (db *DB) DeletePeer(ctx context.Context, name string) error {
	if err := db.check("delete peer"); err != nil {
		return err
	}
	err := db.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM fed_links WHERE peer = ?`, name); err != nil {
			return err
		}
		r, err := tx.ExecContext(ctx, `DELETE FROM fed_peers WHERE name = ?`, name)
		if err != nil {
			return err
		}
		return deletedAny(r, fmt.Sprintf("peer %q", name))
	})
	if err != nil {
		return fmt.Errorf("sqlite: delete peer: %w", err)
	}
	return nil
}

// DeleteLink deletes one link, whatever its progress. See store.Federation.
func (db *DB) DeleteLink(ctx context.Context, l store.Link) error {
	if err := db.check("delete link"); err != nil {
		return err
	}
	err := db.write(ctx, func(tx *sql.Tx) error {
		r, err := tx.ExecContext(ctx, `DELETE FROM fed_links WHERE peer = ? AND direction = ? AND local_coll = ? AND remote_coll = ?`,
			l.Peer, l.Direction, l.Local, l.Remote)
		if err != nil {
			return err
		}
		return deletedAny(r, "link "+l.Key())
	})
	if err != nil {
		return fmt.Errorf("sqlite: delete link: %w", err)
	}
	return nil
}

// deletedAny returns store.ErrNotFound, naming what, when r deleted no
// row; the transaction it is part of then rolls back.
func deletedAny(r sql.Result, what string) error {
	n, err := r.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	return nil
}
