package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/jointcell/jointcell/internal/store"
)

// micro is a time at the microsecond precision the store keeps.
func micro(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func testCollections(t *testing.T, s store.Store) {
	ctx := context.Background()
	if cs, err := s.ListCollections(ctx); err != nil || len(cs) != 0 {
		t.Fatalf("ListCollections on an empty store: %v, %v", cs, err)
	}
	a := store.Collection{
		ID: "91a7b528-80eb-42ed-a74d-c6fbd5a26116", Alias: "high-value", Title: "High value", Description: "d",
		ReadBy: []string{store.ReaderCommunity, store.ReaderOrg("identity--a")}, WriteBy: []string{store.ReaderOrg("identity--a")},
		Created: time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC),
	}
	b := store.Collection{ID: "52892447-4d7e-4f70-b94d-d7f22742ff63", Title: "No alias", Created: a.Created.Add(time.Hour)}
	for _, c := range []store.Collection{a, b} {
		if err := s.CreateCollection(ctx, c); err != nil {
			t.Fatalf("CreateCollection(%s): %v", c.ID, err)
		}
	}
	want := a
	want.Created = micro(a.Created)
	for _, key := range []string{a.ID, a.Alias} {
		got, err := s.Collection(ctx, key)
		if err != nil {
			t.Fatalf("Collection(%q): %v", key, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Collection(%q) = %+v, want %+v", key, got, want)
		}
	}
	if got, err := s.Collection(ctx, b.ID); err != nil || got.Alias != "" || got.ReadBy != nil || got.Title != b.Title {
		t.Errorf("Collection(%q) = %+v, %v", b.ID, got, err)
	}
	for _, key := range []string{"", "unknown", "HIGH-VALUE"} {
		if _, err := s.Collection(ctx, key); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Collection(%q): %v, want ErrNotFound", key, err)
		}
	}
	for name, c := range map[string]store.Collection{
		"same id":             {ID: a.ID, Title: "x"},
		"same alias":          {ID: "0b6f4a3e-9a1c-4a57-8a0e-5bb1a8c2c6d1", Alias: a.Alias, Title: "x"},
		"alias is another id": {ID: "1b6f4a3e-9a1c-4a57-8a0e-5bb1a8c2c6d1", Alias: b.ID, Title: "x"},
		"id is another alias": {ID: a.Alias, Title: "x"},
	} {
		if err := s.CreateCollection(ctx, c); !errors.Is(err, store.ErrConflict) {
			t.Errorf("CreateCollection with %s: %v, want ErrConflict", name, err)
		}
	}
	cs, err := s.ListCollections(ctx)
	if err != nil || len(cs) != 2 {
		t.Fatalf("ListCollections: %v, %v", cs, err)
	}
	if ids := []string{cs[0].ID, cs[1].ID}; !slices.Contains(ids, a.ID) || !slices.Contains(ids, b.ID) {
		t.Errorf("ListCollections ids %v", ids)
	}

	// Update: a new alias frees the old one; rights change.
	up := want
	up.Alias, up.Title, up.ReadBy, up.WriteBy = "renamed", "Renamed", []string{store.ReaderAnyone}, nil
	if err := s.UpdateCollection(ctx, up); err != nil {
		t.Fatalf("UpdateCollection: %v", err)
	}
	if got, err := s.Collection(ctx, "renamed"); err != nil || !reflect.DeepEqual(got, up) {
		t.Errorf("after update: %+v, %v; want %+v", got, err, up)
	}
	if _, err := s.Collection(ctx, "high-value"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("old alias after update: %v, want ErrNotFound", err)
	}
	b.Alias = "renamed"
	if err := s.UpdateCollection(ctx, b); !errors.Is(err, store.ErrConflict) {
		t.Errorf("UpdateCollection to a taken alias: %v, want ErrConflict", err)
	}
	if err := s.UpdateCollection(ctx, store.Collection{ID: "unknown", Title: "x"}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UpdateCollection of an unknown collection: %v, want ErrNotFound", err)
	}
	// Removing an alias.
	up.Alias = ""
	if err := s.UpdateCollection(ctx, up); err != nil {
		t.Fatalf("UpdateCollection removing the alias: %v", err)
	}
	if got, err := s.Collection(ctx, a.ID); err != nil || got.Alias != "" {
		t.Errorf("alias after removal: %+v, %v", got, err)
	}
}

func testStatuses(t *testing.T, s store.Store) {
	ctx := context.Background()
	at := time.Date(2024, 1, 2, 3, 4, 5, 678901234, time.UTC)
	st := store.Status{
		ID: "2d086da7-4bdc-4f91-900e-d77486753710", CollectionID: "c", OwnerUserID: "u", Status: "pending",
		RequestTime: at, Total: 3,
		Successes: []store.StatusDetail{{ID: "indicator--1", Version: "2020-01-01T00:00:00.000Z"}},
		Failures:  []store.StatusDetail{{ID: "indicator--2", Version: "2020-01-01T00:00:00Z", Message: "invalid"}},
		Pendings:  []store.StatusDetail{{ID: "indicator--3", Version: "2020-01-01T00:00:00Z"}},
	}
	if err := s.PutStatus(ctx, st); err != nil {
		t.Fatal(err)
	}
	want := st
	want.RequestTime = micro(at)
	if got, err := s.Status(ctx, st.ID); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("Status = %+v, %v\nwant %+v", got, err, want)
	}
	// Completing a pending status replaces it.
	st.Status, st.Pendings = "complete", nil
	st.Successes = append(st.Successes, store.StatusDetail{ID: "indicator--3", Version: "2020-01-01T00:00:00Z"})
	if err := s.PutStatus(ctx, st); err != nil {
		t.Fatal(err)
	}
	got, err := s.Status(ctx, st.ID)
	if err != nil || got.Status != "complete" || len(got.Successes) != 2 || len(got.Pendings) != 0 {
		t.Errorf("completed status: %+v, %v", got, err)
	}
	if _, err := s.Status(ctx, "unknown"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Status(unknown): %v, want ErrNotFound", err)
	}
	newer := store.Status{ID: "3d086da7-4bdc-4f91-900e-d77486753710", Status: "complete", RequestTime: at.Add(48 * time.Hour)}
	if err := s.PutStatus(ctx, newer); err != nil {
		t.Fatal(err)
	}
	if n, err := s.PurgeStatuses(ctx, at.Add(24*time.Hour)); n != 1 || err != nil {
		t.Errorf("PurgeStatuses = %d, %v; want 1", n, err)
	}
	if _, err := s.Status(ctx, st.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("purged status: %v, want ErrNotFound", err)
	}
	if _, err := s.Status(ctx, newer.ID); err != nil {
		t.Errorf("status after the cut-off was purged: %v", err)
	}
}

func testOrganisations(t *testing.T, s store.Store) {
	ctx := context.Background()
	o := store.Organisation{Name: "acme", IdentityID: "identity--a", Identity: []byte(`{"type":"identity"}`), Created: time.Date(2024, 1, 1, 0, 0, 0, 1500, time.UTC)}
	if err := s.CreateOrganisation(ctx, o); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateOrganisation(ctx, store.Organisation{Name: "beta", IdentityID: "identity--b"}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateOrganisation(ctx, store.Organisation{Name: "acme", IdentityID: "identity--c"}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("duplicate organisation name: %v, want ErrConflict", err)
	}
	want := o
	want.Created = micro(o.Created)
	if got, err := s.Organisation(ctx, "acme"); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("Organisation = %+v, %v; want %+v", got, err, want)
	}
	if _, err := s.Organisation(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Organisation(nobody): %v, want ErrNotFound", err)
	}
	os, err := s.ListOrganisations(ctx)
	if err != nil || len(os) != 2 || os[0].Name != "acme" || os[1].Name != "beta" {
		t.Errorf("ListOrganisations = %+v, %v", os, err)
	}
}

func testUsers(t *testing.T, s store.Store) {
	ctx := context.Background()
	hash := func(tok string) []byte { h := sha256.Sum256([]byte(tok)); return h[:] }
	if err := s.CreateOrganisation(ctx, store.Organisation{Name: "acme", IdentityID: "identity--a"}); err != nil {
		t.Fatal(err)
	}
	alice := store.User{ID: "u-alice", Name: "alice", OrgName: "acme", Role: "analyst", TokenHash: hash("t1"), Created: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)}
	if err := s.CreateUser(ctx, alice); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateUser(ctx, store.User{ID: "u-bob", Name: "bob", OrgName: "acme", Role: "reader"}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateUser(ctx, store.User{ID: "u-carol", Name: "alice", Role: "reader"}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("duplicate user name: %v, want ErrConflict", err)
	}
	if got, err := s.User(ctx, "alice"); err != nil || !reflect.DeepEqual(got, alice) {
		t.Errorf("User(alice) = %+v, %v; want %+v", got, err, alice)
	}
	if got, err := s.UserByTokenHash(ctx, hash("t1")); err != nil || got.Name != "alice" {
		t.Errorf("UserByTokenHash(t1) = %+v, %v", got, err)
	}
	for _, h := range [][]byte{hash("t2"), nil, {}} {
		if _, err := s.UserByTokenHash(ctx, h); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("UserByTokenHash(%x): %v, want ErrNotFound", h, err)
		}
	}
	// A user without a token is never found by an empty hash.
	if got, err := s.User(ctx, "bob"); err != nil || len(got.TokenHash) != 0 || got.Created.IsZero() {
		t.Errorf("User(bob) = %+v, %v", got, err)
	}
	// Rotating a token: the old one stops working.
	if err := s.SetUserToken(ctx, "alice", hash("t2")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UserByTokenHash(ctx, hash("t1")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("old token after rotation: %v, want ErrNotFound", err)
	}
	if got, err := s.UserByTokenHash(ctx, hash("t2")); err != nil || got.Name != "alice" || !bytes.Equal(got.TokenHash, hash("t2")) {
		t.Errorf("UserByTokenHash(t2) = %+v, %v", got, err)
	}
	if err := s.SetUserToken(ctx, "nobody", hash("t3")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SetUserToken(nobody): %v, want ErrNotFound", err)
	}
	if _, err := s.User(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("User(nobody): %v, want ErrNotFound", err)
	}
	us, err := s.ListUsers(ctx)
	if err != nil || len(us) != 2 || us[0].Name != "alice" || us[1].Name != "bob" {
		t.Errorf("ListUsers = %+v, %v", us, err)
	}
}

func testGroups(t *testing.T, s store.Store) {
	ctx := context.Background()
	g := store.Group{Name: "energy", MarkingID: "marking-definition--e", Members: []string{"identity--b", "identity--a"}, Definition: []byte(`{"type":"marking-definition"}`)}
	if err := s.PutGroup(ctx, g); err != nil {
		t.Fatal(err)
	}
	if err := s.PutGroup(ctx, store.Group{Name: "alone", MarkingID: "marking-definition--x"}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Group(ctx, "energy"); err != nil || !reflect.DeepEqual(got, g) {
		t.Errorf("Group(energy) = %+v, %v; want %+v", got, err, g)
	}
	// Replacing by name replaces the members.
	g.Members = []string{"identity--c"}
	if err := s.PutGroup(ctx, g); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Group(ctx, "energy"); err != nil || !slices.Equal(got.Members, g.Members) {
		t.Errorf("members after replace: %+v, %v", got, err)
	}
	if _, err := s.Group(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Group(nobody): %v, want ErrNotFound", err)
	}
	gs, err := s.ListGroups(ctx)
	if err != nil || len(gs) != 2 || gs[0].Name != "alone" || len(gs[0].Members) != 0 || gs[1].Name != "energy" || !slices.Equal(gs[1].Members, g.Members) {
		t.Errorf("ListGroups = %+v, %v", gs, err)
	}
}

func testSettings(t *testing.T, s store.Store) {
	ctx := context.Background()
	if _, err := s.Setting(ctx, "cursor-key"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unset setting: %v, want ErrNotFound", err)
	}
	for _, v := range [][]byte{{0, 1, 2, 255}, []byte("replaced"), {}} {
		if err := s.PutSetting(ctx, "cursor-key", v); err != nil {
			t.Fatal(err)
		}
		if got, err := s.Setting(ctx, "cursor-key"); err != nil || !bytes.Equal(got, v) {
			t.Errorf("Setting = %q, %v; want %q", got, err, v)
		}
	}
}

func testClosed(t *testing.T, s store.Store) {
	ctx := context.Background()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Query(ctx, "c", store.Filter{Limit: 1}); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Query after Close: %v, want ErrClosed", err)
	}
	if _, err := s.AddVersions(ctx, "c", nil); !errors.Is(err, store.ErrClosed) {
		t.Errorf("AddVersions after Close: %v, want ErrClosed", err)
	}
	if _, err := s.Setting(ctx, "k"); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Setting after Close: %v, want ErrClosed", err)
	}
}
