package taxii

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jointcell/jointcell/internal/access"
	"github.com/jointcell/jointcell/internal/audit"
	"github.com/jointcell/jointcell/internal/stix"
	"github.com/jointcell/jointcell/internal/store"
	"github.com/jointcell/jointcell/internal/store/sqlite"
)

// Test organisations and the marking that restricts an object to its
// producer's organisation in testPolicy (a stand-in for TLP:RED).
const (
	orgA        = "identity--aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
	orgB        = "identity--bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"
	privateMark = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"
)

// Test collections: every combination of read and write rights for orgA.
const (
	collRW   = "11111111-1111-4111-8111-111111111111"
	collRO   = "22222222-2222-4222-8222-222222222222"
	collWO   = "33333333-3333-4333-8333-333333333333"
	collNone = "44444444-4444-4444-8444-444444444444"
)

// testAuth authenticates "Authorization: Bearer <user name>" against a
// fixed set of principals.
type testAuth map[string]access.Principal

var errNoAuth = errors.New("no credentials")

func (a testAuth) Authenticate(r *http.Request) (access.Principal, error) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		if u, pw, ok := r.BasicAuth(); ok && pw == "secret" {
			tok = u
		}
	}
	p, ok := a[tok]
	if !ok {
		return access.Principal{}, errNoAuth
	}
	return p, nil
}

var testPrincipals = testAuth{
	"alice":  {UserID: "u-alice", UserName: "alice", OrgName: "A", OrgID: orgA, Role: access.RoleAnalyst, Readers: access.ReaderKeys(orgA, nil)},
	"alice2": {UserID: "u-alice2", UserName: "alice2", OrgName: "A", OrgID: orgA, Role: access.RoleAnalyst, Readers: access.ReaderKeys(orgA, nil)},
	"bob":    {UserID: "u-bob", UserName: "bob", OrgName: "B", OrgID: orgB, Role: access.RoleAnalyst, Readers: access.ReaderKeys(orgB, nil)},
	"admin":  {UserID: "u-admin", UserName: "admin", OrgName: "A", OrgID: orgA, Role: access.RoleAdmin},
}

// testPolicy is a small policy: rights by reader key, TLP:RED-like
// marking restricts an object to the poster's organisation, objects of
// type x-refused are refused, and objects carrying "x_withhold": true are
// withheld on the way out.
type testPolicy struct{}

var _ Policy = testPolicy{}

func meets(keys, readers []string) bool {
	for _, k := range keys {
		if slices.Contains(readers, k) {
			return true
		}
	}
	return false
}

func (testPolicy) CanRead(p access.Principal, c store.Collection) bool {
	return p.IsAdmin() || meets(c.ReadBy, p.Readers)
}

func (testPolicy) CanWrite(p access.Principal, c store.Collection) bool {
	return p.IsAdmin() || (p.Role != access.RoleReader && meets(c.WriteBy, p.Readers))
}

func (testPolicy) Admit(_ context.Context, p access.Principal, _ store.Collection, o stix.Object) (store.Version, error) {
	if o.Type == "x-refused" {
		return store.Version{}, errors.New("policy: this type is refused here")
	}
	aud := []string{store.ReaderAnyone}
	if slices.Contains(o.MarkingRefs, privateMark) {
		aud = []string{store.ReaderOrg(p.OrgID)}
	}
	return store.Version{Object: o, Audience: aud}, nil
}

func (testPolicy) Present(_ access.Principal, _ store.Collection, v store.Version) ([]byte, bool) {
	if bytes.Contains(v.Object.Raw, []byte(`"x_withhold":true`)) {
		return nil, false
	}
	return v.Object.Raw, true
}

// recorder is an Auditor that keeps entries in memory.
type recorder struct {
	mu      sync.Mutex
	entries []audit.Entry
}

func (r *recorder) Append(_ context.Context, e audit.Entry) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.entries = append(r.entries, e)
	return nil
}

func (r *recorder) find(action, outcome string) []audit.Entry {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []audit.Entry
	for _, e := range r.entries {
		if e.Action == action && e.Outcome == outcome {
			out = append(out, e)
		}
	}
	return out
}

// fixture is a server over a fresh SQLite store with the four test
// collections.
type fixture struct {
	db    *sqlite.DB
	srv   *Server
	audit *recorder
	now   time.Time
	mu    sync.Mutex
}

type fixtureOption func(*Config)

func newFixture(t testing.TB, opts ...fixtureOption) *fixture {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	for _, c := range []store.Collection{
		{ID: collRW, Alias: "rw", Title: "read-write", ReadBy: []string{store.ReaderOrg(orgA)}, WriteBy: []string{store.ReaderOrg(orgA)}},
		{ID: collRO, Alias: "ro", Title: "read-only", ReadBy: []string{store.ReaderOrg(orgA)}},
		{ID: collWO, Alias: "wo", Title: "write-only", WriteBy: []string{store.ReaderOrg(orgA)}},
		{ID: collNone, Alias: "none", Title: "nothing"},
	} {
		if err := db.CreateCollection(ctx, c); err != nil {
			t.Fatalf("create collection: %v", err)
		}
	}
	f := &fixture{db: db, audit: &recorder{}, now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	cfg := Config{
		Objects: db, Collections: db, Statuses: db,
		Authenticator: testPrincipals, Policy: testPolicy{}, Auditor: f.audit,
		CursorKey: []byte("test cursor key"), Title: "test cell",
		Now: f.clock,
	}
	for _, o := range opts {
		o(&cfg)
	}
	f.srv = NewServer(cfg)
	return f
}

func (f *fixture) clock() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fixture) advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}

// response is a recorded answer.
type response struct {
	Code   int
	Header http.Header
	Body   []byte
}

func (r response) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// taxiiError decodes the body as a TAXII error and checks its shape.
func (r response) taxiiError(t *testing.T) Error {
	t.Helper()
	var raw map[string]any
	r.decode(t, &raw)
	if hs, ok := raw["http_status"].(string); !ok || hs != fmt.Sprint(r.Code) {
		t.Errorf("http_status = %#v, want the string %q", raw["http_status"], fmt.Sprint(r.Code))
	}
	var e Error
	r.decode(t, &e)
	if e.Title == "" {
		t.Errorf("error without title: %s", r.Body)
	}
	return e
}

// req is a request to send through the handler.
type req struct {
	method, path, user string
	body               []byte
	header             map[string]string
}

func (f *fixture) do(t testing.TB, rq req) response {
	t.Helper()
	var body io.Reader
	if rq.body != nil {
		body = bytes.NewReader(rq.body)
	}
	method := rq.method
	if method == "" {
		method = http.MethodGet
	}
	r := httptest.NewRequest(method, rq.path, body)
	r.Header.Set("Accept", MediaTypeTAXII)
	if rq.body != nil {
		r.Header.Set("Content-Type", MediaTypeTAXII)
	}
	if rq.user != "" {
		r.Header.Set("Authorization", "Bearer "+rq.user)
	}
	for k, v := range rq.header {
		if v == "" {
			r.Header.Del(k)
		} else {
			r.Header.Set(k, v)
		}
	}
	w := httptest.NewRecorder()
	f.srv.ServeHTTP(w, r)
	res := w.Result()
	b, _ := io.ReadAll(res.Body)
	out := response{Code: res.StatusCode, Header: res.Header, Body: b}
	if ct := out.Header.Get("Content-Type"); ct != MediaTypeTAXII {
		t.Errorf("%s %s: Content-Type %q, want %q", method, rq.path, ct, MediaTypeTAXII)
	}
	return out
}

// get is a GET as user.
func (f *fixture) get(t testing.TB, user, path string) response {
	t.Helper()
	return f.do(t, req{path: path, user: user})
}

// post posts objects in an envelope as user and decodes the status.
func (f *fixture) post(t testing.TB, user, coll string, objs ...string) (response, Status) {
	t.Helper()
	res := f.do(t, req{method: http.MethodPost, path: "/api/collections/" + coll + "/objects/", user: user, body: envelope(objs...)})
	var st Status
	if res.Code == http.StatusAccepted {
		if err := json.Unmarshal(res.Body, &st); err != nil {
			t.Fatalf("decode status: %v", err)
		}
	}
	return res, st
}

func envelope(objs ...string) []byte {
	return []byte(`{"objects":[` + strings.Join(objs, ",") + `]}`)
}

// uuidN is a deterministic UUIDv4 numbered n.
func uuidN(n int) string {
	return fmt.Sprintf("%08x-0000-4000-8000-%012x", n, n)
}

// indicator returns an indicator with the given id number and modified
// time; extra is spliced in as additional properties.
func indicator(n int, modified string, extra ...string) string {
	props := ""
	for _, e := range extra {
		props += "," + e
	}
	return fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":"indicator--%s","created":"2020-01-01T00:00:00.000Z","modified":%q,"name":"ind %d","pattern":"[ipv4-addr:value = '198.51.100.%d']","pattern_type":"stix","valid_from":"2020-01-01T00:00:00Z"%s}`,
		uuidN(n), modified, n, n%256, props)
}

func indicatorID(n int) string { return "indicator--" + uuidN(n) }

// malware returns a malware SDO.
func malware(n int, modified string) string {
	return fmt.Sprintf(`{"type":"malware","spec_version":"2.1","id":"malware--%s","created":"2020-01-01T00:00:00.000Z","modified":%q,"name":"mal %d","is_family":false}`,
		uuidN(n), modified, n)
}

func ids(t *testing.T, objs []json.RawMessage) []string {
	t.Helper()
	out := make([]string, len(objs))
	for i, raw := range objs {
		var o struct {
			ID       string `json:"id"`
			Modified string `json:"modified"`
		}
		if err := json.Unmarshal(raw, &o); err != nil {
			t.Fatalf("decode object: %v", err)
		}
		out[i] = o.ID
	}
	return out
}

// doChunked sends the request body without a Content-Length, as a chunked
// upload would arrive.
func (f *fixture) doChunked(t testing.TB, rq req) response {
	t.Helper()
	r := httptest.NewRequest(rq.method, rq.path, io.MultiReader(bytes.NewReader(rq.body)))
	r.ContentLength = -1
	r.Header.Set("Accept", MediaTypeTAXII)
	r.Header.Set("Content-Type", MediaTypeTAXII)
	r.Header.Set("Authorization", "Bearer "+rq.user)
	w := httptest.NewRecorder()
	f.srv.ServeHTTP(w, r)
	b, _ := io.ReadAll(w.Result().Body)
	return response{Code: w.Code, Header: w.Header(), Body: b}
}
