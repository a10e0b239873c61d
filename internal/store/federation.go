package store

import (
	"context"
	"time"
)

// Link directions.
const (
	Pull = "pull" // the local cell GETs from the peer's collection
	Push = "push" // the local cell POSTs to the peer's collection
)

// Peer is another cell (or any TAXII 2.1 server) this cell syncs with.
type Peer struct {
	Name     string
	URL      string // the peer's TAXII base URL
	User     string // the account this cell uses on the peer
	Token    []byte // that account's token, sealed (see package federation)
	CAFile   string
	Insecure bool
	// PublicKey is the peer cell's ed25519 key, pinned when the peer was
	// added; nil for a TAXII server that is not a jointcell cell.
	PublicKey []byte
	Identity  string   // the peer cell's own STIX identity id, when known
	Orgs      []string // STIX identity ids of the peer cell's organisations
	Account   string   // the local user the peer authenticates as here, "" when none
	Created   time.Time
}

// Link is one direction of sync between a local and a remote collection,
// with its progress. Checkpoint is a TAXII timestamp: for a pull link the
// remote X-TAXII-Date-Added-Last already stored, exactly as the peer wrote
// it; for a push link the local date_added already pushed.
type Link struct {
	Peer        string
	Direction   string // Pull or Push
	Local       string // local collection id
	Remote      string // remote collection id or alias
	Checkpoint  string
	LastSuccess time.Time
	LastError   string
	LastErrorAt time.Time
	Synced      int64 // versions delivered so far
}

// Key identifies the link.
func (l Link) Key() string { return l.Peer + "|" + l.Direction + "|" + l.Local + "|" + l.Remote }

// Provenance records which cell produced an object: Cell is the
// fingerprint of the key that signed its first version seen here (or
// "peer:NAME" for unsigned objects from a TAXII server that is not a
// cell), Peer the peer that delivered it.
type Provenance struct {
	ObjectID string
	Cell     string
	Peer     string
}

// Federation keeps peers, links, checkpoints and provenance.
type Federation interface {
	PutPeer(ctx context.Context, p Peer) error // create or replace, by name
	Peer(ctx context.Context, name string) (Peer, error)
	ListPeers(ctx context.Context) ([]Peer, error)
	// DeletePeer deletes a peer and its links in one transaction, and
	// nothing else: the provenance it delivered and the objects stay.
	// ErrNotFound when there is no such peer.
	DeletePeer(ctx context.Context, name string) error

	// PutLink creates a link; an existing one keeps its progress.
	PutLink(ctx context.Context, l Link) error
	ListLinks(ctx context.Context) ([]Link, error)
	// DeleteLink deletes the link with l's key (Peer, Direction, Local,
	// Remote), whatever its progress; ErrNotFound when there is none.
	DeleteLink(ctx context.Context, l Link) error
	// UpdateLink writes the progress fields (Checkpoint, LastSuccess,
	// LastError, LastErrorAt, Synced) of an existing link.
	UpdateLink(ctx context.Context, l Link) error

	// AddVersionsAt is Objects.AddVersions plus, in the same transaction,
	// the provenance of what it added and the progress of link l, so that
	// a pull that crashes at any moment either stored a page and moved its
	// checkpoint, or did neither. l.Synced is stored increased by the
	// number of versions added, so that no second write is needed.
	AddVersionsAt(ctx context.Context, collectionID string, vs []Version, prov []Provenance, l Link) ([]AddResult, error)

	// Provenance returns the recorded provenance of the given objects that
	// have one.
	Provenance(ctx context.Context, objectIDs []string) (map[string]Provenance, error)
	// PutProvenance records provenance, keeping what is already recorded.
	PutProvenance(ctx context.Context, prov []Provenance) error
}
