package auth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jointcell/jointcell/internal/access"
	"github.com/jointcell/jointcell/internal/audit"
	"github.com/jointcell/jointcell/internal/store"
)

// fakeUsers is an in-memory Users.
type fakeUsers struct {
	mu     sync.Mutex
	users  []store.User
	orgs   map[string]store.Organisation
	groups []store.Group
	calls  int
}

func (f *fakeUsers) UserByTokenHash(_ context.Context, hash []byte) (store.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	for _, u := range f.users {
		if string(u.TokenHash) == string(hash) {
			return u, nil
		}
	}
	return store.User{}, store.ErrNotFound
}

func (f *fakeUsers) Organisation(_ context.Context, name string) (store.Organisation, error) {
	o, ok := f.orgs[name]
	if !ok {
		return store.Organisation{}, store.ErrNotFound
	}
	return o, nil
}

func (f *fakeUsers) ListGroups(context.Context) ([]store.Group, error) { return f.groups, nil }

func (f *fakeUsers) setToken(name, token string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	h := sha256.Sum256([]byte(token))
	for i := range f.users {
		if f.users[i].Name == name {
			f.users[i].TokenHash = h[:]
		}
	}
}

type fakeAudit struct {
	mu      sync.Mutex
	entries []audit.Entry
}

func (f *fakeAudit) Append(_ context.Context, e audit.Entry) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.entries = append(f.entries, e)
	return nil
}

func (f *fakeAudit) len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.entries)
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time      { return c.t }
func (c *clock) add(d time.Duration) { c.t = c.t.Add(d) }
func hashOf(token string) []byte     { h := sha256.Sum256([]byte(token)); return h[:] }
func basic(user, token string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+token))
}
func bearer(token string) string           { return "Bearer " + token }
func newFixture() (*fakeUsers, *fakeAudit) { return fixtureUsers(), &fakeAudit{} }

const (
	orgA  = "identity--0a2a4f54-0000-4000-8000-000000000001"
	orgB  = "identity--0a2a4f54-0000-4000-8000-000000000002"
	group = "marking-definition--0a2a4f54-0000-4000-8000-0000000000aa"
)

func fixtureUsers() *fakeUsers {
	return &fakeUsers{
		users: []store.User{
			{ID: "u1", Name: "alice", OrgName: "a", Role: "analyst", TokenHash: hashOf("tok-alice")},
			{ID: "u2", Name: "root", OrgName: "admin", Role: "admin", TokenHash: hashOf("tok-root")},
			{ID: "u3", Name: "bob", OrgName: "b", Role: "reader", TokenHash: hashOf("tok-bob")},
			{ID: "u4", Name: "mallory", OrgName: "b", Role: "superuser", TokenHash: hashOf("tok-mallory")},
		},
		orgs: map[string]store.Organisation{
			"a":     {Name: "a", IdentityID: orgA},
			"b":     {Name: "b", IdentityID: orgB},
			"admin": {Name: "admin", IdentityID: "identity--0a2a4f54-0000-4000-8000-000000000000"},
		},
		groups: []store.Group{{Name: "g", MarkingID: group, Members: []string{orgA}}},
	}
}

func request(authz, remote string) *http.Request {
	r := httptest.NewRequest("GET", "/taxii2/", nil)
	if authz != "" {
		r.Header.Set("Authorization", authz)
	}
	if remote != "" {
		r.RemoteAddr = remote
	}
	return r
}

func TestAuthenticate(t *testing.T) {
	tests := []struct {
		name    string
		authz   string
		want    access.Principal
		wantErr error
	}{
		{"bearer", bearer("tok-alice"), access.Principal{UserID: "u1", UserName: "alice", OrgName: "a", OrgID: orgA, Role: access.RoleAnalyst,
			Readers: []string{store.ReaderAnyone, store.ReaderCommunity, store.ReaderOrg(orgA), store.ReaderGroup(group)}}, nil},
		{"bearer lower-case scheme", "bearer tok-bob", access.Principal{UserID: "u3", UserName: "bob", OrgName: "b", OrgID: orgB, Role: access.RoleReader,
			Readers: []string{store.ReaderAnyone, store.ReaderCommunity, store.ReaderOrg(orgB)}}, nil},
		{"token scheme of taxii2-client", "Token tok-bob", access.Principal{UserID: "u3", UserName: "bob", OrgName: "b", OrgID: orgB, Role: access.RoleReader,
			Readers: []string{store.ReaderAnyone, store.ReaderCommunity, store.ReaderOrg(orgB)}}, nil},
		{"basic", basic("bob", "tok-bob"), access.Principal{UserID: "u3", UserName: "bob", OrgName: "b", OrgID: orgB, Role: access.RoleReader,
			Readers: []string{store.ReaderAnyone, store.ReaderCommunity, store.ReaderOrg(orgB)}}, nil},
		{"admin has no restriction", bearer("tok-root"), access.Principal{UserID: "u2", UserName: "root", OrgName: "admin",
			OrgID: "identity--0a2a4f54-0000-4000-8000-000000000000", Role: access.RoleAdmin}, nil},
		{"none", "", access.Principal{}, ErrUnauthenticated},
		{"unknown token", bearer("nope"), access.Principal{}, ErrUnauthenticated},
		{"empty bearer", "Bearer ", access.Principal{}, ErrUnauthenticated},
		{"basic of another user", basic("alice", "tok-bob"), access.Principal{}, ErrUnauthenticated},
		{"basic without colon", "Basic " + base64.StdEncoding.EncodeToString([]byte("bob")), access.Principal{}, ErrUnauthenticated},
		{"basic empty password", basic("bob", ""), access.Principal{}, ErrUnauthenticated},
		{"basic not base64", "Basic !!!", access.Principal{}, ErrUnauthenticated},
		{"other scheme", "Digest tok-bob", access.Principal{}, ErrUnauthenticated},
		{"scheme only", "Bearer", access.Principal{}, ErrUnauthenticated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			users, aud := newFixture()
			a := New(users, aud, Options{})
			got, err := a.Authenticate(request(tt.authz, ""))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err != nil && tt.authz == "" {
				if aud.len() != 0 {
					t.Errorf("a request without credentials was audited: %+v", aud.entries)
				}
				return
			}
			if err != nil {
				if aud.len() != 1 || aud.entries[0].Action != audit.ActionAuthFail || aud.entries[0].Outcome != audit.OutcomeDenied {
					t.Errorf("audit = %+v, want one auth.fail", aud.entries)
				}
				return
			}
			if got.UserID != tt.want.UserID || got.UserName != tt.want.UserName || got.OrgName != tt.want.OrgName ||
				got.OrgID != tt.want.OrgID || got.Role != tt.want.Role || !slices.Equal(got.Readers, tt.want.Readers) {
				t.Errorf("principal = %+v\nwant %+v", got, tt.want)
			}
			if got.IsAdmin() != (tt.want.Role == access.RoleAdmin) || (got.IsAdmin() && got.Readers != nil) {
				t.Errorf("admin readers = %v", got.Readers)
			}
			if aud.len() != 0 {
				t.Errorf("success audited: %+v", aud.entries)
			}
		})
	}
}

func TestUnknownRoleIsAnError(t *testing.T) {
	users, aud := newFixture()
	a := New(users, aud, Options{})
	if _, err := a.Authenticate(request(bearer("tok-mallory"), "")); err == nil {
		t.Fatal("a user with an unknown role authenticated")
	}
}

// TestRotationAppliesWithinTTL checks that the cache never serves a rotated
// token beyond CacheTTL, and that it does save lookups within it.
func TestRotationAppliesWithinTTL(t *testing.T) {
	users, aud := newFixture()
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	a := New(users, aud, Options{CacheTTL: 2 * time.Second, Now: c.now})
	for range 3 {
		if _, err := a.Authenticate(request(bearer("tok-alice"), "")); err != nil {
			t.Fatal(err)
		}
	}
	if users.calls != 1 {
		t.Errorf("store lookups = %d, want 1 (cached)", users.calls)
	}
	users.setToken("alice", "tok-alice-2")
	c.add(2 * time.Second)
	if _, err := a.Authenticate(request(bearer("tok-alice"), "")); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("old token after TTL: err = %v", err)
	}
	if _, err := a.Authenticate(request(bearer("tok-alice-2"), "")); err != nil {
		t.Fatalf("new token: %v", err)
	}
}

func TestGroupChangeAppliesWithinTTL(t *testing.T) {
	users, aud := newFixture()
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	a := New(users, aud, Options{CacheTTL: time.Second, Now: c.now})
	p, _ := a.Authenticate(request(bearer("tok-bob"), ""))
	if slices.Contains(p.Readers, store.ReaderGroup(group)) {
		t.Fatal("bob is not in the group yet")
	}
	users.groups[0].Members = append(users.groups[0].Members, orgB)
	c.add(time.Second)
	p, _ = a.Authenticate(request(bearer("tok-bob"), ""))
	if !slices.Contains(p.Readers, store.ReaderGroup(group)) {
		t.Errorf("group membership not applied: %v", p.Readers)
	}
}

// TestRateLimit checks that an address that keeps failing is refused even
// with a good token until its bucket refills, that other addresses are not
// affected, and that the flood is audited once per episode.
func TestRateLimit(t *testing.T) {
	users, aud := newFixture()
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	var failures int
	a := New(users, aud, Options{Burst: 3, Refill: time.Second, Now: c.now, OnFailure: func() { failures++ }})
	const evil, good = "192.0.2.1:1234", "192.0.2.2:1234"
	for i := range 3 {
		if _, err := a.Authenticate(request(bearer("guess"), evil)); !errors.Is(err, ErrUnauthenticated) {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	for range 5 {
		if _, err := a.Authenticate(request(bearer("tok-alice"), "192.0.2.1:9999")); !errors.Is(err, ErrRateLimited) {
			t.Fatalf("limited address got through: %v", err)
		}
	}
	if _, err := a.Authenticate(request(bearer("tok-alice"), good)); err != nil {
		t.Fatalf("other address: %v", err)
	}
	if failures != 8 {
		t.Errorf("OnFailure called %d times, want 8", failures)
	}
	if aud.len() != 4 {
		t.Errorf("audit entries = %d, want 3 failures + 1 rate-limit episode", aud.len())
	}
	c.add(time.Second)
	if _, err := a.Authenticate(request(bearer("tok-alice"), evil)); err != nil {
		t.Fatalf("after refill: %v", err)
	}
}

func TestSweepBoundsMemory(t *testing.T) {
	users, aud := newFixture()
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	a := New(users, aud, Options{Now: c.now})
	for i := range 100 {
		_, _ = a.Authenticate(request(bearer("guess"), "192.0.2."+string(rune('0'+i%10))+":1"))
	}
	_, _ = a.Authenticate(request(bearer("tok-alice"), ""))
	c.add(2 * time.Minute)
	_, _ = a.Authenticate(request(bearer("tok-bob"), ""))
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.buckets) != 0 || len(a.cache) != 1 {
		t.Errorf("after sweep: %d buckets, %d cache entries", len(a.buckets), len(a.cache))
	}
}

func FuzzCredentials(f *testing.F) {
	for _, s := range []string{"", "Bearer x", basic("a", "b"), "Basic", "Basic =", "bearer  x ", "Basic " + base64.StdEncoding.EncodeToString([]byte(":"))} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", h)
		name, token, ok := credentials(r)
		if ok && token == "" {
			t.Errorf("ok with an empty token for %q", h)
		}
		if !ok && token != "" {
			t.Errorf("token %q returned with !ok", token)
		}
		_ = name
	})
}

func BenchmarkAuthenticateCached(b *testing.B) {
	users, aud := newFixture()
	a := New(users, aud, Options{CacheTTL: time.Hour})
	r := request(bearer("tok-alice"), "")
	for b.Loop() {
		if _, err := a.Authenticate(r); err != nil {
			b.Fatal(err)
		}
	}
}
