package admin

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jointcell/jointcell/internal/access"
	"github.com/jointcell/jointcell/internal/audit"
	"github.com/jointcell/jointcell/internal/cell"
)

// fakeAuth: "Bearer root" is an admin, "Bearer alice" an analyst.
type fakeAuth struct{}

func (fakeAuth) Authenticate(r *http.Request) (access.Principal, error) {
	switch r.Header.Get("Authorization") {
	case "Bearer root":
		return access.Principal{UserName: "root", OrgName: "admin", Role: access.RoleAdmin}, nil
	case "Bearer alice":
		return access.Principal{UserName: "alice", OrgName: "a", Role: access.RoleAnalyst}, nil
	}
	return access.Principal{}, errors.New("unauthenticated")
}

type fixture struct {
	h   http.Handler
	log *audit.Log
	pub ed25519.PublicKey
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	dir := t.TempDir()
	c, err := cell.Open(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	adir := filepath.Join(dir, cell.AuditDir)
	log, err := audit.Open(adir, c.Key, audit.Options{CheckpointEvery: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { log.Close() })
	pub := c.Key.Public().(ed25519.PublicKey)
	h := New(Config{
		Manager: c.Manager(), Auth: fakeAuth{}, Audit: log, AuditDir: adir, Key: pub,
		NotFound: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, "plain 404")
		}),
	})
	return &fixture{h: h, log: log, pub: pub}
}

// do sends a request as the given bearer token and decodes a JSON answer.
func (f *fixture) do(t *testing.T, method, path, token, body string) (int, map[string]any, http.Header) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, path, rd)
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	var m map[string]any
	if w.Body.String() != "plain 404" {
		if ct := w.Header().Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s %s: Content-Type %q", method, path, ct)
		}
		if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
			t.Fatalf("%s %s: body %q: %v", method, path, w.Body.String(), err)
		}
	}
	return w.Code, m, w.Header()
}

func TestHiddenFromNonAdmins(t *testing.T) {
	f := newFixture(t)
	for _, token := range []string{"", "alice", "wrong"} {
		for _, path := range []string{"/admin/", "/admin/users/", "/admin/nope"} {
			r := httptest.NewRequest("GET", path, nil)
			if token != "" {
				r.Header.Set("Authorization", "Bearer "+token)
			}
			w := httptest.NewRecorder()
			f.h.ServeHTTP(w, r)
			if w.Code != 404 || w.Body.String() != "plain 404" {
				t.Errorf("GET %s as %q = %d %q, want the server's own 404", path, token, w.Code, w.Body.String())
			}
		}
	}
}

func TestManagement(t *testing.T) {
	f := newFixture(t)
	steps := []struct {
		method, path, body string
		code               int
		check              func(t *testing.T, m map[string]any)
	}{
		{"POST", "/admin/organisations/", `{"name":"a"}`, 201, func(t *testing.T, m map[string]any) {
			if !strings.HasPrefix(m["identity_id"].(string), "identity--") || m["identity"].(map[string]any)["identity_class"] != "organization" {
				t.Errorf("organisation = %v", m)
			}
		}},
		{"POST", "/admin/organisations", `{"name":"b"}`, 201, nil},
		{"POST", "/admin/organisations/", `{"name":"a"}`, 409, nil},
		{"POST", "/admin/organisations/", `{"name":"bad name"}`, 400, nil},
		{"POST", "/admin/organisations/", `{"name":"x","extra":1}`, 400, nil},
		{"POST", "/admin/organisations/", `{"name":`, 400, nil},
		{"GET", "/admin/organisations/", "", 200, func(t *testing.T, m map[string]any) {
			if n := len(m["organisations"].([]any)); n != 2 {
				t.Errorf("%d organisations", n)
			}
		}},
		{"DELETE", "/admin/organisations/", "", 405, nil},
		{"POST", "/admin/users/", `{"name":"alice","org":"a","role":"analyst"}`, 201, func(t *testing.T, m map[string]any) {
			if tok, _ := m["token"].(string); len(tok) != 43 {
				t.Errorf("token %q", tok)
			}
		}},
		{"POST", "/admin/users/", `{"name":"carol","org":"ghost"}`, 400, nil},
		{"POST", "/admin/users/alice/token/", "", 200, func(t *testing.T, m map[string]any) {
			if tok, _ := m["token"].(string); len(tok) != 43 {
				t.Errorf("token %q", tok)
			}
		}},
		{"POST", "/admin/users/ghost/token", "", 404, nil},
		{"GET", "/admin/users/", "", 200, func(t *testing.T, m map[string]any) {
			b, _ := json.Marshal(m)
			if strings.Contains(string(b), "token") || strings.Contains(string(b), "hash") {
				t.Errorf("user list leaks secrets: %s", b)
			}
		}},
		{"POST", "/admin/groups/", `{"name":"ab","orgs":["a","b"]}`, 201, func(t *testing.T, m map[string]any) {
			if !strings.HasPrefix(m["marking_id"].(string), "marking-definition--") {
				t.Errorf("group = %v", m)
			}
		}},
		{"POST", "/admin/groups/ab/members/", `{"orgs":["ghost"]}`, 400, nil},
		{"DELETE", "/admin/groups/ab/members/b/", "", 200, func(t *testing.T, m map[string]any) {
			if got := m["members"].([]any); len(got) != 1 || got[0] != "a" {
				t.Errorf("members = %v", got)
			}
		}},
		{"POST", "/admin/groups/ab/members", `{"orgs":["b"]}`, 200, nil},
		{"GET", "/admin/groups/", "", 200, func(t *testing.T, m map[string]any) {
			if g := m["groups"].([]any)[0].(map[string]any); len(g["members"].([]any)) != 2 {
				t.Errorf("group = %v", g)
			}
		}},
		{"POST", "/admin/collections/", `{"title":"Shared","alias":"shared","read":["ab"],"write":["a"]}`, 201, func(t *testing.T, m map[string]any) {
			if m["read"].([]any)[0] != "ab" || !strings.HasPrefix(m["read_keys"].([]any)[0].(string), "group:marking-definition--") {
				t.Errorf("collection = %v", m)
			}
		}},
		{"POST", "/admin/collections/", `{"title":"x","read":["ghost"]}`, 400, nil},
		{"POST", "/admin/collections/", `{"title":"x","alias":"shared"}`, 409, nil},
		{"PATCH", "/admin/collections/shared/", `{"write":["a","b"]}`, 200, func(t *testing.T, m map[string]any) {
			if len(m["write"].([]any)) != 2 || len(m["read"].([]any)) != 1 {
				t.Errorf("collection = %v", m)
			}
		}},
		{"PATCH", "/admin/collections/shared/", `{}`, 400, nil},
		{"PATCH", "/admin/collections/nope/", `{"read":[]}`, 404, nil},
		{"GET", "/admin/collections/shared", "", 200, nil},
		{"GET", "/admin/collections/", "", 200, func(t *testing.T, m map[string]any) {
			if n := len(m["collections"].([]any)); n != 1 {
				t.Errorf("%d collections", n)
			}
		}},
		{"GET", "/admin/nothing/", "", 404, nil},
	}
	for _, s := range steps {
		code, m, _ := f.do(t, s.method, s.path, "root", s.body)
		if code != s.code {
			t.Errorf("%s %s %s = %d %v, want %d", s.method, s.path, s.body, code, m, s.code)
			continue
		}
		if code >= 400 {
			if msg, _ := m["error"].(string); msg == "" {
				t.Errorf("%s %s: error body %v", s.method, s.path, m)
			}
		}
		if s.check != nil {
			s.check(t, m)
		}
	}

	// Every change, successful or not, is in the audit log as the admin.
	code, m, _ := f.do(t, "GET", "/admin/audit/entries/?action=admin&limit=1000", "root", "")
	if code != 200 {
		t.Fatalf("entries: %d %v", code, m)
	}
	entries := m["entries"].([]any)
	var ok, failed int
	for _, e := range entries {
		e := e.(map[string]any)
		if e["actor"] != "root" || e["action"] != audit.ActionAdmin {
			t.Errorf("entry %v", e)
		}
		if e["outcome"] == audit.OutcomeOK {
			ok++
		} else {
			failed++
		}
	}
	// Malformed bodies (rejected while decoding) never reach the manager
	// and are not attempted changes; every other POST, PATCH and DELETE
	// is: 9 that succeeded and 8 that failed in the steps above.
	if ok != 9 || failed != 8 {
		t.Errorf("audited %d ok and %d failed changes: %v", ok, failed, entries)
	}
}

func TestBadContentType(t *testing.T) {
	f := newFixture(t)
	r := httptest.NewRequest("POST", "/admin/organisations/", strings.NewReader(`{"name":"a"}`))
	r.Header.Set("Authorization", "Bearer root")
	r.Header.Set("Content-Type", "text/plain")
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	if w.Code != http.StatusUnsupportedMediaType {
		t.Errorf("status %d", w.Code)
	}
	r = httptest.NewRequest("POST", "/admin/organisations/", strings.NewReader(`{"name":"`+strings.Repeat("a", maxBody)+`"}`))
	r.Header.Set("Authorization", "Bearer root")
	w = httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	if w.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("large body: status %d", w.Code)
	}
}

// TestAuditProofs checks the checkpoint's signature and that the inclusion
// and consistency proofs served verify with the audit package's verifier.
func TestAuditProofs(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		if code, m, _ := f.do(t, "POST", "/admin/organisations/", "root", `{"name":"`+n+`"}`); code != 201 {
			t.Fatalf("create %s: %d %v", n, code, m)
		}
	}
	_ = ctx
	// Checkpoints are signed by the log's writer after the append is
	// acknowledged; wait for the one covering all five entries.
	var code int
	var m map[string]any
	for range 200 {
		code, m, _ = f.do(t, "GET", "/admin/audit/checkpoint/", "root", "")
		if code == 200 && m["checkpoint"].(map[string]any)["tree_size"].(float64) == 5 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if code != 200 {
		t.Fatalf("checkpoint: %d %v", code, m)
	}
	raw, _ := json.Marshal(m["checkpoint"])
	var cp audit.Checkpoint
	if err := json.Unmarshal(raw, &cp); err != nil {
		t.Fatal(err)
	}
	if err := cp.Verify(f.pub); err != nil {
		t.Fatalf("checkpoint signature: %v", err)
	}
	if m["public_key"] != hex.EncodeToString(f.pub) || cp.TreeSize != 5 {
		t.Errorf("checkpoint = %v", m)
	}

	for i := range uint64(5) {
		code, m, _ := f.do(t, "GET", "/admin/audit/inclusion/?index="+strconv.FormatUint(i, 10)+"&size=5", "root", "")
		if code != 200 {
			t.Fatalf("inclusion %d: %d %v", i, code, m)
		}
		leaf := []byte(m["leaf"].(string))
		root, _ := hex.DecodeString(m["root_hash"].(string))
		if err := audit.VerifyInclusion(audit.LeafHash(leaf), i, 5, unhex(m["proof"]), cp.RootHash); err != nil {
			t.Errorf("inclusion %d: %v", i, err)
		}
		if hex.EncodeToString(root) != hex.EncodeToString(cp.RootHash) {
			t.Errorf("root differs from the checkpoint's")
		}
	}
	code, m, _ = f.do(t, "GET", "/admin/audit/consistency/?old=2&new=5", "root", "")
	if code != 200 {
		t.Fatalf("consistency: %d %v", code, m)
	}
	oldRoot, _ := hex.DecodeString(m["old_root"].(string))
	if err := audit.VerifyConsistency(2, 5, oldRoot, cp.RootHash, unhex(m["proof"])); err != nil {
		t.Errorf("consistency: %v", err)
	}

	for _, q := range []string{"inclusion/?index=9&size=5", "inclusion/?size=5", "inclusion/?index=x", "consistency/?old=6&new=5", "entries/?limit=0", "entries/?since=yesterday", "entries/?bogus=1", "entries/?actor=a&actor=b"} {
		if code, m, _ := f.do(t, "GET", "/admin/audit/"+q, "root", ""); code != 400 {
			t.Errorf("%s = %d %v, want 400", q, code, m)
		}
	}

	// Paging through entries with a filter.
	code, m, _ = f.do(t, "GET", "/admin/audit/entries/?actor=root&limit=2", "root", "")
	if code != 200 || len(m["entries"].([]any)) != 2 || m["more"] != true || m["next"].(float64) != 2 {
		t.Fatalf("page 1: %d %v", code, m)
	}
	code, m, _ = f.do(t, "GET", "/admin/audit/entries/?actor=root&limit=2&start=4", "root", "")
	if code != 200 || len(m["entries"].([]any)) != 1 || m["more"] != false {
		t.Fatalf("last page: %d %v", code, m)
	}
	if code, m, _ := f.do(t, "GET", "/admin/audit/entries/?actor=nobody", "root", ""); code != 200 || len(m["entries"].([]any)) != 0 {
		t.Errorf("no match: %d %v", code, m)
	}
}

func unhex(v any) [][]byte {
	var out [][]byte
	for _, s := range v.([]any) {
		b, _ := hex.DecodeString(s.(string))
		out = append(out, b)
	}
	return out
}

// FuzzRequests sends arbitrary bodies and queries: the answer is always a
// JSON document with a status the API documents, never a panic or a 500.
func FuzzRequests(f *testing.F) {
	seeds := []struct{ method, path, body string }{
		{"POST", "/admin/organisations/", `{"name":"a"}`},
		{"POST", "/admin/collections/", `{"title":"t","read":["a"],"write":[]}`},
		{"PATCH", "/admin/collections/x/", `{"read":null}`},
		{"POST", "/admin/groups/", `{"name":"g","orgs":["a","a"]}`},
		{"GET", "/admin/audit/entries/?since=2024-01-01T00:00:00Z&limit=5", ""},
		{"GET", "/admin/audit/inclusion/?index=18446744073709551615", ""},
		{"POST", "/admin/users/", `{"name":"\u0000","org":"","role":"admin"}`},
	}
	for _, s := range seeds {
		f.Add(s.method, s.path, s.body)
	}
	fx := newFixture(f)
	allowed := map[int]bool{200: true, 201: true, 400: true, 404: true, 405: true, 409: true, 413: true, 415: true}
	f.Fuzz(func(t *testing.T, method, path, body string) {
		switch method {
		case "GET", "POST", "PATCH", "DELETE":
		default:
			return
		}
		u, err := url.ParseRequestURI(path)
		if err != nil || !strings.HasPrefix(u.Path, "/admin/") {
			return
		}
		r, err := http.NewRequest(method, "http://cell"+u.String(), strings.NewReader(body))
		if err != nil {
			return
		}
		r.Header.Set("Authorization", "Bearer root")
		w := httptest.NewRecorder()
		fx.h.ServeHTTP(w, r)
		if w.Code == http.StatusTemporaryRedirect || w.Code == http.StatusMovedPermanently {
			return // the mux canonicalising a path with "." or ".." in it
		}
		if !allowed[w.Code] || !json.Valid(w.Body.Bytes()) {
			t.Errorf("%s %s %q = %d %s", method, path, body, w.Code, w.Body.String())
		}
	})
}
