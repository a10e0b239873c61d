package federation

import (
	"crypto/ed25519"
	"testing"

	"github.com/jointcell/jointcell/internal/access"
	"github.com/jointcell/jointcell/internal/marking"
	"github.com/jointcell/jointcell/internal/stix"
	"github.com/jointcell/jointcell/internal/store"
)

// nilStore satisfies Store for tests that never touch it.
type nilStore struct{ Store }

func TestEgress(t *testing.T) {
	const (
		acme  = "identity--11111111-1111-4111-8111-111111111111" // of this cell
		bank  = "identity--22222222-2222-4222-8222-222222222222" // of the peer
		other = "identity--33333333-3333-4333-8333-333333333333" // of a third cell
		group = "marking-definition--44444444-4444-4444-8444-444444444444"
		solo  = "marking-definition--55555555-5555-4555-8555-555555555555"
	)
	s := New(Config{Store: nilStore{}, Key: testKey(1), Policy: access.NewPolicy(access.PolicyConfig{})})
	peer := store.Peer{Name: "b", Orgs: []string{bank}, PublicKey: testKey(2).Public().(ed25519.PublicKey)}
	sn := &snapshot{groups: []store.Group{
		{Name: "shared", MarkingID: group, Members: []string{acme, bank}},
		{Name: "local", MarkingID: solo, Members: []string{acme, other}},
	}, byFP: map[string]store.Peer{}}
	tests := []struct {
		name     string
		refs     []string
		audience []string
		origin   string
		producer string
		want     bool
	}{
		{"clear", []string{marking.TLP2Clear}, []string{store.ReaderAnyone}, "", acme, true},
		{"green", []string{marking.TLP2Green}, []string{store.ReaderCommunity}, "", acme, true},
		{"amber", []string{marking.TLP2Amber}, []string{store.ReaderOrg(acme)}, "", acme, false},
		{"amber to a spanning group", []string{marking.TLP2Amber, group}, []string{store.ReaderOrg(acme), store.ReaderGroup(group)}, "", acme, true},
		{"amber to a local group", []string{marking.TLP2Amber, solo}, []string{store.ReaderOrg(acme), store.ReaderGroup(solo)}, "", acme, false},
		{"amber+strict", []string{marking.TLP2AmberStrict}, []string{store.ReaderOrg(acme)}, "", acme, false},
		{"amber+strict even with a group", []string{marking.TLP2AmberStrict, group}, []string{store.ReaderOrg(acme), store.ReaderGroup(group)}, "", acme, false},
		{"red to a peer recipient", []string{marking.TLP2Red, "marking-definition--r"}, []string{store.ReaderOrg(acme), store.ReaderOrg(bank)}, "", acme, true},
		{"red", []string{marking.TLP2Red}, []string{store.ReaderOrg(acme)}, "", acme, false},
		{"back to where it came from", []string{marking.TLP2Clear}, []string{store.ReaderAnyone}, "b", other, false},
		{"produced by the peer", []string{marking.TLP2Green}, []string{store.ReaderCommunity}, "c", bank, false},
		{"relayed from another peer", []string{marking.TLP2Green}, []string{store.ReaderCommunity}, "c", other, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := fedTestObject(t, tt.producer)
			o, err := stix.DecodeObject(raw)
			if err != nil {
				t.Fatal(err)
			}
			o.MarkingRefs = tt.refs
			v := store.Version{Object: o, Audience: tt.audience, Origin: tt.origin}
			out, ok := s.egress(sn, peer, v, func() ([]byte, bool) { return raw, true })
			if ok != tt.want {
				t.Fatalf("egress = %v, want %v", ok, tt.want)
			}
			if ok {
				if _, err := Verify(out, func(fp string) (ed25519.PublicKey, bool) {
					pub := testKey(1).Public().(ed25519.PublicKey)
					return pub, fp == Fingerprint(pub)
				}); err != nil {
					t.Fatalf("what leaves is not signed by the cell: %v", err)
				}
			}
		})
	}
}

func fedTestObject(t *testing.T, producer string) []byte {
	t.Helper()
	return []byte(`{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",` +
		`"created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","created_by_ref":"` + producer + `",` +
		`"pattern":"[ipv4-addr:value = '198.51.100.1']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"}`)
}
