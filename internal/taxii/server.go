// Package taxii is the TAXII 2.1 server handler, its client, and the error
// catalogue they share. The server is an http.Handler over the store
// interfaces; authentication and the access policy are injected so that
// this package decides protocol questions only (routes, media types,
// filters, pagination, status resources) and never who may see what.
package taxii

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jointcell/jointcell/internal/access"
	"github.com/jointcell/jointcell/internal/audit"
	"github.com/jointcell/jointcell/internal/stix"
	"github.com/jointcell/jointcell/internal/store"
)

// Authenticator identifies the caller of a request. An error means the
// request is not authenticated and is answered 401. The authenticator
// audits its own failures: it knows who tried and why, and it can keep a
// flood of failures from flooding the audit log.
type Authenticator interface {
	Authenticate(r *http.Request) (access.Principal, error)
}

// Policy decides rights and visibility; the server asks it and obeys.
type Policy interface {
	CanRead(p access.Principal, c store.Collection) bool
	CanWrite(p access.Principal, c store.Collection) bool
	// Admit applies the write rules to one posted object and returns the
	// version to store (created_by_ref may be filled in, Audience computed
	// from markings); a non-nil error is a per-object failure whose message
	// goes into the status.
	Admit(ctx context.Context, p access.Principal, c store.Collection, o stix.Object) (store.Version, error)
	// Present returns the bytes of a stored version as p may see them
	// (granular markings above p's clearance removed, egress redaction), or
	// false to withhold it.
	Present(p access.Principal, c store.Collection, v store.Version) ([]byte, bool)
}

// BatchAdmitter is implemented by a Policy that admits the objects of one
// envelope at once (access.Policy looks up the stored versions of all
// their ids in one query). AdmitBatch returns, for each object in order,
// what Admit would: the version to store, or a per-object failure. The
// objects have passed validation; versions of an id earlier in the same
// envelope are not stored yet, and the server checks their creator itself.
// A Policy without it is asked Admit once per object.
type BatchAdmitter interface {
	AdmitBatch(ctx context.Context, p access.Principal, c store.Collection, objs []stix.Object) ([]store.Version, []error)
}

// BatchPresenter is implemented by a Policy that presents the versions
// of one page at once (the federation guard signs a page served to a peer
// cell with one signature). PresentBatch returns, for each version in
// order, what Present would: the bytes, or nil to withhold it.
type BatchPresenter interface {
	PresentBatch(p access.Principal, c store.Collection, vs []store.Version) [][]byte
}

// Auditor records audited events.
type Auditor interface {
	Append(ctx context.Context, e audit.Entry) error
}

// Defaults of Config.
const (
	DefaultAPIRoot          = "/api/"
	DefaultMaxContentLength = 64 << 20
	DefaultPageSize         = 1000
	DefaultMaxPageSize      = 10000
	DefaultStatusTTL        = 24 * time.Hour
)

// TimestampFormat is the TAXII timestamp of date_added and the
// X-TAXII-Date-Added headers: UTC with microseconds (TAXII 2.1 §3.3.1).
const TimestampFormat = "2006-01-02T15:04:05.000000Z"

// Config is what the server needs. Objects, Collections, Statuses,
// Authenticator, Policy and CursorKey are required; the rest have
// defaults.
type Config struct {
	Objects     store.Objects
	Collections store.Collections
	Statuses    store.Statuses

	Authenticator Authenticator
	Policy        Policy
	Auditor       Auditor // nil: nothing audited
	Logger        *slog.Logger

	// CursorKey signs next cursors (HMAC-SHA256); keep it stable across
	// restarts so that clients can resume, and secret.
	CursorKey []byte

	Title       string // of the discovery resource and the API root
	Description string
	Contact     string

	APIRoot string // path of the one API root, default "/api/"
	// BaseURL ("https://host:port") makes api_roots absolute in the
	// discovery resource; empty: derived from each request.
	BaseURL          string
	MaxContentLength int64 // default 64 MiB
	// PageSize is the page when a request gives no limit, default 1000;
	// MaxPageSize the largest a limit gets, default 10000 (peer cells ask
	// for pages of 5000: a catch-up then writes fewer, larger batches).
	PageSize    int
	MaxPageSize int
	StatusTTL   time.Duration // how long a status resource is served, default 24h
	Now         func() time.Time
}

// Server is the TAXII 2.1 HTTP handler.
type Server struct {
	cfg Config
	log *slog.Logger
	mux *http.ServeMux
	// envelopes keeps the buffers envelopes are written into: a page
	// between cells is megabytes, which a fresh buffer would allocate and
	// zero for every request.
	envelopes sync.Pool
}

// maxPooledEnvelope is the largest envelope buffer kept for reuse.
const maxPooledEnvelope = 64 << 20

var _ http.Handler = (*Server)(nil)

// NewServer returns the handler. It panics when a required field of cfg is
// missing, because that is a wiring bug, not a runtime condition.
func NewServer(cfg Config) *Server {
	if cfg.Objects == nil || cfg.Collections == nil || cfg.Statuses == nil || cfg.Authenticator == nil || cfg.Policy == nil {
		panic("taxii: NewServer needs Objects, Collections, Statuses, Authenticator and Policy")
	}
	if len(cfg.CursorKey) == 0 {
		panic("taxii: NewServer needs a CursorKey")
	}
	if cfg.APIRoot == "" {
		cfg.APIRoot = DefaultAPIRoot
	}
	if !strings.HasPrefix(cfg.APIRoot, "/") {
		cfg.APIRoot = "/" + cfg.APIRoot
	}
	if !strings.HasSuffix(cfg.APIRoot, "/") {
		cfg.APIRoot += "/"
	}
	if cfg.Title == "" {
		cfg.Title = "jointcell"
	}
	if cfg.MaxContentLength <= 0 {
		cfg.MaxContentLength = DefaultMaxContentLength
	}
	if cfg.MaxPageSize <= 0 {
		cfg.MaxPageSize = DefaultMaxPageSize
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = DefaultPageSize
	}
	cfg.PageSize = min(cfg.PageSize, cfg.MaxPageSize)
	if cfg.StatusTTL <= 0 {
		cfg.StatusTTL = DefaultStatusTTL
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.BaseURL = strings.TrimSuffix(cfg.BaseURL, "/")
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, log: log, mux: http.NewServeMux()}
	s.routes()
	return s
}

// routes is the one route table (TAXII 2.1 §4 and §5). Every path ends in
// "/" and is anchored with {$}. Each path is also registered without a
// method so that other methods get a TAXII 405 rather than the mux's plain
// text one, and "/" catches everything else as a TAXII 404.
func (s *Server) routes() {
	root := s.cfg.APIRoot
	coll := root + "collections/{collection}/"
	obj := coll + "objects/{object}/"
	table := []struct {
		method, path string
		h            handler
	}{
		{"GET", "/taxii2/", s.getDiscovery},
		{"GET", root, s.getAPIRoot},
		{"GET", root + "status/{status}/", s.getStatus},
		{"GET", root + "collections/", s.getCollections},
		{"GET", coll, s.getCollection},
		{"GET", coll + "manifest/", s.getManifest},
		{"GET", coll + "objects/", s.getObjects},
		{"POST", coll + "objects/", s.postObjects},
		{"GET", obj, s.getObject},
		{"DELETE", obj, s.deleteObject},
		{"GET", obj + "versions/", s.getVersions},
	}
	paths := map[string][]string{}
	var order []string
	for _, rt := range table {
		s.mux.HandleFunc(rt.method+" "+rt.path+"{$}", s.wrap(rt.h))
		if _, ok := paths[rt.path]; !ok {
			order = append(order, rt.path)
		}
		paths[rt.path] = append(paths[rt.path], rt.method)
	}
	for _, p := range order {
		allow := strings.Join(paths[p], ", ")
		if strings.Contains(allow, "GET") {
			allow += ", HEAD"
		}
		s.mux.HandleFunc(p+"{$}", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow)
			s.fail(w, r, newError(errMethodNotAllowed, "%s is not supported here; use %s", r.Method, allow))
		})
	}
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, newError(errNotFound, "no TAXII endpoint at this path (TAXII paths end in /)"))
	})
}

// handler is one endpoint; a returned error is written from the catalogue.
type handler func(w http.ResponseWriter, r *http.Request, p access.Principal) error

type principalKey struct{}

func (s *Server) wrap(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, _ := r.Context().Value(principalKey{}).(access.Principal)
		if err := h(w, r, p); err != nil {
			s.fail(w, r, err)
		}
	}
}

// ServeHTTP authenticates, negotiates the media type and dispatches.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", MediaTypeTAXII)
	p, err := s.cfg.Authenticator.Authenticate(r)
	if err != nil {
		s.log.Debug("taxii: authentication failed", "path", r.URL.Path, "err", err)
		writeError(w, &apiError{kind: errUnauthorized})
		return
	}
	// TAXII 2.1 §1.6.8: a request whose Accept the server cannot satisfy is
	// answered 406.
	if !acceptable(r.Header.Get("Accept")) {
		s.fail(w, r, newError(errNotAcceptable, ""))
		return
	}
	s.mux.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
}

// fail writes an error and logs it: server faults at error level with the
// error_id that the client sees, client mistakes at debug level.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		ae = internalError(err)
	}
	m := writeError(w, ae)
	if ae.kind == errInternal {
		s.log.Error("taxii: request failed", "method", r.Method, "path", r.URL.Path, "error_id", m.ErrorID, "err", ae)
		return
	}
	s.log.Debug("taxii: request refused", "method", r.Method, "path", r.URL.Path, "status", m.HTTPStatus, "err", ae)
}

// audit appends an entry; a failing audit log is logged loudly but does not
// turn a served request into an error after the fact.
func (s *Server) audit(ctx context.Context, e audit.Entry) {
	if s.cfg.Auditor == nil {
		return
	}
	e.Time = s.cfg.Now().UTC()
	if err := s.cfg.Auditor.Append(ctx, e); err != nil {
		s.log.Error("taxii: audit append failed", "action", e.Action, "target", e.Target, "err", err)
	}
}

func (s *Server) auditAs(ctx context.Context, p access.Principal, action, target string, ids []string, outcome, detail string) {
	s.audit(ctx, audit.Entry{Actor: p.UserName, Org: p.OrgName, Action: action, Target: target, IDs: ids, Outcome: outcome, Detail: detail})
}

// writeJSON writes a 2xx resource.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return internalError(fmt.Errorf("taxii: encode response: %w", err))
	}
	writeBody(w, status, body)
	return nil
}

// writeBody answers with body and its Content-Length: a client then reads
// a page into one buffer of the right size instead of growing one through
// a chunked stream (a page between cells is megabytes).
func writeBody(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// readers returns the reader keys pushed into store queries. Admins are
// unrestricted (nil); anyone else with no keys gets an empty, non-nil set,
// because nil would mean "everything".
func readers(p access.Principal) []string {
	if p.IsAdmin() {
		return nil
	}
	if p.Readers == nil {
		return []string{}
	}
	return p.Readers
}

func (s *Server) getDiscovery(w http.ResponseWriter, r *http.Request, _ access.Principal) error {
	base := s.cfg.BaseURL
	if base == "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		base = scheme + "://" + r.Host
	}
	root := base + s.cfg.APIRoot
	return writeJSON(w, http.StatusOK, Discovery{
		Title:       s.cfg.Title,
		Description: s.cfg.Description,
		Contact:     s.cfg.Contact,
		Default:     root,
		APIRoots:    []string{root},
	})
}

func (s *Server) getAPIRoot(w http.ResponseWriter, _ *http.Request, _ access.Principal) error {
	return writeJSON(w, http.StatusOK, APIRoot{
		Title:            s.cfg.Title,
		Description:      s.cfg.Description,
		Versions:         []string{MediaTypeTAXII},
		MaxContentLength: s.cfg.MaxContentLength,
	})
}

// getStatus answers TAXII 2.1 §4.3. A status is the business of the user
// who posted (and of admins): anyone else gets 404, as does a status older
// than the TTL.
func (s *Server) getStatus(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	st, err := s.cfg.Statuses.Status(r.Context(), r.PathValue("status"))
	if errors.Is(err, store.ErrNotFound) {
		return newError(errNotFound, "no such status")
	}
	if err != nil {
		return internalError(fmt.Errorf("taxii: get status: %w", err))
	}
	if (st.OwnerUserID != p.UserID && !p.IsAdmin()) || s.cfg.Now().Sub(st.RequestTime) > s.cfg.StatusTTL {
		return newError(errNotFound, "no such status")
	}
	return writeJSON(w, http.StatusOK, statusResource(st))
}

func statusResource(st store.Status) Status {
	conv := func(ds []store.StatusDetail) []StatusDetail {
		if len(ds) == 0 {
			return nil
		}
		out := make([]StatusDetail, len(ds))
		for i, d := range ds {
			out[i] = StatusDetail(d)
		}
		return out
	}
	return Status{
		ID:               st.ID,
		Status:           st.Status,
		RequestTimestamp: st.RequestTime.UTC().Format(TimestampFormat),
		TotalCount:       st.Total,
		SuccessCount:     len(st.Successes),
		Successes:        conv(st.Successes),
		FailureCount:     len(st.Failures),
		Failures:         conv(st.Failures),
		PendingCount:     len(st.Pendings),
		Pendings:         conv(st.Pendings),
	}
}

func (s *Server) collectionResource(p access.Principal, c store.Collection) Collection {
	return Collection{
		ID:          c.ID,
		Title:       c.Title,
		Description: c.Description,
		Alias:       c.Alias,
		CanRead:     s.cfg.Policy.CanRead(p, c),
		CanWrite:    s.cfg.Policy.CanWrite(p, c),
		MediaTypes:  []string{MediaTypeSTIX},
	}
}

// getCollections answers TAXII 2.1 §5.1: the collections this client may
// read or write, {} when there are none.
func (s *Server) getCollections(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	cs, err := s.cfg.Collections.ListCollections(r.Context())
	if err != nil {
		return internalError(fmt.Errorf("taxii: list collections: %w", err))
	}
	var out Collections
	for _, c := range cs {
		if cr := s.collectionResource(p, c); cr.CanRead || cr.CanWrite {
			out.Collections = append(out.Collections, cr)
		}
	}
	return writeJSON(w, http.StatusOK, out)
}

// collection resolves the {collection} path value (an id or an alias).
// A collection the principal can neither read nor write is reported as
// missing, so that its existence does not leak.
func (s *Server) collection(r *http.Request, p access.Principal) (c store.Collection, canRead, canWrite bool, err error) {
	c, err = s.cfg.Collections.Collection(r.Context(), r.PathValue("collection"))
	if errors.Is(err, store.ErrNotFound) {
		return c, false, false, newError(errNotFound, "no such collection")
	}
	if err != nil {
		return c, false, false, internalError(fmt.Errorf("taxii: get collection: %w", err))
	}
	canRead, canWrite = s.cfg.Policy.CanRead(p, c), s.cfg.Policy.CanWrite(p, c)
	if !canRead && !canWrite {
		s.auditAs(r.Context(), p, audit.ActionRead, c.ID, nil, audit.OutcomeDenied, "no right on collection")
		return c, false, false, newError(errNotFound, "no such collection")
	}
	return c, canRead, canWrite, nil
}

func (s *Server) getCollection(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	c, _, _, err := s.collection(r, p)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.collectionResource(p, c))
}

// readable resolves a collection for the read endpoints. Without can_read
// they answer 404 whether or not the client may write, one answer for
// "missing" and "not yours" (TAXII 2.1 §5.3 allows 403 or 404).
func (s *Server) readable(r *http.Request, p access.Principal) (store.Collection, error) {
	c, canRead, _, err := s.collection(r, p)
	if err != nil {
		return c, err
	}
	if !canRead {
		s.auditAs(r.Context(), p, audit.ActionRead, c.ID, nil, audit.OutcomeDenied, "no read right")
		return c, newError(errNotFound, "no such collection")
	}
	return c, nil
}

func (s *Server) getManifest(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	return s.serveRead(w, r, p, epManifest)
}

func (s *Server) getObjects(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	return s.serveRead(w, r, p, epObjects)
}

func (s *Server) getObject(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	return s.serveRead(w, r, p, epObject)
}

func (s *Server) getVersions(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	return s.serveRead(w, r, p, epVersions)
}

// presented is one version as the principal may see it.
type presented struct {
	v   store.Version
	raw []byte
}

// serveRead answers the four read endpoints, which differ only in the
// filters they take and in the shape of the page.
func (s *Server) serveRead(w http.ResponseWriter, r *http.Request, p access.Principal, ep endpoint) error {
	ctx := r.Context()
	c, err := s.readable(r, p)
	if err != nil {
		return err
	}
	objectID := r.PathValue("object")
	if (ep == epObject || ep == epVersions) && !validID(objectID) {
		return newError(errNotFound, "no such object")
	}
	q, err := parseQuery(r.URL.RawQuery, ep)
	if err != nil {
		return err
	}
	f, err := s.filter(c, ep, objectID, q)
	if err != nil {
		return err
	}
	f.Readers = readers(p)
	page, err := s.cfg.Objects.Query(ctx, c.ID, f.Filter)
	if errors.Is(err, store.ErrInvalid) {
		return newError(errBadFilter, "the store cannot answer this filter")
	}
	if err != nil {
		return internalError(fmt.Errorf("taxii: query %s: %w", ep, err))
	}
	// Present every version; manifests and version lists need only the
	// decision, but must withhold exactly what the objects endpoint does.
	items := make([]presented, 0, len(page.Versions))
	if bp, ok := s.cfg.Policy.(BatchPresenter); ok {
		for i, raw := range bp.PresentBatch(p, c, page.Versions) {
			if raw != nil {
				items = append(items, presented{page.Versions[i], raw})
			}
		}
	} else {
		for _, v := range page.Versions {
			if raw, ok := s.cfg.Policy.Present(p, c, v); ok {
				items = append(items, presented{v, raw})
			}
		}
	}
	if len(items) == 0 && !page.More && q.Next == "" && (ep == epObject || ep == epVersions) {
		exists, err := s.objectVisible(ctx, p, c, objectID)
		if err != nil {
			return err
		}
		if !exists {
			s.auditAs(ctx, p, audit.ActionRead, c.ID, []string{objectID}, audit.OutcomeDenied, "object not found or not visible")
			return newError(errNotFound, "no such object")
		}
	}

	next := ""
	if page.More && len(page.Versions) > 0 {
		next = encodeCursor(s.cfg.CursorKey, cursor{
			Collection: c.ID, Endpoint: ep, Object: objectID,
			Filter: f.bound, Last: page.Versions[len(page.Versions)-1].DateAdded.UnixMicro(), Limit: f.Limit,
		})
	}
	// TAXII 2.1 §5.3-§5.8: the date_added range of the page. They describe
	// the versions the page covers, so an empty page has none.
	if n := len(page.Versions); n > 0 {
		w.Header().Set("X-TAXII-Date-Added-First", page.Versions[0].DateAdded.UTC().Format(TimestampFormat))
		w.Header().Set("X-TAXII-Date-Added-Last", page.Versions[n-1].DateAdded.UTC().Format(TimestampFormat))
	}
	// A page that disclosed nothing is not audited: a peer polling an
	// idle collection several times a second would otherwise grow the
	// log by hundreds of thousands of entries a day, saying nothing.
	if len(items) > 0 {
		ids := make([]string, len(items))
		for i, it := range items {
			ids[i] = it.v.Object.ID
		}
		s.auditAs(ctx, p, audit.ActionRead, c.ID, ids, audit.OutcomeOK, string(ep))
	}

	switch ep {
	case epManifest:
		m := Manifest{More: page.More, Next: next}
		for _, it := range items {
			m.Objects = append(m.Objects, ManifestRecord{
				ID:        it.v.Object.ID,
				DateAdded: it.v.DateAdded.UTC().Format(TimestampFormat),
				Version:   versionOf(it.v),
				MediaType: MediaTypeSTIX,
			})
		}
		return writeJSON(w, http.StatusOK, m)
	case epVersions:
		vs := Versions{More: page.More, Next: next}
		for _, it := range items {
			vs.Versions = append(vs.Versions, versionOf(it.v))
		}
		return writeJSON(w, http.StatusOK, vs)
	default:
		bp, _ := s.envelopes.Get().(*[]byte)
		if bp == nil {
			bp = new([]byte)
		}
		*bp = envelopeBytes((*bp)[:0], items, page.More, next)
		writeBody(w, http.StatusOK, *bp) // written out (or copied) when Write returns
		if cap(*bp) <= maxPooledEnvelope {
			s.envelopes.Put(bp)
		}
		return nil
	}
}

// versionOf is the version of a stored object for manifests, version lists
// and statuses: modified, else created, else (unversioned SCOs) date_added
// (TAXII 2.1 §5.3.1), the same rule the store applies to match[version].
func versionOf(v store.Version) string { return v.VersionString() }

// envelopeBytes appends an envelope to dst by concatenation, so that every
// object goes out byte-exact without a decode and re-encode round trip.
func envelopeBytes(dst []byte, items []presented, more bool, next string) []byte {
	size := 64 + len(next)
	for _, it := range items {
		size += len(it.raw) + 1
	}
	b := slices.Grow(dst, size)
	b = append(b, '{')
	sep := ""
	if more {
		b = append(b, `"more":true`...)
		sep = ","
		if next != "" {
			nb, _ := json.Marshal(next)
			b = append(b, `,"next":`...)
			b = append(b, nb...)
		}
	}
	if len(items) > 0 {
		b = append(b, sep...)
		b = append(b, `"objects":[`...)
		for i, it := range items {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, it.raw...)
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// objectVisible reports whether any version of the object is stored in the
// collection and presentable to p.
func (s *Server) objectVisible(ctx context.Context, p access.Principal, c store.Collection, objectID string) (bool, error) {
	f := store.Filter{IDs: []string{objectID}, Versions: []string{"all"}, Limit: s.cfg.MaxPageSize, Readers: readers(p)}
	for {
		page, err := s.cfg.Objects.Query(ctx, c.ID, f)
		if err != nil {
			return false, internalError(fmt.Errorf("taxii: query object: %w", err))
		}
		for _, v := range page.Versions {
			if _, ok := s.cfg.Policy.Present(p, c, v); ok {
				return true, nil
			}
		}
		if !page.More || len(page.Versions) == 0 {
			return false, nil
		}
		f.AddedAfter = page.Versions[len(page.Versions)-1].DateAdded
	}
}

// storeFilter is a store.Filter plus the filter a next cursor binds.
type storeFilter struct {
	store.Filter
	bound boundFilter
}

// filter turns a parsed query into the store filter, resolving next. A next
// is accepted only for the collection, endpoint and object it was issued
// for; filters sent along with it must be the ones it binds (clients such
// as taxii2-client repeat them), and when they are absent the bound ones
// apply. Anything else is a 400: a cursor can never widen a query. limit
// is not bound: a client may change its page size between pages, and one
// that sends next alone keeps the size of the previous page.
func (s *Server) filter(c store.Collection, ep endpoint, objectID string, q query) (storeFilter, error) {
	bound := q.canonical()
	if q.Next != "" {
		cur, err := decodeCursor(s.cfg.CursorKey, q.Next)
		if err != nil {
			return storeFilter{}, newError(errBadCursor, "")
		}
		if cur.Collection != c.ID || cur.Endpoint != ep || cur.Object != objectID {
			return storeFilter{}, newError(errBadCursor, "next belongs to another collection or endpoint")
		}
		if q.hasFilter() && !bound.equal(cur.Filter) {
			return storeFilter{}, newError(errBadCursor, "next was issued for different filters")
		}
		bound = cur.Filter
		limit := q.Limit
		if limit == 0 {
			limit = cur.Limit
		}
		q = cur.Filter.query()
		q.AddedAfter = time.UnixMicro(cur.Last).UTC()
		q.Limit = limit
	}
	limit := q.Limit
	switch {
	case limit == 0:
		limit = s.cfg.PageSize
	case limit > s.cfg.MaxPageSize:
		limit = s.cfg.MaxPageSize
	}
	f := store.Filter{
		AddedAfter:   q.AddedAfter,
		IDs:          q.IDs,
		Types:        q.Types,
		Versions:     q.Versions,
		SpecVersions: q.SpecVersions,
		Limit:        limit,
	}
	switch ep {
	case epObject:
		f.IDs = []string{objectID}
	case epVersions:
		f.IDs = []string{objectID}
		f.Versions = []string{"all"}
	}
	return storeFilter{Filter: f, bound: bound}, nil
}

// postObjects answers Add Objects (TAXII 2.1 §5.5): 202 and a complete
// status, every object either stored (a duplicate counts as stored) or
// failed with a message. The checks run from cheapest to dearest and
// leak nothing: rights first, then media type, size and envelope.
func (s *Server) postObjects(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	ctx := r.Context()
	c, canRead, canWrite, err := s.collection(r, p)
	if err != nil {
		return err
	}
	if !canWrite {
		s.auditAs(ctx, p, audit.ActionWrite, c.ID, nil, audit.OutcomeDenied, "no write right")
		if !canRead {
			return newError(errNotFound, "no such collection")
		}
		return newError(errForbidden, "you may not add objects to this collection")
	}
	if !isTAXIIMediaType(r.Header.Get("Content-Type")) {
		return newError(errUnsupportedMediaType, "")
	}
	max := s.cfg.MaxContentLength
	if r.ContentLength > max {
		return newError(errTooLarge, "the body has %d bytes; max_content_length is %d", r.ContentLength, max)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return newError(errTooLarge, "the body exceeds max_content_length (%d bytes)", max)
	}
	if err != nil {
		return newError(errBadRequest, "could not read the body")
	}
	objs, err := DecodeEnvelope(body)
	if err != nil {
		var ee *EnvelopeError
		ae := newError(errUnprocessable, "%s", err.Error())
		if errors.As(err, &ee) {
			ae.description = ee.Reason
			if ee.Index >= 0 {
				ae.details = map[string]any{"object_index": ee.Index}
				ae.description = fmt.Sprintf("object %d: %s", ee.Index, ee.Reason)
			}
		}
		return ae
	}

	now := s.cfg.Now().UTC()
	st := store.Status{ID: newUUID(), CollectionID: c.ID, OwnerUserID: p.UserID, Status: StatusComplete, RequestTime: now, Total: len(objs)}
	batch := make([]store.Version, 0, len(objs))
	problems := invalidObjects(objs)
	// admit answers for the next valid object, in order.
	admit := func(o stix.Object) (store.Version, error) { return s.cfg.Policy.Admit(ctx, p, c, o) }
	if ba, ok := s.cfg.Policy.(BatchAdmitter); ok {
		valid := make([]stix.Object, 0, len(objs))
		for i, o := range objs {
			if problems[i] == "" {
				valid = append(valid, o)
			}
		}
		vs, errs := ba.AdmitBatch(ctx, p, c, valid)
		if len(vs) != len(valid) || len(errs) != len(valid) {
			return internalError(fmt.Errorf("taxii: AdmitBatch returned %d versions and %d errors for %d objects", len(vs), len(errs), len(valid)))
		}
		next := 0
		admit = func(stix.Object) (store.Version, error) {
			k := next
			next++
			return vs[k], errs[k]
		}
	}
	// Admit checks the creator of a new version against the versions
	// stored before; those admitted earlier in this envelope are stored
	// with it, so they count too (only the creator versions an object).
	var creators map[string]string
	for i, o := range objs {
		if msg := problems[i]; msg != "" {
			st.Failures = append(st.Failures, store.StatusDetail{ID: o.ID, Version: o.Version(), Message: msg})
			continue
		}
		v, err := admit(o)
		if cr, seen := creators[o.ID]; err == nil && seen && cr != v.Object.CreatedByRef {
			err = fmt.Errorf("object %s was created by another organisation: only its creator may version or revoke it", o.ID)
		}
		if err != nil {
			st.Failures = append(st.Failures, store.StatusDetail{ID: o.ID, Version: o.Version(), Message: err.Error()})
			continue
		}
		if o.Created != "" {
			if creators == nil {
				creators = map[string]string{}
			}
			creators[o.ID] = v.Object.CreatedByRef
		}
		batch = append(batch, v)
	}
	var written []string
	report := func(results []store.AddResult) {
		written = make([]string, 0, len(batch))
		for i, res := range results {
			v := batch[i]
			v.DateAdded = res.DateAdded
			d := store.StatusDetail{ID: v.Object.ID, Version: versionOf(v)}
			switch res.Outcome {
			case store.Added, store.Duplicate:
				st.Successes = append(st.Successes, d)
				written = append(written, d.ID)
			default:
				d.Message = res.Message
				if d.Message == "" {
					d.Message = "a different object with this id and version is already stored"
				}
				st.Failures = append(st.Failures, d)
			}
		}
	}
	if sa, ok := s.addsWithStatus(); ok && len(batch) > 0 {
		// The versions and their status in one transaction.
		_, err := sa.AddVersionsStatus(ctx, c.ID, batch, func(results []store.AddResult) (store.Status, error) {
			report(results)
			return st, nil
		})
		if err != nil {
			s.auditAs(ctx, p, audit.ActionWrite, c.ID, nil, audit.OutcomeError, "store failed")
			return internalError(fmt.Errorf("taxii: add objects: %w", err))
		}
	} else {
		if len(batch) > 0 {
			results, err := s.cfg.Objects.AddVersions(ctx, c.ID, batch)
			if err != nil {
				s.auditAs(ctx, p, audit.ActionWrite, c.ID, nil, audit.OutcomeError, "store failed")
				return internalError(fmt.Errorf("taxii: add objects: %w", err))
			}
			report(results)
		}
		if err := s.cfg.Statuses.PutStatus(ctx, st); err != nil {
			return internalError(fmt.Errorf("taxii: put status: %w", err))
		}
	}
	s.auditAs(ctx, p, audit.ActionWrite, c.ID, written, audit.OutcomeOK,
		fmt.Sprintf("status %s: %d added, %d failed", st.ID, len(st.Successes), len(st.Failures)))
	return writeJSON(w, http.StatusAccepted, statusResource(st))
}

// statusAdder is a store that writes versions and the status resource
// reporting on them in one transaction (store/sqlite does), which saves a
// transaction per Add Objects request.
type statusAdder interface {
	// AddVersionsStatus is AddVersions followed by PutStatus of what
	// status (called once) returns, atomically.
	AddVersionsStatus(ctx context.Context, collectionID string, vs []store.Version,
		status func([]store.AddResult) (store.Status, error)) ([]store.AddResult, error)
}

// addsWithStatus returns the store as a statusAdder when Objects is one and
// is also the Statuses store.
func (s *Server) addsWithStatus() (statusAdder, bool) {
	sa, ok := s.cfg.Objects.(statusAdder)
	if !ok {
		return nil, false
	}
	// Comparing interfaces panics on values of an incomparable type.
	t := reflect.TypeOf(s.cfg.Objects)
	return sa, t == reflect.TypeOf(s.cfg.Statuses) && t.Comparable() && any(s.cfg.Objects) == any(s.cfg.Statuses)
}

// deleteObject answers TAXII 2.1 §5.7: with neither right 404, with one of
// them 403, with both the selected versions visible to the client go.
func (s *Server) deleteObject(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	ctx := r.Context()
	c, canRead, canWrite, err := s.collection(r, p)
	if err != nil {
		return err
	}
	objectID := r.PathValue("object")
	if !canRead || !canWrite {
		s.auditAs(ctx, p, audit.ActionDelete, c.ID, []string{objectID}, audit.OutcomeDenied, "needs read and write rights")
		return newError(errForbidden, "deleting needs both read and write rights on the collection")
	}
	q, err := parseQuery(r.URL.RawQuery, epDelete)
	if err != nil {
		return err
	}
	if !validID(objectID) {
		return newError(errNotFound, "no such object")
	}
	n, err := s.cfg.Objects.DeleteVersions(ctx, c.ID, objectID, store.Filter{
		IDs: []string{objectID}, Versions: q.Versions, SpecVersions: q.SpecVersions, Readers: readers(p),
	})
	if errors.Is(err, store.ErrNotFound) {
		return newError(errNotFound, "no such object")
	}
	if err != nil {
		return internalError(fmt.Errorf("taxii: delete object: %w", err))
	}
	s.auditAs(ctx, p, audit.ActionDelete, c.ID, []string{objectID}, audit.OutcomeOK, fmt.Sprintf("%d versions", n))
	// §5.7 defines no body; an empty JSON object keeps clients that parse
	// every TAXII response happy.
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte("{}"))
	return nil
}
