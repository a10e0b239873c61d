// Package federation syncs a cell with its peers: other jointcell cells, or
// any TAXII 2.1 server. A puller per pull link GETs what the peer added
// since its checkpoint and stores it with the checkpoint in one
// transaction; a pusher per push link POSTs what was added locally and may
// leave for that peer. Objects leaving the cell are signed with the cell's
// ed25519 key (see Extension); objects arriving are verified, checked
// against the cell's access policy as an ordinary write, and remembered
// with the cell that produced them.
//
// What may leave for a peer (docs/federation.md): TLP:CLEAR and TLP:GREEN
// for any peer; TLP:AMBER and TLP:RED only where a sharing-group or
// recipient marking names an organisation of the peer cell; TLP:AMBER+STRICT
// never; and never anything back to the peer it came from.
package federation

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jointcell/jointcell/internal/access"
	"github.com/jointcell/jointcell/internal/audit"
	"github.com/jointcell/jointcell/internal/marking"
	"github.com/jointcell/jointcell/internal/metrics"
	"github.com/jointcell/jointcell/internal/stix"
	"github.com/jointcell/jointcell/internal/store"
)

// Store is what federation needs of the cell's store.
type Store interface {
	store.Objects
	store.Collections
	store.Principals
	store.Federation
}

// Policy is the cell's access policy (access.Policy); federation asks it
// the same questions the TAXII server does.
type Policy interface {
	CanRead(p access.Principal, c store.Collection) bool
	CanWrite(p access.Principal, c store.Collection) bool
	Admit(ctx context.Context, p access.Principal, c store.Collection, o stix.Object) (store.Version, error)
	Present(p access.Principal, c store.Collection, v store.Version) ([]byte, bool)
}

var _ Policy = (*access.Policy)(nil)

// historyPreloader is implemented by access.Policy: look up the stored
// versions of a batch's ids once, for the Admit calls that follow under
// the returned context.
type historyPreloader interface {
	PreloadHistory(ctx context.Context, c store.Collection, objs []stix.Object) (context.Context, error)
}

// batchAdmitter is implemented by access.Policy (see taxii.BatchAdmitter).
type batchAdmitter interface {
	AdmitBatch(ctx context.Context, p access.Principal, c store.Collection, objs []stix.Object) ([]store.Version, []error)
}

var (
	_ historyPreloader = (*access.Policy)(nil)
	_ batchAdmitter    = (*access.Policy)(nil)
)

// preload returns ctx with the history of objs in c preloaded when the
// policy can, and ctx itself otherwise.
func (s *Service) preload(ctx context.Context, c store.Collection, objs []stix.Object) (context.Context, error) {
	hp, ok := s.cfg.Policy.(historyPreloader)
	if !ok {
		return ctx, nil
	}
	return hp.PreloadHistory(ctx, c, objs)
}

// refresher is implemented by access.Policy: reload sharing groups now.
type refresher interface {
	Refresh(ctx context.Context) error
}

// Auditor records audited events (audit.Log).
type Auditor interface {
	Append(ctx context.Context, e audit.Entry) error
}

// Config wires a Service.
type Config struct {
	Store  Store
	Key    ed25519.PrivateKey // the cell's key (DIR/cell.key)
	Policy Policy             // the cell's access policy
	Audit  Auditor            // nil: rejections are only logged
	Logger *slog.Logger
	// PollInterval is how often a puller asks its peer for news and the
	// longest a pusher waits without a local-ingest notification; default
	// 200ms (pushers: 5x that).
	PollInterval time.Duration
	// PageSize is the objects per GET page and per POST; default 5000.
	// Larger pages make a catch-up write larger transactions, which costs
	// SQLite much less per object when ids are random UUIDs (each insert
	// dirties a leaf of the id indexes; a larger batch shares them).
	PageSize int
	// MaxBackoff bounds the wait between retries; default 5s.
	MaxBackoff time.Duration
	// ClientTimeout is the per-request timeout of peer calls; default 30s.
	ClientTimeout time.Duration
	Now           func() time.Time
}

// Service is the federation of one cell. It is safe for concurrent use.
type Service struct {
	cfg Config
	log *slog.Logger
	fp  string // own fingerprint

	mu      sync.Mutex
	snap    *snapshot
	snapAt  time.Time
	waiters map[chan struct{}]struct{}
	ver     Verifier               // provenance signatures, with the batch roots verified
	clients map[string]*peerClient // by peer name, see client
	// groupsWanted names peers whose sharing groups Run should fetch now
	// rather than at the next 10-second round (wantGroups).
	groupsWanted chan string

	m serviceMetrics
}

// snapshot is the peers and groups as last loaded.
type snapshot struct {
	peers     map[string]store.Peer // by name
	byAccount map[string]string     // local user name -> peer name
	byFP      map[string]store.Peer // by key fingerprint
	groups    []store.Group
	localOrgs map[string]bool // identity ids of this cell's organisations
	identity  string          // this cell's identity (its admin organisation)
}

type serviceMetrics struct {
	versions *metrics.Counter   // peer, direction, outcome
	errors   *metrics.Counter   // peer, direction
	batch    *metrics.Histogram // peer, direction
}

// New returns a service. It panics when Store, Key or Policy is missing,
// a wiring bug.
func New(cfg Config) *Service {
	if cfg.Store == nil || len(cfg.Key) != ed25519.PrivateKeySize || cfg.Policy == nil {
		panic("federation: New needs Store, Key and Policy")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 200 * time.Millisecond
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = 5000
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 5 * time.Second
	}
	if cfg.ClientTimeout <= 0 {
		cfg.ClientTimeout = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{
		cfg:          cfg,
		log:          cfg.Logger.With("component", "federation"),
		fp:           Fingerprint(cfg.Key.Public().(ed25519.PublicKey)),
		waiters:      map[chan struct{}]struct{}{},
		groupsWanted: make(chan string, 16),
	}
}

// wantGroups asks Run to fetch peer's sharing groups now. It never blocks:
// when requests are already queued, this one is dropped, and the regular
// round fetches the groups anyway.
func (s *Service) wantGroups(peer string) {
	select {
	case s.groupsWanted <- peer:
	default:
	}
}

// RegisterMetrics adds the federation's metrics to r (the cell's
// registry, served on /metrics):
//
//	jointcell_federation_versions_total{peer,direction,outcome}
//	jointcell_federation_errors_total{peer,direction}
//	jointcell_federation_batch_seconds{peer,direction}
//
// Call it before Run.
func (s *Service) RegisterMetrics(r *metrics.Registry) {
	s.m.versions = r.Counter("jointcell_federation_versions_total",
		"Object versions handled by federation links by outcome (added, duplicate, rejected, withheld, pushed).", "peer", "direction", "outcome")
	s.m.errors = r.Counter("jointcell_federation_errors_total", "Failed federation sync attempts.", "peer", "direction")
	s.m.batch = r.Histogram("jointcell_federation_batch_seconds", "Time to sync one batch.", metrics.DefaultBuckets, "peer", "direction")
}

func (s *Service) count(peer, dir, outcome string, n int) {
	if s.m.versions != nil && n > 0 {
		s.m.versions.Add(float64(n), peer, dir, outcome)
	}
}

// Fingerprint returns the cell's own key fingerprint.
func (s *Service) Fingerprint() string { return s.fp }

// Notify tells the pushers that objects were added locally. The TAXII
// server's store is wrapped by Watch, which calls it.
func (s *Service) Notify() {
	s.mu.Lock()
	for ch := range s.waiters {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	s.mu.Unlock()
}

func (s *Service) subscribe() chan struct{} {
	ch := make(chan struct{}, 1)
	s.mu.Lock()
	s.waiters[ch] = struct{}{}
	s.mu.Unlock()
	return ch
}

func (s *Service) unsubscribe(ch chan struct{}) {
	s.mu.Lock()
	delete(s.waiters, ch)
	s.mu.Unlock()
}

// Watch returns st with AddVersions calling Notify when something new was
// stored, so that pushers send it at once. Give it to the TAXII server.
func (s *Service) Watch(st store.Store) store.Store {
	return watched{Store: st, s: s}
}

type watched struct {
	store.Store
	s *Service
}

func (w watched) AddVersions(ctx context.Context, collectionID string, vs []store.Version) ([]store.AddResult, error) {
	res, err := w.Store.AddVersions(ctx, collectionID, vs)
	if err == nil && slices.ContainsFunc(res, func(r store.AddResult) bool { return r.Outcome == store.Added }) {
		w.s.Notify()
	}
	return res, err
}

// snapshotTTL is how long peers and groups are reused before reloading:
// the CLI changes them while the server runs.
const snapshotTTL = time.Second

// freshPeers bounds how stale the peer list may be when a request comes
// from a user that is not a peer's account.
const freshPeers = 100 * time.Millisecond

// age is the time since the snapshot was loaded.
func (s *Service) age() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cfg.Now().Sub(s.snapAt)
}

// load returns the current snapshot, reloading it when stale.
func (s *Service) load(ctx context.Context) (*snapshot, error) {
	s.mu.Lock()
	if s.snap != nil && s.cfg.Now().Sub(s.snapAt) < snapshotTTL {
		sn := s.snap
		s.mu.Unlock()
		return sn, nil
	}
	s.mu.Unlock()
	return s.reload(ctx)
}

func (s *Service) reload(ctx context.Context) (*snapshot, error) {
	peers, err := s.cfg.Store.ListPeers(ctx)
	if err != nil {
		return nil, fmt.Errorf("federation: load peers: %w", err)
	}
	groups, err := s.cfg.Store.ListGroups(ctx)
	if err != nil {
		return nil, fmt.Errorf("federation: load groups: %w", err)
	}
	orgs, err := s.cfg.Store.ListOrganisations(ctx)
	if err != nil {
		return nil, fmt.Errorf("federation: load organisations: %w", err)
	}
	sn := &snapshot{peers: map[string]store.Peer{}, byAccount: map[string]string{}, byFP: map[string]store.Peer{},
		groups: groups, localOrgs: map[string]bool{}}
	for _, p := range peers {
		sn.peers[p.Name] = p
		if p.Account != "" {
			sn.byAccount[p.Account] = p.Name
		}
		if len(p.PublicKey) == ed25519.PublicKeySize {
			sn.byFP[Fingerprint(p.PublicKey)] = p
		}
	}
	for _, o := range orgs {
		sn.localOrgs[o.IdentityID] = true
		if o.Name == "admin" {
			sn.identity = o.IdentityID
		}
	}
	s.mu.Lock()
	s.snap, s.snapAt = sn, s.cfg.Now()
	s.mu.Unlock()
	return sn, nil
}

// keyFor resolves a fingerprint to a known peer cell's key. The cell's own
// key is deliberately unknown: an object signed here that comes back is
// not news from a peer.
func (sn *snapshot) keyFor(fp string) (ed25519.PublicKey, bool) {
	p, ok := sn.byFP[fp]
	if !ok {
		return nil, false
	}
	return ed25519.PublicKey(p.PublicKey), true
}

// verifyKey is keyFor plus this cell's own key, so that an object this
// cell signed is recognised when a peer serves it back.
func (s *Service) verifyKey(sn *snapshot) func(string) (ed25519.PublicKey, bool) {
	own := s.cfg.Key.Public().(ed25519.PublicKey)
	return func(fp string) (ed25519.PublicKey, bool) {
		if fp == s.fp {
			return own, true
		}
		return sn.keyFor(fp)
	}
}

// peerKeys are the reader keys standing for a peer cell: anyone, the
// community (GREEN is for every organisation of this cell and its peers),
// each organisation of the peer, and every sharing group naming one of
// them. An object whose audience meets them may leave for the peer.
func (sn *snapshot) peerKeys(p store.Peer) []string {
	keys := []string{store.ReaderAnyone, store.ReaderCommunity}
	for _, id := range p.Orgs {
		keys = append(keys, store.ReaderOrg(id))
	}
	for _, g := range sn.groups {
		if slices.ContainsFunc(g.Members, func(m string) bool { return slices.Contains(p.Orgs, m) }) {
			keys = append(keys, store.ReaderGroup(g.MarkingID))
		}
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}

// egress decides whether v may leave for peer p and returns the bytes to
// send, signed. present applies the cell's read path (granular markings,
// the peer's egress redaction profile) for a principal standing for the
// peer. The rules, cheapest first:
//
//   - never back to the peer it came from, nor to the cell of the
//     organisation that produced it;
//   - TLP:AMBER+STRICT never leaves (DESIGN "TLP meanings");
//   - the version's audience must meet the peer's keys: CLEAR and GREEN
//     always do; AMBER and RED only through a group or recipient marking
//     naming one of the peer's organisations (marking.Decision.Readers).
func (s *Service) egress(sn *snapshot, p store.Peer, v store.Version, present func() ([]byte, bool)) ([]byte, bool) {
	out := s.egressBatch(sn, p, []store.Version{v}, func(store.Version) ([]byte, bool) { return present() })
	return out[0], out[0] != nil
}

// egressBatch is egress for several versions: what leaves unsigned by
// another cell is signed here as one batch (SignBatch), with one ed25519
// signature. A withheld version has a nil result.
func (s *Service) egressBatch(sn *snapshot, p store.Peer, vs []store.Version, present func(store.Version) ([]byte, bool)) [][]byte {
	out, toSign, at := s.egressPage(sn, p, vs, present)
	if len(toSign) == 0 {
		return out
	}
	var signed [][]byte
	var errs []error
	if len(toSign) == 1 {
		b, err := Sign(toSign[0], s.cfg.Key, sn.identity)
		signed, errs = [][]byte{b}, []error{err}
	} else {
		signed, errs = SignBatch(toSign, s.cfg.Key, sn.identity)
	}
	for j, i := range at {
		if errs[j] != nil {
			s.log.Error("withheld: cannot sign", "object", vs[i].Object.ID, "peer", p.Name, "err", errs[j])
			continue
		}
		out[i] = signed[j]
	}
	return out
}

// egressPage is egressBatch up to the signature: out holds what leaves
// as it is (signed by another cell), toSign what this cell must sign,
// for out[at[j]]. The peer's reader keys are worked out once for the
// page.
func (s *Service) egressPage(sn *snapshot, p store.Peer, vs []store.Version, present func(store.Version) ([]byte, bool)) (out, toSign [][]byte, at []int) {
	out = make([][]byte, len(vs))
	keys := sn.peerKeys(p)
	for i, v := range vs {
		b, sign, ok := s.egressOne(sn, p, keys, v, present)
		if !ok {
			continue
		}
		if !sign {
			out[i] = b
			continue
		}
		if toSign == nil {
			toSign, at = make([][]byte, 0, len(vs)-i), make([]int, 0, len(vs)-i)
		}
		toSign = append(toSign, b)
		at = append(at, i)
	}
	return out, toSign, at
}

// egressOne applies the rules of egress to one version, for a peer whose
// reader keys are keys (peerKeys); sign tells whether the bytes still
// need this cell's signature.
func (s *Service) egressOne(sn *snapshot, p store.Peer, keys []string, v store.Version, present func(store.Version) ([]byte, bool)) (b []byte, sign, ok bool) {
	o := v.Object
	if v.Origin == p.Name || (o.CreatedByRef != "" && slices.Contains(p.Orgs, o.CreatedByRef)) {
		return nil, false, false
	}
	if slices.Contains(o.MarkingRefs, marking.TLP2AmberStrict) {
		return nil, false, false
	}
	if !marking.Meets(keys, v.Audience) {
		return nil, false, false
	}
	b, ok = present(v)
	if !ok {
		return nil, false, false
	}
	// A version relayed from another cell keeps that cell's signature
	// when it leaves unchanged, so that its producer stays provable.
	if fp := signerOf(b); fp != "" && fp != s.fp {
		if _, err := s.ver.Verify(b, sn.keyFor); err == nil {
			return b, false, true
		}
	}
	return b, true, true
}

// peerPrincipal is the principal that stands for peer p in the read path.
func peerPrincipal(p store.Peer, keys []string) access.Principal {
	return access.Principal{UserName: "peer:" + p.Name, OrgName: p.Name, Role: access.RoleReader, Readers: keys}
}

// verification is the outcome of the pure checks of an incoming object:
// STIX validation (validationError) and Verify.
type verification struct {
	problems string // the first validation error, "" when valid
	sig      Signature
	err      error
}

// validationError returns the first error stix.Validate finds in o, or "".
func validationError(o stix.Object) string {
	for _, pr := range stix.Validate(o, stix.Options{}) {
		if pr.Severity == stix.Error {
			return pr.String()
		}
	}
	return ""
}

// Rejection is an incoming object refused by federation; it is audited.
type Rejection struct {
	ID     string
	Reason string
	// Transient is true when retrying may succeed (a signature broken in
	// transit), false when the object itself is refused.
	Transient bool
	// Own is true for an object this cell signed, back from a peer (a
	// TAXII server that is not a cell serves what it was sent): it is not
	// stored again, nor audited as a refusal.
	Own bool
}

func (r *Rejection) Error() string { return r.Reason }

// admit checks one object arriving from peer p for collection c and
// returns the version to store and its provenance. known holds the
// provenance already recorded for objects of this batch (and is updated).
// vr is the result of the pure checks of o, computed by the caller (in
// parallel for a batch).
func (s *Service) admit(ctx context.Context, sn *snapshot, p store.Peer, c store.Collection, o stix.Object, known map[string]store.Provenance, vr verification) (store.Version, store.Provenance, error) {
	reject := func(transient bool, format string, a ...any) (store.Version, store.Provenance, error) {
		return store.Version{}, store.Provenance{}, &Rejection{ID: o.ID, Reason: fmt.Sprintf(format, a...), Transient: transient}
	}
	if vr.problems != "" {
		return reject(false, "invalid STIX: %s", vr.problems)
	}
	cell := "peer:" + p.Name
	sig, err := vr.sig, vr.err
	switch {
	case err == nil && sig.Cell == s.fp:
		return store.Version{}, store.Provenance{}, &Rejection{ID: o.ID, Reason: "signed by this cell: back from the peer", Own: true}
	case err == nil:
		cell = sig.Cell
	case errors.Is(err, ErrUnsigned) && p.PublicKey == nil:
		// A TAXII server that is not a cell signs nothing: its objects
		// are accepted as unsigned from that peer.
	case errors.Is(err, ErrUnsigned):
		// Transient: the peer may not know us as a peer yet (its peer
		// list is reloaded every second) and served us as a plain user.
		return reject(true, "unsigned object from cell %s", p.Name)
	case errors.Is(err, ErrBadSignature), errors.Is(err, ErrMalformed):
		return reject(true, "%v", err)
	default:
		return reject(false, "%v", err)
	}
	if signer, ok := sn.byFP[cell]; ok && len(signer.Orgs) > 0 && o.CreatedByRef != "" && !slices.Contains(signer.Orgs, o.CreatedByRef) {
		return reject(false, "created_by_ref %s is not an organisation of the signing cell %s", o.CreatedByRef, signer.Name)
	}
	if o.CreatedByRef != "" && sn.localOrgs[o.CreatedByRef] {
		return reject(false, "created_by_ref %s is an organisation of this cell: a peer may not publish as it", o.CreatedByRef)
	}
	if prev, ok := known[o.ID]; ok && prev.Cell != cell {
		return reject(false, "object %s was first produced by cell %.16s: only its creator may version or revoke it", o.ID, prev.Cell)
	}
	if o.Type == "marking-definition" {
		if d, err := marking.ParseDefinition(o.Raw); err == nil && d.Kind == marking.KindGroup {
			return reject(false, "sharing groups travel through the federation endpoint, not collections")
		}
	}
	// The cell's own write rules, with the object's producer as the
	// publishing organisation: only an object's creator versions it,
	// markings must resolve, the audience comes from the markings. The
	// link (or the peer account's write right, checked by Guard) is the
	// right to write to c.
	key := "peer:" + p.Name
	pp := access.Principal{UserName: key, OrgName: p.Name, OrgID: o.CreatedByRef, Role: access.RoleAnalyst, Readers: []string{key}}
	cc := c
	cc.WriteBy = []string{key}
	v, err := s.cfg.Policy.Admit(ctx, pp, cc, o)
	if errors.Is(err, marking.ErrUnknown) {
		// Most likely a sharing group the peer created since this cell
		// last fetched its groups: fetch them now, and let the object
		// come again (transient) rather than lose it.
		s.wantGroups(p.Name)
		return reject(true, "%v", err)
	}
	if err != nil {
		return reject(false, "%v", err)
	}
	v.Origin = p.Name
	pr := store.Provenance{ObjectID: o.ID, Cell: cell, Peer: p.Name}
	if _, ok := known[o.ID]; !ok {
		known[o.ID] = pr
	}
	return v, pr, nil
}

// rejected audits and logs refused objects of one batch.
func (s *Service) rejected(ctx context.Context, p store.Peer, collID string, rs []*Rejection) {
	rs = slices.DeleteFunc(slices.Clone(rs), func(r *Rejection) bool { return r.Own })
	if len(rs) == 0 {
		return
	}
	ids := make([]string, len(rs))
	reasons := make([]string, 0, 3)
	for i, r := range rs {
		ids[i] = r.ID
		if i < 3 {
			reasons = append(reasons, r.ID+": "+r.Reason)
		}
	}
	s.log.Warn("rejected objects from peer", "peer", p.Name, "collection", collID, "count", len(rs), "first", strings.Join(reasons, "; "))
	if s.cfg.Audit == nil {
		return
	}
	err := s.cfg.Audit.Append(ctx, audit.Entry{
		Time: s.cfg.Now().UTC(), Actor: "peer:" + p.Name, Action: audit.ActionReject, Target: collID,
		IDs: ids, Outcome: audit.OutcomeDenied, Detail: strings.Join(reasons, "; "),
	})
	if err != nil {
		s.log.Error("audit rejection", "peer", p.Name, "err", err)
	}
}

// provenanceOf loads the recorded provenance of the batch's objects.
func (s *Service) provenanceOf(ctx context.Context, objs []stix.Object) (map[string]store.Provenance, error) {
	ids := make([]string, 0, len(objs))
	for _, o := range objs {
		ids = append(ids, o.ID)
	}
	slices.Sort(ids)
	known, err := s.cfg.Store.Provenance(ctx, slices.Compact(ids))
	if err != nil {
		return nil, fmt.Errorf("federation: %w", err)
	}
	return known, nil
}
