package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jointcell/jointcell/internal/audit"
	jcell "github.com/jointcell/jointcell/internal/cell"
)

// auditEntries returns the entries of the cell's audit log that the CLI
// recorded (actor cli or cli:USER), as "target outcome detail".
func cliAuditEntries(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := audit.Scan(context.Background(), filepath.Join(dir, jcell.AuditDir), func(_ uint64, _ []byte, e audit.Entry) error {
		if e.Actor == "cli" || strings.HasPrefix(e.Actor, "cli:") {
			out = append(out, e.Target+" "+e.Outcome+" "+e.Detail)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestCLIChangesAudited: management changes made with the CLI are in the
// audit log, failed ones too: appended at once when no server runs, and
// within seconds by the server when one does (they wait in the store);
// the log verifies afterwards (jointcell audit verify).
func TestCLIChangesAudited(t *testing.T) {
	dir := t.TempDir()
	e2eStart(t, dir, "--http").stop(t) // a cell's data folder
	var first audit.Entry
	if err := audit.Scan(context.Background(), filepath.Join(dir, jcell.AuditDir), func(i uint64, _ []byte, e audit.Entry) error {
		if i == 0 {
			first = e
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if first.Actor != "system" || first.Target != "user:admin" || first.Action != audit.ActionAdmin {
		t.Errorf("the first entry is %+v, want the bootstrap of the admin user", first)
	}
	// No server: the CLI appends itself.
	e2eCLI(t, "org", "create", "--data", dir, "acme")
	e2eCLI(t, "user", "create", "--data", dir, "--org", "acme", "alice")
	if code, _, _ := e2eRun("user", "create", "--data", dir, "--org", "nosuch", "bob"); code == 0 {
		t.Fatal("user create with an unknown organisation succeeded")
	}
	want := []string{
		"organisation:acme ok create organisation",
		"user:alice ok create user of acme with role analyst",
		"user:bob error create user of nosuch with role analyst",
	}
	got := cliAuditEntries(t, dir)
	if len(got) != len(want) {
		t.Fatalf("audit entries without a server:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("entry %d: %q, want %q…", i, got[i], want[i])
		}
	}

	// A running server holds the log: the CLI's entries reach it through
	// the store.
	s := e2eStart(t, dir, "--http")
	e2eCLI(t, "user", "token", "--data", dir, "alice")
	e2eCLI(t, "collection", "create", "--data", dir, "--title", "Intel", "--read", "acme", "--write", "acme")
	e2eCLI(t, "group", "create", "--data", dir, "--orgs", "acme", "sector")
	deadline := time.Now().Add(10 * time.Second)
	for len(cliAuditEntries(t, dir)) < len(want)+3 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	got = cliAuditEntries(t, dir)
	more := []string{"user:alice ok rotate token", "collection:", "group:sector ok create group of acme"}
	if len(got) != len(want)+len(more) {
		t.Fatalf("audit entries with a server:\n%s", strings.Join(got, "\n"))
	}
	for i, w := range more {
		if !strings.HasPrefix(got[len(want)+i], w) {
			t.Errorf("entry %d: %q, want %q…", len(want)+i, got[len(want)+i], w)
		}
	}
	s.stop(t)
	if code, out, errOut := e2eRun("audit", "verify", "--data", dir); code != 0 {
		t.Fatalf("audit verify: exit %d: %s%s", code, out, errOut)
	}
}
