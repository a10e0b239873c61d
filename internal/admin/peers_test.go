package admin

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jointcell/jointcell/internal/audit"
	"github.com/jointcell/jointcell/internal/cell"
	"github.com/jointcell/jointcell/internal/federation"
)

// peerFixture is newFixture with federation: the admin API over a fresh
// cell, with peer management whose HTTP clients reach hc's server.
type peerFixture struct {
	*fixture
	st federation.Store
}

func newPeerFixture(t *testing.T, hc federation.HTTPClientFunc) *peerFixture {
	t.Helper()
	dir := t.TempDir()
	c, err := cell.Open(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	st, ok := c.Store.(federation.Store)
	if !ok {
		t.Fatal("the cell's store does not support federation")
	}
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
		Peers: federation.NewPeers(st, c.Key, hc),
	})
	return &peerFixture{fixture: &fixture{h: h, log: log, pub: pub}, st: st}
}

// infoPeer is a peer cell answering /federation/info/ to peer-a with
// token s3cret, and the client factory that reaches it.
func infoPeer(t *testing.T) (*httptest.Server, federation.HTTPClientFunc, ed25519.PublicKey) {
	t.Helper()
	pub := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)).Public().(ed25519.PublicKey)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); r.URL.Path != federation.InfoPath || !ok || u != "peer-a" || p != "s3cret" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(federation.Info{PublicKey: base64.StdEncoding.EncodeToString(pub),
			Fingerprint: federation.Fingerprint(pub), Identity: "identity--cellc",
			Organisations: []federation.OrgInfo{{Name: "bank", Identity: "identity--bank"}}})
	}))
	t.Cleanup(srv.Close)
	return srv, func(string, bool, time.Duration) (*http.Client, error) { return srv.Client(), nil }, pub
}

func TestPeersHiddenFromNonAdmins(t *testing.T) {
	f := newPeerFixture(t, nil)
	for _, token := range []string{"", "alice", "wrong"} {
		for _, q := range []struct{ method, path string }{
			{"GET", "/admin/peers/"}, {"POST", "/admin/peers/"}, {"GET", "/admin/peers/b"}, {"DELETE", "/admin/peers/b/"},
			{"GET", "/admin/peers/b/links/"}, {"POST", "/admin/peers/b/links"}, {"DELETE", "/admin/peers/b/links"},
			{"GET", "/admin/peers/b/status/"}, {"GET", "/admin/federation/status/"},
		} {
			r := httptest.NewRequest(q.method, q.path, strings.NewReader(`{"name":"b"}`))
			if token != "" {
				r.Header.Set("Authorization", "Bearer "+token)
			}
			w := httptest.NewRecorder()
			f.h.ServeHTTP(w, r)
			if w.Code != 404 || w.Body.String() != "plain 404" {
				t.Errorf("%s %s as %q = %d %q, want the server's own 404", q.method, q.path, token, w.Code, w.Body.String())
			}
		}
	}
}

func TestPeersWithoutFederation(t *testing.T) {
	f := newFixture(t) // Config.Peers is nil
	for _, q := range []struct{ method, path, body string }{
		{"GET", "/admin/peers/", ""}, {"POST", "/admin/peers/", `{"name":"b"}`}, {"GET", "/admin/peers/b/", ""},
		{"DELETE", "/admin/peers/b/", ""}, {"GET", "/admin/peers/b/links/", ""},
		{"POST", "/admin/peers/b/links/", `{"direction":"push","local":"a","remote":"b"}`},
		{"DELETE", "/admin/peers/b/links/?direction=push&local=a&remote=b", ""},
		{"GET", "/admin/peers/b/status/", ""}, {"GET", "/admin/federation/status/", ""},
	} {
		code, m, _ := f.do(t, q.method, q.path, "root", q.body)
		if code != 404 || m["error"] != "federation is not enabled" {
			t.Errorf("%s %s without federation = %d %v", q.method, q.path, code, m)
		}
	}
}

func TestPeers(t *testing.T) {
	srv, hc, infoKey := infoPeer(t)
	f := newPeerFixture(t, hc)
	ctx := context.Background()
	pinnedKey := hex.EncodeToString(make([]byte, ed25519.PublicKeySize))
	const token = "tok-SECRET-b"
	var bodies []string // every answer, to look for tokens in

	steps := []struct {
		method, path, body string
		code               int
		check              func(t *testing.T, m map[string]any)
	}{
		// Setup through the admin API: a collection to link, an account.
		{"POST", "/admin/organisations/", `{"name":"cellb"}`, 201, nil},
		{"POST", "/admin/users/", `{"name":"peer-b","org":"cellb","role":"reader"}`, 201, nil},
		{"POST", "/admin/collections/", `{"title":"Intel","alias":"intel"}`, 201, nil},

		{"GET", "/admin/peers/", "", 200, func(t *testing.T, m map[string]any) {
			if ps := m["peers"].([]any); len(ps) != 0 {
				t.Errorf("peers = %v", ps)
			}
		}},
		{"POST", "/admin/peers/", `{"name":`, 400, nil},
		{"POST", "/admin/peers/", `{"name":"b","tokn":"x"}`, 400, nil},
		{"POST", "/admin/peers/", `{"name":"b","url":"https://b.example:8443"}`, 400, nil},
		{"POST", "/admin/peers/", `{"name":"b/c","url":"https://b.example","token":"t","foreign":true}`, 400, nil},
		{"POST", "/admin/peers/", `{"name":"b","url":"https://b.example","token":"t","peer_key":"abc"}`, 400, nil},
		{"POST", "/admin/peers/", `{"name":"b","url":"https://b.example","token":"t","foreign":true,"account":"ghost"}`, 400, nil},
		{"POST", "/admin/peers/", `{"name":"b","url":"https://127.0.0.1:1/","user":"peer-a","token":"` + token + `","peer_key":"` + pinnedKey + `","orgs":["identity--b"],"account":"peer-b"}`, 201, func(t *testing.T, m map[string]any) {
			if m["fingerprint"] != federation.Fingerprint(make([]byte, 32)) || m["public_key"] != pinnedKey || m["foreign"] != false ||
				m["account"] != "peer-b" || m["local_fingerprint"] != federation.Fingerprint(f.pub) || len(m["links"].([]any)) != 0 {
				t.Errorf("created peer = %v", m)
			}
		}},
		{"POST", "/admin/peers/", `{"name":"b","url":"https://b.example","token":"t","foreign":true}`, 409, nil},
		{"POST", "/admin/peers/", `{"name":"misp","url":"https://misp.example/taxii2/","token":"` + token + `","foreign":true}`, 201, func(t *testing.T, m map[string]any) {
			if m["foreign"] != true || m["fingerprint"] != nil {
				t.Errorf("foreign peer = %v", m)
			}
		}},
		// Fetching the key from the peer, and a peer that refuses.
		{"POST", "/admin/peers/", `{"name":"c","url":"` + srv.URL + `","user":"peer-a","token":"s3cret"}`, 201, func(t *testing.T, m map[string]any) {
			if m["fingerprint"] != federation.Fingerprint(infoKey) || m["identity"] != "identity--cellc" || m["orgs"].([]any)[0] != "identity--bank" {
				t.Errorf("fetched peer = %v", m)
			}
		}},
		{"POST", "/admin/peers/", `{"name":"d","url":"` + srv.URL + `","user":"peer-a","token":"wrong"}`, 502, nil},
		{"POST", "/admin/peers/", `{"name":"c","url":"` + srv.URL + `","user":"peer-a","token":"s3cret","replace":true}`, 201, nil},
		{"GET", "/admin/peers", "", 200, func(t *testing.T, m map[string]any) {
			var names []string
			for _, p := range m["peers"].([]any) {
				names = append(names, p.(map[string]any)["name"].(string))
			}
			if strings.Join(names, ",") != "b,c,misp" {
				t.Errorf("peers = %v, want b,c,misp", names)
			}
		}},
		{"GET", "/admin/peers/b/", "", 200, func(t *testing.T, m map[string]any) {
			if m["name"] != "b" || m["url"] != "https://127.0.0.1:1/" || m["local_fingerprint"] != nil {
				t.Errorf("peer = %v", m)
			}
		}},
		{"GET", "/admin/peers/nope/", "", 404, nil},
		{"PATCH", "/admin/peers/b/", `{}`, 405, nil},

		// Links.
		{"POST", "/admin/peers/b/links/", `{"direction":"push","local":"intel","remote":"froma"}`, 201, func(t *testing.T, m map[string]any) {
			if m["peer"] != "b" || m["direction"] != "push" || m["remote"] != "froma" || m["local"] == "intel" || m["synced"] != 0.0 {
				t.Errorf("link = %v, want local resolved to the collection id", m)
			}
		}},
		{"POST", "/admin/peers/b/links/", `{"direction":"push","local":"intel","remote":"froma"}`, 200, nil},
		{"POST", "/admin/peers/b/links/", `{"direction":"pull","local":"intel","remote":"tob"}`, 201, nil},
		{"POST", "/admin/peers/b/links/", `{"direction":"push","local":"ghost","remote":"froma"}`, 400, nil},
		{"POST", "/admin/peers/b/links/", `{"direction":"sideways","local":"intel","remote":"froma"}`, 400, nil},
		{"POST", "/admin/peers/b/links/", `{"direction":"push"`, 400, nil},
		{"POST", "/admin/peers/nope/links/", `{"direction":"push","local":"intel","remote":"froma"}`, 404, nil},
		{"GET", "/admin/peers/b/links", "", 200, func(t *testing.T, m map[string]any) {
			if ls := m["links"].([]any); len(ls) != 2 {
				t.Errorf("links = %v", ls)
			}
		}},
		{"GET", "/admin/peers/nope/links", "", 404, nil},
		{"GET", "/admin/peers/b/status", "", 200, func(t *testing.T, m map[string]any) {
			ls := m["links"].([]any)
			if len(ls) != 2 {
				t.Fatalf("status = %v", m)
			}
			for _, l := range ls {
				l := l.(map[string]any)
				// The push backlog is local (nothing waits); the pull
				// backlog asks b, which does not answer (port 1).
				if l["direction"] == "push" && (l["backlog"] != 0.0 || l["lag_seconds"] != 0.0) {
					t.Errorf("push status = %v", l)
				}
				if l["direction"] == "pull" && (l["backlog"] != nil || l["lag_seconds"] != nil) {
					t.Errorf("pull status = %v, want backlog and lag unknown", l)
				}
			}
		}},
		{"GET", "/admin/peers/nope/status", "", 404, nil},
		{"GET", "/admin/federation/status/", "", 200, func(t *testing.T, m map[string]any) {
			if ls := m["links"].([]any); len(ls) != 2 {
				t.Errorf("status = %v", m)
			}
		}},
		{"DELETE", "/admin/peers/b/links/?direction=push&local=intel&remote=froma", "", 200, func(t *testing.T, m map[string]any) {
			if m["direction"] != "push" || m["remote"] != "froma" {
				t.Errorf("removed link = %v", m)
			}
		}},
		{"DELETE", "/admin/peers/b/links/?direction=push&local=intel&remote=froma", "", 404, nil},
		{"DELETE", "/admin/peers/b/links/?direction=push&collection=intel", "", 400, nil},
		{"DELETE", "/admin/peers/b/links/?direction=push&direction=pull", "", 400, nil},
		{"DELETE", "/admin/peers/b/links/", `{"direction":"pull","local":"intel","remote":"tob"}`, 200, nil},
		{"DELETE", "/admin/peers/b/links/", `not json`, 400, nil},
		{"DELETE", "/admin/peers/nope/links/", `{"direction":"pull","local":"intel","remote":"tob"}`, 404, nil},
		{"GET", "/admin/peers/b/links", "", 200, func(t *testing.T, m map[string]any) {
			if ls := m["links"].([]any); len(ls) != 0 {
				t.Errorf("links after unlinking = %v", ls)
			}
		}},

		// Removing a peer removes its links and nothing else.
		{"POST", "/admin/peers/b/links/", `{"direction":"push","local":"intel","remote":"froma"}`, 201, nil},
		{"DELETE", "/admin/peers/b/", "", 200, func(t *testing.T, m map[string]any) {
			if m["name"] != "b" || len(m["links"].([]any)) != 1 {
				t.Errorf("removed peer = %v", m)
			}
		}},
		{"DELETE", "/admin/peers/b/", "", 404, nil},
		{"GET", "/admin/peers/", "", 200, func(t *testing.T, m map[string]any) {
			if ps := m["peers"].([]any); len(ps) != 2 {
				t.Errorf("peers after removal = %v", ps)
			}
		}},
		{"GET", "/admin/users/", "", 200, func(t *testing.T, m map[string]any) {
			if us := m["users"].([]any); len(us) != 1 {
				t.Errorf("the peer's account went with it: %v", us)
			}
		}},
	}
	var sealed []byte
	for _, s := range steps {
		code, m, _ := f.do(t, s.method, s.path, "root", s.body)
		b, _ := json.Marshal(m)
		bodies = append(bodies, string(b))
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
		if sealed == nil {
			if p, err := f.st.Peer(ctx, "b"); err == nil {
				sealed = p.Token
			}
		}
	}
	if len(sealed) == 0 {
		t.Fatal("peer b was never stored")
	}

	// Neither the token nor its sealed form is ever answered or audited.
	code, m, _ := f.do(t, "GET", "/admin/audit/entries/?action=admin&limit=1000", "root", "")
	if code != 200 {
		t.Fatalf("entries: %d %v", code, m)
	}
	b, _ := json.Marshal(m)
	bodies = append(bodies, string(b))
	for _, body := range bodies {
		for _, secret := range []string{token, "s3cret", hex.EncodeToString(sealed), base64.StdEncoding.EncodeToString(sealed)} {
			if strings.Contains(body, secret) {
				t.Errorf("an answer shows a peer token: %s", body)
			}
		}
		if strings.Contains(body, `"token"`) && !strings.Contains(body, `"name":"peer-b"`) {
			t.Errorf("an answer has a token member: %s", body)
		}
	}

	// Every attempted peer change is audited against the peer, as admin
	// changes are; malformed bodies never reach the manager.
	want := map[string][2]int{ // target: ok, failed
		// b: added, linked 3 times (one unchanged), unlinked twice,
		// linked again, removed; failed: 3 invalid adds and a conflict,
		// 2 bad links, 1 absent unlink, 1 second removal.
		"peer:b":    {8, 8},
		"peer:c":    {2, 0}, // added, replaced
		"peer:d":    {0, 1}, // the peer refused
		"peer:misp": {1, 0},
		"peer:nope": {0, 2}, // a link and an unlink
		"peer:b/c":  {0, 1},
	}
	got := map[string][2]int{}
	for _, e := range m["entries"].([]any) {
		e := e.(map[string]any)
		target, _ := e["target"].(string)
		if !strings.HasPrefix(target, "peer:") {
			continue
		}
		if e["actor"] != "root" || e["action"] != audit.ActionAdmin {
			t.Errorf("entry %v", e)
		}
		c := got[target]
		if e["outcome"] == audit.OutcomeOK {
			c[0]++
		} else {
			c[1]++
		}
		got[target] = c
	}
	for target, w := range want {
		if got[target] != w {
			t.Errorf("audited %s: %d ok and %d failed, want %d and %d", target, got[target][0], got[target][1], w[0], w[1])
		}
	}
	if _, err := f.st.Peer(ctx, "b"); err == nil {
		t.Error("peer b is still stored")
	}
	if ls, _ := f.st.ListLinks(ctx); len(ls) != 0 {
		t.Errorf("links left: %+v", ls)
	}
}
