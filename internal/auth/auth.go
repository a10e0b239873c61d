// Package auth authenticates HTTP requests to the cell with API tokens:
// "Authorization: Bearer TOKEN", or HTTP Basic with the user name and the
// token as password for TAXII clients that only speak Basic (TAXII 2.1
// §1.6.9). Tokens are stored as their SHA-256 only, so a token is found by
// hashing what the client sent.
package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/jointcell/jointcell/internal/access"
	"github.com/jointcell/jointcell/internal/audit"
	"github.com/jointcell/jointcell/internal/store"
)

// Errors Authenticate returns; both mean "answer 401".
var (
	ErrUnauthenticated = errors.New("auth: missing or invalid credentials")
	ErrRateLimited     = errors.New("auth: too many failed attempts from this address")
)

// Users is what the authenticator reads of the store.
type Users interface {
	UserByTokenHash(ctx context.Context, hash []byte) (store.User, error)
	Organisation(ctx context.Context, name string) (store.Organisation, error)
	ListGroups(ctx context.Context) ([]store.Group, error)
}

// Auditor records failed attempts.
type Auditor interface {
	Append(ctx context.Context, e audit.Entry) error
}

var _ Users = (store.Store)(nil)

// Options tune the authenticator; zero values take the defaults.
type Options struct {
	// CacheTTL is how long a successful lookup is reused. Token rotation,
	// role and group changes apply within it (default 2 s).
	CacheTTL time.Duration
	// Burst is how many failures an address may make in a row, and Refill
	// how often it earns one back (defaults 10 and 1 s): a guessing client
	// gets about one try a second, a mistyped token costs nothing.
	Burst  int
	Refill time.Duration
	// OnFailure is called for every failed attempt (for metrics).
	OnFailure func()
	Now       func() time.Time
	Logger    *slog.Logger
}

// Authenticator implements the TAXII server's Authenticator (and serves the
// admin API and /metrics).
type Authenticator struct {
	users  Users
	audit  Auditor
	opts   Options
	logger *slog.Logger

	mu      sync.Mutex
	cache   map[[sha256.Size]byte]cached
	buckets map[string]*bucket
	swept   time.Time
}

type cached struct {
	p       access.Principal
	name    string
	expires time.Time
}

// bucket is a token bucket of failures for one remote address.
type bucket struct {
	tokens  float64
	last    time.Time
	limited bool // a rejection was already audited since the last allowed attempt
}

// New returns an authenticator reading users from users and recording
// failures in aud (which may be nil).
func New(users Users, aud Auditor, opts Options) *Authenticator {
	if opts.CacheTTL <= 0 {
		opts.CacheTTL = 2 * time.Second
	}
	if opts.Burst <= 0 {
		opts.Burst = 10
	}
	if opts.Refill <= 0 {
		opts.Refill = time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Authenticator{
		users:   users,
		audit:   aud,
		opts:    opts,
		logger:  logger,
		cache:   map[[sha256.Size]byte]cached{},
		buckets: map[string]*bucket{},
	}
}

// Authenticate returns the principal of the request's credentials.
func (a *Authenticator) Authenticate(r *http.Request) (access.Principal, error) {
	ctx := r.Context()
	addr := remoteHost(r.RemoteAddr)
	now := a.opts.Now()
	if !a.allowed(addr, now) {
		a.fail(ctx, addr, "", "rate limited", true)
		return access.Principal{}, ErrRateLimited
	}
	if r.Header.Get("Authorization") == "" {
		// Nobody tried: a client probing for the schemes (the 401 names
		// them) must not be audited or use up its address's allowance.
		return access.Principal{}, ErrUnauthenticated
	}
	name, token, ok := credentials(r)
	if !ok {
		a.fail(ctx, addr, name, "no or malformed credentials", false)
		return access.Principal{}, ErrUnauthenticated
	}
	hash := sha256.Sum256([]byte(token))
	p, userName, err := a.lookup(ctx, hash, now)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			a.fail(ctx, addr, name, "unknown token", false)
			return access.Principal{}, ErrUnauthenticated
		}
		return access.Principal{}, fmt.Errorf("auth: %w", err)
	}
	// Basic names the user too; it must be the token's owner. The
	// comparison is constant-time like the hash comparison in lookup.
	if name != "" && subtle.ConstantTimeCompare([]byte(name), []byte(userName)) != 1 {
		a.fail(ctx, addr, name, "token of another user", false)
		return access.Principal{}, ErrUnauthenticated
	}
	return p, nil
}

// credentials extracts the user name (Basic only) and the token.
func credentials(r *http.Request) (name, token string, ok bool) {
	h := r.Header.Get("Authorization")
	scheme, rest, found := strings.Cut(h, " ")
	if !found {
		return "", "", false
	}
	rest = strings.TrimSpace(rest)
	switch {
	// "Token" is what the OASIS taxii2-client's TokenAuth sends; it
	// carries the same API token as Bearer.
	case strings.EqualFold(scheme, "Bearer"), strings.EqualFold(scheme, "Token"):
		return "", rest, rest != ""
	case strings.EqualFold(scheme, "Basic"):
		raw, err := base64.StdEncoding.DecodeString(rest)
		if err != nil {
			return "", "", false
		}
		name, token, found = strings.Cut(string(raw), ":")
		if !found || name == "" || token == "" {
			return name, "", false
		}
		return name, token, true
	}
	return "", "", false
}

// lookup resolves a token hash, from the cache when fresh.
func (a *Authenticator) lookup(ctx context.Context, hash [sha256.Size]byte, now time.Time) (access.Principal, string, error) {
	a.mu.Lock()
	c, ok := a.cache[hash]
	a.mu.Unlock()
	if ok && now.Before(c.expires) {
		return c.p, c.name, nil
	}
	u, err := a.users.UserByTokenHash(ctx, hash[:])
	if err != nil {
		return access.Principal{}, "", err
	}
	// The store looked the hash up by index; compare it again in constant
	// time so that a backend comparing loosely cannot let a token through.
	if subtle.ConstantTimeCompare(u.TokenHash, hash[:]) != 1 {
		return access.Principal{}, "", store.ErrNotFound
	}
	p, err := a.principal(ctx, u)
	if err != nil {
		return access.Principal{}, "", err
	}
	a.mu.Lock()
	a.cache[hash] = cached{p: p, name: u.Name, expires: now.Add(a.opts.CacheTTL)}
	a.sweep(now)
	a.mu.Unlock()
	return p, u.Name, nil
}

// principal builds the principal of a user: its organisation's identity and
// the reader keys of the organisation and of every group naming it. Admins
// are not restricted (nil Readers).
func (a *Authenticator) principal(ctx context.Context, u store.User) (access.Principal, error) {
	org, err := a.users.Organisation(ctx, u.OrgName)
	if err != nil {
		return access.Principal{}, fmt.Errorf("organisation of %s: %w", u.Name, err)
	}
	p := access.Principal{
		UserID:   u.ID,
		UserName: u.Name,
		OrgName:  org.Name,
		OrgID:    org.IdentityID,
		Role:     access.Role(u.Role),
	}
	switch p.Role {
	case access.RoleAdmin:
		return p, nil
	case access.RoleAnalyst, access.RoleReader:
	default:
		return access.Principal{}, fmt.Errorf("user %s has unknown role %q: %w", u.Name, u.Role, store.ErrNotFound)
	}
	groups, err := a.users.ListGroups(ctx)
	if err != nil {
		return access.Principal{}, fmt.Errorf("groups: %w", err)
	}
	p.Readers = access.ReaderKeys(org.IdentityID, groups)
	return p, nil
}

// allowed reports whether addr may try to authenticate: it has a failure
// token left in its bucket.
func (a *Authenticator) allowed(addr string, now time.Time) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	b, ok := a.buckets[addr]
	if !ok {
		return true
	}
	a.refill(b, now)
	if b.tokens >= 1 {
		b.limited = false
		return true
	}
	return false
}

func (a *Authenticator) refill(b *bucket, now time.Time) {
	b.tokens += float64(now.Sub(b.last)) / float64(a.opts.Refill)
	if b.tokens > float64(a.opts.Burst) {
		b.tokens = float64(a.opts.Burst)
	}
	b.last = now
}

// fail takes a failure token from addr's bucket, counts and audits the
// failure. Attempts rejected by the limiter are audited once per episode so
// that a flood cannot flood the audit log too.
func (a *Authenticator) fail(ctx context.Context, addr, name, why string, limited bool) {
	now := a.opts.Now()
	record := true
	a.mu.Lock()
	b, ok := a.buckets[addr]
	if !ok {
		b = &bucket{tokens: float64(a.opts.Burst), last: now}
		a.buckets[addr] = b
	}
	a.refill(b, now)
	if limited {
		record = !b.limited
		b.limited = true
	} else if b.tokens >= 1 {
		b.tokens--
	}
	a.sweep(now)
	a.mu.Unlock()

	if a.opts.OnFailure != nil {
		a.opts.OnFailure()
	}
	if !record {
		return
	}
	actor := "anonymous"
	if name != "" {
		actor = name
	}
	a.logger.Warn("authentication failed", "remote", addr, "user", name, "reason", why)
	if a.audit == nil {
		return
	}
	// The request may be cancelled already; the failure is still recorded.
	err := a.audit.Append(context.WithoutCancel(ctx), audit.Entry{
		Time:    now.UTC(),
		Actor:   actor,
		Action:  audit.ActionAuthFail,
		Target:  addr,
		Outcome: audit.OutcomeDenied,
		Detail:  why,
	})
	if err != nil {
		a.logger.Error("audit authentication failure", "err", err)
	}
}

// sweep drops expired cache entries and full buckets at most once a
// minute, so that memory stays bounded by recent activity. a.mu is held.
func (a *Authenticator) sweep(now time.Time) {
	if now.Sub(a.swept) < time.Minute {
		return
	}
	a.swept = now
	for k, c := range a.cache {
		if !now.Before(c.expires) {
			delete(a.cache, k)
		}
	}
	for k, b := range a.buckets {
		a.refill(b, now)
		if b.tokens >= float64(a.opts.Burst) {
			delete(a.buckets, k)
		}
	}
}

// remoteHost is the host part of a RemoteAddr; the port changes with every
// connection and must not give a client a fresh bucket.
func remoteHost(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}
