package taxii

// Interoperability with the OASIS reference server medallion
// (oasis-open/cti-taxii-server 3.x: medallion/views/*.py,
// medallion/backends/memory_backend.py, medallion/filters/basic_filter.py,
// medallion/common.py). fakeMedallion answers as medallion does, as far
// as its code tells: the strict Accept and Content-Type checks, the
// Content-Length check, collections by id only, server-side paging
// records behind an opaque next that must be sent with the filters of the
// first page, {} for empty results, microsecond date headers, its status
// and error shapes, and an empty 200 for DELETE.

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const medallionCollection = "91a7b528-80eb-42ed-a74d-c6fbd5a26116" // medallion's test data uses this id

type medObject struct {
	raw       json.RawMessage
	id, typ   string
	version   time.Time
	dateAdded time.Time
}

type fakeMedallion struct {
	t           testing.TB
	mu          sync.Mutex
	users       map[string]string // user -> password
	maxPage     int               // taxii.max_page_size
	maxContent  int
	objects     []*medObject
	statuses    map[string]map[string]any
	pages       map[string]medPage // next -> paging record
	seq         int
	clock       time.Time
	log         []*http.Request
	alias       string // the collection's alias (medallion routes by id only)
	server      *httptest.Server
	contentType string
}

type medPage struct {
	args    map[string][]string
	objects []*medObject
}

func newFakeMedallion(t testing.TB, maxPage int) *fakeMedallion {
	m := &fakeMedallion{t: t, users: map[string]string{"admin": "Password0"}, maxPage: maxPage, maxContent: 9765625,
		statuses: map[string]map[string]any{}, pages: map[string]medPage{}, clock: time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC),
		alias: "intel", contentType: "application/taxii+json;version=2.1"}
	m.server = httptest.NewServer(m)
	t.Cleanup(m.server.Close)
	return m
}

func (m *fakeMedallion) uuid() string {
	m.seq++
	return fmt.Sprintf("%08x-1111-4111-8111-%012x", m.seq, m.seq)
}

// medTimestamp is common.datetime_to_string: microseconds, always.
func medTimestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000Z") }

// medParse is common.string_to_datetime: strptime "%Y-%m-%dT%H:%M:%S.%fZ"
// (1 to 6 fractional digits) or "%Y-%m-%dT%H:%M:%SZ"; anything else is a
// ValueError, which medallion does not catch (500).
var medTS = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$`)

func medParse(s string) (time.Time, bool) {
	if !medTS.MatchString(s) {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	return t, err == nil
}

type medError struct {
	status int
	desc   string
}

// fail is handle_processing_error.
func (m *fakeMedallion) fail(w http.ResponseWriter, e medError) {
	w.Header().Set("Content-Type", m.contentType)
	w.WriteHeader(e.status)
	b, _ := json.Marshal(map[string]string{"title": "ProcessingError", "http_status": strconv.Itoa(e.status), "description": e.desc})
	w.Write(b)
}

func (m *fakeMedallion) write(w http.ResponseWriter, status int, headers map[string]string, v any) {
	for k, val := range headers {
		w.Header().Set(k, val)
	}
	w.Header().Set("Content-Type", m.contentType)
	w.WriteHeader(status)
	if v != nil {
		b, _ := json.Marshal(v)
		w.Write(b)
	}
}

var medMediaRE = regexp.MustCompile(`^application/taxii\+json(;version=(\d\.\d))?$`)

// medCheckMedia is validate_version_parameter_in_accept_header and
// validate_version_parameter_in_content_type_header: spaces removed,
// split at ","; the first item that matches decides, and a match
// without version=2.1 (including no version at all) is refused.
func medCheckMedia(v string, status int) *medError {
	for _, item := range strings.Split(strings.ReplaceAll(v, " ", ""), ",") {
		if r := medMediaRE.FindStringSubmatch(item); r != nil {
			if r[2] != "2.1" {
				return &medError{status, "The server does not support version " + r[2]}
			}
			return nil
		}
	}
	return &medError{status, "Media type in the header is invalid or not found"}
}

func (m *fakeMedallion) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.log = append(m.log, r)
	// flask_httpauth: HTTPBasicAuth, a plain-text 401.
	if u, p, ok := r.BasicAuth(); !ok || m.users[u] == "" || m.users[u] != p {
		w.Header().Set("WWW-Authenticate", `Basic realm="Authentication Required"`)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, "Unauthorized Access")
		return
	}
	path := r.URL.Path
	if !strings.HasSuffix(path, "/") { // werkzeug strict_slashes
		http.Redirect(w, r, path+"/?"+r.URL.RawQuery, http.StatusPermanentRedirect)
		return
	}
	if e := medCheckMedia(r.Header.Get("Accept"), http.StatusNotAcceptable); e != nil {
		m.fail(w, *e)
		return
	}
	parts := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case path == "/taxii2/" && r.Method == http.MethodGet:
		base := m.server.URL
		m.write(w, 200, nil, map[string]any{"title": "Some TAXII Server", "description": "medallion", "contact": "x",
			"default": base + "/trustgroup1/", "api_roots": []string{base + "/api1/", base + "/trustgroup1/"}})
	case len(parts) >= 1 && parts[0] != "trustgroup1":
		m.fail(w, medError{404, "API root '" + parts[0] + "' information not found"})
	case len(parts) == 1:
		m.write(w, 200, nil, map[string]any{"title": "Malware Research Group", "versions": []string{"application/taxii+json;version=2.1"}, "max_content_length": m.maxContent})
	case len(parts) == 3 && parts[1] == "status":
		if st, ok := m.statuses[parts[2]]; ok {
			m.write(w, 200, nil, st)
		} else {
			m.fail(w, medError{404, "Status '" + parts[2] + "' not found"})
		}
	case len(parts) == 2 && parts[1] == "collections":
		m.write(w, 200, nil, map[string]any{"collections": []any{m.collection()}})
	case len(parts) >= 3 && parts[1] == "collections" && parts[2] != medallionCollection:
		m.fail(w, medError{404, "Collection '" + parts[2] + "' not found"})
	case len(parts) == 3:
		m.write(w, 200, nil, m.collection())
	case len(parts) == 4 && parts[3] == "manifest":
		m.read(w, r, "manifest", "")
	case len(parts) == 4 && parts[3] == "objects" && r.Method == http.MethodGet:
		m.read(w, r, "objects", "")
	case len(parts) == 4 && parts[3] == "objects" && r.Method == http.MethodPost:
		m.add(w, r)
	case len(parts) == 5 && parts[3] == "objects" && r.Method == http.MethodGet:
		m.read(w, r, "object", parts[4])
	case len(parts) == 5 && parts[3] == "objects" && r.Method == http.MethodDelete:
		m.remove(w, r, parts[4])
	case len(parts) == 6 && parts[5] == "versions":
		m.read(w, r, "versions", parts[4])
	default:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(404)
		io.WriteString(w, "<!doctype html><title>404 Not Found</title>")
	}
}

func (m *fakeMedallion) collection() map[string]any {
	return map[string]any{"id": medallionCollection, "title": "High Value Indicator Collection", "alias": m.alias,
		"can_read": true, "can_write": true, "media_types": []string{"application/stix+json;version=2.1"}}
}

// read is get_objects / get_object_manifest / get_object /
// get_object_versions over _get_objects, BasicFilter and get_next.
func (m *fakeMedallion) read(w http.ResponseWriter, r *http.Request, kind, objectID string) {
	q := r.URL.Query()
	args := map[string]string{} // request.args.to_dict(): the first value of each
	for k, v := range q {
		args[k] = v[0]
	}
	limit := m.maxPage // validate_limit_parameter
	if s, ok := args["limit"]; ok {
		n, err := strconv.Atoi(s)
		if err != nil {
			m.fail(w, medError{400, "The server did not understand the request or filter parameters"})
			return
		}
		if n <= 0 {
			m.fail(w, medError{400, "The limit parameter cannot be negative or zero"})
			return
		}
		limit = min(n, m.maxPage)
	}
	if objectID != "" {
		found := slices.ContainsFunc(m.objects, func(o *medObject) bool { return o.id == objectID })
		if !found {
			m.fail(w, medError{404, "Object '" + objectID + "' not found"})
			return
		}
		args["match[id]"] = objectID
	}
	split := func(a map[string]string) map[string][]string {
		out := map[string][]string{}
		for k, v := range a {
			if k == "limit" || k == "next" {
				continue
			}
			l := strings.Split(v, ",")
			sort.Strings(l)
			out[k] = l
		}
		return out
	}
	var page, rest []*medObject
	var next string
	if n := args["next"]; n != "" {
		rec, ok := m.pages[n]
		if !ok {
			m.fail(w, medError{400, "The server did not understand the request or filter parameters: 'next' not valid"})
			return
		}
		if fmt.Sprint(split(args)) != fmt.Sprint(rec.args) {
			m.fail(w, medError{400, "The server did not understand the request or filter parameters: params changed over subsequent transaction"})
			return
		}
		page, rest = rec.objects[:min(limit, len(rec.objects))], rec.objects[min(limit, len(rec.objects)):]
		if len(rest) > 0 {
			m.pages[n] = medPage{rec.args, rest}
			next = n
		} else {
			delete(m.pages, n)
		}
	} else {
		var matched []*medObject
		if aa, ok := args["added_after"]; ok {
			if _, ok := medParse(aa); !ok {
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				w.WriteHeader(500) // an uncaught ValueError from strptime
				return
			}
		}
		after, _ := medParse(args["added_after"])
		for _, o := range m.objects {
			if v := args["match[type]"]; v != "" && kind != "versions" && !slices.Contains(strings.Split(v, ","), o.typ) {
				continue
			}
			if v := args["match[id]"]; v != "" && !slices.Contains(strings.Split(v, ","), o.id) {
				continue
			}
			if args["added_after"] != "" && !o.dateAdded.After(after) {
				continue
			}
			matched = append(matched, o)
		}
		if kind != "versions" {
			matched = medFilterVersion(matched, args["match[version]"])
		}
		sort.SliceStable(matched, func(i, j int) bool { return matched[i].dateAdded.Before(matched[j].dateAdded) })
		page, rest = matched[:min(limit, len(matched))], matched[min(limit, len(matched)):]
		if len(rest) > 0 {
			next = m.uuid()
			m.pages[next] = medPage{split(args), rest}
		}
	}
	headers := map[string]string{}
	if len(page) > 0 {
		headers["X-TAXII-Date-Added-First"] = medTimestamp(page[0].dateAdded)
		headers["X-TAXII-Date-Added-Last"] = medTimestamp(page[len(page)-1].dateAdded)
	}
	// create_resource: {} without items; more, and next only with more.
	res := map[string]any{}
	if len(page) > 0 {
		var items []any
		for _, o := range page {
			switch kind {
			case "manifest":
				items = append(items, map[string]any{"id": o.id, "date_added": medTimestamp(o.dateAdded), "version": medTimestamp(o.version), "media_type": "application/stix+json;version=2.1"})
			case "versions":
				items = append(items, medTimestamp(o.version))
			default:
				items = append(items, o.raw)
			}
		}
		key := "objects"
		if kind == "versions" {
			key = "versions"
		}
		res[key] = items
		res["more"] = next != ""
		if next != "" {
			res["next"] = next
		}
	}
	m.write(w, 200, headers, res)
}

// medFilterVersion is BasicFilter.filter_by_version: default "last".
func medFilterVersion(objs []*medObject, version string) []*medObject {
	if version == "" {
		version = "last"
	}
	ind := strings.Split(version, ",")
	if slices.Contains(ind, "all") {
		return objs
	}
	first, last := map[string]*medObject{}, map[string]*medObject{}
	for _, o := range objs {
		if f := first[o.id]; f == nil || o.version.Before(f.version) {
			first[o.id] = o
		}
		if l := last[o.id]; l == nil || o.version.After(l.version) {
			last[o.id] = o
		}
	}
	var out []*medObject
	for _, o := range objs {
		keep := (slices.Contains(ind, "first") && first[o.id] == o) || (slices.Contains(ind, "last") && last[o.id] == o)
		for _, v := range ind {
			if t, ok := medParse(v); ok && t.Equal(o.version) {
				keep = true
			}
		}
		if keep {
			out = append(out, o)
		}
	}
	return out
}

// add is the POST of get_or_add_objects and MemoryBackend.add_objects.
func (m *fakeMedallion) add(w http.ResponseWriter, r *http.Request) {
	if e := medCheckMedia(r.Header.Get("Content-Type"), http.StatusUnsupportedMediaType); e != nil {
		m.fail(w, *e)
		return
	}
	// validate_size_in_request_body: int(request.headers["Content-Length"]).
	cl, err := strconv.Atoi(r.Header.Get("Content-Length"))
	if err != nil {
		m.fail(w, medError{400, "The server did not understand the request or headers"})
		return
	}
	if cl > m.maxContent || cl <= 0 {
		m.fail(w, medError{413, "Content-Length header not valid or exceeds maximum!"})
		return
	}
	body, _ := io.ReadAll(r.Body)
	var env struct {
		Objects []json.RawMessage `json:"objects"`
	}
	if err := json.Unmarshal(body, &env); err != nil || env.Objects == nil {
		m.fail(w, medError{422, `Invalid TAXII envelope: missing "objects" property`})
		return
	}
	m.clock = m.clock.Add(time.Second)
	now := m.clock
	successes, failures := []any{}, []any{}
	for _, raw := range env.Objects {
		var o struct{ ID, Type, Modified, Created string }
		if err := json.Unmarshal(raw, &o); err != nil || o.ID == "" {
			failures = append(failures, map[string]any{"id": "<unknown id>", "version": "<unknown version>", "message": "Not an object"})
			continue
		}
		vs := o.Modified
		if vs == "" {
			vs = o.Created
		}
		v, ok := medParse(vs)
		if !ok {
			v = now
		}
		detail := map[string]any{"id": o.ID, "version": medTimestamp(v)}
		if slices.ContainsFunc(m.objects, func(x *medObject) bool { return x.id == o.ID && x.version.Equal(v) }) {
			detail["message"] = "Object already added"
		} else {
			m.objects = append(m.objects, &medObject{raw: raw, id: o.ID, typ: o.Type, version: v, dateAdded: now})
			now = now.Add(time.Microsecond) // one request_time in medallion; distinct here for a stable order
		}
		successes = append(successes, detail)
	}
	st := map[string]any{"id": m.uuid(), "status": "complete", "request_timestamp": medTimestamp(m.clock),
		"total_count": len(successes) + len(failures), "success_count": len(successes), "failure_count": len(failures), "pending_count": 0}
	if len(successes) > 0 {
		st["successes"] = successes
	}
	if len(failures) > 0 {
		st["failures"] = failures
	}
	m.statuses[st["id"].(string)] = st
	m.write(w, http.StatusAccepted, nil, st)
}

// remove is DELETE: 200 with an empty body.
func (m *fakeMedallion) remove(w http.ResponseWriter, r *http.Request, objectID string) {
	var keep, del []*medObject
	for _, o := range m.objects {
		if o.id == objectID {
			del = append(del, o)
		} else {
			keep = append(keep, o)
		}
	}
	if len(del) == 0 {
		m.fail(w, medError{404, "Object '" + objectID + "' not found"})
		return
	}
	if v := r.URL.Query().Get("match[version]"); v != "" {
		sel := medFilterVersion(del, v)
		for _, o := range del {
			if !slices.Contains(sel, o) {
				keep = append(keep, o)
			}
		}
	}
	m.objects = keep
	m.write(w, 200, nil, nil)
}

func (m *fakeMedallion) client(t *testing.T, base string) *Client {
	t.Helper()
	c, err := NewClient(ClientConfig{BaseURL: m.server.URL + base, User: "admin", Token: "Password0", StatusWait: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// requests returns the logged requests and clears the log.
func (m *fakeMedallion) requests() []*http.Request {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := m.log
	m.log = nil
	return out
}

func medIndicators(from, n int, modified string) []json.RawMessage {
	var out []json.RawMessage
	for i := from; i < from+n; i++ {
		out = append(out, json.RawMessage(indicator(i, modified)))
	}
	return out
}

// TestClientAgainstMedallion drives every client operation against the
// fake medallion and checks the requests it made.
func TestClientAgainstMedallion(t *testing.T) {
	ctx := t.Context()
	m := newFakeMedallion(t, 5)
	c := m.client(t, "") // from the server root: discovery's default

	d, err := c.Discovery(ctx)
	if err != nil || d.Default == "" {
		t.Fatalf("discovery: %+v %v", d, err)
	}
	root, err := c.APIRoot(ctx)
	if err != nil || root.MaxContentLength != 9765625 || root.Title == "" {
		t.Fatalf("api root: %+v %v", root, err)
	}
	cols, err := c.Collections(ctx)
	if err != nil || len(cols) != 1 || cols[0].ID != medallionCollection || !cols[0].CanWrite {
		t.Fatalf("collections: %+v %v", cols, err)
	}
	// medallion routes collections by id only; the alias is resolved
	// through the collections list.
	for _, name := range []string{medallionCollection, "intel"} {
		if col, err := c.Collection(ctx, name); err != nil || col.ID != medallionCollection {
			t.Fatalf("collection %s: %+v %v", name, col, err)
		}
	}
	if _, err := c.Collection(ctx, "nope"); !isHTTP(err, 404) {
		t.Fatalf("unknown collection: %v", err)
	}

	// Add Objects: 12 indicators, then 3 second versions and 2 repeats.
	m.requests()
	st, err := c.AddObjects(ctx, "intel", medIndicators(0, 12, "2021-01-01T00:00:00.000Z"))
	if err != nil || st.Status != StatusComplete || st.SuccessCount != 12 || st.TotalCount != 12 {
		t.Fatalf("add: %+v %v", st, err)
	}
	more := append(medIndicators(0, 3, "2021-02-01T00:00:00.000Z"), medIndicators(3, 2, "2021-01-01T00:00:00.000Z")...)
	if st, err = c.AddObjects(ctx, medallionCollection, more); err != nil || st.SuccessCount != 5 || len(st.Failures) != 0 {
		t.Fatalf("add again: %+v %v", st, err)
	}
	for _, r := range m.requests() {
		if r.Header.Get("Accept") != "application/taxii+json;version=2.1" {
			t.Errorf("%s %s: Accept %q", r.Method, r.URL, r.Header.Get("Accept"))
		}
		if r.Method == http.MethodPost && (r.Header.Get("Content-Type") != "application/taxii+json;version=2.1" || r.ContentLength <= 0) {
			t.Errorf("POST: Content-Type %q, Content-Length %d", r.Header.Get("Content-Type"), r.ContentLength)
		}
	}
	if s2, err := c.Status(ctx, st.ID); err != nil || s2.ID != st.ID || s2.SuccessCount != 5 {
		t.Fatalf("status: %+v %v", s2, err)
	}

	// Iterate follows next, sending the first page's filters with it (a
	// different set is a 400 in medallion); pages of 3 under a server
	// maximum of 5.
	for _, tc := range []struct {
		name string
		f    Filter
		want int
	}{
		{"latest versions", Filter{Limit: 3, Types: []string{"indicator"}}, 12},
		{"all versions", Filter{Limit: 3, Versions: []string{"all"}}, 15},
		{"server page size", Filter{Versions: []string{"all"}}, 15},
		{"added_after from the server", Filter{Limit: 4, Versions: []string{"all"}, AddedAfter: "2024-05-06T07:08:10.000011Z"}, 3},
		{"ids", Filter{Limit: 1, IDs: []string{indicatorID(2), indicatorID(1)}}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seen := map[string]bool{}
			n, pages := 0, 0
			err := c.Iterate(ctx, "intel", tc.f, func(p *ObjectsPage) error {
				pages++
				for _, o := range p.Objects {
					var v struct{ ID, Modified string }
					json.Unmarshal(o, &v)
					if seen[v.ID+v.Modified] {
						t.Errorf("repeated %s %s", v.ID, v.Modified)
					}
					seen[v.ID+v.Modified] = true
					n++
				}
				if len(p.Objects) > 0 && (p.DateAddedFirst == "" || p.DateAddedLast == "") {
					t.Errorf("page without date headers")
				}
				return nil
			})
			if err != nil || n != tc.want {
				t.Fatalf("%d objects in %d pages, want %d: %v", n, pages, tc.want, err)
			}
		})
	}
	// A next sent with other filters is refused, as medallion refuses it.
	p, err := c.GetObjects(ctx, "intel", Filter{Limit: 2})
	if err != nil || !p.More || p.Next == "" {
		t.Fatalf("first page: %+v %v", p, err)
	}
	if _, err := c.GetObjects(ctx, "intel", Filter{Limit: 2, Next: p.Next, Types: []string{"indicator"}}); !isHTTP(err, 400) {
		t.Fatalf("changed filters: %v", err)
	}
	var he *HTTPError
	if _, err := c.GetObjects(ctx, "intel", Filter{Next: "bogus"}); !isHTTP(err, 400) || !asHTTP(err, &he) || he.TAXII == nil || he.TAXII.HTTPStatus != "400" {
		t.Fatalf("bad next: %v", err)
	}

	// Manifest, object, versions, delete.
	man, err := c.Manifest(ctx, "intel", Filter{Versions: []string{"all"}, Limit: 5})
	if err != nil || len(man.Objects) != 5 || !man.More || man.Objects[0].DateAdded == "" || man.Objects[0].Version == "" {
		t.Fatalf("manifest: %+v %v", man, err)
	}
	obj, err := c.GetObject(ctx, "intel", indicatorID(0), Filter{Versions: []string{"all"}})
	if err != nil || len(obj.Objects) != 2 {
		t.Fatalf("object: %+v %v", obj, err)
	}
	vs, err := c.Versions(ctx, "intel", indicatorID(0), Filter{})
	if err != nil || len(vs.Versions) != 2 {
		t.Fatalf("versions: %+v %v", vs, err)
	}
	if err := c.DeleteObject(ctx, "intel", indicatorID(0), Filter{Versions: []string{"first"}}); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if vs, err = c.Versions(ctx, "intel", indicatorID(0), Filter{}); err != nil || len(vs.Versions) != 1 {
		t.Fatalf("versions after delete: %+v %v", vs, err)
	}
	if _, err := c.GetObject(ctx, "intel", indicatorID(99), Filter{}); !isHTTP(err, 404) {
		t.Fatalf("missing object: %v", err)
	}
	// Empty results are {}.
	if p, err := c.GetObjects(ctx, "intel", Filter{Types: []string{"campaign"}}); err != nil || p.More || len(p.Objects) != 0 {
		t.Fatalf("empty: %+v %v", p, err)
	}

	// Wrong password: medallion's plain-text 401.
	bad, _ := NewClient(ClientConfig{BaseURL: m.server.URL + "/trustgroup1/", User: "admin", Token: "nope"})
	if _, err := bad.APIRoot(ctx); !isHTTP(err, 401) {
		t.Fatalf("401: %v", err)
	}
}

func isHTTP(err error, code int) bool {
	var he *HTTPError
	return asHTTP(err, &he) && he.StatusCode == code
}

func asHTTP(err error, he **HTTPError) bool {
	e, ok := err.(*HTTPError)
	if ok {
		*he = e
	}
	return ok
}

// TestMedallionMediaTypeChecks pins down what the fake medallion refuses,
// the reason the client sends exactly application/taxii+json;version=2.1.
func TestMedallionMediaTypeChecks(t *testing.T) {
	m := newFakeMedallion(t, 5)
	for accept, want := range map[string]int{
		"application/taxii+json;version=2.1":     200,
		"application/taxii+json; version=2.1":    200,
		"application/taxii+json":                 406,
		"*/*":                                    406,
		"application/taxii+json;version=2.1;q=1": 406,
	} {
		req, _ := http.NewRequest("GET", m.server.URL+"/trustgroup1/", nil)
		req.SetBasicAuth("admin", "Password0")
		req.Header.Set("Accept", accept)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("Accept %q: %d, want %d", accept, resp.StatusCode, want)
		}
	}
	if !strings.HasPrefix(MediaTypeTAXII, "application/taxii+json;version=2.1") || MediaTypeTAXII != "application/taxii+json;version=2.1" {
		t.Errorf("the client's media type %q is not what medallion requires", MediaTypeTAXII)
	}
}
