package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/jointcell/jointcell/internal/store"
)

// StoredIDFinder is the optional capability of a store to tell which ids
// of a batch have a stored version in a collection (access.Policy uses it
// to skip the history of ids a collection has never seen).
type StoredIDFinder interface {
	StoredIDs(ctx context.Context, collectionID string, ids []string) ([]string, error)
}

// testStoredIDs checks StoredIDs, for stores that have it: only ids with a
// version in that collection, each once, deleted ones gone.
func testStoredIDs(t *testing.T, s store.Store) {
	sf, ok := s.(StoredIDFinder)
	if !ok {
		t.Skip("the store has no StoredIDs")
	}
	ctx := context.Background()
	c1, c2 := newCollection(t, s), newCollection(t, s)
	a, b, c, never := newID("indicator"), newID("indicator"), newID("file"), newID("indicator")
	add(t, s, c1, public(
		object(t, "indicator", a, "2.1", ts(1), ts(1)),
		object(t, "indicator", a, "2.1", ts(1), ts(2)),
		object(t, "indicator", b, "2.1", ts(1), ts(1)),
		object(t, "file", c, "2.1", "", "", `"name":"x"`),
	)...)
	add(t, s, c2, public(object(t, "indicator", never, "2.1", ts(1), ts(1)))...)

	got, err := sf.StoredIDs(ctx, c1, []string{never, a, c, a, newID("indicator")})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	want := []string{a, c}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("StoredIDs = %v, want %v (an id of another collection, a repeated id, an unknown id)", got, want)
	}
	if got, err := sf.StoredIDs(ctx, c1, nil); err != nil || len(got) != 0 {
		t.Errorf("StoredIDs(no ids) = %v, %v", got, err)
	}
	if _, err := s.DeleteVersions(ctx, c1, b, store.Filter{}); err != nil {
		t.Fatal(err)
	}
	if got, err := sf.StoredIDs(ctx, c1, []string{b}); err != nil || len(got) != 0 {
		t.Errorf("StoredIDs of a deleted object = %v, %v, want none", got, err)
	}
	if _, err := sf.StoredIDs(ctx, "no-such-collection", []string{a}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("StoredIDs of an unknown collection: %v, want ErrNotFound", err)
	}
}
