package cell

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/jointcell/jointcell/internal/access"
	"github.com/jointcell/jointcell/internal/store"
)

// Roles a user may have (access.Role values).
const (
	RoleAdmin   = string(access.RoleAdmin)
	RoleAnalyst = string(access.RoleAnalyst)
	RoleReader  = string(access.RoleReader)
)

// ManagedStore is what management needs of the store.
type ManagedStore interface {
	store.Principals
	store.Collections
}

// Manager is the one implementation of the management operations that the
// CLI and the admin API both call, so that they validate alike. Validation
// errors wrap store.ErrInvalid, unknown names store.ErrNotFound and
// duplicates store.ErrConflict. Every operation checks everything it can
// before it writes, so that a failure leaves nothing half-created.
type Manager struct {
	st  ManagedStore
	now func() time.Time
}

// NewManager returns a manager; now may be nil (time.Now).
func NewManager(st ManagedStore, now func() time.Time) *Manager {
	if now == nil {
		now = time.Now
	}
	return &Manager{st: st, now: now}
}

// namePattern is what organisation, user and group names look like: they
// are typed on the command line and listed comma-separated, so no spaces
// and no commas.
var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// aliasPattern is what a collection alias looks like; it appears in URLs.
var aliasPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

var uuidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

func checkName(what, name string) error {
	if !namePattern.MatchString(name) {
		return errorf(store.ErrInvalid, "%s name %q: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit", what, name)
	}
	return nil
}

// CreateOrganisation creates an organisation and the STIX identity it
// publishes as (STIX 2.1 §4.5, identity_class "organization"). The
// identity's id is the base of the organisation's reader key.
func (m *Manager) CreateOrganisation(ctx context.Context, name string) (store.Organisation, error) {
	if err := checkName("organisation", name); err != nil {
		return store.Organisation{}, err
	}
	if _, err := m.st.Group(ctx, name); err == nil {
		// Collection rights name organisations and groups alike.
		return store.Organisation{}, errorf(store.ErrConflict, "%q is already a sharing group's name", name)
	} else if !errors.Is(err, store.ErrNotFound) {
		return store.Organisation{}, fmt.Errorf("create organisation %s: %w", name, err)
	}
	now := m.now().UTC()
	id := "identity--" + NewUUID()
	// STIX 2.1 §3.2: created and modified in UTC with millisecond
	// precision, equal for the first version.
	ts := now.Truncate(time.Millisecond).Format("2006-01-02T15:04:05.000Z")
	identity, err := json.Marshal(struct {
		Type          string `json:"type"`
		SpecVersion   string `json:"spec_version"`
		ID            string `json:"id"`
		Created       string `json:"created"`
		Modified      string `json:"modified"`
		Name          string `json:"name"`
		IdentityClass string `json:"identity_class"`
	}{"identity", "2.1", id, ts, ts, name, "organization"})
	if err != nil {
		return store.Organisation{}, fmt.Errorf("create organisation: %w", err)
	}
	o := store.Organisation{Name: name, IdentityID: id, Identity: identity, Created: now}
	if err := m.st.CreateOrganisation(ctx, o); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return store.Organisation{}, errorf(store.ErrConflict, "organisation %q already exists", name)
		}
		return store.Organisation{}, fmt.Errorf("create organisation %s: %w", name, err)
	}
	return o, nil
}

// Organisations lists the organisations.
func (m *Manager) Organisations(ctx context.Context) ([]store.Organisation, error) {
	orgs, err := m.st.ListOrganisations(ctx)
	if err != nil {
		return nil, fmt.Errorf("list organisations: %w", err)
	}
	return orgs, nil
}

// CreateUser creates a user of an organisation and returns its token, the
// only time it is ever shown: only its SHA-256 is stored.
func (m *Manager) CreateUser(ctx context.Context, name, org, role string) (store.User, string, error) {
	if err := checkName("user", name); err != nil {
		return store.User{}, "", err
	}
	switch role {
	case RoleAdmin, RoleAnalyst, RoleReader:
	default:
		return store.User{}, "", errorf(store.ErrInvalid, "role %q: use admin, analyst or reader", role)
	}
	if _, err := m.st.Organisation(ctx, org); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return store.User{}, "", errorf(store.ErrInvalid, "no organisation named %q", org)
		}
		return store.User{}, "", fmt.Errorf("create user %s: %w", name, err)
	}
	token, hash := NewToken()
	u := store.User{ID: NewUUID(), Name: name, OrgName: org, Role: role, TokenHash: hash, Created: m.now().UTC()}
	if err := m.st.CreateUser(ctx, u); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return store.User{}, "", errorf(store.ErrConflict, "user %q already exists", name)
		}
		return store.User{}, "", fmt.Errorf("create user %s: %w", name, err)
	}
	return u, token, nil
}

// RotateToken gives a user a new token and returns it; the old one stops
// working at once (and within the authenticator's cache lifetime for a
// running server).
func (m *Manager) RotateToken(ctx context.Context, name string) (string, error) {
	token, hash := NewToken()
	if err := m.st.SetUserToken(ctx, name, hash); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return "", errorf(store.ErrNotFound, "no user named %q", name)
		}
		return "", fmt.Errorf("rotate token of %s: %w", name, err)
	}
	return token, nil
}

// Users lists the users.
func (m *Manager) Users(ctx context.Context) ([]store.User, error) {
	us, err := m.st.ListUsers(ctx)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return us, nil
}

// CollectionSpec describes a collection to create. Read and Write name
// organisations or sharing groups.
type CollectionSpec struct {
	Title       string
	Alias       string
	Description string
	Read        []string
	Write       []string
}

// CollectionInfo is a collection with its rights named as on the CLI.
type CollectionInfo struct {
	store.Collection
	ReadNames  []string
	WriteNames []string
}

// CreateCollection creates a collection with a new UUIDv4 id (TAXII 2.1
// §5.2.1) and the rights named in spec.
func (m *Manager) CreateCollection(ctx context.Context, spec CollectionSpec) (CollectionInfo, error) {
	title := strings.TrimSpace(spec.Title)
	if title == "" || len(title) > 256 {
		return CollectionInfo{}, errorf(store.ErrInvalid, "a collection needs a title of 1-256 characters")
	}
	if spec.Alias != "" && (!aliasPattern.MatchString(spec.Alias) || uuidPattern.MatchString(spec.Alias)) {
		// An alias that looked like a UUID could shadow another
		// collection's id in URLs.
		return CollectionInfo{}, errorf(store.ErrInvalid, "alias %q: use 1-64 lower-case letters, digits, '.', '_' or '-', and not a UUID", spec.Alias)
	}
	res, err := m.resolver(ctx)
	if err != nil {
		return CollectionInfo{}, err
	}
	read, err := res.keys(spec.Read)
	if err != nil {
		return CollectionInfo{}, err
	}
	write, err := res.keys(spec.Write)
	if err != nil {
		return CollectionInfo{}, err
	}
	c := store.Collection{
		ID:          NewUUID(),
		Alias:       spec.Alias,
		Title:       title,
		Description: spec.Description,
		ReadBy:      read,
		WriteBy:     write,
		Created:     m.now().UTC(),
	}
	if err := m.st.CreateCollection(ctx, c); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return CollectionInfo{}, errorf(store.ErrConflict, "alias %q is taken", c.Alias)
		}
		return CollectionInfo{}, fmt.Errorf("create collection: %w", err)
	}
	return res.info(c), nil
}

// SetCollectionRights replaces the read and/or write rights of a
// collection; a nil list leaves that right unchanged.
func (m *Manager) SetCollectionRights(ctx context.Context, idOrAlias string, read, write []string) (CollectionInfo, error) {
	c, err := m.collection(ctx, idOrAlias)
	if err != nil {
		return CollectionInfo{}, err
	}
	res, err := m.resolver(ctx)
	if err != nil {
		return CollectionInfo{}, err
	}
	if read != nil {
		if c.ReadBy, err = res.keys(read); err != nil {
			return CollectionInfo{}, err
		}
	}
	if write != nil {
		if c.WriteBy, err = res.keys(write); err != nil {
			return CollectionInfo{}, err
		}
	}
	if err := m.st.UpdateCollection(ctx, c); err != nil {
		return CollectionInfo{}, fmt.Errorf("update collection %s: %w", idOrAlias, err)
	}
	return res.info(c), nil
}

// Collection finds a collection by id or alias.
func (m *Manager) Collection(ctx context.Context, idOrAlias string) (CollectionInfo, error) {
	c, err := m.collection(ctx, idOrAlias)
	if err != nil {
		return CollectionInfo{}, err
	}
	res, err := m.resolver(ctx)
	if err != nil {
		return CollectionInfo{}, err
	}
	return res.info(c), nil
}

func (m *Manager) collection(ctx context.Context, idOrAlias string) (store.Collection, error) {
	c, err := m.st.Collection(ctx, idOrAlias)
	if errors.Is(err, store.ErrNotFound) {
		return store.Collection{}, errorf(store.ErrNotFound, "no collection %q", idOrAlias)
	}
	if err != nil {
		return store.Collection{}, fmt.Errorf("collection %s: %w", idOrAlias, err)
	}
	return c, nil
}

// Collections lists the collections.
func (m *Manager) Collections(ctx context.Context) ([]CollectionInfo, error) {
	cs, err := m.st.ListCollections(ctx)
	if err != nil {
		return nil, fmt.Errorf("list collections: %w", err)
	}
	res, err := m.resolver(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]CollectionInfo, len(cs))
	for i, c := range cs {
		out[i] = res.info(c)
	}
	return out, nil
}

// GroupInfo is a sharing group with its members named.
type GroupInfo struct {
	store.Group
	MemberNames []string // organisation names; an identity of another cell stays an id
}

// CreateGroup creates a sharing group of organisations, represented by a
// new marking definition (access.NewGroup).
func (m *Manager) CreateGroup(ctx context.Context, name string, orgs []string) (GroupInfo, error) {
	if err := checkName("group", name); err != nil {
		return GroupInfo{}, err
	}
	if _, err := m.st.Group(ctx, name); err == nil {
		return GroupInfo{}, errorf(store.ErrConflict, "group %q already exists", name)
	} else if !errors.Is(err, store.ErrNotFound) {
		return GroupInfo{}, fmt.Errorf("create group %s: %w", name, err)
	}
	res, err := m.resolver(ctx)
	if err != nil {
		return GroupInfo{}, err
	}
	if _, ok := res.orgs[name]; ok {
		// Collection rights name organisations and groups alike.
		return GroupInfo{}, errorf(store.ErrConflict, "%q is already an organisation's name", name)
	}
	ids, err := res.orgIDs(orgs)
	if err != nil {
		return GroupInfo{}, err
	}
	g, err := access.NewGroup(name, ids, m.now().UTC())
	if err != nil {
		return GroupInfo{}, errorf(store.ErrInvalid, "group %s: %v", name, err)
	}
	if err := m.st.PutGroup(ctx, g); err != nil {
		return GroupInfo{}, fmt.Errorf("create group %s: %w", name, err)
	}
	return res.groupInfo(g), nil
}

// AddGroupMembers adds organisations to a group. The group keeps its
// marking id: objects already marked with it keep their meaning
// (access.AddMembers revises the definition instead).
func (m *Manager) AddGroupMembers(ctx context.Context, name string, orgs []string) (GroupInfo, error) {
	return m.changeMembers(ctx, name, orgs, access.AddMembers)
}

// RemoveGroupMembers removes organisations from a group.
func (m *Manager) RemoveGroupMembers(ctx context.Context, name string, orgs []string) (GroupInfo, error) {
	return m.changeMembers(ctx, name, orgs, access.RemoveMembers)
}

func (m *Manager) changeMembers(ctx context.Context, name string, orgs []string, change func(store.Group, []string) (store.Group, error)) (GroupInfo, error) {
	g, err := m.st.Group(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return GroupInfo{}, errorf(store.ErrNotFound, "no group named %q", name)
	}
	if err != nil {
		return GroupInfo{}, fmt.Errorf("group %s: %w", name, err)
	}
	res, err := m.resolver(ctx)
	if err != nil {
		return GroupInfo{}, err
	}
	ids, err := res.orgIDs(orgs)
	if err != nil {
		return GroupInfo{}, err
	}
	g, err = change(g, ids)
	if err != nil {
		return GroupInfo{}, errorf(store.ErrInvalid, "%v", err)
	}
	if err := m.st.PutGroup(ctx, g); err != nil {
		return GroupInfo{}, fmt.Errorf("update group %s: %w", name, err)
	}
	return res.groupInfo(g), nil
}

// Groups lists the sharing groups.
func (m *Manager) Groups(ctx context.Context) ([]GroupInfo, error) {
	res, err := m.resolver(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]GroupInfo, 0, len(res.groups))
	for _, g := range res.groupList {
		out = append(out, res.groupInfo(g))
	}
	return out, nil
}

// resolver maps names to reader keys and back, from one snapshot of the
// organisations and groups.
type resolver struct {
	orgs      map[string]store.Organisation // by name
	groups    map[string]store.Group        // by name
	groupList []store.Group
	names     map[string]string // reader key or identity id -> name
}

func (m *Manager) resolver(ctx context.Context) (*resolver, error) {
	orgs, err := m.st.ListOrganisations(ctx)
	if err != nil {
		return nil, fmt.Errorf("list organisations: %w", err)
	}
	gs, err := m.st.ListGroups(ctx)
	if err != nil {
		return nil, fmt.Errorf("list groups: %w", err)
	}
	r := &resolver{orgs: map[string]store.Organisation{}, groups: map[string]store.Group{}, groupList: gs, names: map[string]string{}}
	for _, o := range orgs {
		r.orgs[o.Name] = o
		r.names[store.ReaderOrg(o.IdentityID)] = o.Name
		r.names[o.IdentityID] = o.Name
	}
	for _, g := range gs {
		r.groups[g.Name] = g
		r.names[store.ReaderGroup(g.MarkingID)] = g.Name
	}
	return r, nil
}

// keys turns organisation and group names into reader keys.
func (r *resolver) keys(names []string) ([]string, error) {
	var keys []string
	for _, n := range names {
		var k string
		if o, ok := r.orgs[n]; ok {
			k = store.ReaderOrg(o.IdentityID)
		} else if g, ok := r.groups[n]; ok {
			k = store.ReaderGroup(g.MarkingID)
		} else {
			return nil, errorf(store.ErrInvalid, "no organisation or sharing group named %q", n)
		}
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	return keys, nil
}

func (r *resolver) orgIDs(names []string) ([]string, error) {
	if len(names) == 0 {
		return nil, errorf(store.ErrInvalid, "name at least one organisation")
	}
	var ids []string
	for _, n := range names {
		o, ok := r.orgs[n]
		if !ok {
			return nil, errorf(store.ErrInvalid, "no organisation named %q", n)
		}
		if !slices.Contains(ids, o.IdentityID) {
			ids = append(ids, o.IdentityID)
		}
	}
	return ids, nil
}

func (r *resolver) name(key string) string {
	if n, ok := r.names[key]; ok {
		return n
	}
	return key
}

func (r *resolver) info(c store.Collection) CollectionInfo {
	ci := CollectionInfo{Collection: c}
	for _, k := range c.ReadBy {
		ci.ReadNames = append(ci.ReadNames, r.name(k))
	}
	for _, k := range c.WriteBy {
		ci.WriteNames = append(ci.WriteNames, r.name(k))
	}
	return ci
}

func (r *resolver) groupInfo(g store.Group) GroupInfo {
	gi := GroupInfo{Group: g}
	for _, id := range g.Members {
		gi.MemberNames = append(gi.MemberNames, r.name(id))
	}
	return gi
}

// Error is a management error whose message is for the operator as is;
// Kind is store.ErrInvalid, store.ErrNotFound or store.ErrConflict for
// errors.Is.
type Error struct {
	Kind error
	Msg  string
}

func (e *Error) Error() string { return e.Msg }
func (e *Error) Unwrap() error { return e.Kind }

func errorf(kind error, format string, a ...any) error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, a...)}
}

// NewToken returns a new API token (32 random bytes, base64url without
// padding) and its SHA-256, the only form in which it is stored.
func NewToken() (token string, hash []byte) {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	token = base64.RawURLEncoding.EncodeToString(b[:])
	h := sha256.Sum256([]byte(token))
	return token, h[:]
}

// NewUUID returns a random (version 4) UUID, RFC 9562 §5.4.
func NewUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
