package federation

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jointcell/jointcell/internal/cell"
	"github.com/jointcell/jointcell/internal/stix"
	"github.com/jointcell/jointcell/internal/store"
	"github.com/jointcell/jointcell/internal/taxii"
)

// manageFixture is a fresh cell with a user and two collections, and its
// peer management.
type manageFixture struct {
	c     *cell.Cell
	st    Store
	peers *Peers
	intel string // id of the collection aliased "intel"
	other string // id of the collection aliased "other"
}

func newManageFixture(t *testing.T, hc HTTPClientFunc) *manageFixture {
	t.Helper()
	ctx := context.Background()
	c, err := cell.Open(ctx, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	st, ok := c.Store.(Store)
	if !ok {
		t.Fatal("the cell's store does not support federation")
	}
	m := c.Manager()
	if _, err := m.CreateOrganisation(ctx, "cellb"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.CreateUser(ctx, "peer-b", "cellb", cell.RoleReader); err != nil {
		t.Fatal(err)
	}
	f := &manageFixture{c: c, st: st, peers: NewPeers(st, c.Key, hc)}
	for _, alias := range []string{"intel", "other"} {
		ci, err := m.CreateCollection(ctx, cell.CollectionSpec{Title: alias, Alias: alias})
		if err != nil {
			t.Fatal(err)
		}
		if alias == "intel" {
			f.intel = ci.ID
		} else {
			f.other = ci.ID
		}
	}
	return f
}

// pinned is a valid spec that needs no network: the peer's key is pinned.
func pinned(name string) PeerSpec {
	return PeerSpec{Name: name, URL: "https://" + name + ".example:8443", User: "peer-a", Token: "tok-" + name,
		PeerKey: hex.EncodeToString(testKey(7).Public().(ed25519.PublicKey)), Orgs: []string{"identity--b"}}
}

func TestAddPeerValidation(t *testing.T) {
	f := newManageFixture(t, nil)
	ctx := context.Background()
	for name, tc := range map[string]struct {
		edit func(*PeerSpec)
		kind error
	}{
		"no name":             {func(s *PeerSpec) { s.Name = "" }, store.ErrInvalid},
		"slash in name":       {func(s *PeerSpec) { s.Name = "a/b" }, store.ErrInvalid},
		"bar in name":         {func(s *PeerSpec) { s.Name = "a|b" }, store.ErrInvalid},
		"space in name":       {func(s *PeerSpec) { s.Name = "a b" }, store.ErrInvalid},
		"no url":              {func(s *PeerSpec) { s.URL = "" }, store.ErrInvalid},
		"ftp url":             {func(s *PeerSpec) { s.URL = "ftp://b.example/" }, store.ErrInvalid},
		"no token":            {func(s *PeerSpec) { s.Token = "" }, store.ErrInvalid},
		"ca and insecure":     {func(s *PeerSpec) { s.CAFile, s.Insecure = "ca.pem", true }, store.ErrInvalid},
		"foreign and key":     {func(s *PeerSpec) { s.Foreign = true }, store.ErrInvalid},
		"short key":           {func(s *PeerSpec) { s.PeerKey = "abcd" }, store.ErrInvalid},
		"not hex key":         {func(s *PeerSpec) { s.PeerKey = strings.Repeat("zz", 32) }, store.ErrInvalid},
		"org not an identity": {func(s *PeerSpec) { s.Orgs = []string{"bank"} }, store.ErrInvalid},
		"unknown account":     {func(s *PeerSpec) { s.Account = "ghost" }, store.ErrInvalid},
		"unreadable CA file":  {func(s *PeerSpec) { s.PeerKey, s.CAFile = "", "/nonexistent/ca.pem" }, store.ErrInvalid},
	} {
		s := pinned("b")
		tc.edit(&s)
		_, err := f.peers.AddPeer(ctx, s)
		if !errors.Is(err, tc.kind) {
			t.Errorf("%s: AddPeer = %v, want %v", name, err, tc.kind)
		} else if strings.Contains(err.Error(), s.Token) && s.Token != "" {
			t.Errorf("%s: the error %q shows the token", name, err)
		}
	}
	if ps, _ := f.peers.Peers(ctx); len(ps) != 0 {
		t.Errorf("invalid specs stored peers: %+v", ps)
	}
}

func TestAddPeerPinnedAndForeign(t *testing.T) {
	f := newManageFixture(t, func(string, bool, time.Duration) (*http.Client, error) {
		t.Error("a pinned or foreign peer was contacted")
		return nil, errors.New("no network")
	})
	ctx := context.Background()
	spec := pinned("b")
	spec.Account = "peer-b"
	added, err := f.peers.AddPeer(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	wantFP := Fingerprint(testKey(7).Public().(ed25519.PublicKey))
	if added.Peer.Fingerprint != wantFP || added.Peer.Foreign() || added.Peer.Account != "peer-b" ||
		!slices.Equal(added.Peer.Orgs, spec.Orgs) || added.Peer.Created.IsZero() {
		t.Errorf("added = %+v", added.Peer)
	}
	if added.LocalFingerprint != Fingerprint(f.c.Key.Public().(ed25519.PublicKey)) {
		t.Errorf("local fingerprint %s", added.LocalFingerprint)
	}
	// The token is stored sealed, and opens with the cell's key.
	sp, err := f.st.Peer(ctx, "b")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(sp.Token), spec.Token) {
		t.Error("the token is stored in clear")
	}
	if tok, err := OpenToken(f.c.Key, sp.Token); err != nil || tok != spec.Token {
		t.Errorf("OpenToken = %q, %v", tok, err)
	}

	foreign := PeerSpec{Name: "misp", URL: "https://misp.example/taxii2/", Token: "t", Foreign: true}
	added, err = f.peers.AddPeer(ctx, foreign)
	if err != nil || !added.Peer.Foreign() || added.Peer.Fingerprint != "" {
		t.Fatalf("foreign = %+v, %v", added.Peer, err)
	}

	// The same name again is a conflict unless replacing, which keeps the
	// peer's links and its creation time.
	if _, err := f.peers.AddPeer(ctx, spec); !errors.Is(err, store.ErrConflict) {
		t.Errorf("AddPeer(existing) = %v, want ErrConflict", err)
	}
	if _, err := f.peers.Link(ctx, "b", LinkSpec{store.Push, "intel", "froma"}); err != nil {
		t.Fatal(err)
	}
	before, _ := f.peers.Peer(ctx, "b")
	spec.URL, spec.Replace = "https://b2.example:8443", true
	added, err = f.peers.AddPeer(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if added.Peer.URL != spec.URL || len(added.Peer.Links) != 1 || !added.Peer.Created.Equal(before.Created) {
		t.Errorf("replaced = %+v, want the new URL, one link and created %v", added.Peer, before.Created)
	}
	ps, err := f.peers.Peers(ctx)
	if err != nil || len(ps) != 2 || ps[0].Name != "b" || ps[1].Name != "misp" {
		t.Errorf("Peers = %+v, %v", ps, err)
	}
}

// infoServer is a peer cell's /federation/info/ over TLS, answering only
// the given credentials; mangle may spoil the answer.
func infoServer(t *testing.T, key ed25519.PrivateKey, mangle func(*Info)) (*httptest.Server, HTTPClientFunc, *atomic.Int32) {
	t.Helper()
	var calls atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != InfoPath {
			http.NotFound(w, r)
			return
		}
		calls.Add(1)
		if u, p, ok := r.BasicAuth(); !ok || u != "peer-a" || p != "s3cret" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		pub := key.Public().(ed25519.PublicKey)
		info := Info{PublicKey: base64.StdEncoding.EncodeToString(pub), Fingerprint: Fingerprint(pub), Identity: "identity--cellb",
			Organisations: []OrgInfo{{Name: "bank", Identity: "identity--bank"}, {Name: "telco", Identity: "identity--telco"}}}
		if mangle != nil {
			mangle(&info)
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(info)
	}))
	t.Cleanup(srv.Close)
	// Only the test server's own client trusts its certificate: the
	// factory must be what AddPeer uses.
	hc := func(string, bool, time.Duration) (*http.Client, error) { return srv.Client(), nil }
	return srv, hc, &calls
}

func TestAddPeerFetchesInfo(t *testing.T) {
	ctx := context.Background()
	key := testKey(9)
	srv, hc, calls := infoServer(t, key, nil)
	f := newManageFixture(t, hc)
	spec := PeerSpec{Name: "b", URL: srv.URL + "/api/", User: "peer-a", Token: "s3cret"}
	added, err := f.peers.AddPeer(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 1 {
		t.Errorf("info fetched %d times", calls.Load())
	}
	if added.Peer.Fingerprint != Fingerprint(key.Public().(ed25519.PublicKey)) || added.Peer.Identity != "identity--cellb" ||
		!slices.Equal(added.Peer.Orgs, []string{"identity--bank", "identity--telco"}) {
		t.Errorf("added = %+v", added.Peer)
	}
	// Orgs given are kept instead of the peer's list.
	spec.Name, spec.Orgs = "b2", []string{"identity--bank"}
	if added, err := f.peers.AddPeer(ctx, spec); err != nil || !slices.Equal(added.Peer.Orgs, spec.Orgs) {
		t.Errorf("with orgs = %+v, %v", added.Peer, err)
	}

	for name, tc := range map[string]struct {
		mangle func(*Info)
		token  string
		kind   error
	}{
		"wrong token":          {nil, "wrong", ErrUnreachable},
		"fingerprint mismatch": {func(i *Info) { i.Fingerprint = strings.Repeat("0", 64) }, "s3cret", ErrKeyMismatch},
		"key not base64":       {func(i *Info) { i.PublicKey = "!!" }, "s3cret", ErrKeyMismatch},
	} {
		srv, hc, _ := infoServer(t, key, tc.mangle)
		f := newManageFixture(t, hc)
		_, err := f.peers.AddPeer(ctx, PeerSpec{Name: "b", URL: srv.URL, User: "peer-a", Token: tc.token})
		if !errors.Is(err, tc.kind) {
			t.Errorf("%s: AddPeer = %v, want %v", name, err, tc.kind)
			continue
		}
		if strings.Contains(err.Error(), tc.token) {
			t.Errorf("%s: the error %q shows the token", name, err)
		}
		if _, err := f.st.Peer(ctx, "b"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s: the peer was stored: %v", name, err)
		}
	}
}

func linkKeys(t *testing.T, st Store) []string {
	t.Helper()
	ls, err := st.ListLinks(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := []string{}
	for _, l := range ls {
		out = append(out, l.Key())
	}
	return out
}

func TestLinkUnlink(t *testing.T) {
	f := newManageFixture(t, nil)
	ctx := context.Background()
	for _, n := range []string{"b", "c"} {
		if _, err := f.peers.AddPeer(ctx, pinned(n)); err != nil {
			t.Fatal(err)
		}
	}
	push := store.Link{Peer: "b", Direction: store.Push, Local: f.intel, Remote: "froma"}
	pull := store.Link{Peer: "b", Direction: store.Pull, Local: f.other, Remote: "tob"}

	// Aliases and ids alike resolve to the collection id.
	res, err := f.peers.Link(ctx, "b", LinkSpec{store.Push, "intel", "froma"}, LinkSpec{store.Pull, f.other, "tob"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 || res[0].Link.Key() != push.Key() || !res[0].Created || res[1].Link.Key() != pull.Key() || !res[1].Created {
		t.Fatalf("Link = %+v", res)
	}
	// Linking again keeps the progress and says so.
	progress := pull
	progress.Checkpoint, progress.Synced = "2026-01-01T00:00:00.000001Z", 3
	if err := f.st.UpdateLink(ctx, progress); err != nil {
		t.Fatal(err)
	}
	res, err = f.peers.Link(ctx, "b", LinkSpec{store.Pull, "other", "tob"})
	if err != nil || res[0].Created || res[0].Link.Synced != 3 {
		t.Errorf("Link(existing) = %+v, %v", res, err)
	}

	for name, tc := range map[string]struct {
		peer  string
		specs []LinkSpec
		kind  error
	}{
		"unknown peer":       {"nope", []LinkSpec{{store.Push, "intel", "x"}}, store.ErrNotFound},
		"unknown collection": {"c", []LinkSpec{{store.Push, "intel", "x"}, {store.Push, "ghost", "x"}}, store.ErrInvalid},
		"bad direction":      {"c", []LinkSpec{{store.Push, "intel", "x"}, {"both", "intel", "x"}}, store.ErrInvalid},
		"no remote":          {"c", []LinkSpec{{store.Push, "intel", "x"}, {store.Pull, "intel", ""}}, store.ErrInvalid},
	} {
		if _, err := f.peers.Link(ctx, tc.peer, tc.specs...); !errors.Is(err, tc.kind) {
			t.Errorf("Link %s = %v, want %v", name, err, tc.kind)
		}
	}
	// None of the failed calls added a link, not even their good first one.
	want := []string{pull.Key(), push.Key()}
	if got := linkKeys(t, f.st); !slices.Equal(got, want) {
		t.Errorf("links = %v, want %v", got, want)
	}

	for name, tc := range map[string]struct {
		peer  string
		specs []LinkSpec
		kind  error
	}{
		"unknown peer":      {"nope", []LinkSpec{{store.Push, "intel", "froma"}}, store.ErrNotFound},
		"other peer's link": {"c", []LinkSpec{{store.Push, "intel", "froma"}}, store.ErrNotFound},
		"wrong direction":   {"b", []LinkSpec{{store.Pull, "intel", "froma"}}, store.ErrNotFound},
		"wrong remote":      {"b", []LinkSpec{{store.Push, "intel", "tob"}}, store.ErrNotFound},
		"one of two absent": {"b", []LinkSpec{{store.Push, "intel", "froma"}, {store.Push, "other", "froma"}}, store.ErrNotFound},
		"bad direction":     {"b", []LinkSpec{{"sideways", "intel", "froma"}}, store.ErrInvalid},
	} {
		if _, err := f.peers.Unlink(ctx, tc.peer, tc.specs...); !errors.Is(err, tc.kind) {
			t.Errorf("Unlink %s = %v, want %v", name, err, tc.kind)
		}
	}
	if got := linkKeys(t, f.st); !slices.Equal(got, want) {
		t.Errorf("links after failed unlinks = %v, want %v", got, want)
	}
	removed, err := f.peers.Unlink(ctx, "b", LinkSpec{store.Pull, "other", "tob"})
	if err != nil || len(removed) != 1 || removed[0].Synced != 3 {
		t.Fatalf("Unlink = %+v, %v", removed, err)
	}
	// A link is also named by the id stored in it.
	if _, err := f.peers.Unlink(ctx, "b", LinkSpec{store.Push, f.intel, "froma"}); err != nil {
		t.Fatal(err)
	}
	if got := linkKeys(t, f.st); len(got) != 0 {
		t.Errorf("links after unlinking both = %v", got)
	}
}

func TestRemovePeer(t *testing.T) {
	f := newManageFixture(t, nil)
	ctx := context.Background()
	for _, n := range []string{"b", "c"} {
		if _, err := f.peers.AddPeer(ctx, pinned(n)); err != nil {
			t.Fatal(err)
		}
		if _, err := f.peers.Link(ctx, n, LinkSpec{store.Push, "intel", "froma"}); err != nil {
			t.Fatal(err)
		}
	}
	prov := store.Provenance{ObjectID: "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", Cell: "fp", Peer: "b"}
	if err := f.st.PutProvenance(ctx, []store.Provenance{prov}); err != nil {
		t.Fatal(err)
	}
	removed, err := f.peers.RemovePeer(ctx, "b")
	if err != nil || removed.Name != "b" || len(removed.Links) != 1 {
		t.Fatalf("RemovePeer = %+v, %v", removed, err)
	}
	if _, err := f.peers.Peer(ctx, "b"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Peer after RemovePeer: %v", err)
	}
	if got := linkKeys(t, f.st); len(got) != 1 || !strings.HasPrefix(got[0], "c|") {
		t.Errorf("links = %v, want c's only", got)
	}
	if pv, err := f.st.Provenance(ctx, []string{prov.ObjectID}); err != nil || pv[prov.ObjectID] != prov {
		t.Errorf("provenance after RemovePeer = %v, %v", pv, err)
	}
	if _, err := f.c.Store.User(ctx, "peer-b"); err != nil {
		t.Errorf("the local account went with the peer: %v", err)
	}
	if _, err := f.peers.RemovePeer(ctx, "b"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RemovePeer again = %v, want ErrNotFound", err)
	}
}

// manifestServer is a peer's TAXII API root answering the manifest of
// collection "froma" with n records and more.
func manifestServer(t *testing.T, n int, more bool) (*httptest.Server, HTTPClientFunc) {
	t.Helper()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/collections/froma/manifest/" {
			http.NotFound(w, r)
			return
		}
		if u, p, ok := r.BasicAuth(); !ok || u != "peer-a" || p != "tok-b" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var m taxii.Manifest
		for i := range n {
			m.Objects = append(m.Objects, taxii.ManifestRecord{ID: fmt.Sprintf("indicator--%08x-0000-4000-8000-000000000000", i),
				DateAdded: "2026-01-01T00:00:00.000000Z", Version: "2026-01-01T00:00:00.000Z"})
		}
		m.More = more
		w.Header().Set("Content-Type", taxii.MediaTypeTAXII)
		_ = json.NewEncoder(w).Encode(m)
	}))
	t.Cleanup(srv.Close)
	return srv, func(string, bool, time.Duration) (*http.Client, error) { return srv.Client(), nil }
}

func TestStatus(t *testing.T) {
	ctx := context.Background()
	srv, hc := manifestServer(t, 3, true)
	f := newManageFixture(t, hc)
	// The store keeps microseconds.
	now := time.Now().Truncate(time.Microsecond)
	f.peers.now = func() time.Time { return now }
	spec := pinned("b")
	spec.URL = srv.URL + "/api/"
	if _, err := f.peers.AddPeer(ctx, spec); err != nil {
		t.Fatal(err)
	}
	spec = pinned("down")
	spec.URL = "https://127.0.0.1:1/api/"
	if _, err := f.peers.AddPeer(ctx, spec); err != nil {
		t.Fatal(err)
	}
	links := []struct {
		peer string
		spec LinkSpec
	}{
		{"b", LinkSpec{store.Push, "intel", "froma"}},
		{"b", LinkSpec{store.Pull, "other", "froma"}},
		{"down", LinkSpec{store.Pull, "other", "froma"}},
	}
	for _, l := range links {
		if _, err := f.peers.Link(ctx, l.peer, l.spec); err != nil {
			t.Fatal(err)
		}
	}
	// Two versions wait to be pushed.
	var vs []store.Version
	for i := range 2 {
		raw := fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":"indicator--%08x-1111-4000-8000-000000000000","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","pattern":"[ipv4-addr:value = '198.51.100.1']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"}`, i)
		o, err := stix.DecodeObject([]byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		vs = append(vs, store.Version{Object: o, Audience: []string{store.ReaderAnyone}})
	}
	res, err := f.st.AddVersions(ctx, f.intel, vs)
	if err != nil {
		t.Fatal(err)
	}
	// The pull link of b last succeeded a minute ago.
	pull := store.Link{Peer: "b", Direction: store.Pull, Local: f.other, Remote: "froma", LastSuccess: now.Add(-time.Minute)}
	if err := f.st.UpdateLink(ctx, pull); err != nil {
		t.Fatal(err)
	}

	all, err := f.peers.Status(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	byKey := map[string]LinkStatus{}
	for _, st := range all {
		byKey[st.Link.Peer+" "+st.Link.Direction] = st
	}
	if len(all) != 3 {
		t.Fatalf("Status = %+v, want 3 links", all)
	}
	if st := byKey["b push"]; !st.HasBacklog || st.Backlog != 2 || st.BacklogMore || !st.HasLag || st.Lag != now.Sub(res[0].DateAdded) {
		t.Errorf("push status = %+v, want backlog 2, lag %v", st, now.Sub(res[0].DateAdded))
	}
	if st := byKey["b pull"]; !st.HasBacklog || st.Backlog != 3 || !st.BacklogMore || !st.HasLag || st.Lag != time.Minute {
		t.Errorf("pull status = %+v, want backlog >3, lag 1m", st)
	}
	if st := byKey["down pull"]; st.HasBacklog || st.HasLag {
		t.Errorf("status of an unreachable peer that never synced = %+v, want backlog and lag unknown", st)
	}

	one, err := f.peers.Status(ctx, "down")
	if err != nil || len(one) != 1 || one[0].Link.Peer != "down" {
		t.Errorf("Status(down) = %+v, %v", one, err)
	}
	if _, err := f.peers.Status(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Status(unknown) = %v, want ErrNotFound", err)
	}
}

// TestAddPeerConcurrent adds the same peer twice at once: both calls pass
// the first existence check while the peer's key is fetched, and the
// second to write must be refused as a conflict, not replace the first.
func TestAddPeerConcurrent(t *testing.T) {
	ctx := context.Background()
	var arrived sync.WaitGroup
	arrived.Add(2)
	both := make(chan struct{})
	go func() { arrived.Wait(); close(both) }()
	srv, hc, _ := infoServer(t, testKey(9), func(*Info) {
		arrived.Done()
		select {
		case <-both:
		case <-time.After(10 * time.Second):
		}
	})
	f := newManageFixture(t, hc)
	errs := make(chan error, 2)
	for _, user := range []string{"peer-a", "peer-a"} {
		go func() {
			_, err := f.peers.AddPeer(ctx, PeerSpec{Name: "b", URL: srv.URL, User: user, Token: "s3cret"})
			errs <- err
		}()
	}
	var ok, conflicts int
	for range 2 {
		switch err := <-errs; {
		case err == nil:
			ok++
		case errors.Is(err, store.ErrConflict):
			conflicts++
		default:
			t.Errorf("AddPeer = %v", err)
		}
	}
	if ok != 1 || conflicts != 1 {
		t.Errorf("%d added, %d conflicts; want 1 and 1", ok, conflicts)
	}
}
