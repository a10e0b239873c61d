package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/jointcell/jointcell/internal/stix"
	"github.com/jointcell/jointcell/internal/store"
)

// TestVisibleSetsCacheFollowsNewAudiences checks that the per-reader cache
// of visible audience sets follows sets that arrive after it was filled,
// through this handle or another process's handle on the same file, in
// both directions: a new visible set shows, a new invisible set stays
// hidden from a reader who used to see every set.
func TestVisibleSetsCacheFollowsNewAudiences(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "cache.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	other, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	const coll = "2e1a5b7c-0000-4000-8000-0000000000c1"
	if err := db.CreateCollection(ctx, store.Collection{ID: coll, Title: "cache"}); err != nil {
		t.Fatal(err)
	}
	add := func(h *DB, n int, audience ...string) {
		t.Helper()
		id := fmt.Sprintf("indicator--00000000-0000-4000-8000-%012x", n)
		o, err := stix.DecodeObject([]byte(`{"type":"indicator","spec_version":"2.1","id":"` + id + `","created":"2020-01-01T00:00:00.000Z","modified":"2020-01-01T00:00:00.000Z"}`))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.AddVersions(ctx, coll, []store.Version{{Object: o, Audience: audience}}); err != nil {
			t.Fatal(err)
		}
	}
	seen := func(readers ...string) []int {
		t.Helper()
		page, err := db.Query(ctx, coll, store.Filter{Limit: 100, Readers: readers})
		if err != nil {
			t.Fatal(err)
		}
		var ns []int
		for _, v := range page.Versions {
			var n int
			fmt.Sscanf(v.Object.ID[len(v.Object.ID)-12:], "%x", &n)
			ns = append(ns, n)
		}
		return ns
	}
	check := func(step string, got []int, want ...int) {
		t.Helper()
		if !slices.Equal(got, want) {
			t.Errorf("%s: sees %v, want %v", step, got, want)
		}
	}
	member := []string{store.ReaderAnyone, "org:a"}
	add(db, 1, "org:a")
	add(db, 2, "org:b")
	check("first read", seen(member...), 1)
	add(db, 3, "org:a", "org:c") // a new set the member may see
	check("after a new visible set", seen(member...), 1, 3)
	add(other, 4, store.ReaderAnyone) // a new set written by another handle
	check("after another handle's set", seen(member...), 1, 3, 4)

	everything := []string{store.ReaderAnyone, "org:a", "org:b", "org:c"}
	check("reader of every set", seen(everything...), 1, 2, 3, 4)
	add(other, 5, "org:z") // a set that reader may not see
	check("after a new invisible set", seen(everything...), 1, 2, 3, 4)
	check("member still", seen(member...), 1, 3, 4)
}
