package federation

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"

	"github.com/jointcell/jointcell/internal/access"
	"github.com/jointcell/jointcell/internal/marking"
	"github.com/jointcell/jointcell/internal/stix"
	"github.com/jointcell/jointcell/internal/store"
	"github.com/jointcell/jointcell/internal/taxii"
)

// Authenticator identifies the caller of a request (auth.Authenticator).
type Authenticator interface {
	Authenticate(r *http.Request) (access.Principal, error)
}

// Guard wraps the cell's authenticator and policy for the TAXII server so
// that a peer's account is served under the federation rules: on reads,
// only what may leave for that peer, signed; on writes, only what verifies
// and passes the cell's own write rules, remembered as coming from the
// peer. Every other principal goes straight to the wrapped policy.
//
// The peer's account stays an ordinary user: it needs read or write rights
// on a collection like anyone else. What the guard adds to its reader keys
// are the keys of the peer cell's organisations (and the groups naming
// them), which is how a sharing group spanning both cells reaches them.
type Guard struct {
	s     *Service
	authn Authenticator
	pol   Policy
}

var (
	_ Policy               = (*Guard)(nil)
	_ taxii.BatchAdmitter  = (*Guard)(nil)
	_ taxii.BatchPresenter = (*Guard)(nil)
)

// Guard returns the wrapper; give it to taxii.NewServer as both
// Authenticator and Policy.
func (s *Service) Guard(authn Authenticator, pol Policy) *Guard {
	return &Guard{s: s, authn: authn, pol: pol}
}

// peerOf returns the peer whose account p is.
func (g *Guard) peerOf(ctx context.Context, p access.Principal) (*snapshot, store.Peer, bool) {
	if p.UserName == "" {
		return nil, store.Peer{}, false
	}
	sn, err := g.s.load(ctx)
	if err != nil {
		g.s.log.Error("load peers", "err", err)
		return nil, store.Peer{}, false
	}
	name, ok := sn.byAccount[p.UserName]
	if !ok && g.s.age() > freshPeers {
		// A peer added a moment ago must not be served as a plain user
		// until the next reload: look again, at most every freshPeers.
		if sn, err = g.s.reload(ctx); err != nil {
			g.s.log.Error("load peers", "err", err)
			return nil, store.Peer{}, false
		}
		name, ok = sn.byAccount[p.UserName]
	}
	if !ok {
		return nil, store.Peer{}, false
	}
	return sn, sn.peers[name], true
}

// Authenticate authenticates and, for a peer's account, adds the peer
// cell's reader keys.
func (g *Guard) Authenticate(r *http.Request) (access.Principal, error) {
	p, err := g.authn.Authenticate(r)
	if err != nil {
		return p, err
	}
	if sn, peer, ok := g.peerOf(r.Context(), p); ok && p.Readers != nil {
		keys := append(slices.Clone(p.Readers), sn.peerKeys(peer)...)
		slices.Sort(keys)
		p.Readers = slices.Compact(keys)
	}
	return p, nil
}

// CanRead asks the wrapped policy.
func (g *Guard) CanRead(p access.Principal, c store.Collection) bool { return g.pol.CanRead(p, c) }

// CanWrite asks the wrapped policy.
func (g *Guard) CanWrite(p access.Principal, c store.Collection) bool { return g.pol.CanWrite(p, c) }

// Admit admits an object a peer pushes under the federation rules.
func (g *Guard) Admit(ctx context.Context, p access.Principal, c store.Collection, o stix.Object) (store.Version, error) {
	if _, _, peer := g.peerOf(ctx, p); !peer {
		return g.pol.Admit(ctx, p, c, o)
	}
	vs, errs := g.AdmitBatch(ctx, p, c, []stix.Object{o})
	return vs[0], errs[0]
}

// AdmitBatch admits the objects of one envelope (taxii.BatchAdmitter): a
// plain user's by the wrapped policy, a peer's under the federation rules
// as a pull does (admitAll). The provenance of what a peer may write is
// recorded before the TAXII server stores the versions: should that fail,
// the provenance is still true (the objects did come from that cell).
func (g *Guard) AdmitBatch(ctx context.Context, p access.Principal, c store.Collection, objs []stix.Object) ([]store.Version, []error) {
	sn, peer, isPeer := g.peerOf(ctx, p)
	if !isPeer {
		if ba, ok := g.pol.(batchAdmitter); ok {
			return ba.AdmitBatch(ctx, p, c, objs)
		}
		vs := make([]store.Version, len(objs))
		errs := make([]error, len(objs))
		for i, o := range objs {
			vs[i], errs[i] = g.pol.Admit(ctx, p, c, o)
		}
		return vs, errs
	}
	vs := make([]store.Version, len(objs))
	errs := make([]error, len(objs))
	fill := func(err error) ([]store.Version, []error) {
		for i := range errs {
			if errs[i] == nil {
				errs[i] = err
			}
		}
		return vs, errs
	}
	if !g.pol.CanWrite(p, c) {
		return fill(fmt.Errorf("%w: you may not add objects to this collection", access.ErrDenied))
	}
	// The TAXII server validated the objects before asking
	// (taxii.BatchAdmitter).
	res, err := g.s.admitAll(ctx, sn, peer, c, objs)
	if err != nil {
		return fill(err)
	}
	var rejs []*Rejection
	prov := make([]store.Provenance, 0, len(res))
	for i, a := range res {
		if a.rej != nil {
			rejs = append(rejs, a.rej)
			errs[i] = fmt.Errorf("%w: %s", access.ErrDenied, a.rej.Reason)
			continue
		}
		vs[i] = a.v
		prov = append(prov, a.pr)
	}
	g.s.rejected(ctx, peer, c.ID, rejs)
	g.s.count(peer.Name, "in", "rejected", len(rejs))
	if err := g.s.cfg.Store.PutProvenance(ctx, prov); err != nil {
		return fill(fmt.Errorf("federation: %w", err))
	}
	return vs, errs
}

// Present serves a peer's account only what may leave for that peer,
// signed.
func (g *Guard) Present(p access.Principal, c store.Collection, v store.Version) ([]byte, bool) {
	b := g.PresentBatch(p, c, []store.Version{v})[0]
	return b, b != nil
}

// PresentBatch presents a page: to a peer's account under the federation
// rules (egress), what leaves signed as one batch with one ed25519
// signature; to anyone else as the wrapped policy does.
func (g *Guard) PresentBatch(p access.Principal, c store.Collection, vs []store.Version) [][]byte {
	present := presenter(g.pol, p, c)
	sn, peer, ok := g.peerOf(context.Background(), p)
	if !ok {
		out := make([][]byte, len(vs))
		for i, v := range vs {
			if b, ok := present(v); ok {
				out[i] = b
			}
		}
		return out
	}
	out := g.s.egressBatch(sn, peer, vs, present)
	served := 0
	for _, b := range out {
		if b != nil {
			served++
		}
	}
	g.s.count(peer.Name, "out", "served", served)
	g.s.count(peer.Name, "out", "withheld", len(out)-served)
	return out
}

// pagePresenter is implemented by access.Policy: Present for one reader
// of one collection, with what depends only on them decided once.
type pagePresenter interface {
	Presenter(p access.Principal, c store.Collection) func(store.Version) ([]byte, bool)
}

var _ pagePresenter = (*access.Policy)(nil)

// presenter returns pol's Present for p and c, prepared once for a page
// when the policy can.
func presenter(pol Policy, p access.Principal, c store.Collection) func(store.Version) ([]byte, bool) {
	if pp, ok := pol.(pagePresenter); ok {
		return pp.Presenter(p, c)
	}
	return func(v store.Version) ([]byte, bool) { return pol.Present(p, c, v) }
}

// Info is the answer of GET /federation/info/: who this cell is.
type Info struct {
	PublicKey     string            `json:"public_key"`  // base64 of the ed25519 public key
	Fingerprint   string            `json:"fingerprint"` // hex SHA-256 of it
	Identity      string            `json:"identity,omitempty"`
	Organisations []OrgInfo         `json:"organisations,omitempty"`
	Groups        []json.RawMessage `json:"groups,omitempty"` // signed group marking-definitions naming the caller's cell
}

// OrgInfo names one organisation of a cell.
type OrgInfo struct {
	Name     string `json:"name"`
	Identity string `json:"identity"`
}

// InfoPath is where Handler answers; cells fetch it when peering.
const InfoPath = "/federation/info/"

// Handler serves GET /federation/info/ to authenticated users (as TAXII
// is authenticated): the cell's public key, identity and organisations
// (the caller's own organisation left out: it stands for the calling
// cell), and, for a peer's account, the sharing groups that name one of
// the peer's organisations, signed, so that the peer can honour them.
// Mount it at /federation/ beside the TAXII server.
func (s *Service) Handler(authn Authenticator) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeErr := func(code int, title string) {
			w.Header().Set("Content-Type", "application/json")
			if code == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Basic realm="jointcell", Bearer realm="jointcell"`)
			}
			w.WriteHeader(code)
			_ = json.NewEncoder(w).Encode(map[string]string{"title": title, "http_status": fmt.Sprint(code)})
		}
		if r.URL.Path != InfoPath && r.URL.Path != "/federation/key" {
			writeErr(http.StatusNotFound, "not found")
			return
		}
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", "GET")
			writeErr(http.StatusMethodNotAllowed, "method not allowed")
			return
		}
		p, err := authn.Authenticate(r)
		if err != nil {
			writeErr(http.StatusUnauthorized, "authentication required")
			return
		}
		info, err := s.info(r.Context(), p)
		if err != nil {
			s.log.Error("federation info", "err", err)
			writeErr(http.StatusInternalServerError, "internal error")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(info)
	})
}

func (s *Service) info(ctx context.Context, p access.Principal) (Info, error) {
	sn, err := s.load(ctx)
	if err != nil {
		return Info{}, err
	}
	pub := s.cfg.Key.Public().(ed25519.PublicKey)
	info := Info{PublicKey: base64.StdEncoding.EncodeToString(pub), Fingerprint: s.fp, Identity: sn.identity}
	orgs, err := s.cfg.Store.ListOrganisations(ctx)
	if err != nil {
		return Info{}, fmt.Errorf("federation: info: %w", err)
	}
	for _, o := range orgs {
		if o.Name == p.OrgName {
			continue
		}
		info.Organisations = append(info.Organisations, OrgInfo{Name: o.Name, Identity: o.IdentityID})
	}
	if name, ok := sn.byAccount[p.UserName]; ok {
		peer := sn.peers[name]
		for _, g := range sn.groups {
			if !slices.ContainsFunc(g.Members, func(m string) bool { return slices.Contains(peer.Orgs, m) }) {
				continue
			}
			signed, err := Sign(g.Definition, s.cfg.Key, sn.identity)
			if err != nil {
				return Info{}, fmt.Errorf("federation: info: group %s: %w", g.Name, err)
			}
			info.Groups = append(info.Groups, signed)
		}
	}
	return info, nil
}

// installGroups makes the sharing groups a peer shares with this cell
// known here, as groups named PEER.NAME, so that objects marked with them
// get the right audience and members of this cell the right reader keys.
// A peer may define or revise only groups it introduced: a group of this
// cell, or of another peer, with the same marking id is left alone.
func (s *Service) installGroups(ctx context.Context, sn *snapshot, p store.Peer, defs []json.RawMessage) (int, error) {
	n := 0
	for _, raw := range defs {
		sig, err := s.ver.Verify(raw, sn.keyFor)
		if err != nil || sig.Cell != Fingerprint(p.PublicKey) {
			s.log.Warn("ignored a group definition that the peer did not sign", "peer", p.Name, "err", err)
			continue
		}
		d, err := marking.ParseDefinition(raw)
		if err != nil || d.Kind != marking.KindGroup {
			continue
		}
		name := groupName(p.Name, d.Name)
		var existing *store.Group
		for i, g := range sn.groups {
			if g.MarkingID == d.ID {
				existing = &sn.groups[i]
			}
		}
		if existing != nil {
			if existing.Name != name {
				continue
			}
			od, err := marking.ParseDefinition(existing.Definition)
			if err == nil && od.Revision >= d.Revision {
				continue
			}
		}
		g := store.Group{Name: name, MarkingID: d.ID, Members: d.Members, Definition: raw}
		if err := s.cfg.Store.PutGroup(ctx, g); err != nil {
			return n, fmt.Errorf("federation: install group %s: %w", name, err)
		}
		n++
	}
	if n > 0 {
		if r, ok := s.cfg.Policy.(refresher); ok {
			if err := r.Refresh(ctx); err != nil {
				return n, err
			}
		}
		if _, err := s.reload(ctx); err != nil {
			return n, err
		}
	}
	return n, nil
}

// groupName is the local name of a peer's group: PEER.NAME, cut to the
// 64 characters names may have.
func groupName(peer, name string) string {
	n := peer + "." + name
	if len(n) > 64 {
		n = n[:64]
	}
	return n
}

// Mount serves /federation/ with fed and everything else with h.
func Mount(h, fed http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/federation/", fed)
	mux.Handle("/", h)
	return mux
}
