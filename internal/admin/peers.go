package admin

import (
	"context"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/jointcell/jointcell/internal/access"
	"github.com/jointcell/jointcell/internal/federation"
	"github.com/jointcell/jointcell/internal/store"
)

// The federation resources (docs/admin.md, "Federation peers";
// docs/federation.md): the peers this cell syncs with and the links
// between their collections and this cell's, with the same operations as
// jointcell peer add|list|remove|link|unlink|status. A peer's token goes
// in when the peer is added and never comes out, sealed or not.

// PeerManager is the peer operations (federation.Peers).
type PeerManager interface {
	AddPeer(ctx context.Context, spec federation.PeerSpec) (federation.AddedPeer, error)
	Peer(ctx context.Context, name string) (federation.PeerInfo, error)
	Peers(ctx context.Context) ([]federation.PeerInfo, error)
	RemovePeer(ctx context.Context, name string) (federation.PeerInfo, error)
	Link(ctx context.Context, peer string, specs ...federation.LinkSpec) ([]federation.LinkResult, error)
	Unlink(ctx context.Context, peer string, specs ...federation.LinkSpec) ([]store.Link, error)
	Status(ctx context.Context, peer string) ([]federation.LinkStatus, error)
}

var _ PeerManager = (*federation.Peers)(nil)

// errNoFederation answers the peer routes of a cell that does not
// federate.
var errNoFederation = &statusError{http.StatusNotFound, "federation is not enabled"}

// peers returns the peer manager, or the error the peer routes answer
// without one.
func (h *Handler) peers() (PeerManager, error) {
	if h.cfg.Peers == nil {
		return nil, errNoFederation
	}
	return h.cfg.Peers, nil
}

// peerError gives the peer's own failures, while it is being added, the
// status of a gateway that got no usable answer; everything else goes to
// fail as it is.
func peerError(err error) error {
	if errors.Is(err, federation.ErrUnreachable) || errors.Is(err, federation.ErrKeyMismatch) {
		return &statusError{http.StatusBadGateway, clean(err)}
	}
	return err
}

// Peer is the wire form of a peer: everything but its token.
// LocalFingerprint is set only in the answer to its creation, for the
// out-of-band comparison of both fingerprints.
type Peer struct {
	Name             string    `json:"name"`
	URL              string    `json:"url"`
	User             string    `json:"user,omitempty"`
	CAFile           string    `json:"ca_file,omitempty"`
	Insecure         bool      `json:"insecure"`
	Foreign          bool      `json:"foreign"`
	PublicKey        string    `json:"public_key,omitempty"`  // ed25519, hex
	Fingerprint      string    `json:"fingerprint,omitempty"` // hex SHA-256 of the public key
	Identity         string    `json:"identity,omitempty"`
	Orgs             []string  `json:"orgs"`
	Account          string    `json:"account,omitempty"`
	Created          time.Time `json:"created"`
	Links            []Link    `json:"links"`
	LocalFingerprint string    `json:"local_fingerprint,omitempty"`
}

func peer(p federation.PeerInfo) Peer {
	out := Peer{
		Name: p.Name, URL: p.URL, User: p.User, CAFile: p.CAFile, Insecure: p.Insecure, Foreign: p.Foreign(),
		Fingerprint: p.Fingerprint, Identity: p.Identity, Orgs: p.Orgs, Account: p.Account, Created: p.Created,
		Links: make([]Link, len(p.Links)),
	}
	if p.PublicKey != nil {
		out.PublicKey = hex.EncodeToString(p.PublicKey)
	}
	if out.Orgs == nil {
		out.Orgs = []string{}
	}
	for i, l := range p.Links {
		out.Links[i] = link(l)
	}
	return out
}

// Link is the wire form of a link and its progress; local is the local
// collection's id, remote the remote collection as it was given.
type Link struct {
	Peer        string     `json:"peer"`
	Direction   string     `json:"direction"`
	Local       string     `json:"local"`
	Remote      string     `json:"remote"`
	Checkpoint  string     `json:"checkpoint,omitempty"`
	LastSuccess *time.Time `json:"last_success,omitempty"`
	LastError   string     `json:"last_error,omitempty"`
	LastErrorAt *time.Time `json:"last_error_at,omitempty"`
	Synced      int64      `json:"synced"`
}

func link(l store.Link) Link {
	out := Link{Peer: l.Peer, Direction: l.Direction, Local: l.Local, Remote: l.Remote, Checkpoint: l.Checkpoint,
		LastError: l.LastError, Synced: l.Synced}
	if !l.LastSuccess.IsZero() {
		t := l.LastSuccess.UTC()
		out.LastSuccess = &t
	}
	if !l.LastErrorAt.IsZero() {
		t := l.LastErrorAt.UTC()
		out.LastErrorAt = &t
	}
	return out
}

// LinkStatus is a link with how far behind it is (federation.LinkStatus):
// lag_seconds and backlog are null when unknown; backlog_more says that
// more than backlog wait.
type LinkStatus struct {
	Link
	LagSeconds  *float64 `json:"lag_seconds"`
	Backlog     *int     `json:"backlog"`
	BacklogMore bool     `json:"backlog_more"`
}

func linkStatus(st federation.LinkStatus) LinkStatus {
	out := LinkStatus{Link: link(st.Link), BacklogMore: st.BacklogMore}
	if st.HasLag {
		s := st.Lag.Truncate(time.Millisecond).Seconds()
		out.LagSeconds = &s
	}
	if st.HasBacklog {
		n := st.Backlog
		out.Backlog = &n
	}
	return out
}

func (h *Handler) listPeers(w http.ResponseWriter, r *http.Request, _ access.Principal) error {
	pm, err := h.peers()
	if err != nil {
		return err
	}
	ps, err := pm.Peers(r.Context())
	if err != nil {
		return err
	}
	out := make([]Peer, len(ps))
	for i, p := range ps {
		out[i] = peer(p)
	}
	writeJSON(w, http.StatusOK, map[string]any{"peers": out})
	return nil
}

// createPeer adds a peer. Unless its key is pinned (peer_key) or it is
// foreign, the cell first asks the peer's /federation/info/ for its key
// with the given credentials; a peer that cannot be asked is a 502.
func (h *Handler) createPeer(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	pm, err := h.peers()
	if err != nil {
		return err
	}
	var req struct {
		Name     string   `json:"name"`
		URL      string   `json:"url"`
		User     string   `json:"user"`
		Token    string   `json:"token"`
		CAFile   string   `json:"ca_file"`
		Insecure bool     `json:"insecure"`
		PeerKey  string   `json:"peer_key"`
		Orgs     []string `json:"orgs"`
		Account  string   `json:"account"`
		Foreign  bool     `json:"foreign"`
		Replace  bool     `json:"replace"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	added, err := pm.AddPeer(r.Context(), federation.PeerSpec{
		Name: req.Name, URL: req.URL, User: req.User, Token: req.Token, CAFile: req.CAFile, Insecure: req.Insecure,
		PeerKey: req.PeerKey, Orgs: req.Orgs, Account: req.Account, Foreign: req.Foreign, Replace: req.Replace,
	})
	// The token is never part of the audit detail.
	detail := "add peer at " + strconv.Quote(req.URL)
	if req.Replace {
		detail = "add or replace peer at " + strconv.Quote(req.URL)
	}
	if err == nil {
		if added.Peer.Foreign() {
			detail += ", foreign (unsigned)"
		} else {
			detail += ", fingerprint " + added.Peer.Fingerprint
		}
	}
	if err := h.audited(r, p, "peer:"+req.Name, detail, err); err != nil {
		return peerError(err)
	}
	out := peer(added.Peer)
	out.LocalFingerprint = added.LocalFingerprint
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (h *Handler) getPeer(w http.ResponseWriter, r *http.Request, _ access.Principal) error {
	pm, err := h.peers()
	if err != nil {
		return err
	}
	pi, err := pm.Peer(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, peer(pi))
	return nil
}

// removePeer removes a peer and its links and answers them as they were;
// what the peer delivered stays.
func (h *Handler) removePeer(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	pm, err := h.peers()
	if err != nil {
		return err
	}
	name := r.PathValue("name")
	pi, err := pm.RemovePeer(r.Context(), name)
	detail := "remove peer"
	if err == nil {
		detail += " and its " + strconv.Itoa(len(pi.Links)) + " link(s)"
	}
	if err := h.audited(r, p, "peer:"+name, detail, err); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, peer(pi))
	return nil
}

func (h *Handler) listLinks(w http.ResponseWriter, r *http.Request, _ access.Principal) error {
	pm, err := h.peers()
	if err != nil {
		return err
	}
	pi, err := pm.Peer(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"links": peer(pi).Links})
	return nil
}

// linkRequest names a link: "direction" push or pull, "local" the local
// collection (id or alias), "remote" the peer's collection.
type linkRequest struct {
	Direction string `json:"direction"`
	Local     string `json:"local"`
	Remote    string `json:"remote"`
}

func (q linkRequest) spec() federation.LinkSpec {
	return federation.LinkSpec{Direction: q.Direction, Local: q.Local, Remote: q.Remote}
}

// createLink adds a link: 201 when it is new, 200 with its progress when
// it existed already.
func (h *Handler) createLink(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	pm, err := h.peers()
	if err != nil {
		return err
	}
	var req linkRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	name := r.PathValue("name")
	res, err := pm.Link(r.Context(), name, req.spec())
	if err := h.audited(r, p, "peer:"+name, "link "+req.spec().String(), err); err != nil {
		return err
	}
	status := http.StatusOK
	if res[0].Created {
		status = http.StatusCreated
	}
	writeJSON(w, status, link(res[0].Link))
	return nil
}

// removeLink removes the link named by the query (?direction=&local=&remote=)
// or, without a query, by the body, and answers it as it was.
func (h *Handler) removeLink(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	pm, err := h.peers()
	if err != nil {
		return err
	}
	var req linkRequest
	if q := r.URL.Query(); len(q) > 0 {
		for k, v := range q {
			if len(v) > 1 {
				return badRequest("%s is repeated", k)
			}
			switch k {
			case "direction", "local", "remote":
			default:
				return badRequest("unknown parameter %q", k)
			}
		}
		req = linkRequest{Direction: q.Get("direction"), Local: q.Get("local"), Remote: q.Get("remote")}
	} else if err := decode(r, &req); err != nil {
		return err
	}
	name := r.PathValue("name")
	removed, err := pm.Unlink(r.Context(), name, req.spec())
	if err := h.audited(r, p, "peer:"+name, "unlink "+req.spec().String(), err); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, link(removed[0]))
	return nil
}

// peerStatus reports the links of one peer; federationStatus those of
// every peer. Pull backlogs are asked of the peers, each within a few
// seconds.
func (h *Handler) peerStatus(w http.ResponseWriter, r *http.Request, _ access.Principal) error {
	return h.status(w, r, r.PathValue("name"))
}

func (h *Handler) federationStatus(w http.ResponseWriter, r *http.Request, _ access.Principal) error {
	return h.status(w, r, "")
}

func (h *Handler) status(w http.ResponseWriter, r *http.Request, name string) error {
	pm, err := h.peers()
	if err != nil {
		return err
	}
	sts, err := pm.Status(r.Context(), name)
	if err != nil {
		return err
	}
	out := make([]LinkStatus, len(sts))
	for i, st := range sts {
		out[i] = linkStatus(st)
	}
	writeJSON(w, http.StatusOK, map[string]any{"links": out})
	return nil
}
