package main

// End-to-end tests of the real binary's code path: run(ctx, env, "serve",
// ...) in a goroutine, the management commands in-process against the same
// data folder, and every TAXII endpoint over real HTTP.

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	jcell "github.com/jointcell/jointcell/internal/cell"
	"github.com/jointcell/jointcell/internal/taxii"
)

const (
	e2eMediaType  = "application/taxii+json;version=2.1"
	e2eMaxContent = 4 << 20 // --max-content-length of the test servers
)

// e2eBuffer is an io.Writer safe for the server goroutine and the test.
type e2eBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *e2eBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *e2eBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// e2eServer is a running "jointcell serve".
type e2eServer struct {
	base        string // scheme://host:port
	adminToken  string // "" after the first start
	fingerprint string
	stdout      *e2eBuffer
	stderr      *e2eBuffer
	cancel      context.CancelFunc
	done        chan int
	hc          *http.Client
}

var (
	e2eListening = regexp.MustCompile(`listening on (https?://[^" ]+)`)
	e2eToken     = regexp.MustCompile(`(?m)^admin token[^:]*: (\S+)$`)
	e2eFP        = regexp.MustCompile(`(?m)^TLS certificate SHA-256 fingerprint: (\S+)$`)
)

// e2eStart runs serve on dir and waits until it listens.
func e2eStart(t *testing.T, dir string, extra ...string) *e2eServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &e2eServer{stdout: &e2eBuffer{}, stderr: &e2eBuffer{}, cancel: cancel, done: make(chan int, 1)}
	args := append([]string{"serve", "--data", dir, "--addr", "127.0.0.1:0",
		"--max-content-length", strconv.Itoa(e2eMaxContent)}, extra...)
	go func() {
		s.done <- run(ctx, &env{stdin: strings.NewReader(""), stdout: s.stdout, stderr: s.stderr}, args)
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if m := e2eListening.FindStringSubmatch(s.stderr.String()); m != nil {
			s.base = m[1]
			break
		}
		select {
		case code := <-s.done:
			t.Fatalf("serve exited with %d:\n%s", code, s.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("serve did not listen:\n%s", s.stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if m := e2eToken.FindStringSubmatch(s.stdout.String()); m != nil {
		s.adminToken = m[1]
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if m := e2eFP.FindStringSubmatch(s.stdout.String()); m != nil {
		s.fingerprint = m[1]
		tr.TLSClientConfig = jcell.PinnedClientConfig(s.fingerprint)
	}
	s.hc = &http.Client{Transport: tr, Timeout: 60 * time.Second}
	t.Cleanup(func() { s.stop(t) })
	return s
}

// stop cancels the server's context and waits for run to return 0.
func (s *e2eServer) stop(t *testing.T) {
	t.Helper()
	if s.cancel == nil {
		return
	}
	s.cancel()
	s.cancel = nil
	select {
	case code := <-s.done:
		if code != 0 {
			t.Errorf("serve exited with %d:\n%s", code, s.stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
	s.hc.CloseIdleConnections()
}

// e2eCLI runs a management command in-process and returns its stdout; it
// fails the test unless the command succeeds.
func e2eCLI(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := e2eRun(args...)
	if code != 0 {
		t.Fatalf("jointcell %s: exit %d: %s", strings.Join(args, " "), code, errOut)
	}
	return strings.TrimSpace(out)
}

func e2eRun(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := run(context.Background(), &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errOut}, args)
	return code, out.String(), errOut.String()
}

// e2eReq sends one request; token "" sends no credentials.
type e2eReq struct {
	method, path, token string
	body                []byte
	header              map[string]string
}

type e2eResp struct {
	status int
	header http.Header
	body   []byte
}

func (r e2eResp) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body %q: %v", r.body, err)
	}
	return m
}

func (s *e2eServer) do(t *testing.T, q e2eReq) e2eResp {
	t.Helper()
	var body io.Reader
	if q.body != nil {
		body = bytes.NewReader(q.body)
	}
	req, err := http.NewRequest(q.method, s.base+q.path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", e2eMediaType)
	if q.body != nil {
		req.Header.Set("Content-Type", e2eMediaType)
	}
	if q.token != "" {
		req.Header.Set("Authorization", "Bearer "+q.token)
	}
	for k, v := range q.header {
		req.Header.Set(k, v)
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", q.method, q.path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return e2eResp{resp.StatusCode, resp.Header, b}
}

// expect checks a status code and, for TAXII endpoints, the media type.
func (s *e2eServer) expect(t *testing.T, q e2eReq, status int) e2eResp {
	t.Helper()
	r := s.do(t, q)
	if r.status != status {
		t.Fatalf("%s %s as %.6s: %d %s, want %d", q.method, q.path, q.token, r.status, r.body, status)
	}
	if strings.HasPrefix(q.path, "/api/") || strings.HasPrefix(q.path, "/taxii2/") {
		if ct := r.header.Get("Content-Type"); ct != e2eMediaType {
			t.Errorf("%s %s: Content-Type %q", q.method, q.path, ct)
		}
		if status >= 400 {
			m := r.json(t)
			if m["title"] == "" || m["http_status"] != strconv.Itoa(status) {
				t.Errorf("%s %s: error %v", q.method, q.path, m)
			}
		}
	}
	return r
}

// expectAny is expect where 403 and 404 are both allowed answers to a
// denial (TAXII 2.1 lets a server hide what a client may not read).
func (s *e2eServer) expectAny(t *testing.T, q e2eReq, status int) e2eResp {
	t.Helper()
	if status != 403 {
		return s.expect(t, q, status)
	}
	r := s.do(t, q)
	if r.status != 403 && r.status != 404 {
		t.Fatalf("%s %s as %.6s: %d %s, want 403 or 404", q.method, q.path, q.token, r.status, r.body)
	}
	return r
}

func (s *e2eServer) client(t *testing.T, user, token string) *taxii.Client {
	t.Helper()
	c, err := taxii.NewClient(taxii.ClientConfig{BaseURL: s.base, User: user, Token: token, HTTPClient: s.hc})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// e2eIndicator returns an indicator version; equal (n, version) give
// equal bytes.
func e2eIndicator(id string, n, version int) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":"%s","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:%02d.000Z","name":"e2e %d","pattern":"[ipv4-addr:value = '198.51.100.%d']","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z"}`,
		id, version, n, n%250+1))
}

func e2eID(n int) string { return fmt.Sprintf("indicator--%08x-0000-4000-8000-%012x", n, n) }

func e2eEnvelope(objs ...json.RawMessage) []byte {
	b, _ := json.Marshal(map[string]any{"objects": objs})
	return b
}

// e2eSetup is the community of the tests: organisations a, b, c; users
// alice (analyst of a), bob (analyst of b), carol (reader of c); a sharing
// group ab of a and b; and the collections of the permission matrix.
type e2eSetup struct {
	tokens map[string]string // user -> token
	colls  map[string]string // alias -> id
}

func e2eCommunity(t *testing.T, s *e2eServer, dir string) e2eSetup {
	t.Helper()
	st := e2eSetup{tokens: map[string]string{"admin": s.adminToken}, colls: map[string]string{}}
	for _, org := range []string{"a", "b"} {
		if id := e2eCLI(t, "org", "create", "--data", dir, org); !strings.HasPrefix(id, "identity--") {
			t.Fatalf("org create printed %q", id)
		}
	}
	// Organisation c through the admin API.
	r := s.expect(t, e2eReq{method: "POST", path: "/admin/organisations/", token: s.adminToken, body: []byte(`{"name":"c"}`),
		header: map[string]string{"Content-Type": "application/json"}}, 201)
	if !strings.HasPrefix(r.json(t)["identity_id"].(string), "identity--") {
		t.Fatalf("admin org: %s", r.body)
	}
	st.tokens["alice"] = e2eCLI(t, "user", "create", "--data", dir, "--org", "a", "alice")
	st.tokens["bob"] = e2eCLI(t, "user", "create", "--data", dir, "--org", "b", "--role", "analyst", "bob")
	r = s.expect(t, e2eReq{method: "POST", path: "/admin/users/", token: s.adminToken, body: []byte(`{"name":"carol","org":"c","role":"reader"}`),
		header: map[string]string{"Content-Type": "application/json"}}, 201)
	st.tokens["carol"] = r.json(t)["token"].(string)
	if gid := e2eCLI(t, "group", "create", "--data", dir, "ab", "--orgs", "a,b"); !strings.HasPrefix(gid, "marking-definition--") {
		t.Fatalf("group create printed %q", gid)
	}
	if out := e2eCLI(t, "group", "add", "--data", dir, "ab", "--orgs", "c"); out != "ab: a,b,c" {
		t.Fatalf("group add printed %q", out)
	}
	if out := e2eCLI(t, "group", "remove", "--data", dir, "ab", "--orgs", "c"); out != "ab: a,b" {
		t.Fatalf("group remove printed %q", out)
	}

	// The permission matrix (read / write):
	//   shared: a,b / a     wonly: - / b     cpriv: c / c (admin API)
	//   group:  ab / ab     bulk:  a / a
	for _, c := range []struct{ alias, read, write string }{
		{"shared", "a,b", "a"}, {"wonly", "", "b"}, {"group", "ab", "ab"}, {"bulk", "a", "a"},
	} {
		args := []string{"collection", "create", "--data", dir, "--title", "E2E " + c.alias, "--alias", c.alias}
		if c.read != "" {
			args = append(args, "--read", c.read)
		}
		if c.write != "" {
			args = append(args, "--write", c.write)
		}
		st.colls[c.alias] = e2eCLI(t, args...)
	}
	r = s.expect(t, e2eReq{method: "POST", path: "/admin/collections/", token: s.adminToken,
		body: []byte(`{"title":"E2E cpriv","alias":"cpriv","read":["c"],"write":["c"]}`), header: map[string]string{"Content-Type": "application/json"}}, 201)
	st.colls["cpriv"] = r.json(t)["id"].(string)
	return st
}

func TestE2E(t *testing.T) {
	dir := t.TempDir()
	s := e2eStart(t, dir, "--http")
	if s.adminToken == "" || !strings.HasPrefix(s.base, "http://127.0.0.1:") {
		t.Fatalf("first start printed no admin token or address:\n%s\n%s", s.stdout, s.stderr)
	}
	st := e2eCommunity(t, s, dir)
	alice := st.tokens["alice"]

	t.Run("discovery and api root", func(t *testing.T) {
		r := s.expect(t, e2eReq{method: "GET", path: "/taxii2/", token: alice}, 200).json(t)
		roots, _ := r["api_roots"].([]any)
		if r["title"] == "" || !slices.Contains(roots, r["default"]) {
			t.Errorf("discovery = %v", r)
		}
		r = s.expect(t, e2eReq{method: "GET", path: "/api/", token: alice}, 200).json(t)
		if !slices.Contains(r["versions"].([]any), any(e2eMediaType)) || r["max_content_length"].(float64) != e2eMaxContent {
			t.Errorf("api root = %v", r)
		}
	})

	t.Run("healthz", func(t *testing.T) {
		r := s.do(t, e2eReq{method: "GET", path: "/healthz"})
		if r.status != 200 || string(r.body) != "ok" {
			t.Errorf("healthz = %d %q", r.status, r.body)
		}
	})

	t.Run("objects endpoints", func(t *testing.T) {
		col := "/api/collections/shared/"
		id1, id2 := e2eID(1), e2eID(2)
		env := e2eEnvelope(e2eIndicator(id1, 1, 1), e2eIndicator(id1, 1, 2), e2eIndicator(id1, 1, 3), e2eIndicator(id2, 2, 1))
		status := s.expect(t, e2eReq{method: "POST", path: col + "objects/", token: alice, body: env}, 202).json(t)
		if status["status"] != "complete" || status["total_count"].(float64) != 4 || status["success_count"].(float64) != 4 {
			t.Fatalf("status = %v", status)
		}
		// Posting the same bytes again is a success, never an error.
		again := s.expect(t, e2eReq{method: "POST", path: col + "objects/", token: alice, body: e2eEnvelope(e2eIndicator(id2, 2, 1))}, 202).json(t)
		if again["success_count"].(float64) != 1 || again["failure_count"].(float64) != 0 {
			t.Errorf("duplicate post: %v", again)
		}
		got := s.expect(t, e2eReq{method: "GET", path: "/api/status/" + status["id"].(string) + "/", token: alice}, 200).json(t)
		if got["id"] != status["id"] || got["success_count"].(float64) != 4 {
			t.Errorf("status resource = %v", got)
		}

		dateHeaders := func(r e2eResp) {
			t.Helper()
			first, last := r.header.Get("X-TAXII-Date-Added-First"), r.header.Get("X-TAXII-Date-Added-Last")
			if len(first) != len("2006-01-02T15:04:05.000000Z") || len(last) != len(first) || last < first {
				t.Errorf("date headers %q %q", first, last)
			}
		}
		count := func(query string, wantN int) map[string]any {
			t.Helper()
			r := s.expect(t, e2eReq{method: "GET", path: col + "objects/" + query, token: alice}, 200)
			m := r.json(t)
			objs, _ := m["objects"].([]any)
			if len(objs) != wantN {
				t.Errorf("objects/%s: %d objects, want %d: %s", query, len(objs), wantN, r.body)
			}
			if wantN > 0 {
				dateHeaders(r)
			}
			return m
		}
		count("", 2) // the last version of each
		count("?match[version]=all", 4)
		count("?match[version]=first", 2)
		count("?match[version]=2024-01-01T00:00:02.000Z", 1)
		count("?match[version]=first,last", 3)
		count("?match[id]="+id1, 1)
		count("?match[id]="+id1+","+id2+"&match[version]=all", 4)
		count("?match[type]=indicator", 2)
		count("?match[type]=malware", 0)
		count("?match[spec_version]=2.1", 2)
		count("?match[spec_version]=2.0", 0)
		m := count("?limit=1", 1)
		if m["more"] != true || m["next"] == nil {
			t.Errorf("limit=1: %v", m)
		}
		m = count("?limit=1&next="+url.QueryEscape(m["next"].(string)), 1)
		if m["more"] == true {
			t.Errorf("second page: %v", m)
		}
		all := s.expect(t, e2eReq{method: "GET", path: col + "manifest/?match[version]=all", token: alice}, 200)
		dateHeaders(all)
		recs := all.json(t)["objects"].([]any)
		if len(recs) != 4 {
			t.Fatalf("manifest: %s", all.body)
		}
		second := recs[1].(map[string]any)["date_added"].(string)
		count("?added_after="+second+"&match[version]=all", 2)

		obj := s.expect(t, e2eReq{method: "GET", path: col + "objects/" + id1 + "/", token: alice}, 200)
		dateHeaders(obj)
		if objs := obj.json(t)["objects"].([]any); len(objs) != 1 || objs[0].(map[string]any)["modified"] != "2024-01-01T00:00:03.000Z" {
			t.Errorf("object = %s", obj.body)
		}
		vers := s.expect(t, e2eReq{method: "GET", path: col + "objects/" + id1 + "/versions/", token: alice}, 200)
		dateHeaders(vers)
		if v := vers.json(t)["versions"].([]any); len(v) != 3 {
			t.Errorf("versions = %s", vers.body)
		}

		// The exact bytes posted come back (never re-encoded).
		c := s.client(t, "", alice)
		page, err := c.GetObject(context.Background(), "shared", id2, taxii.Filter{})
		if err != nil || len(page.Objects) != 1 {
			t.Fatalf("client GetObject: %v", err)
		}
		var o map[string]any
		json.Unmarshal(page.Objects[0], &o)
		if o["name"] != "e2e 2" || o["pattern"] != "[ipv4-addr:value = '198.51.100.3']" {
			t.Errorf("object 2 = %s", page.Objects[0])
		}

		// Delete one version, then the whole object.
		s.expect(t, e2eReq{method: "DELETE", path: col + "objects/" + id1 + "/?match[version]=first", token: alice}, 200)
		if v := s.expect(t, e2eReq{method: "GET", path: col + "objects/" + id1 + "/versions/", token: alice}, 200).json(t)["versions"].([]any); len(v) != 2 {
			t.Errorf("after deleting the first version: %v", v)
		}
		s.expect(t, e2eReq{method: "DELETE", path: col + "objects/" + id1 + "/", token: alice}, 200)
		s.expect(t, e2eReq{method: "GET", path: col + "objects/" + id1 + "/", token: alice}, 404)
		s.expect(t, e2eReq{method: "GET", path: col + "objects/" + id1 + "/versions/", token: alice}, 404)
		count("?match[id]="+id1+"&match[version]=all", 0)
	})

	t.Run("error codes", func(t *testing.T) {
		col := "/api/collections/shared/"
		for _, q := range []string{"?limit=0", "?limit=x", "?added_after=yesterday", "?limit=1&limit=2", "?match[version]=sometime", "?next=forged", "?match[id]=not-an-id"} {
			s.expect(t, e2eReq{method: "GET", path: col + "objects/" + q, token: alice}, 400)
		}
		r := s.expect(t, e2eReq{method: "GET", path: col + "objects/"}, 401)
		if h := r.header.Get("WWW-Authenticate"); !strings.Contains(h, "Basic") || !strings.Contains(h, "Bearer") {
			t.Errorf("WWW-Authenticate = %q", h)
		}
		s.expect(t, e2eReq{method: "GET", path: "/taxii2/", token: "not-a-token"}, 401)
		// bob may read "shared" but not write it.
		s.expect(t, e2eReq{method: "POST", path: col + "objects/", token: st.tokens["bob"], body: e2eEnvelope(e2eIndicator(e2eID(9), 9, 1))}, 403)
		s.expect(t, e2eReq{method: "GET", path: "/api/collections/cpriv/objects/", token: alice}, 404)
		s.expect(t, e2eReq{method: "GET", path: col + "objects/" + e2eID(404) + "/", token: alice}, 404)
		s.expect(t, e2eReq{method: "GET", path: "/api/status/" + jcell.NewUUID() + "/", token: alice}, 404)
		s.expect(t, e2eReq{method: "GET", path: "/api/nothing/", token: alice}, 404)
		s.expect(t, e2eReq{method: "GET", path: col + "objects/", token: alice, header: map[string]string{"Accept": "text/html"}}, 406)
		s.expect(t, e2eReq{method: "POST", path: col + "objects/", token: alice, body: bytes.Repeat([]byte(" "), e2eMaxContent+1)}, 413)
		// One byte under the limit is never 413 (it is a malformed envelope).
		under := append(e2eEnvelope(e2eIndicator(e2eID(10), 10, 1)), bytes.Repeat([]byte(" "), 1000)...)
		s.expect(t, e2eReq{method: "POST", path: col + "objects/", token: alice, body: under}, 202)
		s.expect(t, e2eReq{method: "POST", path: col + "objects/", token: alice, body: []byte(`{"objects":[]}`),
			header: map[string]string{"Content-Type": "application/json"}}, 415)
		for _, body := range []string{`{"objects": 5}`, `not json`, `[1,2]`} {
			s.expect(t, e2eReq{method: "POST", path: col + "objects/", token: alice, body: []byte(body)}, 422)
		}
		// An invalid object inside a good envelope is a failure in the status.
		bad := json.RawMessage(`{"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-0000000000bb","created":"2024-01-01T00:00:00.000Z","modified":"2023-01-01T00:00:00.000Z","pattern":"[","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z"}`)
		st := s.expect(t, e2eReq{method: "POST", path: col + "objects/", token: alice, body: e2eEnvelope(bad)}, 202).json(t)
		if st["failure_count"].(float64) != 1 {
			t.Errorf("invalid object: %v", st)
		}
	})

	t.Run("permission matrix", func(t *testing.T) {
		// Seed each collection (admins may write anywhere).
		ids := map[string]string{}
		for i, alias := range []string{"shared", "wonly", "group", "cpriv"} {
			ids[alias] = e2eID(1000 + i)
			s.expect(t, e2eReq{method: "POST", path: "/api/collections/" + alias + "/objects/", token: s.adminToken,
				body: e2eEnvelope(e2eIndicator(ids[alias], 1000+i, 1))}, 202)
		}
		type rights struct{ read, write bool }
		matrix := map[string]map[string]rights{
			"alice": {"shared": {true, true}, "wonly": {}, "group": {true, true}, "cpriv": {}},
			"bob":   {"shared": {true, false}, "wonly": {false, true}, "group": {true, true}, "cpriv": {}},
			"carol": {"shared": {}, "wonly": {}, "group": {}, "cpriv": {true, false}}, // a reader never writes
		}
		for user, row := range matrix {
			tok := st.tokens[user]
			listed := map[string]map[string]any{}
			cols, _ := s.expect(t, e2eReq{method: "GET", path: "/api/collections/", token: tok}, 200).json(t)["collections"].([]any)
			for _, c := range cols {
				c := c.(map[string]any)
				listed[c["alias"].(string)] = c
			}
			for alias, want := range row {
				path := "/api/collections/" + alias + "/"
				visible := want.read || want.write
				if c, ok := listed[alias]; ok != visible {
					t.Errorf("%s: %s listed = %v, want %v", user, alias, ok, visible)
				} else if ok && (c["can_read"] != want.read || c["can_write"] != want.write) {
					t.Errorf("%s: %s rights = %v/%v, want %v", user, alias, c["can_read"], c["can_write"], want)
				}
				if !visible {
					s.expect(t, e2eReq{method: "GET", path: path, token: tok}, 404)
				} else {
					c := s.expect(t, e2eReq{method: "GET", path: path, token: tok}, 200).json(t)
					if c["can_read"] != want.read || c["can_write"] != want.write {
						t.Errorf("%s: GET %s = %v", user, path, c)
					}
				}
				readStatus := map[bool]int{true: 200, false: 403}[want.read]
				if !visible {
					readStatus = 404
				}
				// TAXII 2.1 §5.3-5.7: without can_read, 403 or 404.
				s.expectAny(t, e2eReq{method: "GET", path: path + "objects/", token: tok}, readStatus)
				s.expectAny(t, e2eReq{method: "GET", path: path + "manifest/", token: tok}, readStatus)
				s.expectAny(t, e2eReq{method: "GET", path: path + "objects/" + ids[alias] + "/", token: tok}, readStatus)
				s.expectAny(t, e2eReq{method: "GET", path: path + "objects/" + ids[alias] + "/versions/", token: tok}, readStatus)
				writeStatus := map[bool]int{true: 202, false: 403}[want.write]
				if !visible {
					writeStatus = 404
				}
				newID := e2eID(2000 + len(user)*10 + len(alias))
				s.expectAny(t, e2eReq{method: "POST", path: path + "objects/", token: tok, body: e2eEnvelope(e2eIndicator(newID, 7, 1))}, writeStatus)
				// DELETE: neither right 404, one of them 403, both 200.
				delStatus := 404
				switch {
				case want.read && want.write:
					delStatus = 200
				case want.read || want.write:
					delStatus = 403
				}
				if delStatus != 200 {
					s.expect(t, e2eReq{method: "DELETE", path: path + "objects/" + ids[alias] + "/", token: tok}, delStatus)
				}
			}
		}
		// Both rights delete; the object is gone for everyone.
		s.expect(t, e2eReq{method: "DELETE", path: "/api/collections/group/objects/" + ids["group"] + "/", token: st.tokens["bob"]}, 200)
		s.expect(t, e2eReq{method: "GET", path: "/api/collections/group/objects/" + ids["group"] + "/", token: alice}, 404)
	})

	bobToken := st.tokens["bob"]
	t.Run("pagination through one large post", func(t *testing.T) {
		// More than the server's largest page (1000) either way; the
		// full size costs half a minute under -race.
		n := 2500
		if testing.Short() {
			n = 1100
		}
		objs := make([]json.RawMessage, n)
		for i := range objs {
			objs[i] = e2eIndicator(e2eID(100000+i), i, 1)
		}
		st := s.expect(t, e2eReq{method: "POST", path: "/api/collections/bulk/objects/", token: alice, body: e2eEnvelope(objs...)}, 202).json(t)
		if st["success_count"].(float64) != float64(n) {
			t.Fatalf("bulk status: %v", st)
		}
		c := s.client(t, "alice", alice) // HTTP Basic this time
		seen := map[string]bool{}
		pages, last := 0, ""
		err := c.Iterate(context.Background(), "bulk", taxii.Filter{Limit: 300}, func(p *taxii.ObjectsPage) error {
			pages++
			if len(p.Objects) > 300 {
				t.Errorf("page of %d objects over limit 300", len(p.Objects))
			}
			if p.DateAddedFirst <= last {
				t.Errorf("page starts at %s, not after the previous page's %s", p.DateAddedFirst, last)
			}
			last = p.DateAddedLast
			for _, raw := range p.Objects {
				var o struct{ ID string }
				json.Unmarshal(raw, &o)
				if seen[o.ID] {
					t.Errorf("%s seen twice", o.ID)
				}
				seen[o.ID] = true
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(seen) != n || pages != (n+299)/300 {
			t.Errorf("%d objects in %d pages, want %d in %d", len(seen), pages, n, (n+299)/300)
		}
		// Manifest pages too, and every date_added is distinct.
		dates := map[string]bool{}
		next := ""
		for {
			q := "?limit=1000"
			if next != "" {
				q += "&next=" + url.QueryEscape(next)
			}
			m := s.expect(t, e2eReq{method: "GET", path: "/api/collections/bulk/manifest/" + q, token: alice}, 200).json(t)
			for _, r := range m["objects"].([]any) {
				dates[r.(map[string]any)["date_added"].(string)] = true
			}
			if m["more"] != true {
				break
			}
			next = m["next"].(string)
		}
		if len(dates) != n {
			t.Errorf("%d distinct date_added for %d objects", len(dates), n)
		}
		// bob is not in "bulk": nothing, not even a count.
		s.expect(t, e2eReq{method: "GET", path: "/api/collections/bulk/manifest/", token: bobToken}, 404)
	})

	t.Run("admin API and metrics are for admins only", func(t *testing.T) {
		for _, tok := range []string{"", alice, "bogus"} {
			for _, path := range []string{"/admin/users/", "/metrics"} {
				// Answered exactly as an unknown path is: 401 without
				// valid credentials, 404 with them.
				r := s.do(t, e2eReq{method: "GET", path: path, token: tok})
				unknown := s.do(t, e2eReq{method: "GET", path: "/no-such-thing/", token: tok})
				want := map[bool]int{true: 404, false: 401}[tok == alice]
				if r.status != want || unknown.status != want || r.header.Get("Content-Type") != unknown.header.Get("Content-Type") {
					t.Errorf("%s as %.6q: %d %s; an unknown path: %d", path, tok, r.status, r.body, unknown.status)
				}
			}
		}
		users := s.expect(t, e2eReq{method: "GET", path: "/admin/users/", token: s.adminToken}, 200).json(t)["users"].([]any)
		if len(users) != 4 {
			t.Errorf("%d users", len(users))
		}
		m := s.expect(t, e2eReq{method: "GET", path: "/metrics", token: s.adminToken}, 200)
		for _, re := range []string{
			`jointcell_objects_stored_total (\d+)`,
			`jointcell_auth_failures_total (\d+)`,
			`jointcell_http_requests_total\{route="/api/collections/\{id\}/objects/",code="202"\} (\d+)`,
			`jointcell_http_request_duration_seconds_count\{route="/api/collections/\{id\}/objects/"\} (\d+)`,
		} {
			mm := regexp.MustCompile(re).FindSubmatch(m.body)
			if mm == nil {
				t.Errorf("metrics lack %s", re)
				continue
			}
			if v, _ := strconv.Atoi(string(mm[1])); v == 0 {
				t.Errorf("%s is 0", re)
			}
		}
		if v := regexp.MustCompile(`jointcell_objects_stored_total (\d+)`).FindSubmatch(m.body); v != nil {
			if n, _ := strconv.Atoi(string(v[1])); n < 1100 {
				t.Errorf("objects stored = %d, want at least 1100", n)
			}
		}
		// The admin changes of the setup are in the audit log.
		entries := s.expect(t, e2eReq{method: "GET", path: "/admin/audit/entries/?action=admin", token: s.adminToken}, 200).json(t)["entries"].([]any)
		if len(entries) < 3 {
			t.Errorf("admin audit entries: %v", entries)
		}
	})

	t.Run("token rotation applies within seconds", func(t *testing.T) {
		newTok := e2eCLI(t, "user", "token", "--data", dir, "bob")
		deadline := time.Now().Add(10 * time.Second)
		for s.do(t, e2eReq{method: "GET", path: "/taxii2/", token: st.tokens["bob"]}).status != 401 {
			if time.Now().After(deadline) {
				t.Fatal("the old token still works 10 s after rotation")
			}
			time.Sleep(200 * time.Millisecond)
		}
		s.expect(t, e2eReq{method: "GET", path: "/taxii2/", token: newTok}, 200)
	})

	t.Run("CLI errors are one line and create nothing", func(t *testing.T) {
		for _, args := range [][]string{
			{"org", "create", "--data", dir, "a"},
			{"org", "create", "--data", dir, "bad name"},
			{"user", "create", "--data", dir, "--org", "ghost", "eve"},
			{"user", "create", "--data", dir, "--org", "a", "--role", "god", "eve"},
			{"collection", "create", "--data", dir, "--title", "x", "--read", "a,ghost"},
			{"group", "create", "--data", dir, "g2", "--orgs", "a,ghost"},
			{"group", "add", "--data", dir, "nogroup", "--orgs", "a"},
			{"user", "token", "--data", dir, "nobody"},
			{"org", "list", "--data", dir + "/missing"},
		} {
			code, out, errOut := e2eRun(args...)
			if code == 0 || out != "" || strings.Count(errOut, "\n") != 1 || !strings.HasPrefix(errOut, "jointcell: ") {
				t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out, errOut)
			}
		}
		users := e2eCLI(t, "user", "list", "--data", dir)
		if strings.Contains(users, "eve") {
			t.Errorf("a failed user create left a user:\n%s", users)
		}
		cols := e2eCLI(t, "collection", "list", "--data", dir)
		if strings.Count(cols, "\n") != 5 { // header + 5 collections
			t.Errorf("collections:\n%s", cols)
		}
		groups := e2eCLI(t, "group", "list", "--data", dir)
		if strings.Contains(groups, "g2") || !strings.Contains(groups, "ab") {
			t.Errorf("groups:\n%s", groups)
		}
		orgs := e2eCLI(t, "org", "list", "--data", dir)
		if strings.Count(orgs, "\n") != 4 {
			t.Errorf("orgs:\n%s", orgs)
		}
	})
}

// TestE2ETLS serves HTTPS with the self-signed certificate, verified by the
// fingerprint the first start printed.
func TestE2ETLS(t *testing.T) {
	dir := t.TempDir()
	s := e2eStart(t, dir)
	if !strings.HasPrefix(s.base, "https://") || s.fingerprint == "" || s.adminToken == "" {
		t.Fatalf("first start: %s\n%s", s.stdout, s.stderr)
	}
	s.expect(t, e2eReq{method: "GET", path: "/taxii2/", token: s.adminToken}, 200)
	c := s.client(t, "admin", s.adminToken)
	if d, err := c.Discovery(context.Background()); err != nil || d.Default == "" || !strings.HasPrefix(d.Default, "https://") {
		t.Fatalf("discovery over TLS: %+v, %v", d, err)
	}

	// A client pinning another fingerprint, or offering TLS 1.1 only,
	// does not get through.
	for name, cfg := range map[string]*tls.Config{
		"wrong pin": jcell.PinnedClientConfig(strings.Repeat("00:", 31) + "00"),
		"TLS 1.1": func() *tls.Config {
			c := jcell.PinnedClientConfig(s.fingerprint)
			c.MaxVersion = tls.VersionTLS11
			return c
		}(),
	} {
		hc := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 10 * time.Second}
		if resp, err := hc.Get(s.base + "/healthz"); err == nil {
			resp.Body.Close()
			t.Errorf("%s: request succeeded", name)
		}
	}
	fp := s.fingerprint
	s.stop(t)

	// The restart keeps the certificate and prints no new admin token.
	s2 := e2eStart(t, dir)
	if s2.fingerprint != fp || s2.adminToken != "" {
		t.Errorf("restart: fingerprint %q (was %q), token %q", s2.fingerprint, fp, s2.adminToken)
	}
	s2.expect(t, e2eReq{method: "GET", path: "/taxii2/", token: s.adminToken}, 200)
}

// slowBody yields a prepared body in chunks, signalling after the first.
type slowBody struct {
	data    []byte
	chunk   int
	started chan struct{}
	once    sync.Once
}

func (b *slowBody) Read(p []byte) (int, error) {
	if len(b.data) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), b.chunk, len(b.data))
	copy(p, b.data[:n])
	b.data = b.data[n:]
	b.once.Do(func() { close(b.started) })
	time.Sleep(2 * time.Millisecond)
	return n, nil
}

// TestE2EGracefulShutdown cancels the server while a large POST is being
// uploaded: the POST completes with 202, and after a restart its objects
// are all there.
func TestE2EGracefulShutdown(t *testing.T) {
	dir := t.TempDir()
	s := e2eStart(t, dir, "--http")
	e2eCLI(t, "org", "create", "--data", dir, "a")
	tok := e2eCLI(t, "user", "create", "--data", dir, "--org", "a", "alice")
	e2eCLI(t, "collection", "create", "--data", dir, "--title", "T", "--alias", "t", "--read", "a", "--write", "a")

	n := 3000
	if testing.Short() {
		n = 600
	}
	objs := make([]json.RawMessage, n)
	for i := range objs {
		objs[i] = e2eIndicator(e2eID(i), i, 1)
	}
	env := e2eEnvelope(objs...)
	body := &slowBody{data: env, chunk: 4 << 10, started: make(chan struct{})}
	req, _ := http.NewRequest("POST", s.base+"/api/collections/t/objects/", body)
	req.ContentLength = int64(len(env))
	req.Header.Set("Accept", e2eMediaType)
	req.Header.Set("Content-Type", e2eMediaType)
	req.Header.Set("Authorization", "Bearer "+tok)
	type result struct {
		status int
		body   []byte
		err    error
	}
	res := make(chan result, 1)
	go func() {
		resp, err := s.hc.Do(req)
		if err != nil {
			res <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		res <- result{status: resp.StatusCode, body: b}
	}()
	<-body.started
	time.Sleep(20 * time.Millisecond)
	s.cancel() // SIGTERM
	r := <-res
	if r.err != nil || r.status != 202 {
		t.Fatalf("in-flight POST: %d %s %v", r.status, r.body, r.err)
	}
	var st map[string]any
	json.Unmarshal(r.body, &st)
	if st["success_count"].(float64) != float64(n) {
		t.Fatalf("status: %s", r.body)
	}
	select {
	case code := <-s.done:
		if code != 0 {
			t.Fatalf("serve exited %d:\n%s", code, s.stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
	s.cancel = nil
	if !strings.Contains(s.stderr.String(), "shutting down") {
		t.Errorf("no shutdown log:\n%s", s.stderr)
	}

	s2 := e2eStart(t, dir, "--http")
	c := s2.client(t, "", tok)
	total := 0
	if err := c.Iterate(context.Background(), "t", taxii.Filter{}, func(p *taxii.ObjectsPage) error {
		total += len(p.Objects)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if total != n {
		t.Errorf("%d objects after restart, want %d", total, n)
	}
}

func TestServeBadInvocations(t *testing.T) {
	dir := t.TempDir()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, args := range [][]string{
		{"serve"},
		{"serve", "--data", dir, "extra"},
		{"serve", "--data", dir, "--tls-cert", "c.pem"},
		{"serve", "--data", dir, "--http", "--tls-cert", "c.pem", "--tls-key", "k.pem"},
		{"serve", "--data", dir, "--tls-cert", "missing.pem", "--tls-key", "missing.pem"},
		{"serve", "--data", dir, "--log-level", "loud"},
		{"serve", "--data", dir, "--log-format", "xml"},
		{"serve", "--data", dir, "--max-content-length", "0"},
		{"serve", "--data", dir, "--http", "--addr", busy.Addr().String()},
		{"serve", "--data", dir, "--http", "--debug-addr", "0.0.0.0:6060"},
		{"serve", "--data", dir, "--http", "--debug-addr", busy.Addr().String()},
	} {
		code, _, errOut := e2eRun(args...)
		if code != 1 || !strings.Contains(errOut, "jointcell: serve: ") {
			t.Errorf("%v: exit %d, stderr %q", args, code, errOut)
		}
	}
	// A first start on a busy port fails before the data folder is
	// created: no half-made cell, no admin token printed in vain.
	fresh := filepath.Join(t.TempDir(), "cell")
	code, out, _ := e2eRun("serve", "--data", fresh, "--http", "--addr", busy.Addr().String())
	if code != 1 || out != "" {
		t.Errorf("failed first start: exit %d, stdout %q", code, out)
	}
	if _, err := os.Stat(fresh); !os.IsNotExist(err) {
		t.Errorf("failed first start left %s behind (stat: %v)", fresh, err)
	}
}

// TestServeGivenCertificate serves with --tls-cert and --tls-key (here the
// self-signed pair of another cell) and prints that certificate's
// fingerprint.
func TestServeGivenCertificate(t *testing.T) {
	other := t.TempDir()
	_, fp, err := jcell.TLSConfig(other)
	if err != nil {
		t.Fatal(err)
	}
	s := e2eStart(t, t.TempDir(), "--tls-cert", filepath.Join(other, "tls", "cert.pem"), "--tls-key", filepath.Join(other, "tls", "key.pem"))
	if s.fingerprint != fp {
		t.Fatalf("fingerprint %q, want %q", s.fingerprint, fp)
	}
	s.expect(t, e2eReq{method: "GET", path: "/taxii2/", token: s.adminToken}, 200)
}
