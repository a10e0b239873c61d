package federation

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/jointcell/jointcell/internal/store"
	"github.com/jointcell/jointcell/internal/taxii"
)

// Peer management: the one implementation of adding, linking, unlinking,
// removing and inspecting peers that both the CLI (jointcell peer) and the
// admin API (/admin/peers/) call, so that they validate alike
// (docs/federation.md, "Peering two cells"). Errors for the operator wrap
// store.ErrInvalid (bad input), store.ErrNotFound (no such peer or link),
// store.ErrConflict (the peer exists), or ErrUnreachable and ErrKeyMismatch
// (the peer's /federation/info/ could not be used); their messages name
// only what the caller gave. No result carries a peer's token, sealed or
// not.

var (
	// ErrUnreachable: the peer's /federation/info/ could not be fetched
	// while adding it.
	ErrUnreachable = errors.New("peer unreachable")
	// ErrKeyMismatch: the peer's /federation/info/ answered a public key
	// that does not match its own fingerprint.
	ErrKeyMismatch = errors.New("peer key and fingerprint disagree")
)

// manageError is a management error whose message is for the operator as
// is; kind is what errors.Is matches.
type manageError struct {
	kind error
	msg  string
}

func (e *manageError) Error() string { return e.msg }
func (e *manageError) Unwrap() error { return e.kind }

func manageErrorf(kind error, format string, a ...any) error {
	return &manageError{kind: kind, msg: fmt.Sprintf(format, a...)}
}

// HTTPClientFunc builds the HTTP client for a peer's TLS settings;
// HTTPClient is the real one, tests give one that reaches a test server.
type HTTPClientFunc func(caFile string, insecure bool, timeout time.Duration) (*http.Client, error)

// Timeouts of the calls management makes to peers: fetching a new peer's
// info may cross a slow network once; the backlog asked by Status must not
// hold up a status page for long.
const (
	infoTimeout    = 15 * time.Second
	backlogTimeout = 3 * time.Second
)

// Peers manages the peers and links of a cell. It is safe for concurrent
// use; it keeps no state of its own, so that the CLI may change peers
// while a server runs (the sync loops pick changes up within a second).
type Peers struct {
	st  Store
	key ed25519.PrivateKey
	hc  HTTPClientFunc
	now func() time.Time
	// putMu makes AddPeer's last check for an existing peer and its write
	// one step, so that of two concurrent additions of the same name the
	// second is refused as a conflict instead of replacing the first. It
	// covers this process only: a CLI run beside the server is a separate
	// process (docs/federation.md).
	putMu sync.Mutex
}

// NewPeers returns the peer management of the cell whose store is st and
// whose key is key. hc may be nil (HTTPClient).
func NewPeers(st Store, key ed25519.PrivateKey, hc HTTPClientFunc) *Peers {
	if st == nil || len(key) != ed25519.PrivateKeySize {
		panic("federation: NewPeers needs a store and the cell key")
	}
	if hc == nil {
		hc = HTTPClient
	}
	return &Peers{st: st, key: key, hc: hc, now: time.Now}
}

// Fingerprint returns the cell's own key fingerprint, which operators
// compare with the peer's operator.
func (m *Peers) Fingerprint() string { return Fingerprint(m.key.Public().(ed25519.PublicKey)) }

// PeerSpec is what adding a peer takes.
type PeerSpec struct {
	Name     string
	URL      string // the peer's TAXII base URL
	User     string // the account this cell uses on the peer
	Token    string // that account's token, stored sealed
	CAFile   string // PEM file the peer's TLS certificate must chain to
	Insecure bool   // skip TLS verification (tests only)
	// PeerKey pins the peer cell's ed25519 public key (hex) without
	// contacting it; "" fetches it from the peer's /federation/info/.
	PeerKey string
	// Orgs are the identity ids of the peer cell's organisations; empty
	// learns them from the peer (unless the key is pinned).
	Orgs    []string
	Account string // the local user the peer authenticates as here
	// Foreign marks a TAXII 2.1 server that is not a jointcell cell: its
	// objects are accepted unsigned, nothing is fetched when adding it.
	Foreign bool
	// Replace allows replacing a peer of the same name (its links stay);
	// otherwise adding an existing name is a conflict.
	Replace bool
}

// Validate checks what can be checked of a spec without the store; the
// CLI calls it before it opens the cell.
func (s PeerSpec) Validate() error {
	switch {
	case s.Name == "" || strings.ContainsAny(s.Name, "|/ \t\r\n"):
		// The name is part of link keys (Link.Key uses '|'), of admin API
		// paths and of "peer:NAME" audit actors.
		return manageErrorf(store.ErrInvalid, "peer name %q must be non-empty and must not contain '|', '/' or spaces", s.Name)
	case s.URL == "":
		return manageErrorf(store.ErrInvalid, "the peer's URL is required")
	case s.Token == "":
		return manageErrorf(store.ErrInvalid, "the token this cell uses on the peer is required")
	case s.CAFile != "" && s.Insecure:
		return manageErrorf(store.ErrInvalid, "a CA file and insecure exclude each other")
	case s.Foreign && s.PeerKey != "":
		return manageErrorf(store.ErrInvalid, "foreign and a pinned peer key exclude each other")
	}
	if _, err := taxii.NewClient(taxii.ClientConfig{BaseURL: s.URL}); err != nil {
		return manageErrorf(store.ErrInvalid, "URL %q must be an http or https URL", s.URL)
	}
	for _, id := range s.Orgs {
		if !strings.HasPrefix(id, "identity--") {
			return manageErrorf(store.ErrInvalid, "orgs: %q is not an identity id", id)
		}
	}
	if s.PeerKey != "" {
		if _, err := parsePeerKey(s.PeerKey); err != nil {
			return err
		}
	}
	return nil
}

func parsePeerKey(v string) (ed25519.PublicKey, error) {
	k, err := hex.DecodeString(strings.TrimSpace(v))
	if err != nil || len(k) != ed25519.PublicKeySize {
		return nil, manageErrorf(store.ErrInvalid, "the peer key must be the %d-byte ed25519 public key in hex", ed25519.PublicKeySize)
	}
	return k, nil
}

// PeerInfo is a peer as management shows it: everything but its token.
type PeerInfo struct {
	Name     string
	URL      string
	User     string
	CAFile   string
	Insecure bool
	// PublicKey is the pinned ed25519 key, nil for a foreign peer, and
	// Fingerprint its hex SHA-256 ("" for a foreign peer).
	PublicKey   ed25519.PublicKey
	Fingerprint string
	Identity    string
	Orgs        []string
	Account     string
	Created     time.Time
	Links       []store.Link // the peer's links, in the store's order
}

// Foreign reports whether the peer is a TAXII server that is not a cell.
func (p PeerInfo) Foreign() bool { return p.PublicKey == nil }

func peerInfo(p store.Peer, links []store.Link) PeerInfo {
	pi := PeerInfo{
		Name: p.Name, URL: p.URL, User: p.User, CAFile: p.CAFile, Insecure: p.Insecure,
		Identity: p.Identity, Orgs: p.Orgs, Account: p.Account, Created: p.Created,
	}
	if p.PublicKey != nil {
		pi.PublicKey = ed25519.PublicKey(p.PublicKey)
		pi.Fingerprint = Fingerprint(pi.PublicKey)
	}
	for _, l := range links {
		if l.Peer == p.Name {
			pi.Links = append(pi.Links, l)
		}
	}
	return pi
}

// AddedPeer is the outcome of AddPeer: the peer as stored and this cell's
// own fingerprint, for the operators to compare out of band.
type AddedPeer struct {
	Peer             PeerInfo
	LocalFingerprint string
}

// AddPeer stores a peer. Unless its key is pinned (PeerKey) or it is
// foreign, it first fetches GET /federation/info/ from the peer with the
// given credentials and pins the key it answers (which must match the
// fingerprint it answers), the peer's identity and, unless Orgs are
// given, its organisations.
func (m *Peers) AddPeer(ctx context.Context, spec PeerSpec) (AddedPeer, error) {
	if err := spec.Validate(); err != nil {
		return AddedPeer{}, err
	}
	if spec.Account != "" {
		if _, err := m.st.User(ctx, spec.Account); errors.Is(err, store.ErrNotFound) {
			return AddedPeer{}, manageErrorf(store.ErrInvalid, "account %s: no such user", spec.Account)
		} else if err != nil {
			return AddedPeer{}, fmt.Errorf("federation: add peer %s: %w", spec.Name, err)
		}
	}
	var links []store.Link
	if _, err := m.st.Peer(ctx, spec.Name); err == nil {
		if !spec.Replace {
			return AddedPeer{}, manageErrorf(store.ErrConflict, "peer %q already exists", spec.Name)
		}
		// A replaced peer keeps its links (PutPeer replaces the row only).
		if links, err = m.st.ListLinks(ctx); err != nil {
			return AddedPeer{}, fmt.Errorf("federation: add peer %s: %w", spec.Name, err)
		}
	} else if !errors.Is(err, store.ErrNotFound) {
		return AddedPeer{}, fmt.Errorf("federation: add peer %s: %w", spec.Name, err)
	}
	sealed, err := SealToken(m.key, spec.Token)
	if err != nil {
		return AddedPeer{}, err
	}
	p := store.Peer{Name: spec.Name, URL: spec.URL, User: spec.User, Token: sealed, CAFile: spec.CAFile,
		Insecure: spec.Insecure, Orgs: spec.Orgs, Account: spec.Account, Created: m.now().UTC()}
	switch {
	case spec.PeerKey != "":
		if p.PublicKey, err = parsePeerKey(spec.PeerKey); err != nil {
			return AddedPeer{}, err
		}
	case !spec.Foreign:
		hc, err := m.hc(spec.CAFile, spec.Insecure, infoTimeout)
		if err != nil {
			return AddedPeer{}, manageErrorf(store.ErrInvalid, "%v", err)
		}
		info, err := FetchInfo(ctx, hc, spec.URL, spec.User, spec.Token)
		if err != nil {
			return AddedPeer{}, &manageError{kind: ErrUnreachable, msg: err.Error()}
		}
		k, err := base64.StdEncoding.DecodeString(info.PublicKey)
		if err != nil || len(k) != ed25519.PublicKeySize || Fingerprint(k) != info.Fingerprint {
			return AddedPeer{}, manageErrorf(ErrKeyMismatch, "the peer's key and fingerprint disagree")
		}
		p.PublicKey, p.Identity = k, info.Identity
		if len(p.Orgs) == 0 {
			for _, o := range info.Organisations {
				p.Orgs = append(p.Orgs, o.Identity)
			}
		}
	}
	if err := m.put(ctx, p, spec.Replace); err != nil {
		return AddedPeer{}, err
	}
	// PutPeer keeps the creation time of a replaced peer.
	if stored, err := m.st.Peer(ctx, p.Name); err == nil {
		p = stored
	}
	return AddedPeer{Peer: peerInfo(p, links), LocalFingerprint: m.Fingerprint()}, nil
}

// put stores p unless a peer of that name exists and replace is false:
// the check at the start of AddPeer may be stale by now, since fetching
// the peer's key takes a network round trip.
func (m *Peers) put(ctx context.Context, p store.Peer, replace bool) error {
	m.putMu.Lock()
	defer m.putMu.Unlock()
	if !replace {
		if _, err := m.st.Peer(ctx, p.Name); err == nil {
			return manageErrorf(store.ErrConflict, "peer %q already exists", p.Name)
		} else if !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("federation: add peer %s: %w", p.Name, err)
		}
	}
	if err := m.st.PutPeer(ctx, p); err != nil {
		return fmt.Errorf("federation: add peer %s: %w", p.Name, err)
	}
	return nil
}

// Peer returns one peer with its links.
func (m *Peers) Peer(ctx context.Context, name string) (PeerInfo, error) {
	p, err := m.peer(ctx, name)
	if err != nil {
		return PeerInfo{}, err
	}
	links, err := m.st.ListLinks(ctx)
	if err != nil {
		return PeerInfo{}, fmt.Errorf("federation: peer %s: %w", name, err)
	}
	return peerInfo(p, links), nil
}

// peer finds a stored peer, with an operator's message when there is none.
func (m *Peers) peer(ctx context.Context, name string) (store.Peer, error) {
	p, err := m.st.Peer(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return store.Peer{}, manageErrorf(store.ErrNotFound, "no peer named %q", name)
	}
	if err != nil {
		return store.Peer{}, fmt.Errorf("federation: peer %s: %w", name, err)
	}
	return p, nil
}

// Peers lists the peers by name, each with its links.
func (m *Peers) Peers(ctx context.Context) ([]PeerInfo, error) {
	peers, err := m.st.ListPeers(ctx)
	if err != nil {
		return nil, fmt.Errorf("federation: list peers: %w", err)
	}
	links, err := m.st.ListLinks(ctx)
	if err != nil {
		return nil, fmt.Errorf("federation: list peers: %w", err)
	}
	out := make([]PeerInfo, len(peers))
	for i, p := range peers {
		out[i] = peerInfo(p, links)
	}
	return out, nil
}

// RemovePeer removes a peer and its links, and returns them as they were.
// Nothing else goes: the provenance of what the peer delivered stays (it
// is still where those objects came from), the objects stay, and so do
// the local account it used and the groups it shared. Running sync loops
// of its links stop within a second (Service.Run).
func (m *Peers) RemovePeer(ctx context.Context, name string) (PeerInfo, error) {
	pi, err := m.Peer(ctx, name)
	if err != nil {
		return PeerInfo{}, err
	}
	if err := m.st.DeletePeer(ctx, name); errors.Is(err, store.ErrNotFound) {
		return PeerInfo{}, manageErrorf(store.ErrNotFound, "no peer named %q", name)
	} else if err != nil {
		return PeerInfo{}, fmt.Errorf("federation: remove peer %s: %w", name, err)
	}
	return pi, nil
}

// LinkSpec names one link of a peer: its direction (store.Push or
// store.Pull), the local collection (id or alias) and the remote
// collection (id or alias, as the peer knows it).
type LinkSpec struct {
	Direction string
	Local     string
	Remote    string
}

// String is the link as the CLI writes it: "push LOCAL=REMOTE" or
// "pull REMOTE=LOCAL".
func (s LinkSpec) String() string {
	if s.Direction == store.Pull {
		return s.Direction + " " + s.Remote + "=" + s.Local
	}
	return s.Direction + " " + s.Local + "=" + s.Remote
}

func (s LinkSpec) check() error {
	switch {
	case s.Direction != store.Push && s.Direction != store.Pull:
		return manageErrorf(store.ErrInvalid, "link direction %q: use %s or %s", s.Direction, store.Push, store.Pull)
	case s.Local == "" || s.Remote == "":
		return manageErrorf(store.ErrInvalid, "%s link: both the local and the remote collection are required", s.Direction)
	}
	return nil
}

// LinkResult is one link after Link: as stored (an existing link keeps its
// progress), and whether Link created it.
type LinkResult struct {
	Link    store.Link
	Created bool
}

// Link adds links to a peer. Every spec is checked, and every local
// collection resolved, before any is written, so that a bad spec adds
// none. Linking what is linked already changes nothing.
func (m *Peers) Link(ctx context.Context, peer string, specs ...LinkSpec) ([]LinkResult, error) {
	if _, err := m.peer(ctx, peer); err != nil {
		return nil, err
	}
	links := make([]store.Link, len(specs))
	for i, s := range specs {
		if err := s.check(); err != nil {
			return nil, err
		}
		c, err := m.st.Collection(ctx, s.Local)
		if errors.Is(err, store.ErrNotFound) {
			return nil, manageErrorf(store.ErrInvalid, "%s: no local collection %q", s, s.Local)
		} else if err != nil {
			return nil, fmt.Errorf("federation: link %s: %w", s, err)
		}
		links[i] = store.Link{Peer: peer, Direction: s.Direction, Local: c.ID, Remote: s.Remote}
	}
	existing, err := m.linksByKey(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]LinkResult, len(links))
	for i, l := range links {
		if cur, ok := existing[l.Key()]; ok {
			out[i] = LinkResult{Link: cur}
			continue
		}
		if err := m.st.PutLink(ctx, l); errors.Is(err, store.ErrNotFound) {
			return nil, manageErrorf(store.ErrNotFound, "no peer named %q", peer)
		} else if err != nil {
			return nil, fmt.Errorf("federation: link %s: %w", specs[i], err)
		}
		existing[l.Key()] = l
		out[i] = LinkResult{Link: l, Created: true}
	}
	return out, nil
}

// Unlink removes links of a peer and returns them as they were. The local
// collection may be named by id or alias; a name that is no collection
// (any more) is taken as the id stored in the link. Every link must exist
// before any is removed.
func (m *Peers) Unlink(ctx context.Context, peer string, specs ...LinkSpec) ([]store.Link, error) {
	if _, err := m.peer(ctx, peer); err != nil {
		return nil, err
	}
	existing, err := m.linksByKey(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]store.Link, len(specs))
	for i, s := range specs {
		if err := s.check(); err != nil {
			return nil, err
		}
		local := s.Local
		if c, err := m.st.Collection(ctx, s.Local); err == nil {
			local = c.ID
		} else if !errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("federation: unlink %s: %w", s, err)
		}
		l, ok := existing[store.Link{Peer: peer, Direction: s.Direction, Local: local, Remote: s.Remote}.Key()]
		if !ok {
			return nil, manageErrorf(store.ErrNotFound, "peer %s has no link %s", peer, s)
		}
		out[i] = l
	}
	for i, l := range out {
		if err := m.st.DeleteLink(ctx, l); errors.Is(err, store.ErrNotFound) {
			return nil, manageErrorf(store.ErrNotFound, "peer %s has no link %s", peer, specs[i])
		} else if err != nil {
			return nil, fmt.Errorf("federation: unlink %s: %w", specs[i], err)
		}
	}
	return out, nil
}

func (m *Peers) linksByKey(ctx context.Context) (map[string]store.Link, error) {
	links, err := m.st.ListLinks(ctx)
	if err != nil {
		return nil, fmt.Errorf("federation: list links: %w", err)
	}
	out := make(map[string]store.Link, len(links))
	for _, l := range links {
		out[l.Key()] = l
	}
	return out, nil
}

// LinkStatus is how far one link is (docs/federation.md, "Operations").
type LinkStatus struct {
	Link store.Link
	// Lag is, for a push link, the age of the oldest local version not yet
	// pushed (0 when none waits) and, for a pull link, the time since the
	// last successful fetch. HasLag is false when it is unknown: a pull
	// link that never succeeded, or a push backlog that could not be read.
	Lag    time.Duration
	HasLag bool
	// Backlog is, for a push link, the versions waiting to be pushed and,
	// for a pull link, the versions the peer holds after the checkpoint
	// (one page of the peer's manifest). BacklogMore says there are more
	// than Backlog; HasBacklog is false when it could not be learned.
	Backlog     int
	BacklogMore bool
	HasBacklog  bool
}

// Backlog bounds: the push backlog counts at most one query's worth of
// local versions, the pull backlog one manifest page of the peer.
const (
	pushBacklogLimit = 10000
	pullBacklogLimit = 1000
)

// Status reports every link of the named peer, or of every peer when peer
// is "". A pull link's backlog is asked of the peer (all peers at once,
// each bounded by a short timeout), so that Status needs the network;
// what cannot be learned is reported unknown rather than failing.
func (m *Peers) Status(ctx context.Context, peer string) ([]LinkStatus, error) {
	if peer != "" {
		if _, err := m.peer(ctx, peer); err != nil {
			return nil, err
		}
	}
	links, err := m.st.ListLinks(ctx)
	if err != nil {
		return nil, fmt.Errorf("federation: status: %w", err)
	}
	peers, err := m.st.ListPeers(ctx)
	if err != nil {
		return nil, fmt.Errorf("federation: status: %w", err)
	}
	byName := make(map[string]store.Peer, len(peers))
	for _, p := range peers {
		byName[p.Name] = p
	}
	now := m.now()
	var out []LinkStatus
	var wg sync.WaitGroup
	for _, l := range links {
		if peer != "" && l.Peer != peer {
			continue
		}
		out = append(out, LinkStatus{Link: l})
	}
	for i := range out {
		st := &out[i]
		switch st.Link.Direction {
		case store.Push:
			m.pushBacklog(ctx, st, now)
		case store.Pull:
			if !st.Link.LastSuccess.IsZero() {
				st.Lag, st.HasLag = now.Sub(st.Link.LastSuccess), true
			}
			p, ok := byName[st.Link.Peer]
			if !ok {
				continue
			}
			wg.Go(func() { m.pullBacklog(ctx, st, p) })
		}
	}
	wg.Wait()
	return out, nil
}

// pushBacklog counts the local versions added after a push link's
// checkpoint and the age of the oldest.
func (m *Peers) pushBacklog(ctx context.Context, st *LinkStatus, now time.Time) {
	var after time.Time
	if st.Link.Checkpoint != "" {
		after, _ = time.Parse(time.RFC3339Nano, st.Link.Checkpoint)
	}
	page, err := m.st.Query(ctx, st.Link.Local, store.Filter{AddedAfter: after, Versions: []string{"all"}, Limit: pushBacklogLimit})
	if err != nil {
		return
	}
	st.Backlog, st.BacklogMore, st.HasBacklog = len(page.Versions), page.More, true
	st.HasLag = true
	if len(page.Versions) > 0 {
		st.Lag = now.Sub(page.Versions[0].DateAdded)
	}
}

// pullBacklog asks the peer how many versions wait after a pull link's
// checkpoint.
func (m *Peers) pullBacklog(ctx context.Context, st *LinkStatus, p store.Peer) {
	token, err := OpenToken(m.key, p.Token)
	if err != nil {
		return
	}
	hc, err := m.hc(p.CAFile, p.Insecure, backlogTimeout)
	if err != nil {
		return
	}
	cl, err := taxii.NewClient(taxii.ClientConfig{BaseURL: p.URL, User: p.User, Token: token, HTTPClient: hc, UserAgent: "jointcell-federation"})
	if err != nil {
		return
	}
	mf, err := cl.Manifest(ctx, st.Link.Remote, taxii.Filter{AddedAfter: st.Link.Checkpoint, Limit: pullBacklogLimit, Versions: []string{"all"}})
	if err != nil {
		return
	}
	st.Backlog, st.BacklogMore, st.HasBacklog = len(mf.Objects), mf.More, true
}
