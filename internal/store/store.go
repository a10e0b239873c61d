// Package store is the storage contract of a cell: collections of STIX object
// versions with the TAXII 2.1 query semantics, status resources, and the
// principals (organisations, users, sharing groups) that access control
// needs. Backends live in sub-packages (store/sqlite, store/postgres) and all
// pass the one suite in store/storetest.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/jointcell/jointcell/internal/stix"
)

// Errors every backend returns (wrapped with the operation) so that callers
// can map them to responses with errors.Is.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict") // e.g. a duplicate alias or name
	ErrInvalid  = errors.New("invalid")  // a request the store cannot express
	ErrClosed   = errors.New("store closed")
)

// Collection is a TAXII collection (TAXII 2.1 §5.2) plus the organisations and
// sharing groups that may read or write it. ReadBy and WriteBy hold reader
// keys (see Reader* below); a collection with no ReadBy is readable by no one
// but admins.
type Collection struct {
	ID          string // UUIDv4, without prefix
	Alias       string // optional, unique per cell
	Title       string
	Description string
	ReadBy      []string
	WriteBy     []string
	Created     time.Time
}

// Reader keys. Every stored version carries its audience: the set of reader
// keys allowed to see it, computed from its markings when it is stored. A
// principal holds a set of reader keys too; a version is visible when the two
// sets meet. This is how visibility is pushed into the query so that pages
// are full and counts never leak.
const (
	ReaderAnyone    = "*"         // TLP:CLEAR and unmarked-by-policy content
	ReaderCommunity = "community" // TLP:GREEN: every organisation of this cell and its peers
)

// ReaderOrg is the reader key of an organisation, by its STIX identity id.
func ReaderOrg(identityID string) string { return "org:" + identityID }

// ReaderGroup is the reader key of a sharing group, by its marking-definition id.
func ReaderGroup(markingID string) string { return "group:" + markingID }

// Version is one stored version of an object in one collection.
type Version struct {
	Object    stix.Object
	DateAdded time.Time // assigned by the store: microseconds, UTC, strictly increasing per collection
	Audience  []string  // reader keys allowed to see this version
	Origin    string    // the peer cell that delivered it, "" when posted locally
}

// AddOutcome says what happened to one object of an AddVersions batch.
type AddOutcome int

const (
	Added     AddOutcome = iota + 1 // stored as a new version
	Duplicate                       // identical bytes already stored: a success, nothing changed
	Rejected                        // same id and version, different content: versions are immutable
)

// AddResult is the per-object result of AddVersions, in input order.
type AddResult struct {
	Outcome   AddOutcome
	DateAdded time.Time // of the stored version (the existing one for Duplicate)
	Message   string    // why, for Rejected
}

// Filter is a TAXII 2.1 query (§3.4) on one collection, already parsed.
//
// Version selection (match[version], default "last") and spec-version
// selection (match[spec_version], default: the latest spec version of each
// object) happen among the versions the reader may see and that match IDs and
// Types; AddedAfter and the page window apply to what is selected. Results
// are sorted ascending by DateAdded.
type Filter struct {
	AddedAfter   time.Time // zero: from the oldest; otherwise strictly after
	IDs          []string  // match[id], OR
	Types        []string  // match[type], OR
	Versions     []string  // match[version]: "first", "last", "all", or exact timestamps; empty means "last"
	SpecVersions []string  // match[spec_version]; empty means the latest per object
	Limit        int       // > 0; the page holds at most Limit versions
	Readers      []string  // nil: no visibility restriction (admin); otherwise reader keys of the principal
}

// Page is one page of a query. More is true when versions beyond the page
// match the filter (and are visible to the reader).
type Page struct {
	Versions []Version
	More     bool
}

// Status is a TAXII status resource (§4.3.1), kept at least 24 hours.
type Status struct {
	ID           string
	CollectionID string
	OwnerUserID  string // only its owner (and admins) may read it
	Status       string // "complete" or "pending"
	RequestTime  time.Time
	Successes    []StatusDetail
	Failures     []StatusDetail
	Pendings     []StatusDetail
	Total        int
}

// StatusDetail is one entry of successes, failures or pendings.
type StatusDetail struct {
	ID      string `json:"id"`
	Version string `json:"version"`
	Message string `json:"message,omitempty"`
}

// Organisation is a member organisation of the cell; IdentityID is the id of
// the STIX identity that it publishes as (created_by_ref).
type Organisation struct {
	Name       string // unique, used on the CLI
	IdentityID string
	Identity   []byte // the identity object as published
	Created    time.Time
}

// User is a person or machine account. TokenHash is the SHA-256 of its API
// token; the token itself is never stored.
type User struct {
	ID        string
	Name      string // unique
	OrgName   string
	Role      string // "admin", "analyst" or "reader"
	TokenHash []byte
	Created   time.Time
}

// Group is a sharing group: a set of organisations, possibly of several
// cells, represented by a marking-definition (see docs/markings.md).
type Group struct {
	Name       string
	MarkingID  string
	Members    []string // STIX identity ids
	Definition []byte   // the marking-definition object
}

// Objects stores and queries object versions.
type Objects interface {
	// AddVersions stores a batch in one transaction, assigning each new
	// version a DateAdded strictly greater than any before it in the
	// collection. It fails as a whole (nothing stored) only on an I/O error.
	AddVersions(ctx context.Context, collectionID string, vs []Version) ([]AddResult, error)
	// Query answers one page of a filter.
	Query(ctx context.Context, collectionID string, f Filter) (Page, error)
	// DeleteVersions deletes the versions of one object selected by f
	// (IDs is ignored; Versions and SpecVersions select, default all) and
	// visible to f.Readers; it returns how many went, ErrNotFound when none.
	DeleteVersions(ctx context.Context, collectionID, objectID string, f Filter) (int, error)
}

// Collections manages collections.
type Collections interface {
	CreateCollection(ctx context.Context, c Collection) error
	// Collection finds a collection by id or alias.
	Collection(ctx context.Context, idOrAlias string) (Collection, error)
	ListCollections(ctx context.Context) ([]Collection, error)
	UpdateCollection(ctx context.Context, c Collection) error
}

// Statuses keeps status resources.
type Statuses interface {
	PutStatus(ctx context.Context, s Status) error
	Status(ctx context.Context, id string) (Status, error)
	// PurgeStatuses deletes statuses requested before the cut-off.
	PurgeStatuses(ctx context.Context, before time.Time) (int, error)
}

// Principals keeps organisations, users and sharing groups.
type Principals interface {
	CreateOrganisation(ctx context.Context, o Organisation) error
	Organisation(ctx context.Context, name string) (Organisation, error)
	ListOrganisations(ctx context.Context) ([]Organisation, error)

	CreateUser(ctx context.Context, u User) error
	User(ctx context.Context, name string) (User, error)
	UserByTokenHash(ctx context.Context, hash []byte) (User, error)
	ListUsers(ctx context.Context) ([]User, error)
	SetUserToken(ctx context.Context, name string, hash []byte) error

	PutGroup(ctx context.Context, g Group) error // create or replace, by name
	Group(ctx context.Context, name string) (Group, error)
	ListGroups(ctx context.Context) ([]Group, error)
}

// Settings keeps small per-cell values: secrets and keys generated on first
// start (cursor HMAC key, redaction key, signing key).
type Settings interface {
	Setting(ctx context.Context, key string) ([]byte, error) // ErrNotFound when unset
	PutSetting(ctx context.Context, key string, value []byte) error
}

// Store is everything a backend provides. Consumers should declare the
// smaller interface they need instead of taking a Store.
type Store interface {
	Objects
	Collections
	Statuses
	Principals
	Settings
	Close() error
}

// TimestampFormat is how TAXII 2.1 timestamps that the store assigns
// (date_added) are written: RFC 3339, UTC, microseconds.
const TimestampFormat = "2006-01-02T15:04:05.000000Z"

// VersionString is the TAXII version of v (TAXII 2.1 §3.4.2, §5.3): the
// object's modified timestamp, else its created timestamp, exactly as
// received; an object with neither (an SCO) is versioned by its date_added,
// which is also what match[version] compares exact values with for it.
func (v Version) VersionString() string {
	if s := v.Object.Version(); s != "" {
		return s
	}
	return v.DateAdded.UTC().Format(TimestampFormat)
}

// AuditOutboxEntry is an audit entry waiting in a store's audit outbox for
// the process that holds the audit log to append it (see internal/cell).
type AuditOutboxEntry struct {
	ID    int64  // increasing: the order the entries were recorded in
	Entry []byte // the entry as JSON (audit.Entry)
}
