package admin

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/jointcell/jointcell/internal/access"
	"github.com/jointcell/jointcell/internal/audit"
	"github.com/jointcell/jointcell/internal/cell"
	"github.com/jointcell/jointcell/internal/store"
)

// Organisation is the wire form of an organisation.
type Organisation struct {
	Name       string          `json:"name"`
	IdentityID string          `json:"identity_id"`
	Identity   json.RawMessage `json:"identity,omitempty"`
	Created    time.Time       `json:"created"`
}

func organisation(o store.Organisation) Organisation {
	out := Organisation{Name: o.Name, IdentityID: o.IdentityID, Created: o.Created}
	if json.Valid(o.Identity) {
		out.Identity = o.Identity
	}
	return out
}

func (h *Handler) listOrganisations(w http.ResponseWriter, r *http.Request, _ access.Principal) error {
	os, err := h.cfg.Manager.Organisations(r.Context())
	if err != nil {
		return err
	}
	out := make([]Organisation, len(os))
	for i, o := range os {
		out[i] = organisation(o)
	}
	writeJSON(w, http.StatusOK, map[string]any{"organisations": out})
	return nil
}

func (h *Handler) createOrganisation(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	var req struct {
		Name string `json:"name"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	o, err := h.cfg.Manager.CreateOrganisation(r.Context(), req.Name)
	if err := h.audited(r, p, "organisation:"+req.Name, "create organisation", err); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, organisation(o))
	return nil
}

// User is the wire form of a user; Token is set only when one is issued.
type User struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Org     string    `json:"org"`
	Role    string    `json:"role"`
	Created time.Time `json:"created"`
	Token   string    `json:"token,omitempty"`
}

func user(u store.User) User {
	return User{ID: u.ID, Name: u.Name, Org: u.OrgName, Role: u.Role, Created: u.Created}
}

func (h *Handler) listUsers(w http.ResponseWriter, r *http.Request, _ access.Principal) error {
	us, err := h.cfg.Manager.Users(r.Context())
	if err != nil {
		return err
	}
	out := make([]User, len(us))
	for i, u := range us {
		out[i] = user(u)
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": out})
	return nil
}

func (h *Handler) createUser(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	var req struct {
		Name string `json:"name"`
		Org  string `json:"org"`
		Role string `json:"role"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.Role == "" {
		req.Role = cell.RoleAnalyst
	}
	u, token, err := h.cfg.Manager.CreateUser(r.Context(), req.Name, req.Org, req.Role)
	if err := h.audited(r, p, "user:"+req.Name, "create user of "+req.Org+" with role "+req.Role, err); err != nil {
		return err
	}
	out := user(u)
	out.Token = token
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (h *Handler) rotateToken(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	name := r.PathValue("name")
	token, err := h.cfg.Manager.RotateToken(r.Context(), name)
	if err := h.audited(r, p, "user:"+name, "rotate token", err); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"name": name, "token": token})
	return nil
}

// Collection is the wire form of a collection: rights by name (as on the
// CLI) and by reader key (as stored).
type Collection struct {
	ID          string    `json:"id"`
	Alias       string    `json:"alias,omitempty"`
	Title       string    `json:"title"`
	Description string    `json:"description,omitempty"`
	Read        []string  `json:"read"`
	Write       []string  `json:"write"`
	ReadKeys    []string  `json:"read_keys"`
	WriteKeys   []string  `json:"write_keys"`
	Created     time.Time `json:"created"`
}

func collection(c cell.CollectionInfo) Collection {
	nonNil := func(s []string) []string {
		if s == nil {
			return []string{}
		}
		return s
	}
	return Collection{
		ID: c.ID, Alias: c.Alias, Title: c.Title, Description: c.Description,
		Read: nonNil(c.ReadNames), Write: nonNil(c.WriteNames),
		ReadKeys: nonNil(c.ReadBy), WriteKeys: nonNil(c.WriteBy),
		Created: c.Created,
	}
}

func (h *Handler) listCollections(w http.ResponseWriter, r *http.Request, _ access.Principal) error {
	cs, err := h.cfg.Manager.Collections(r.Context())
	if err != nil {
		return err
	}
	out := make([]Collection, len(cs))
	for i, c := range cs {
		out[i] = collection(c)
	}
	writeJSON(w, http.StatusOK, map[string]any{"collections": out})
	return nil
}

func (h *Handler) getCollection(w http.ResponseWriter, r *http.Request, _ access.Principal) error {
	c, err := h.cfg.Manager.Collection(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, collection(c))
	return nil
}

func (h *Handler) createCollection(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	var req struct {
		Title       string   `json:"title"`
		Alias       string   `json:"alias"`
		Description string   `json:"description"`
		Read        []string `json:"read"`
		Write       []string `json:"write"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	c, err := h.cfg.Manager.CreateCollection(r.Context(), cell.CollectionSpec{
		Title: req.Title, Alias: req.Alias, Description: req.Description, Read: req.Read, Write: req.Write,
	})
	target := "collection:" + c.ID
	if err != nil {
		target = "collection"
	}
	if err := h.audited(r, p, target, "create collection "+strconv.Quote(req.Title), err); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, collection(c))
	return nil
}

// patchCollection replaces the rights present in the body: "read" and/or
// "write", each a list of organisation or group names ([] for none).
func (h *Handler) patchCollection(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	var req struct {
		Read  *[]string `json:"read"`
		Write *[]string `json:"write"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.Read == nil && req.Write == nil {
		return badRequest(`give "read", "write" or both`)
	}
	var read, write []string
	if req.Read != nil {
		read = append([]string{}, *req.Read...)
	}
	if req.Write != nil {
		write = append([]string{}, *req.Write...)
	}
	id := r.PathValue("id")
	c, err := h.cfg.Manager.SetCollectionRights(r.Context(), id, read, write)
	detail := "set rights"
	if req.Read != nil {
		detail += " read=" + strconv.Quote(joinNames(read))
	}
	if req.Write != nil {
		detail += " write=" + strconv.Quote(joinNames(write))
	}
	if err := h.audited(r, p, "collection:"+id, detail, err); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, collection(c))
	return nil
}

func joinNames(ns []string) string {
	b, _ := json.Marshal(ns)
	return string(b)
}

// Group is the wire form of a sharing group.
type Group struct {
	Name       string          `json:"name"`
	MarkingID  string          `json:"marking_id"`
	Members    []string        `json:"members"`
	MemberIDs  []string        `json:"member_ids"`
	Definition json.RawMessage `json:"definition,omitempty"`
}

func group(g cell.GroupInfo) Group {
	out := Group{Name: g.Name, MarkingID: g.MarkingID, Members: g.MemberNames, MemberIDs: g.Group.Members}
	if out.Members == nil {
		out.Members, out.MemberIDs = []string{}, []string{}
	}
	if json.Valid(g.Definition) {
		out.Definition = g.Definition
	}
	return out
}

func (h *Handler) listGroups(w http.ResponseWriter, r *http.Request, _ access.Principal) error {
	gs, err := h.cfg.Manager.Groups(r.Context())
	if err != nil {
		return err
	}
	out := make([]Group, len(gs))
	for i, g := range gs {
		out[i] = group(g)
	}
	writeJSON(w, http.StatusOK, map[string]any{"groups": out})
	return nil
}

func (h *Handler) createGroup(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	var req struct {
		Name string   `json:"name"`
		Orgs []string `json:"orgs"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	g, err := h.cfg.Manager.CreateGroup(r.Context(), req.Name, req.Orgs)
	if err := h.audited(r, p, "group:"+req.Name, "create group of "+joinNames(req.Orgs), err); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, group(g))
	return nil
}

func (h *Handler) addMembers(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	var req struct {
		Orgs []string `json:"orgs"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	name := r.PathValue("name")
	g, err := h.cfg.Manager.AddGroupMembers(r.Context(), name, req.Orgs)
	if err := h.audited(r, p, "group:"+name, "add members "+joinNames(req.Orgs), err); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, group(g))
	return nil
}

func (h *Handler) removeMember(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	name, org := r.PathValue("name"), r.PathValue("org")
	g, err := h.cfg.Manager.RemoveGroupMembers(r.Context(), name, []string{org})
	if err := h.audited(r, p, "group:"+name, "remove member "+org, err); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, group(g))
	return nil
}

// checkpointResponse is the latest signed checkpoint and the key to check
// it with.
type checkpointResponse struct {
	Checkpoint audit.Checkpoint `json:"checkpoint"`
	PublicKey  string           `json:"public_key"` // ed25519, hex
	Size       uint64           `json:"size"`       // entries now, possibly beyond the checkpoint
}

func (h *Handler) getCheckpoint(w http.ResponseWriter, _ *http.Request, _ access.Principal) error {
	cp, err := h.cfg.Audit.Checkpoint()
	if err != nil {
		return &statusError{http.StatusNotFound, "no checkpoint signed yet"}
	}
	writeJSON(w, http.StatusOK, checkpointResponse{Checkpoint: cp, PublicKey: hex.EncodeToString(h.cfg.Key), Size: h.cfg.Audit.Size()})
	return nil
}

// getInclusion serves the RFC 6962 inclusion proof of entry ?index in the
// tree of ?size entries (default: the latest checkpoint's size), with the
// entry's line so that the auditor hashes it itself.
func (h *Handler) getInclusion(w http.ResponseWriter, r *http.Request, _ access.Principal) error {
	q := r.URL.Query()
	index, err := uintParam(q.Get("index"), "index", nil)
	if err != nil {
		return err
	}
	size, err := uintParam(q.Get("size"), "size", h.checkpointSize)
	if err != nil {
		return err
	}
	proof, err := h.cfg.Audit.InclusionProof(index, size)
	if err != nil {
		return err
	}
	leaf, err := h.cfg.Audit.Leaf(index)
	if err != nil {
		return err
	}
	root, err := h.cfg.Audit.Root(size)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"index":     index,
		"tree_size": size,
		"leaf":      string(leaf),
		"leaf_hash": hex.EncodeToString(audit.LeafHash(leaf)),
		"root_hash": hex.EncodeToString(root),
		"proof":     hexList(proof),
	})
	return nil
}

// getConsistency serves the RFC 6962 consistency proof between the trees
// of ?old and ?new entries (default new: the latest checkpoint's size).
func (h *Handler) getConsistency(w http.ResponseWriter, r *http.Request, _ access.Principal) error {
	q := r.URL.Query()
	oldSize, err := uintParam(q.Get("old"), "old", nil)
	if err != nil {
		return err
	}
	newSize, err := uintParam(q.Get("new"), "new", h.checkpointSize)
	if err != nil {
		return err
	}
	proof, err := h.cfg.Audit.ConsistencyProof(oldSize, newSize)
	if err != nil {
		return err
	}
	oldRoot, err := h.cfg.Audit.Root(oldSize)
	if err != nil {
		return err
	}
	newRoot, err := h.cfg.Audit.Root(newSize)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"old_size": oldSize, "new_size": newSize,
		"old_root": hex.EncodeToString(oldRoot), "new_root": hex.EncodeToString(newRoot),
		"proof": hexList(proof),
	})
	return nil
}

func (h *Handler) checkpointSize() (uint64, error) {
	cp, err := h.cfg.Audit.Checkpoint()
	if err != nil {
		return 0, &statusError{http.StatusNotFound, "no checkpoint signed yet; give size explicitly"}
	}
	return cp.TreeSize, nil
}

func uintParam(v, name string, def func() (uint64, error)) (uint64, error) {
	if v == "" {
		if def == nil {
			return 0, badRequest("%s is required", name)
		}
		return def()
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, badRequest("%s must be a non-negative integer", name)
	}
	return n, nil
}

// Entry is one audit entry with its index in the log.
type Entry struct {
	Index uint64 `json:"index"`
	audit.Entry
}

const (
	defaultEntries = 100
	maxEntries     = 1000
)

// errPageFull stops a scan once a page is full.
var errPageFull = errors.New("page full")

// getEntries lists audit entries matching every given filter: actor,
// action, outcome, target (exact), since and until (RFC 3339, inclusive),
// from ?start (an index) at most ?limit of them. "next" is the index to
// start the following page from.
func (h *Handler) getEntries(w http.ResponseWriter, r *http.Request, _ access.Principal) error {
	q := r.URL.Query()
	for k, v := range q {
		if len(v) > 1 {
			return badRequest("%s is repeated", k)
		}
		switch k {
		case "actor", "action", "outcome", "target", "since", "until", "start", "limit":
		default:
			return badRequest("unknown filter %q", k)
		}
	}
	var since, until time.Time
	for _, t := range []struct {
		name string
		dst  *time.Time
	}{{"since", &since}, {"until", &until}} {
		if v := q.Get(t.name); v != "" {
			ts, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return badRequest("%s must be an RFC 3339 time", t.name)
			}
			*t.dst = ts
		}
	}
	start, err := uintParam(q.Get("start"), "start", func() (uint64, error) { return 0, nil })
	if err != nil {
		return err
	}
	limit, err := uintParam(q.Get("limit"), "limit", func() (uint64, error) { return defaultEntries, nil })
	if err != nil {
		return err
	}
	if limit == 0 || limit > maxEntries {
		return badRequest("limit must be between 1 and %d", maxEntries)
	}
	match := func(e audit.Entry) bool {
		return (q.Get("actor") == "" || e.Actor == q.Get("actor")) &&
			(q.Get("action") == "" || e.Action == q.Get("action")) &&
			(q.Get("outcome") == "" || e.Outcome == q.Get("outcome")) &&
			(q.Get("target") == "" || e.Target == q.Get("target")) &&
			(since.IsZero() || !e.Time.Before(since)) &&
			(until.IsZero() || !e.Time.After(until))
	}
	out := []Entry{}
	var next uint64
	more := false
	err = audit.Scan(r.Context(), h.cfg.AuditDir, func(i uint64, _ []byte, e audit.Entry) error {
		if i < start || !match(e) {
			return nil
		}
		if uint64(len(out)) == limit {
			more, next = true, i
			return errPageFull
		}
		out = append(out, Entry{Index: i, Entry: e})
		return nil
	})
	if err != nil && !errors.Is(err, errPageFull) {
		if errors.Is(err, context.Canceled) {
			return nil
		}
		return err
	}
	resp := map[string]any{"entries": out, "more": more}
	if more {
		resp["next"] = next
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}
