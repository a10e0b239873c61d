package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/jointcell/jointcell/internal/store"
)

// FederationStore is a store that also keeps federation state.
type FederationStore interface {
	store.Store
	store.Federation
}

// OpenFederation returns a fresh, empty federation store for one subtest;
// the suite closes it.
type OpenFederation func(t *testing.T) FederationStore

// RunFederation runs the federation part of the suite (store.Federation:
// peers and links, and deleting them) as subtests, each with its own
// store from open. A backend that implements store.Federation runs it
// beside Run.
func RunFederation(t *testing.T, open OpenFederation) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s FederationStore)
	}{
		{"Peers", testPeers},
		{"DeleteLink", testDeleteLink},
		{"DeletePeer", testDeletePeer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { s.Close() })
			tt.fn(t, s)
		})
	}
}

// putPeers stores peers with the given names and fails on error.
func putPeers(t *testing.T, s FederationStore, names ...string) {
	t.Helper()
	for _, n := range names {
		p := store.Peer{Name: n, URL: "https://" + n + ".example:8443", Token: []byte("sealed-" + n), Created: micro(time.Now())}
		if err := s.PutPeer(context.Background(), p); err != nil {
			t.Fatalf("PutPeer(%s): %v", n, err)
		}
	}
}

// putLinks stores links and fails on error.
func putLinks(t *testing.T, s FederationStore, ls ...store.Link) {
	t.Helper()
	for _, l := range ls {
		if err := s.PutLink(context.Background(), l); err != nil {
			t.Fatalf("PutLink(%s): %v", l.Key(), err)
		}
	}
}

// linkKeys lists the keys of the stored links, in the store's order.
func linkKeys(t *testing.T, s FederationStore) []string {
	t.Helper()
	ls, err := s.ListLinks(context.Background())
	if err != nil {
		t.Fatalf("ListLinks: %v", err)
	}
	out := []string{}
	for _, l := range ls {
		out = append(out, l.Key())
	}
	return out
}

func peerNames(t *testing.T, s FederationStore) []string {
	t.Helper()
	ps, err := s.ListPeers(context.Background())
	if err != nil {
		t.Fatalf("ListPeers: %v", err)
	}
	out := []string{}
	for _, p := range ps {
		out = append(out, p.Name)
	}
	return out
}

func testPeers(t *testing.T, s FederationStore) {
	ctx := context.Background()
	if names := peerNames(t, s); len(names) != 0 {
		t.Fatalf("ListPeers on an empty store: %v", names)
	}
	p := store.Peer{Name: "b", URL: "https://b.example:8443", User: "peer-a", Token: []byte{1, 2, 3}, CAFile: "/ca.pem",
		PublicKey: make([]byte, 32), Identity: "identity--b", Orgs: []string{"identity--x", "identity--y"}, Account: "peer-b",
		Created: micro(time.Date(2026, 1, 2, 3, 4, 5, 6789, time.UTC))}
	if err := s.PutPeer(ctx, p); err != nil {
		t.Fatalf("PutPeer: %v", err)
	}
	got, err := s.Peer(ctx, "b")
	if err != nil {
		t.Fatalf("Peer: %v", err)
	}
	if got.URL != p.URL || got.User != p.User || string(got.Token) != string(p.Token) || got.CAFile != p.CAFile ||
		len(got.PublicKey) != 32 || got.Identity != p.Identity || !slices.Equal(got.Orgs, p.Orgs) ||
		got.Account != p.Account || !got.Created.Equal(p.Created) {
		t.Errorf("Peer = %+v, want %+v", got, p)
	}
	// Replacing by name keeps one peer.
	p.URL = "https://b2.example:8443"
	if err := s.PutPeer(ctx, p); err != nil {
		t.Fatalf("PutPeer again: %v", err)
	}
	putPeers(t, s, "a")
	if names := peerNames(t, s); !slices.Equal(names, []string{"a", "b"}) {
		t.Errorf("ListPeers = %v, want [a b]", names)
	}
	if got, _ := s.Peer(ctx, "b"); got.URL != p.URL {
		t.Errorf("replaced peer URL = %q, want %q", got.URL, p.URL)
	}
	if _, err := s.Peer(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Peer(unknown): %v, want ErrNotFound", err)
	}
	if err := s.PutLink(ctx, store.Link{Peer: "nope", Direction: store.Pull, Local: "c", Remote: "r"}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("PutLink to an unknown peer: %v, want ErrNotFound", err)
	}
	if err := s.PutLink(ctx, store.Link{Peer: "b", Direction: "sideways", Local: "c", Remote: "r"}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("PutLink with a bad direction: %v, want ErrInvalid", err)
	}
}

func testDeleteLink(t *testing.T, s FederationStore) {
	ctx := context.Background()
	putPeers(t, s, "b")
	push := store.Link{Peer: "b", Direction: store.Push, Local: "c1", Remote: "r"}
	pull := store.Link{Peer: "b", Direction: store.Pull, Local: "c1", Remote: "r"}
	putLinks(t, s, push, pull)

	// Progress does not matter: a link is deleted by its key.
	busy := pull
	busy.Checkpoint, busy.Synced, busy.LastSuccess = "2026-01-01T00:00:00.000001Z", 42, time.Now()
	if err := s.UpdateLink(ctx, busy); err != nil {
		t.Fatalf("UpdateLink: %v", err)
	}
	if err := s.DeleteLink(ctx, pull); err != nil {
		t.Fatalf("DeleteLink: %v", err)
	}
	if got := linkKeys(t, s); !slices.Equal(got, []string{push.Key()}) {
		t.Errorf("links after DeleteLink = %v, want [%s]", got, push.Key())
	}
	for name, l := range map[string]store.Link{
		"deleted already": pull,
		"other remote":    {Peer: "b", Direction: store.Push, Local: "c1", Remote: "r2"},
		"other local":     {Peer: "b", Direction: store.Push, Local: "c2", Remote: "r"},
		"other direction": {Peer: "b", Direction: store.Pull, Local: "c1", Remote: "r"},
		"unknown peer":    {Peer: "nope", Direction: store.Push, Local: "c1", Remote: "r"},
	} {
		if err := s.DeleteLink(ctx, l); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("DeleteLink(%s): %v, want ErrNotFound", name, err)
		}
	}
	if got := linkKeys(t, s); !slices.Equal(got, []string{push.Key()}) {
		t.Errorf("links after failed deletions = %v, want [%s]", got, push.Key())
	}
	// A link deleted and added again starts afresh.
	putLinks(t, s, pull)
	ls, _ := s.ListLinks(ctx)
	for _, l := range ls {
		if l.Key() == pull.Key() && (l.Checkpoint != "" || l.Synced != 0) {
			t.Errorf("re-added link kept its old progress: %+v", l)
		}
	}
}

func testDeletePeer(t *testing.T, s FederationStore) {
	ctx := context.Background()
	putPeers(t, s, "a", "b")
	ab := []store.Link{
		{Peer: "a", Direction: store.Push, Local: "c1", Remote: "r"},
		{Peer: "b", Direction: store.Push, Local: "c1", Remote: "r"},
		{Peer: "b", Direction: store.Pull, Local: "c2", Remote: "r"},
	}
	putLinks(t, s, ab...)
	prov := []store.Provenance{{ObjectID: newID("indicator"), Cell: "fp-b", Peer: "b"}}
	if err := s.PutProvenance(ctx, prov); err != nil {
		t.Fatalf("PutProvenance: %v", err)
	}

	if err := s.DeletePeer(ctx, "b"); err != nil {
		t.Fatalf("DeletePeer: %v", err)
	}
	if names := peerNames(t, s); !slices.Equal(names, []string{"a"}) {
		t.Errorf("peers after DeletePeer(b) = %v, want [a]", names)
	}
	if _, err := s.Peer(ctx, "b"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Peer(b) after DeletePeer: %v, want ErrNotFound", err)
	}
	if got := linkKeys(t, s); !slices.Equal(got, []string{ab[0].Key()}) {
		t.Errorf("links after DeletePeer(b) = %v, want only a's %s", got, ab[0].Key())
	}
	// The provenance b delivered stays: it is still where the object
	// came from.
	got, err := s.Provenance(ctx, []string{prov[0].ObjectID})
	if err != nil || got[prov[0].ObjectID] != prov[0] {
		t.Errorf("provenance after DeletePeer = %v, %v; want %v kept", got, err, prov[0])
	}
	for _, name := range []string{"b", "nope", ""} {
		if err := s.DeletePeer(ctx, name); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("DeletePeer(%q): %v, want ErrNotFound", name, err)
		}
	}
	// A peer added again under the same name has no links.
	putPeers(t, s, "b")
	if got := linkKeys(t, s); !slices.Equal(got, []string{ab[0].Key()}) {
		t.Errorf("links after re-adding b = %v, want only %s", got, ab[0].Key())
	}
}
