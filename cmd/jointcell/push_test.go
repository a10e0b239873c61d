package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jointcell/jointcell/internal/access"
	"github.com/jointcell/jointcell/internal/stix"
	"github.com/jointcell/jointcell/internal/store"
	"github.com/jointcell/jointcell/internal/store/sqlite"
	"github.com/jointcell/jointcell/internal/taxii"
)

// pushPullAuth accepts the token "t0ken" for every user name, and as a
// Bearer token for user "bearer".
type pushPullAuth struct{}

func (pushPullAuth) Authenticate(r *http.Request) (access.Principal, error) {
	if u, pw, ok := r.BasicAuth(); ok && pw == "t0ken" {
		return access.Principal{UserID: u, UserName: u, Role: access.RoleAnalyst, Readers: []string{store.ReaderAnyone}}, nil
	}
	if r.Header.Get("Authorization") == "Bearer t0ken" {
		return access.Principal{UserID: "bearer", UserName: "bearer", Role: access.RoleAnalyst, Readers: []string{store.ReaderAnyone}}, nil
	}
	return access.Principal{}, errors.New("bad credentials")
}

// pushPullPolicy lets everyone read and write and refuses objects named
// "refuse me".
type pushPullPolicy struct{}

func (pushPullPolicy) CanRead(access.Principal, store.Collection) bool  { return true }
func (pushPullPolicy) CanWrite(access.Principal, store.Collection) bool { return true }
func (pushPullPolicy) Admit(_ context.Context, _ access.Principal, _ store.Collection, o stix.Object) (store.Version, error) {
	if bytes.Contains(o.Raw, []byte(`"refuse me"`)) {
		return store.Version{}, errors.New("refused by policy")
	}
	return store.Version{Object: o, Audience: []string{store.ReaderAnyone}}, nil
}
func (pushPullPolicy) Present(_ access.Principal, _ store.Collection, v store.Version) ([]byte, bool) {
	return v.Object.Raw, true
}

// pushPullServer is a TLS TAXII server over a fresh store with one
// collection (alias "intel"); it returns its URL and a file with its
// certificate.
func pushPullServer(t *testing.T, maxContent int64) (url, ca string, db *sqlite.DB) {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.CreateCollection(t.Context(), store.Collection{ID: "91a7b528-80eb-42ed-a74d-c6fbd5a26116", Alias: "intel", Title: "intel"}); err != nil {
		t.Fatal(err)
	}
	srv := taxii.NewServer(taxii.Config{
		Objects: db, Collections: db, Statuses: db, Authenticator: pushPullAuth{}, Policy: pushPullPolicy{},
		CursorKey: []byte("k"), MaxContentLength: maxContent, MaxPageSize: 50,
	})
	ts := httptest.NewUnstartedServer(srv)
	ts.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are part of the tests
	ts.StartTLS()
	t.Cleanup(ts.Close)
	ca = filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw})
	if err := os.WriteFile(ca, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	return ts.URL, ca, db
}

func pushPullIndicator(n int, name string) string {
	return fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":"indicator--%08x-0000-4000-8000-%012x","created":"2020-01-01T00:00:00.000Z","modified":"2020-01-01T00:00:00.000Z","name":%q,"pattern":"[ipv4-addr:value = '198.51.100.%d']","pattern_type":"stix","valid_from":"2020-01-01T00:00:00Z"}`,
		n, n, name, n%256)
}

func runCmd(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(t.Context(), &env{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb}, args)
	return code, out.String(), errb.String()
}

// push splits a bundle into envelopes below max_content_length, waits for
// each status, prints a summary and every failure, and exits 1 when
// anything failed; pull gets everything back as one bundle.
func TestPushThenPull(t *testing.T) {
	url, ca, _ := pushPullServer(t, 4000)
	var objs []string
	for i := range 60 {
		objs = append(objs, pushPullIndicator(i, fmt.Sprintf("ind %d", i)))
	}
	bundle := `{"type":"bundle","id":"bundle--6f0c8b55-6c0e-4d8c-a6d0-0b7a4b8c2c11","objects":[` + strings.Join(objs, ",") + `]}`
	file := filepath.Join(t.TempDir(), "bundle.json")
	if err := os.WriteFile(file, []byte(bundle), 0o600); err != nil {
		t.Fatal(err)
	}
	conn := []string{"--server", url, "--user", "alice", "--token", "t0ken", "--ca", ca, "--collection", "intel"}
	code, out, errOut := runCmd(t, "", append(append([]string{"push"}, conn...), file)...)
	if code != 0 || !strings.Contains(out, "60 objects: 60 succeeded, 0 failed") {
		t.Fatalf("push: %d\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "envelope 2 of") {
		t.Errorf("no progress for a multi-envelope push: %q", errOut)
	}

	// Pull to a file: one bundle with all 60, across pages of 50.
	dest := filepath.Join(t.TempDir(), "out.json")
	code, _, errOut = runCmd(t, "", append([]string{"pull", "-o", dest}, conn...)...)
	if code != 0 {
		t.Fatalf("pull: %d %s", code, errOut)
	}
	data, _ := os.ReadFile(dest)
	var b struct {
		Type    string            `json:"type"`
		ID      string            `json:"id"`
		Objects []json.RawMessage `json:"objects"`
	}
	if err := json.Unmarshal(data, &b); err != nil {
		t.Fatalf("pulled bundle: %v", err)
	}
	if b.Type != "bundle" || !strings.HasPrefix(b.ID, "bundle--") || len(b.Objects) != 60 || string(b.Objects[59]) != objs[59] {
		t.Errorf("pulled bundle: type %q id %q %d objects", b.Type, b.ID, len(b.Objects))
	}
	if !strings.Contains(errOut, "page 2") {
		t.Errorf("no progress for a multi-page pull: %q", errOut)
	}

	// Pull with filters to stdout, Bearer authentication, --insecure.
	code, out, errOut = runCmd(t, "", "pull", "--server", url+"/taxii2/", "--token", "t0ken", "--insecure", "--collection", "intel",
		"--id", "indicator--00000003-0000-4000-8000-000000000003,indicator--00000004-0000-4000-8000-000000000004", "--type", "indicator,malware",
		"--added-after", "2000-01-01T00:00:00Z")
	if code != 0 {
		t.Fatalf("filtered pull: %d %s", code, errOut)
	}
	if err := json.Unmarshal([]byte(out), &b); err != nil || len(b.Objects) != 2 {
		t.Errorf("filtered pull: %d objects, %v", len(b.Objects), err)
	}
	code, out, _ = runCmd(t, "", "pull", "--server", url, "--token", "t0ken", "--insecure", "--collection", "intel", "--type", "malware")
	if code != 0 || !strings.HasPrefix(out, `{"type":"bundle","id":"bundle--`) || strings.Contains(out, "objects") {
		t.Errorf("empty pull: %d %s", code, out)
	}
}

func TestPushReportsFailures(t *testing.T) {
	url, ca, _ := pushPullServer(t, 0)
	list := `[` + pushPullIndicator(1, "fine") + `,` + pushPullIndicator(2, "refuse me") + `,{"type":"indicator","spec_version":"2.1","id":"indicator--00000003-0000-4000-8000-000000000003"}]`
	code, out, errOut := runCmd(t, list, "push", "--server", url, "--user", "alice", "--token", "t0ken", "--ca", ca, "--collection", "intel", "-")
	if code != 1 {
		t.Fatalf("push with failures: exit %d, want 1\n%s%s", code, out, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || lines[0] != "3 objects: 1 succeeded, 2 failed, 0 pending" ||
		!strings.HasPrefix(lines[1], "indicator--00000002-0000-4000-8000-000000000002 2020-01-01T00:00:00.000Z: refused by policy") ||
		!strings.HasPrefix(lines[2], "indicator--00000003-0000-4000-8000-000000000003 : ") {
		t.Errorf("output:\n%s", out)
	}
}

func TestPushPullBadInput(t *testing.T) {
	url, ca, _ := pushPullServer(t, 0)
	file := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(file, []byte("not json"), 0o600)
	conn := []string{"--server", url, "--user", "alice", "--token", "t0ken", "--ca", ca, "--collection", "intel"}
	for _, args := range [][]string{
		{"push", "--server", url, "--token", "t0ken", "--collection", "intel"},
		append(append([]string{"push"}, conn...), file),
		append(append([]string{"push"}, conn...), filepath.Join(t.TempDir(), "missing.json")),
		{"push", "--token", "t0ken", "--collection", "intel", file},
		{"push", "--server", url, "--user", "alice", "--token", "wrong", "--ca", ca, "--collection", "intel", "-"},
		append([]string{"pull", "--added-after", "yesterday"}, conn...),
		{"pull", "--server", url, "--token", "t0ken", "--ca", ca, "--insecure", "--collection", "intel"},
		{"pull", "--server", url, "--token", "t0ken", "--ca", ca},
		append([]string{"pull"}, append(conn[:len(conn)-1], "nope")...),
		{"pull", "--server", url, "--token", "t0ken", "--collection", "intel"}, // self-signed, no --ca
	} {
		code, _, errOut := runCmd(t, pushPullIndicator(1, "x"), args...)
		if code == 0 || strings.Count(strings.TrimSpace(errOut), "\n") != 0 || errOut == "" {
			t.Errorf("%v: exit %d, stderr %q", args, code, errOut)
		}
	}
}
