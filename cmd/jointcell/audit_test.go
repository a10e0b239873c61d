package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jointcell/jointcell/internal/audit"
)

// auditFolder makes a data folder as the server leaves it: DIR/cell.key
// (PKCS#8 PEM) and DIR/audit with n entries, closed.
func auditFolder(t *testing.T, n int) (string, ed25519.PrivateKey) {
	t.Helper()
	dir := t.TempDir()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cell.key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := audit.Open(filepath.Join(dir, "audit"), key, audit.Options{CheckpointEvery: 2, CheckpointInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for i := range n {
		e := audit.Entry{
			Time:    base.Add(time.Duration(i) * time.Hour),
			Actor:   []string{"alice", "bob"}[i%2],
			Org:     "org-a",
			Action:  []string{audit.ActionRead, audit.ActionWrite, audit.ActionAuthFail}[i%3],
			Target:  "collection-1",
			IDs:     []string{fmt.Sprintf("indicator--%d", i), "indicator--common"},
			Outcome: audit.OutcomeOK,
			Detail:  "line\tbreak\nhere",
		}
		if err := l.Append(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, key
}

func runCLI(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(context.Background(), &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb}, args)
	return code, out.String(), errb.String()
}

func TestAuditVerifyOK(t *testing.T) {
	dir, _ := auditFolder(t, 5)
	code, out, errs := runCLI("audit", "verify", "--data", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	rep, err := audit.Verify(filepath.Join(dir, "audit"), mustKey(t, dir).Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("ok: 5 entries, 4 checkpoints, root %s\n", hex.EncodeToString(rep.Root))
	if out != want || errs != "" {
		t.Fatalf("stdout %q, stderr %q; want %q", out, errs, want)
	}
}

func mustKey(t *testing.T, dir string) ed25519.PrivateKey {
	t.Helper()
	k, err := readCellKey(filepath.Join(dir, "cell.key"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// Every flipped byte of entries.jsonl makes the command fail with one line
// naming the entry that holds the byte.
func TestAuditVerifyNamesTheDamagedEntry(t *testing.T) {
	dir, _ := auditFolder(t, 3)
	path := filepath.Join(dir, "audit", audit.EntriesFile)
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for p := range orig {
		b := bytes.Clone(orig)
		b[p] ^= 0x01
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		code, out, errs := runCLI("audit", "verify", "--data", dir)
		entry := bytes.Count(orig[:p], []byte("\n"))
		want := fmt.Sprintf("jointcell: audit verify: entry %d (%s line %d): ", entry, audit.EntriesFile, entry+1)
		if code != 1 || out != "" || !strings.HasPrefix(errs, want) || strings.Count(errs, "\n") != 1 {
			t.Fatalf("byte %d: exit %d, stdout %q, stderr %q; want exit 1 and %q...", p, code, out, errs, want)
		}
	}
	// Dropping the middle line.
	lines := bytes.SplitAfter(orig, []byte("\n"))
	if err := os.WriteFile(path, append(bytes.Clone(lines[0]), lines[2]...), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := runCLI("audit", "verify", "--data", dir); code != 1 || !strings.Contains(errs, "entry 1 (") || !strings.Contains(errs, "missing") {
		t.Fatalf("line dropped: exit %d, %q", code, errs)
	}
}

func TestAuditVerifyBadInput(t *testing.T) {
	dir, _ := auditFolder(t, 1)
	other := t.TempDir()
	os.WriteFile(filepath.Join(other, "cell.key"), []byte("not pem"), 0o600)
	wrongKey, _ := auditFolder(t, 0)
	os.Rename(filepath.Join(wrongKey, "audit"), filepath.Join(wrongKey, "gone"))
	os.Rename(filepath.Join(dir, "audit"), filepath.Join(wrongKey, "audit")) // dir's log, wrongKey's key
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"audit", "verify"}, "want --data"},
		{[]string{"audit", "verify", "--data", t.TempDir()}, "cell key"},
		{[]string{"audit", "verify", "--data", other}, "PRIVATE KEY"},
		{[]string{"audit", "verify", "--data", wrongKey}, "signature"},
		{[]string{"audit", "frobnicate"}, "unknown subcommand"},
		{[]string{"audit", "show", "--data", dir, "--since", "yesterday"}, "--since"},
		{[]string{"audit", "show", "--data", dir, "--limit", "-1"}, "--limit"},
		{[]string{"audit", "show", "--data", t.TempDir()}, "no such file"},
	} {
		code, _, errs := runCLI(tc.args...)
		if code == 0 || !strings.Contains(errs, tc.want) || strings.Count(errs, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q; want a one-line error with %q", tc.args, code, errs, tc.want)
		}
	}
	if code, _, _ := runCLI("audit", "verify", "--bogus"); code == 0 {
		t.Error("an unknown flag exits 0")
	}
}

func TestAuditShow(t *testing.T) {
	dir, _ := auditFolder(t, 6)
	tests := []struct {
		args []string
		want []int // entry indexes shown
	}{
		{nil, []int{0, 1, 2, 3, 4, 5}},
		{[]string{"--actor", "alice"}, []int{0, 2, 4}},
		{[]string{"--action", audit.ActionWrite}, []int{1, 4}},
		{[]string{"--since", "2026-03-01T14:00:00Z", "--until", "2026-03-01T16:00:00Z"}, []int{2, 3}},
		{[]string{"--since", "2026-03-02"}, nil},
		{[]string{"--id", "indicator--3"}, []int{3}},
		{[]string{"--id", "indicator--common", "--limit", "2"}, []int{4, 5}},
		{[]string{"--actor", "bob", "--limit", "10"}, []int{1, 3, 5}},
	}
	for _, tc := range tests {
		args := append([]string{"audit", "show", "--data", dir, "--json"}, tc.args...)
		code, out, errs := runCLI(args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", tc.args, code, errs)
		}
		var got []int
		for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
			if line == "" {
				continue
			}
			var v struct{ Seq int }
			if err := json.Unmarshal([]byte(line), &v); err != nil {
				t.Fatalf("%v: %q is not JSON: %v", tc.args, line, err)
			}
			if _, _, err := audit.ParseEntry([]byte(line)); err != nil {
				t.Fatalf("%v: --json does not print the stored line: %v", tc.args, err)
			}
			got = append(got, v.Seq)
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%v: entries %v, want %v", tc.args, got, tc.want)
		}

		// The table shows the same entries, one row each, plus a header.
		code, out, _ = runCLI(append([]string{"audit", "show", "--data", dir}, tc.args...)...)
		rows := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		if code != 0 || len(rows) != 1+len(tc.want) || !strings.HasPrefix(rows[0], "#") {
			t.Fatalf("%v: table:\n%s", tc.args, out)
		}
		for i, r := range rows[1:] {
			if f := strings.Fields(r); f[0] != fmt.Sprint(tc.want[i]) || !strings.Contains(r, "line break here") {
				t.Errorf("%v: row %q", tc.args, r)
			}
		}
	}
}
