package access

import (
	"testing"

	"github.com/jointcell/jointcell/internal/marking"
	"github.com/jointcell/jointcell/internal/store"
)

// TestMeets checks the read path's meets against marking.Meets, which it
// stands for, on keys that differ only in their last byte, only in their
// length, or not at all.
func TestMeets(t *testing.T) {
	keys := []string{"", store.ReaderAnyone, store.ReaderCommunity,
		store.ReaderOrg("identity--11111111-1111-4111-8111-111111111111"),
		store.ReaderOrg("identity--11111111-1111-4111-8111-111111111112"),
		store.ReaderOrg("identity--21111111-1111-4111-8111-111111111111"),
		store.ReaderOrg("identity--11111111-1111-4111-8111-11111111111"),
		store.ReaderGroup("marking-definition--11111111-1111-4111-8111-111111111111"),
		marking.ProducerKey("identity--11111111-1111-4111-8111-111111111111"),
	}
	// Every pair of subsets of up to two keys each.
	var sets [][]string
	sets = append(sets, nil)
	for i, a := range keys {
		sets = append(sets, []string{a})
		for _, b := range keys[i+1:] {
			sets = append(sets, []string{a, b})
		}
	}
	for _, r := range sets {
		for _, a := range sets {
			if got, want := meets(r, a), marking.Meets(r, a); got != want {
				t.Fatalf("meets(%q, %q) = %v, marking.Meets %v", r, a, got, want)
			}
		}
	}
}
