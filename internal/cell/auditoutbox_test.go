package cell

import (
	"context"
	"crypto/ed25519"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/jointcell/jointcell/internal/audit"
)

// auditTargets lists the targets of the entries in the cell's audit log.
func auditTargets(t *testing.T, c *Cell) []string {
	t.Helper()
	var out []string
	err := audit.Scan(context.Background(), filepath.Join(c.Dir, AuditDir), func(_ uint64, _ []byte, e audit.Entry) error {
		out = append(out, e.Target)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRecordAudit: with the audit log free, an entry is appended at once
// (after what waited in the outbox); with the log held by another writer
// (a running server), it waits in the outbox until that writer drains it;
// the log verifies throughout.
func TestRecordAudit(t *testing.T) {
	ctx := context.Background()
	c := openTest(t, filepath.Join(t.TempDir(), "cell"))
	entry := func(target string) audit.Entry {
		return audit.Entry{Actor: "cli:test", Action: audit.ActionAdmin, Target: target, Outcome: audit.OutcomeOK}
	}

	// The log is free: appended at once.
	if err := c.RecordAudit(ctx, entry("user:a")); err != nil {
		t.Fatal(err)
	}
	if got := auditTargets(t, c); !slices.Equal(got, []string{"user:a"}) {
		t.Fatalf("log after a free append: %v", got)
	}

	// A server holds the log: the entries wait in the outbox.
	server, err := audit.Open(filepath.Join(c.Dir, AuditDir), c.Key, audit.Options{CheckpointInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	e := entry("user:b")
	e.Time = at
	if err := c.RecordAudit(ctx, e); err != nil {
		t.Fatal(err)
	}
	if err := c.RecordAudit(ctx, entry("user:c")); err != nil {
		t.Fatal(err)
	}
	if got := auditTargets(t, c); !slices.Equal(got, []string{"user:a"}) {
		t.Fatalf("log while held: %v, want the entries waiting", got)
	}
	n, err := DrainAuditOutbox(ctx, c.Store.(AuditOutbox), server)
	if err != nil || n != 2 {
		t.Fatalf("drain: %d, %v; want 2", n, err)
	}
	if n, err := DrainAuditOutbox(ctx, c.Store.(AuditOutbox), server); err != nil || n != 0 {
		t.Fatalf("second drain: %d, %v; want nothing left", n, err)
	}
	if err := server.Close(); err != nil {
		t.Fatal(err)
	}
	if got := auditTargets(t, c); !slices.Equal(got, []string{"user:a", "user:b", "user:c"}) {
		t.Fatalf("log after the drain: %v", got)
	}
	var times []time.Time
	audit.Scan(ctx, filepath.Join(c.Dir, AuditDir), func(_ uint64, _ []byte, e audit.Entry) error {
		times = append(times, e.Time)
		return nil
	})
	if !times[1].Equal(at) {
		t.Errorf("a waiting entry kept time %v, want %v (the time of the change)", times[1], at)
	}

	// Left while a server ran that stopped without draining: the next
	// free append takes them first.
	server, err = audit.Open(filepath.Join(c.Dir, AuditDir), c.Key, audit.Options{CheckpointInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.RecordAudit(ctx, entry("user:d")); err != nil {
		t.Fatal(err)
	}
	server.Close()
	if err := c.RecordAudit(ctx, entry("user:e")); err != nil {
		t.Fatal(err)
	}
	if got := auditTargets(t, c); !slices.Equal(got, []string{"user:a", "user:b", "user:c", "user:d", "user:e"}) {
		t.Fatalf("log at the end: %v", got)
	}
	if _, err := audit.Verify(filepath.Join(c.Dir, AuditDir), c.Key.Public().(ed25519.PublicKey)); err != nil {
		t.Fatalf("verify: %v", err)
	}
}
