package cell

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/jointcell/jointcell/internal/access"
	"github.com/jointcell/jointcell/internal/stix"
	"github.com/jointcell/jointcell/internal/store"
)

func openTest(t *testing.T, dir string) *Cell {
	t.Helper()
	c, err := Open(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestOpenCreatesAndReopens(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cell")
	c, err := Open(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !c.New {
		t.Error("first open: New = false")
	}
	key, cursor, redaction := c.Key, c.CursorKey, c.RedactionKey
	if len(cursor) != 32 || len(redaction) != 32 || bytes.Equal(cursor, redaction) {
		t.Errorf("secrets: cursor %x, redaction %x", cursor, redaction)
	}
	for _, f := range []struct {
		path string
		mode os.FileMode
	}{{dir, 0o700 | os.ModeDir}, {filepath.Join(dir, KeyFile), 0o600}, {filepath.Join(dir, DBFile), 0o600}, {filepath.Join(dir, DBFile) + "-wal", 0o600}} {
		fi, err := os.Stat(f.path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != f.mode {
			t.Errorf("%s: mode %v, want %v", f.path, fi.Mode(), f.mode)
		}
	}
	pemBytes, _ := os.ReadFile(filepath.Join(dir, KeyFile))
	if b, _ := pem.Decode(pemBytes); b == nil || b.Type != "PRIVATE KEY" {
		t.Errorf("cell.key is not a PKCS#8 PEM block")
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}

	c2 := openTest(t, dir)
	if c2.New {
		t.Error("second open: New = true")
	}
	if !key.Equal(c2.Key) || !bytes.Equal(cursor, c2.CursorKey) || !bytes.Equal(redaction, c2.RedactionKey) {
		t.Error("key or secrets changed on reopen")
	}
}

func TestOpenExistingEmptyFolderIsNew(t *testing.T) {
	if c := openTest(t, t.TempDir()); !c.New {
		t.Error("an empty existing folder is a new cell")
	}
}

func TestOpenRejectsBadKey(t *testing.T) {
	tests := map[string][]byte{
		"not pem":     []byte("hello"),
		"wrong block": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}}),
		"garbage der": pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2, 3}}),
	}
	for name, content := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, KeyFile), content, 0o600); err != nil {
				t.Fatal(err)
			}
			if c, err := Open(context.Background(), dir, nil); err == nil {
				c.Close()
				t.Fatal("opened with a bad key")
			}
		})
	}
}

func TestOpenRejectsFile(t *testing.T) {
	f := filepath.Join(t.TempDir(), "file")
	os.WriteFile(f, nil, 0o600)
	if _, err := Open(context.Background(), f, nil); err == nil {
		t.Fatal("opened a file as a data folder")
	}
}

func TestBootstrap(t *testing.T) {
	ctx := context.Background()
	c := openTest(t, t.TempDir())
	token, err := c.Bootstrap(ctx)
	if err != nil || len(token) != 43 {
		t.Fatalf("Bootstrap = %q, %v", token, err)
	}
	u, err := c.Store.UserByTokenHash(ctx, sha256Of(token))
	if err != nil || u.Name != AdminName || u.Role != RoleAdmin || u.OrgName != AdminName {
		t.Fatalf("admin user = %+v, %v", u, err)
	}
	org, err := c.Store.Organisation(ctx, AdminName)
	if err != nil {
		t.Fatal(err)
	}
	checkIdentity(t, org)
	again, err := c.Bootstrap(ctx)
	if err != nil || again != "" {
		t.Fatalf("second Bootstrap = %q, %v; want no new token", again, err)
	}
}

// TestBootstrapCompletesHalfDone: a first start that died after creating
// the admin organisation is completed by the next.
func TestBootstrapCompletesHalfDone(t *testing.T) {
	ctx := context.Background()
	c := openTest(t, t.TempDir())
	if _, err := c.Manager().CreateOrganisation(ctx, AdminName); err != nil {
		t.Fatal(err)
	}
	token, err := c.Bootstrap(ctx)
	if err != nil || token == "" {
		t.Fatalf("Bootstrap = %q, %v", token, err)
	}
}

func sha256Of(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:] }

// checkIdentity checks an organisation's identity is a valid STIX 2.1
// identity of class organization whose id is the organisation's.
func checkIdentity(t *testing.T, o store.Organisation) {
	t.Helper()
	obj, err := stix.DecodeObject(o.Identity)
	if err != nil {
		t.Fatal(err)
	}
	if probs := stix.Validate(obj, stix.Options{Strict: true}); len(probs) > 0 {
		t.Errorf("identity %s has problems: %v", o.Identity, probs)
	}
	var m map[string]any
	json.Unmarshal(o.Identity, &m)
	if m["identity_class"] != "organization" || m["name"] != o.Name || obj.ID != o.IdentityID || obj.Created != obj.Modified {
		t.Errorf("identity = %s", o.Identity)
	}
}

func TestTLSConfig(t *testing.T) {
	dir := t.TempDir()
	cfg, fp, err := TLSConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MinVersion != tls.VersionTLS12 {
		t.Errorf("MinVersion = %x", cfg.MinVersion)
	}
	leaf, err := x509.ParseCertificate(cfg.Certificates[0].Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if got := Fingerprint(leaf.Raw); got != fp || len(fp) != 95 {
		t.Errorf("fingerprint %q, want %q", fp, got)
	}
	for _, name := range []string{"localhost", "127.0.0.1", "::1"} {
		if err := leaf.VerifyHostname(name); err != nil {
			t.Errorf("certificate does not cover %s: %v", name, err)
		}
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		if err := leaf.VerifyHostname(h); err != nil {
			t.Errorf("certificate does not cover the host name: %v", err)
		}
	}
	if years := leaf.NotAfter.Sub(leaf.NotBefore).Hours() / 24 / 365; years < 9.9 {
		t.Errorf("validity %.1f years", years)
	}
	if fi, _ := os.Stat(filepath.Join(dir, TLSDir, "key.pem")); fi == nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key.pem mode wrong: %v", fi)
	}
	_, fp2, err := TLSConfig(dir)
	if err != nil || fp2 != fp {
		t.Errorf("second call: %q, %v; want the same certificate", fp2, err)
	}

	// A client that pins the fingerprint completes a handshake, with TLS
	// 1.2 at least; one that offers only TLS 1.1 does not.
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { conn.(*tls.Conn).Handshake(); io.Copy(io.Discard, conn); conn.Close() }()
		}
	}()
	conn, err := tls.Dial("tcp", ln.Addr().String(), PinnedClientConfig(fp))
	if err != nil {
		t.Fatalf("pinned handshake: %v", err)
	}
	conn.Close()
	if conn, err := tls.Dial("tcp", ln.Addr().String(), PinnedClientConfig("00:11")); err == nil {
		conn.Close()
		t.Error("handshake succeeded with the wrong pin")
	}
	old := PinnedClientConfig(fp)
	old.MaxVersion = tls.VersionTLS11
	if conn, err := tls.Dial("tcp", ln.Addr().String(), old); err == nil {
		conn.Close()
		t.Error("TLS 1.1 accepted")
	}
}

func TestLoadTLSErrors(t *testing.T) {
	if _, _, err := LoadTLS(filepath.Join(t.TempDir(), "no.pem"), "no-key.pem"); err == nil {
		t.Error("loaded a missing certificate")
	}
}

// TestServeGracefulShutdown cancels the context while a request is in
// flight: the request completes, Serve returns, new connections fail.
func TestServeGracefulShutdown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	started, release := make(chan struct{}), make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		if r.Context().Err() != nil {
			t.Error("request context cancelled by the shutdown")
		}
		w.Write([]byte("done"))
	})
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, ln, h, nil, ServerOptions{}, discard()) }()

	got := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String() + "/")
		if err != nil {
			got <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- string(b)
	}()
	<-started
	cancel()
	time.Sleep(50 * time.Millisecond)
	select {
	case err := <-served:
		t.Fatalf("Serve returned with a request in flight: %v", err)
	default:
	}
	close(release)
	if body := <-got; body != "done" {
		t.Errorf("in-flight response = %q", body)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve = %v", err)
	}
	if _, err := http.Get("http://" + ln.Addr().String() + "/"); err == nil {
		t.Error("server still accepts after shutdown")
	}
}

func TestManagerOrganisations(t *testing.T) {
	ctx := context.Background()
	m := openTest(t, t.TempDir()).Manager()
	o, err := m.CreateOrganisation(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	checkIdentity(t, o)
	tests := []struct {
		name string
		want error
	}{
		{"acme", store.ErrConflict},
		{"", store.ErrInvalid},
		{"a b", store.ErrInvalid},
		{"a,b", store.ErrInvalid},
		{"-x", store.ErrInvalid},
		{string(make([]byte, 65)), store.ErrInvalid},
		{"Bank_2.eu-west", nil},
	}
	for _, tt := range tests {
		if _, err := m.CreateOrganisation(ctx, tt.name); !errors.Is(err, tt.want) {
			t.Errorf("CreateOrganisation(%q) = %v, want %v", tt.name, err, tt.want)
		}
	}
	orgs, _ := m.Organisations(ctx)
	if len(orgs) != 2 {
		t.Errorf("%d organisations, want 2", len(orgs))
	}
}

func TestManagerUsers(t *testing.T) {
	ctx := context.Background()
	c := openTest(t, t.TempDir())
	m := c.Manager()
	m.CreateOrganisation(ctx, "acme")
	tests := []struct {
		name, org, role string
		want            error
	}{
		{"alice", "acme", RoleAnalyst, nil},
		{"bob", "acme", RoleReader, nil},
		{"root", "acme", RoleAdmin, nil},
		{"alice", "acme", RoleReader, store.ErrConflict},
		{"carol", "nope", RoleReader, store.ErrInvalid},
		{"carol", "acme", "owner", store.ErrInvalid},
		{"car ol", "acme", RoleReader, store.ErrInvalid},
	}
	for _, tt := range tests {
		u, token, err := m.CreateUser(ctx, tt.name, tt.org, tt.role)
		if !errors.Is(err, tt.want) {
			t.Errorf("CreateUser(%q, %q, %q) = %v, want %v", tt.name, tt.org, tt.role, err, tt.want)
			continue
		}
		if err != nil {
			continue
		}
		if !bytes.Equal(u.TokenHash, sha256Of(token)) {
			t.Errorf("%s: stored hash is not the token's", tt.name)
		}
	}
	users, _ := m.Users(ctx)
	if len(users) != 3 {
		t.Errorf("%d users, want 3 (nothing created by failures)", len(users))
	}
	alice, _ := c.Store.User(ctx, "alice")
	token, err := m.RotateToken(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	after, _ := c.Store.User(ctx, "alice")
	if bytes.Equal(alice.TokenHash, after.TokenHash) || !bytes.Equal(after.TokenHash, sha256Of(token)) {
		t.Error("rotation did not replace the hash")
	}
	if _, err := m.RotateToken(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("rotate unknown user: %v", err)
	}
}

func TestManagerCollectionsAndGroups(t *testing.T) {
	ctx := context.Background()
	m := openTest(t, t.TempDir()).Manager()
	a, _ := m.CreateOrganisation(ctx, "a")
	b, _ := m.CreateOrganisation(ctx, "b")
	cOrg, _ := m.CreateOrganisation(ctx, "c")

	g, err := m.CreateGroup(ctx, "ab", []string{"a", "b"})
	if err != nil {
		t.Fatal(err)
	}
	if !sameSet(g.Members, []string{a.IdentityID, b.IdentityID}) || !sameSet(g.MemberNames, []string{"a", "b"}) {
		t.Errorf("group = %+v", g)
	}
	for _, tt := range []struct {
		name string
		orgs []string
		want error
	}{
		{"ab", []string{"a"}, store.ErrConflict},
		{"a", []string{"b"}, store.ErrConflict}, // an organisation's name
		{"x", []string{"nope"}, store.ErrInvalid},
		{"x", nil, store.ErrInvalid},
	} {
		if _, err := m.CreateGroup(ctx, tt.name, tt.orgs); !errors.Is(err, tt.want) {
			t.Errorf("CreateGroup(%q, %v) = %v, want %v", tt.name, tt.orgs, err, tt.want)
		}
	}
	if _, err := m.CreateOrganisation(ctx, "ab"); !errors.Is(err, store.ErrConflict) {
		t.Errorf("an organisation named like a group: %v", err)
	}

	col, err := m.CreateCollection(ctx, CollectionSpec{Title: "Shared", Alias: "shared", Read: []string{"c", "ab"}, Write: []string{"a"}})
	if err != nil {
		t.Fatal(err)
	}
	wantRead := []string{store.ReaderOrg(cOrg.IdentityID), store.ReaderGroup(g.MarkingID)}
	if !slices.Equal(col.ReadBy, wantRead) || !slices.Equal(col.WriteBy, []string{store.ReaderOrg(a.IdentityID)}) {
		t.Errorf("rights = %v / %v", col.ReadBy, col.WriteBy)
	}
	if !slices.Equal(col.ReadNames, []string{"c", "ab"}) || !uuidPattern.MatchString(col.ID) || col.ID[14] != '4' {
		t.Errorf("collection = %+v", col)
	}
	for _, tt := range []struct {
		spec CollectionSpec
		want error
	}{
		{CollectionSpec{Title: ""}, store.ErrInvalid},
		{CollectionSpec{Title: "x", Alias: "shared"}, store.ErrConflict},
		{CollectionSpec{Title: "x", Alias: "Bad Alias"}, store.ErrInvalid},
		{CollectionSpec{Title: "x", Alias: NewUUID()}, store.ErrInvalid},
		{CollectionSpec{Title: "x", Read: []string{"a", "ghost"}}, store.ErrInvalid},
	} {
		if _, err := m.CreateCollection(ctx, tt.spec); !errors.Is(err, tt.want) {
			t.Errorf("CreateCollection(%+v) = %v, want %v", tt.spec, err, tt.want)
		}
	}
	cols, _ := m.Collections(ctx)
	if len(cols) != 1 {
		t.Errorf("%d collections, want 1 (nothing created by failures)", len(cols))
	}

	upd, err := m.SetCollectionRights(ctx, "shared", nil, []string{"a", "b"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(upd.ReadBy, wantRead) || len(upd.WriteBy) != 2 {
		t.Errorf("after update: %v / %v", upd.ReadBy, upd.WriteBy)
	}
	upd, _ = m.SetCollectionRights(ctx, col.ID, []string{}, nil)
	if len(upd.ReadBy) != 0 || len(upd.WriteBy) != 2 {
		t.Errorf("after clearing read: %v / %v", upd.ReadBy, upd.WriteBy)
	}
	if _, err := m.SetCollectionRights(ctx, "nope", nil, nil); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown collection: %v", err)
	}

	// Membership changes keep the marking id.
	g2, err := m.AddGroupMembers(ctx, "ab", []string{"c", "a"})
	if err != nil {
		t.Fatal(err)
	}
	if g2.MarkingID != g.MarkingID || !sameSet(g2.MemberNames, []string{"a", "b", "c"}) {
		t.Errorf("after add: %s %v", g2.MarkingID, g2.MemberNames)
	}
	g3, err := m.RemoveGroupMembers(ctx, "ab", []string{"a"})
	if err != nil {
		t.Fatal(err)
	}
	if g3.MarkingID != g.MarkingID || !sameSet(g3.MemberNames, []string{"b", "c"}) {
		t.Errorf("after remove: %s %v", g3.MarkingID, g3.MemberNames)
	}
	if _, err := m.AddGroupMembers(ctx, "zz", []string{"a"}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown group: %v", err)
	}
	if _, err := m.AddGroupMembers(ctx, "ab", []string{"ghost"}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("unknown member: %v", err)
	}
	groups, _ := m.Groups(ctx)
	if len(groups) != 1 || !sameSet(groups[0].MemberNames, []string{"b", "c"}) {
		t.Errorf("groups = %+v", groups)
	}
	// The readers of a member include the group: the authenticator's view.
	keys := access.ReaderKeys(cOrg.IdentityID, []store.Group{groups[0].Group})
	if !slices.Contains(keys, store.ReaderGroup(g.MarkingID)) {
		t.Errorf("reader keys of c = %v", keys)
	}
}

func TestNewTokenAndUUID(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		tok, hash := NewToken()
		if len(tok) != 43 || seen[tok] || !bytes.Equal(hash, sha256Of(tok)) {
			t.Fatalf("token %q", tok)
		}
		seen[tok] = true
		if u := NewUUID(); !uuidPattern.MatchString(u) || u[14] != '4' || !bytes.ContainsRune([]byte("89ab"), rune(u[19])) {
			t.Fatalf("uuid %q", u)
		}
	}
}

// sameSet compares as sets: group definitions keep members sorted by id.
func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
