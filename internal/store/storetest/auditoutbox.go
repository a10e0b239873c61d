package storetest

import (
	"context"
	"testing"

	"github.com/jointcell/jointcell/internal/store"
)

// AuditOutbox is the optional capability of a store to hold audit entries
// for the process that holds the audit log (internal/cell).
type AuditOutbox interface {
	PutAuditOutbox(ctx context.Context, entry []byte) error
	AuditOutbox(ctx context.Context, limit int) ([]store.AuditOutboxEntry, error)
	DeleteAuditOutbox(ctx context.Context, ids []int64) error
}

// testAuditOutbox checks the outbox, for stores that have it: entries come
// back oldest first, limited, byte for byte, and go once deleted.
func testAuditOutbox(t *testing.T, s store.Store) {
	ob, ok := s.(AuditOutbox)
	if !ok {
		t.Skip("the store has no audit outbox")
	}
	ctx := context.Background()
	if got, err := ob.AuditOutbox(ctx, 10); err != nil || len(got) != 0 {
		t.Fatalf("empty outbox: %v, %v", got, err)
	}
	want := []string{`{"action":"admin","n":1}`, `{"action":"admin","n":2}`, `{"action":"admin","n":3,"é":"\u00e9"}`}
	for _, e := range want {
		if err := ob.PutAuditOutbox(ctx, []byte(e)); err != nil {
			t.Fatal(err)
		}
	}
	if err := ob.PutAuditOutbox(ctx, nil); err == nil {
		t.Error("an empty entry was accepted")
	}
	got, err := ob.AuditOutbox(ctx, 2)
	if err != nil || len(got) != 2 || string(got[0].Entry) != want[0] || string(got[1].Entry) != want[1] || got[0].ID >= got[1].ID {
		t.Fatalf("AuditOutbox(2) = %+v, %v; want the first two, in order", got, err)
	}
	if err := ob.DeleteAuditOutbox(ctx, []int64{got[0].ID, got[1].ID, 999999}); err != nil {
		t.Fatal(err)
	}
	got, err = ob.AuditOutbox(ctx, 10)
	if err != nil || len(got) != 1 || string(got[0].Entry) != want[2] {
		t.Fatalf("after deleting two: %+v, %v; want the third alone", got, err)
	}
	if _, err := ob.AuditOutbox(ctx, 0); err == nil {
		t.Error("limit 0 was accepted")
	}
}
