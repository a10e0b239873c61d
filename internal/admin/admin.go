// Package admin is the cell's JSON admin API, mounted under /admin/:
// organisations, users, collections and their rights, sharing groups, and
// the audit log's checkpoints, proofs and entries. Only admins see it;
// everyone else gets the server's ordinary 404, so that its existence is
// not revealed. Every change is audited (audit.ActionAdmin).
package admin

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"sort"
	"strings"

	"github.com/jointcell/jointcell/internal/access"
	"github.com/jointcell/jointcell/internal/audit"
	"github.com/jointcell/jointcell/internal/cell"
	"github.com/jointcell/jointcell/internal/store"
)

// Manager is the management operations (cell.Manager).
type Manager interface {
	CreateOrganisation(ctx context.Context, name string) (store.Organisation, error)
	Organisations(ctx context.Context) ([]store.Organisation, error)
	CreateUser(ctx context.Context, name, org, role string) (store.User, string, error)
	RotateToken(ctx context.Context, name string) (string, error)
	Users(ctx context.Context) ([]store.User, error)
	CreateCollection(ctx context.Context, spec cell.CollectionSpec) (cell.CollectionInfo, error)
	SetCollectionRights(ctx context.Context, idOrAlias string, read, write []string) (cell.CollectionInfo, error)
	Collection(ctx context.Context, idOrAlias string) (cell.CollectionInfo, error)
	Collections(ctx context.Context) ([]cell.CollectionInfo, error)
	CreateGroup(ctx context.Context, name string, orgs []string) (cell.GroupInfo, error)
	AddGroupMembers(ctx context.Context, name string, orgs []string) (cell.GroupInfo, error)
	RemoveGroupMembers(ctx context.Context, name string, orgs []string) (cell.GroupInfo, error)
	Groups(ctx context.Context) ([]cell.GroupInfo, error)
}

var _ Manager = (*cell.Manager)(nil)

// Authenticator identifies callers.
type Authenticator interface {
	Authenticate(r *http.Request) (access.Principal, error)
}

// AuditLog is the audit log as the admin API uses it (*audit.Log).
type AuditLog interface {
	Append(ctx context.Context, e audit.Entry) error
	Size() uint64
	Checkpoint() (audit.Checkpoint, error)
	Root(treeSize uint64) ([]byte, error)
	Leaf(index uint64) ([]byte, error)
	InclusionProof(index, treeSize uint64) ([][]byte, error)
	ConsistencyProof(oldSize, newSize uint64) ([][]byte, error)
}

var _ AuditLog = (*audit.Log)(nil)

// Config is what the handler needs; all fields but Logger and Peers are
// required.
type Config struct {
	Manager  Manager
	Auth     Authenticator
	Audit    AuditLog
	AuditDir string            // read by the entries listing (audit.Scan)
	Key      ed25519.PublicKey // the cell's public key, served with checkpoints
	NotFound http.Handler      // what anyone but an admin gets
	Logger   *slog.Logger
	// Peers manages federation peers; nil when the cell does not federate,
	// and the peer routes then answer 404.
	Peers PeerManager
}

// Handler is the admin API.
type Handler struct {
	cfg Config
	log *slog.Logger
	mux *http.ServeMux
}

var _ http.Handler = (*Handler)(nil)

// maxBody bounds admin request bodies; they are small JSON documents.
const maxBody = 1 << 20

// New returns the admin API handler.
func New(cfg Config) *Handler {
	if cfg.Manager == nil || cfg.Auth == nil || cfg.Audit == nil || cfg.NotFound == nil {
		panic("admin: New needs Manager, Auth, Audit and NotFound")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &Handler{cfg: cfg, log: log, mux: http.NewServeMux()}
	h.routes()
	return h
}

// endpoint handles one method of one path.
type endpoint func(w http.ResponseWriter, r *http.Request, p access.Principal) error

// routes is the route table. Paths are matched without their trailing
// slash, so /admin/users and /admin/users/ are the same resource.
func (h *Handler) routes() {
	table := []struct {
		path    string
		methods map[string]endpoint
	}{
		{"/admin/organisations", map[string]endpoint{"GET": h.listOrganisations, "POST": h.createOrganisation}},
		{"/admin/users", map[string]endpoint{"GET": h.listUsers, "POST": h.createUser}},
		{"/admin/users/{name}/token", map[string]endpoint{"POST": h.rotateToken}},
		{"/admin/collections", map[string]endpoint{"GET": h.listCollections, "POST": h.createCollection}},
		{"/admin/collections/{id}", map[string]endpoint{"GET": h.getCollection, "PATCH": h.patchCollection}},
		{"/admin/groups", map[string]endpoint{"GET": h.listGroups, "POST": h.createGroup}},
		{"/admin/groups/{name}/members", map[string]endpoint{"POST": h.addMembers}},
		{"/admin/groups/{name}/members/{org}", map[string]endpoint{"DELETE": h.removeMember}},
		{"/admin/audit/checkpoint", map[string]endpoint{"GET": h.getCheckpoint}},
		{"/admin/audit/inclusion", map[string]endpoint{"GET": h.getInclusion}},
		{"/admin/audit/consistency", map[string]endpoint{"GET": h.getConsistency}},
		{"/admin/audit/entries", map[string]endpoint{"GET": h.getEntries}},
		{"/admin/peers", map[string]endpoint{"GET": h.listPeers, "POST": h.createPeer}},
		{"/admin/peers/{name}", map[string]endpoint{"GET": h.getPeer, "DELETE": h.removePeer}},
		{"/admin/peers/{name}/links", map[string]endpoint{"GET": h.listLinks, "POST": h.createLink, "DELETE": h.removeLink}},
		{"/admin/peers/{name}/status", map[string]endpoint{"GET": h.peerStatus}},
		{"/admin/federation/status", map[string]endpoint{"GET": h.federationStatus}},
	}
	for _, rt := range table {
		var allow []string
		for m := range rt.methods {
			allow = append(allow, m)
		}
		sort.Strings(allow)
		methods := rt.methods
		h.mux.HandleFunc(rt.path+"/{$}", func(w http.ResponseWriter, r *http.Request) {
			ep, ok := methods[r.Method]
			if !ok {
				w.Header().Set("Allow", strings.Join(allow, ", "))
				writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("%s is not supported here; use %s", r.Method, strings.Join(allow, ", ")))
				return
			}
			p, _ := r.Context().Value(principalKey{}).(access.Principal)
			if err := ep(w, r, p); err != nil {
				h.fail(w, r, err)
			}
		})
	}
	h.mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotFound, "no admin endpoint at this path")
	})
}

type principalKey struct{}

// ServeHTTP authenticates the caller and serves admins only; everyone
// else gets what NotFound (the TAXII server) answers for an unknown path.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") == "" {
		h.cfg.NotFound.ServeHTTP(w, r)
		return
	}
	p, err := h.cfg.Auth.Authenticate(r)
	if err != nil {
		h.cfg.NotFound.ServeHTTP(w, cell.WithoutCredentials(r))
		return
	}
	if !p.IsAdmin() {
		h.cfg.NotFound.ServeHTTP(w, r)
		return
	}
	r2 := r.WithContext(context.WithValue(r.Context(), principalKey{}, p))
	u := *r.URL
	u.Path = strings.TrimSuffix(u.Path, "/") + "/"
	u.RawPath = ""
	r2.URL = &u
	h.mux.ServeHTTP(w, r2)
}

// statusError is an error with its HTTP status and a message for the
// client.
type statusError struct {
	status int
	msg    string
}

func (e *statusError) Error() string { return e.msg }

func badRequest(format string, a ...any) error {
	return &statusError{http.StatusBadRequest, fmt.Sprintf(format, a...)}
}

// fail maps an error to a response: the store's sentinel errors give their
// status with the message (which names only what the admin sent), anything
// else is a logged 500 with a generic message.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	var se *statusError
	switch {
	case errors.As(err, &se):
		writeError(w, se.status, se.msg)
	case errors.Is(err, store.ErrInvalid), errors.Is(err, audit.ErrRange):
		writeError(w, http.StatusBadRequest, clean(err))
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, clean(err))
	case errors.Is(err, store.ErrConflict):
		writeError(w, http.StatusConflict, clean(err))
	default:
		h.log.Error("admin request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		writeError(w, http.StatusInternalServerError, "internal error; see the server log")
	}
}

// clean drops the backend's package prefix from a message.
func clean(err error) string {
	return strings.TrimPrefix(err.Error(), "sqlite: ")
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":"internal error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store") // responses may carry tokens
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// decode reads a JSON request body into v, strictly.
func decode(r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return &statusError{http.StatusUnsupportedMediaType, "send application/json"}
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &statusError{http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", maxBody)}
		}
		return badRequest("read body: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest("malformed JSON body: %v", err)
	}
	if dec.More() {
		return badRequest("malformed JSON body: trailing data")
	}
	return nil
}

// audited records an admin change, whatever its outcome, and returns err.
// A change that succeeded is answered even if the audit log fails (a new
// token would otherwise be lost), but the failure is logged as an error.
func (h *Handler) audited(r *http.Request, p access.Principal, target, detail string, err error) error {
	outcome := audit.OutcomeOK
	if err != nil {
		outcome = audit.OutcomeError
		detail += ": " + clean(err)
	}
	aerr := h.cfg.Audit.Append(context.WithoutCancel(r.Context()), audit.Entry{
		Actor:   p.UserName,
		Org:     p.OrgName,
		Action:  audit.ActionAdmin,
		Target:  target,
		Outcome: outcome,
		Detail:  detail,
	})
	if aerr != nil {
		h.log.Error("audit admin change", "target", target, "detail", detail, "err", aerr)
	}
	return err
}

func hexList(bs [][]byte) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = hex.EncodeToString(b)
	}
	return out
}
