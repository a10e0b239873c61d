package cell

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/jointcell/jointcell/internal/audit"
	"github.com/jointcell/jointcell/internal/store"
)

// The audit log has one writer at a time (audit.Open takes a lock): the
// server while it runs. A management change made with the CLI beside a
// running server is audited through the store instead: the CLI leaves the
// entry in the audit outbox, and the server appends what waits there to
// the log, in order, within a second (RelayAuditOutbox). With no server
// running, the CLI opens the log and appends the entry itself, after what
// still waits in the outbox. Entries keep the time of the change, so an
// entry that waited may follow later ones in the log; its place in the
// log (its index) is when it was appended.

// AuditOutbox is the part of a store that holds audit entries for the
// process that holds the audit log (sqlite.DB).
type AuditOutbox interface {
	PutAuditOutbox(ctx context.Context, entry []byte) error
	AuditOutbox(ctx context.Context, limit int) ([]store.AuditOutboxEntry, error)
	DeleteAuditOutbox(ctx context.Context, ids []int64) error
}

// AuditAppender appends entries to the audit log (*audit.Log).
type AuditAppender interface {
	Append(ctx context.Context, e audit.Entry) error
}

var _ AuditAppender = (*audit.Log)(nil)

// outboxBatch is how many waiting entries one drain step reads.
const outboxBatch = 500

// DrainAuditOutbox appends the entries waiting in ob to log, oldest first,
// and deletes them, until none waits. It returns how many it appended. An
// entry is deleted only once appended, so a crash between the two appends
// it again on the next drain (at least once, never lost). An entry that is
// not valid JSON is appended as an error entry that quotes it, not dropped.
func DrainAuditOutbox(ctx context.Context, ob AuditOutbox, log AuditAppender) (int, error) {
	n := 0
	for {
		es, err := ob.AuditOutbox(ctx, outboxBatch)
		if err != nil {
			return n, fmt.Errorf("cell: drain audit outbox: %w", err)
		}
		if len(es) == 0 {
			return n, nil
		}
		ids := make([]int64, 0, len(es))
		for _, w := range es {
			var e audit.Entry
			if err := json.Unmarshal(w.Entry, &e); err != nil {
				e = audit.Entry{Actor: "system", Action: audit.ActionAdmin, Outcome: audit.OutcomeError,
					Detail: fmt.Sprintf("unreadable audit outbox entry %d: %q", w.ID, w.Entry)}
			}
			if err := log.Append(ctx, e); err != nil {
				// What was appended so far goes; the rest waits.
				if derr := ob.DeleteAuditOutbox(ctx, ids); derr != nil {
					err = errors.Join(err, derr)
				}
				return n, fmt.Errorf("cell: drain audit outbox: %w", err)
			}
			ids = append(ids, w.ID)
			n++
		}
		if err := ob.DeleteAuditOutbox(ctx, ids); err != nil {
			return n, fmt.Errorf("cell: drain audit outbox: %w", err)
		}
	}
}

// RelayAuditOutbox drains ob into log at once and then every interval,
// until ctx is done (the server runs it beside the audit log it holds).
func RelayAuditOutbox(ctx context.Context, ob AuditOutbox, log AuditAppender, interval time.Duration, logger *slog.Logger) {
	repeat(ctx, interval, func() {
		n, err := DrainAuditOutbox(ctx, ob, log)
		switch {
		case err != nil && ctx.Err() == nil:
			logger.Error("append waiting audit entries", "err", err)
		case n > 0:
			logger.Info("appended audit entries recorded by another process", "count", n)
		}
	})
}

// RecordAudit audits e, a change this process made to the cell: appended
// to the audit log when no other process holds it, else left in the
// store's audit outbox for the process that does. e gets the current time
// when it has none.
func (c *Cell) RecordAudit(ctx context.Context, e audit.Entry) error {
	if e.Time.IsZero() {
		e.Time = c.now().UTC()
	}
	ob, ok := c.Store.(AuditOutbox)
	if !ok {
		return errors.New("cell: record audit entry: the store has no audit outbox")
	}
	log, err := audit.Open(filepath.Join(c.Dir, AuditDir), c.Key, audit.Options{CheckpointInterval: -1, Logger: c.logger})
	if errors.Is(err, audit.ErrLocked) {
		body, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("cell: record audit entry: %w", err)
		}
		if err := ob.PutAuditOutbox(ctx, body); err != nil {
			return fmt.Errorf("cell: record audit entry: %w", err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("cell: record audit entry: %w", err)
	}
	// Older entries first: those left while a server ran that has
	// stopped since without appending them.
	_, derr := DrainAuditOutbox(ctx, ob, log)
	aerr := log.Append(ctx, e)
	cerr := log.Close()
	if err := errors.Join(derr, aerr, cerr); err != nil {
		return fmt.Errorf("cell: record audit entry: %w", err)
	}
	return nil
}
