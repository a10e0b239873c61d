package federation

import (
	"testing"

	"github.com/jointcell/jointcell/internal/access"
	"github.com/jointcell/jointcell/internal/store"
)

// TestClientReused: a peer's TAXII client (and so its connections) is kept
// between sync rounds, rebuilt when the peer's settings change, and
// dropped when the peer is gone.
func TestClientReused(t *testing.T) {
	s := New(Config{Store: nilStore{}, Key: testKey(1), Policy: access.NewPolicy(access.PolicyConfig{})})
	token, err := SealToken(s.cfg.Key, "t")
	if err != nil {
		t.Fatal(err)
	}
	p := store.Peer{Name: "b", URL: "https://b.example/api/", Token: token}
	c1, err := s.client(p)
	if err != nil {
		t.Fatal(err)
	}
	if c2, _ := s.client(p); c2 != c1 {
		t.Error("a second round built a new client")
	}
	p.URL = "https://b2.example/api/"
	if c3, _ := s.client(p); c3 == c1 {
		t.Error("a changed URL kept the old client")
	}
	s.dropClients(&snapshot{peers: map[string]store.Peer{}})
	if len(s.clients) != 0 {
		t.Errorf("%d clients kept for peers that are gone", len(s.clients))
	}
}
