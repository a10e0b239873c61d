package taxii

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jointcell/jointcell/internal/audit"
	"github.com/jointcell/jointcell/internal/stix"
	"github.com/jointcell/jointcell/internal/store"
)

var (
	uuid4Re = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	tsRe    = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$`)
)

const objectsPath = "/api/collections/" + collRW + "/objects/"

// Every response, errors and 401s included, carries the TAXII content type
// (checked by fixture.do on every request of every test) and 401 names
// every accepted scheme in WWW-Authenticate.
func TestUnauthenticatedGets401WithChallengeOnEveryEndpoint(t *testing.T) {
	f := newFixture(t)
	for _, path := range []string{"/taxii2/", "/api/", "/api/collections/", "/api/collections/rw/", "/api/collections/rw/objects/", "/api/status/x/", "/nowhere"} {
		for _, user := range []string{"", "mallory"} {
			res := f.get(t, user, path)
			if res.Code != http.StatusUnauthorized {
				t.Fatalf("%s as %q: %d, want 401", path, user, res.Code)
			}
			ch := res.Header.Get("WWW-Authenticate")
			if !strings.Contains(ch, "Basic") || !strings.Contains(ch, "Bearer") {
				t.Errorf("WWW-Authenticate = %q, want Basic and Bearer", ch)
			}
			res.taxiiError(t)
		}
	}
	// The authenticator audits its failures (internal/auth); the server
	// must not record them a second time.
	if n := len(f.audit.find(audit.ActionAuthFail, audit.OutcomeDenied)); n != 0 {
		t.Errorf("the server audited %d authentication failures itself", n)
	}
}

// Every client must be able to use HTTP Basic (TAXII 2.1 §1.6.9).
func TestBasicAuthenticationAccepted(t *testing.T) {
	f := newFixture(t)
	r := req{path: "/taxii2/", header: map[string]string{"Authorization": "Basic " + basic("alice", "secret")}}
	if res := f.do(t, r); res.Code != http.StatusOK {
		t.Fatalf("basic auth: %d %s", res.Code, res.Body)
	}
}

func basic(u, p string) string {
	r, _ := http.NewRequest("GET", "/", nil)
	r.SetBasicAuth(u, p)
	return strings.TrimPrefix(r.Header.Get("Authorization"), "Basic ")
}

// Discovery (TAXII 2.1 §4.1): title required, default one of api_roots.
func TestDiscovery(t *testing.T) {
	f := newFixture(t)
	res := f.get(t, "alice", "/taxii2/")
	if res.Code != http.StatusOK {
		t.Fatalf("discovery: %d", res.Code)
	}
	var d Discovery
	res.decode(t, &d)
	if d.Title != "test cell" || len(d.APIRoots) != 1 || d.Default != d.APIRoots[0] || !strings.HasSuffix(d.Default, "/api/") {
		t.Errorf("discovery = %+v", d)
	}
}

// API root (TAXII 2.1 §4.2): title, versions with the 2.1 media type,
// max_content_length > 0.
func TestAPIRoot(t *testing.T) {
	f := newFixture(t)
	res := f.get(t, "bob", "/api/")
	var a APIRoot
	res.decode(t, &a)
	if res.Code != http.StatusOK || a.Title == "" || !slices.Contains(a.Versions, "application/taxii+json;version=2.1") || a.MaxContentLength != DefaultMaxContentLength {
		t.Errorf("api root: %d %+v", res.Code, a)
	}
}

// Accept negotiation (TAXII 2.1 §1.6.8): the TAXII type with or without
// version and wildcards are served; anything else gets 406.
func TestAcceptNegotiation(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		accept string
		want   int
	}{
		{"application/taxii+json;version=2.1", 200},
		{"application/taxii+json; version=2.1", 200},
		{"application/taxii+json", 200},
		{"*/*", 200},
		{"application/*", 200},
		{"", 200},
		{"text/html, application/taxii+json;version=2.1;q=0.9", 200},
		{"application/taxii+json;version=2.0", 406},
		{"application/json", 406},
		{"application/stix+json;version=2.1", 406},
		{"text/html", 406},
		{"application/taxii+json;version=2.1;q=0", 406},
	}
	for _, tt := range tests {
		res := f.do(t, req{path: "/api/collections/", user: "alice", header: map[string]string{"Accept": tt.accept}})
		if res.Code != tt.want {
			t.Errorf("Accept %q: %d, want %d", tt.accept, res.Code, tt.want)
		}
		if tt.want == 406 {
			res.taxiiError(t)
		}
	}
}

// A POST with an unsupported Content-Type gets 415.
func TestPostContentType415(t *testing.T) {
	f := newFixture(t)
	for ct, want := range map[string]int{
		"application/taxii+json;version=2.1":  202,
		"application/taxii+json; version=2.1": 202,
		"application/taxii+json":              202,
		"application/json":                    415,
		"application/taxii+json;version=2.0":  415,
		"text/plain":                          415,
		"":                                    415,
	} {
		res := f.do(t, req{method: "POST", path: objectsPath, user: "alice", body: envelope(indicator(1, "2020-01-01T00:00:00.000Z")), header: map[string]string{"Content-Type": ct}})
		if res.Code != want {
			t.Errorf("Content-Type %q: %d, want %d", ct, res.Code, want)
		}
	}
}

// All paths end in "/": a path missing only the final slash is redirected
// to it (307 keeps the method and body), anything else unknown is a TAXII
// 404, and an unsupported method a TAXII 405.
func TestPathsAndMethods(t *testing.T) {
	f := newFixture(t)
	for _, tt := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/taxii2", 307},
		{"GET", "/api", 307},
		{"GET", "/api/collections", 307},
		{"GET", "/api/collections/rw/objects", 307},
		{"GET", "/api/unknown/", 404},
		{"PUT", "/api/collections/rw/objects/", 405},
		{"POST", "/taxii2/", 405},
		{"DELETE", "/api/collections/rw/", 405},
		{"HEAD", "/api/collections/", 200},
	} {
		res := f.do(t, req{method: tt.method, path: tt.path, user: "alice"})
		if res.Code != tt.want {
			t.Errorf("%s %s: %d, want %d", tt.method, tt.path, res.Code, tt.want)
		}
		if tt.want == 307 && res.Header.Get("Location") != tt.path+"/" {
			t.Errorf("%s %s: redirected to %q", tt.method, tt.path, res.Header.Get("Location"))
		}
		if tt.want == 405 && res.Header.Get("Allow") == "" {
			t.Errorf("%s %s: 405 without Allow", tt.method, tt.path)
		}
	}
}

// Collections (TAXII 2.1 §5.1): {} when there are none for this client,
// only those it can read or write otherwise.
func TestCollections(t *testing.T) {
	f := newFixture(t)
	res := f.get(t, "bob", "/api/collections/")
	if res.Code != 200 || string(res.Body) != "{}" {
		t.Errorf("bob's collections: %d %s, want {}", res.Code, res.Body)
	}
	var cs Collections
	f.get(t, "alice", "/api/collections/").decode(t, &cs)
	got := map[string][2]bool{}
	for _, c := range cs.Collections {
		got[c.ID] = [2]bool{c.CanRead, c.CanWrite}
	}
	want := map[string][2]bool{collRW: {true, true}, collRO: {true, false}, collWO: {false, true}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("alice's collections = %v, want %v", got, want)
	}
	f.get(t, "admin", "/api/collections/").decode(t, &cs)
	if len(cs.Collections) != 4 {
		t.Errorf("admin sees %d collections, want 4", len(cs.Collections))
	}
}

// Collection (TAXII 2.1 §5.2) by id or alias, with can_read and can_write
// as seen by this client; no right at all is a 404, like a missing one.
func TestCollectionByIDOrAlias(t *testing.T) {
	f := newFixture(t)
	for _, tt := range []struct {
		user, coll string
		code       int
		read, wr   bool
	}{
		{"alice", collRW, 200, true, true},
		{"alice", "rw", 200, true, true},
		{"alice", "ro", 200, true, false},
		{"alice", collWO, 200, false, true},
		{"alice", "none", 404, false, false},
		{"alice", "missing", 404, false, false},
		{"bob", "rw", 404, false, false},
		{"admin", "none", 200, true, true},
	} {
		res := f.get(t, tt.user, "/api/collections/"+tt.coll+"/")
		if res.Code != tt.code {
			t.Errorf("%s %s: %d, want %d", tt.user, tt.coll, res.Code, tt.code)
			continue
		}
		if tt.code != 200 {
			if e := res.taxiiError(t); strings.Contains(e.Description, "right") {
				t.Errorf("404 reveals the collection: %q", e.Description)
			}
			continue
		}
		var c Collection
		res.decode(t, &c)
		if c.CanRead != tt.read || c.CanWrite != tt.wr || c.Title == "" || c.ID == "" || !bytes.Contains(res.Body, []byte(`"can_write"`)) {
			t.Errorf("%s %s: %s", tt.user, tt.coll, res.Body)
		}
	}
}

// Add Objects (TAXII 2.1 §5.5) answers 202 and a status resource (§4.3.1)
// with a UUIDv4 id, complete, all counts, and details {id, version}; the
// status is then readable by its owner (and admins) only.
func TestAddObjectsStatus(t *testing.T) {
	f := newFixture(t)
	res, st := f.post(t, "alice", collRW,
		indicator(1, "2020-01-01T00:00:00.000Z"),
		indicator(2, "2020-01-02T00:00:00.000Z"),
		`{"type":"x-refused","spec_version":"2.1","id":"x-refused--`+uuidN(3)+`","created":"2020-01-01T00:00:00.000Z","modified":"2020-01-01T00:00:00.000Z"}`,
		`{"type":"indicator","id":"malware--`+uuidN(4)+`"}`,
	)
	if res.Code != http.StatusAccepted {
		t.Fatalf("post: %d %s", res.Code, res.Body)
	}
	if !uuid4Re.MatchString(st.ID) || st.Status != "complete" || st.TotalCount != 4 || st.SuccessCount != 2 || st.FailureCount != 2 || st.PendingCount != 0 {
		t.Errorf("status = %+v", st)
	}
	for _, k := range []string{`"total_count"`, `"success_count"`, `"failure_count"`, `"pending_count"`} {
		if !bytes.Contains(res.Body, []byte(k)) {
			t.Errorf("status lacks %s", k)
		}
	}
	if st.Successes[0] != (StatusDetail{ID: indicatorID(1), Version: "2020-01-01T00:00:00.000Z"}) {
		t.Errorf("success detail = %+v", st.Successes[0])
	}
	for _, fl := range st.Failures {
		if fl.Message == "" || fl.ID == "" {
			t.Errorf("failure without id or message: %+v", fl)
		}
	}
	if !strings.Contains(st.Failures[0].Message, "refused") {
		t.Errorf("policy failure message = %q", st.Failures[0].Message)
	}
	statusPath := "/api/status/" + st.ID + "/"
	for user, want := range map[string]int{"alice": 200, "admin": 200, "alice2": 404, "bob": 404} {
		if res := f.get(t, user, statusPath); res.Code != want {
			t.Errorf("status as %s: %d, want %d", user, res.Code, want)
		}
	}
	var again Status
	f.get(t, "alice", statusPath).decode(t, &again)
	if again.ID != st.ID || again.SuccessCount != 2 || again.FailureCount != 2 {
		t.Errorf("stored status = %+v", again)
	}
	if len(f.audit.find(audit.ActionWrite, audit.OutcomeOK)) != 1 {
		t.Error("write not audited")
	}
}

// Statuses live at least 24 hours, then 404.
func TestStatusExpires(t *testing.T) {
	f := newFixture(t)
	_, st := f.post(t, "alice", collRW, indicator(1, "2020-01-01T00:00:00.000Z"))
	f.advance(23 * time.Hour)
	if res := f.get(t, "alice", "/api/status/"+st.ID+"/"); res.Code != 200 {
		t.Fatalf("status after 23h: %d", res.Code)
	}
	f.advance(2 * time.Hour)
	if res := f.get(t, "alice", "/api/status/"+st.ID+"/"); res.Code != 404 {
		t.Fatalf("status after 25h: %d, want 404", res.Code)
	}
}

// An exact duplicate of a stored version is a success, never an error; a
// different object with the same id and version is a failure.
func TestDuplicateIsSuccess(t *testing.T) {
	f := newFixture(t)
	obj := indicator(1, "2020-01-01T00:00:00.000Z")
	f.post(t, "alice", collRW, obj)
	_, st := f.post(t, "alice", collRW, obj, obj)
	if st.SuccessCount != 2 || st.FailureCount != 0 {
		t.Errorf("duplicates: %+v", st)
	}
	_, st = f.post(t, "alice", collRW, indicator(1, "2020-01-01T00:00:00.000Z", `"description":"changed"`))
	if st.FailureCount != 1 || st.Failures[0].Message == "" {
		t.Errorf("conflicting version: %+v", st)
	}
	var env Envelope
	f.get(t, "alice", objectsPath+"?match[version]=all").decode(t, &env)
	if len(env.Objects) != 1 {
		t.Errorf("%d versions stored, want 1", len(env.Objects))
	}
}

// A body larger than max_content_length gets 413, by its Content-Length or
// while it streams; one of exactly that size must never get 413.
func TestMaxContentLength413(t *testing.T) {
	obj := indicator(1, "2020-01-01T00:00:00.000Z")
	exact := envelope(obj)
	f := newFixture(t, func(c *Config) { c.MaxContentLength = int64(len(exact)) })
	if res := f.do(t, req{method: "POST", path: objectsPath, user: "alice", body: exact}); res.Code != 202 {
		t.Fatalf("body of exactly max_content_length: %d", res.Code)
	}
	over := append(bytes.Clone(exact[:len(exact)-1]), ' ', '}')
	res := f.do(t, req{method: "POST", path: objectsPath, user: "alice", body: over})
	if res.Code != 413 {
		t.Fatalf("body one byte over: %d, want 413", res.Code)
	}
	res.taxiiError(t)
	// Without Content-Length (chunked), the limit holds while reading.
	r := req{method: "POST", path: objectsPath, user: "alice", body: over}
	w := f.doChunked(t, r)
	if w.Code != 413 {
		t.Fatalf("chunked body over the limit: %d, want 413", w.Code)
	}
}

// A malformed or unsupported body gets 422 with a TAXII error naming the
// problem.
func TestMalformedEnvelope422(t *testing.T) {
	f := newFixture(t)
	for _, body := range []string{
		``, `[]`, `not json`, `{"objects":`, `{"objects":{}}`, `{"objects":[1]}`, `{"objects":["x"]}`,
		`{"type":"indicator","id":"indicator--` + uuidN(1) + `"}`,
		`{"objects":[{"id":1}]}`,
	} {
		res := f.do(t, req{method: "POST", path: objectsPath, user: "alice", body: []byte(body)})
		if res.Code != 422 {
			t.Errorf("body %q: %d, want 422", body, res.Code)
			continue
		}
		if e := res.taxiiError(t); e.Description == "" {
			t.Errorf("422 without description")
		}
	}
}

// Objects are stored and served byte-exact: timestamps are never
// re-formatted.
func TestObjectsServedByteExact(t *testing.T) {
	f := newFixture(t)
	obj := `{"type":"indicator","spec_version":"2.1","id":"indicator--` + uuidN(9) + `","created":"2020-01-01T00:00:00.100Z","modified":"2020-01-01T00:00:00.123456Z",  "name":"x","pattern":"[a:b = 'c']","pattern_type":"stix","valid_from":"2020-01-01T00:00:00Z"}`
	f.post(t, "alice", collRW, obj)
	res := f.get(t, "alice", objectsPath+indicatorID(9)+"/")
	if want := `{"objects":[` + obj + `]}`; string(res.Body) != want {
		t.Errorf("got  %s\nwant %s", res.Body, want)
	}
}

// Manifest, objects, object and versions answer 200 with the
// X-TAXII-Date-Added headers (microsecond UTC), and an empty result is {}.
func TestReadEndpointsAndDateHeaders(t *testing.T) {
	f := newFixture(t)
	f.post(t, "alice", collRW, indicator(1, "2020-01-01T00:00:00.000Z"), malware(2, "2020-01-01T00:00:00.000Z"))
	f.post(t, "alice", collRW, indicator(1, "2020-02-01T00:00:00.000Z"))
	for _, path := range []string{"manifest/", "objects/", "objects/" + indicatorID(1) + "/", "objects/" + indicatorID(1) + "/versions/"} {
		res := f.get(t, "alice", "/api/collections/rw/"+path)
		first, last := res.Header.Get("X-TAXII-Date-Added-First"), res.Header.Get("X-TAXII-Date-Added-Last")
		if res.Code != 200 || !tsRe.MatchString(first) || !tsRe.MatchString(last) || first > last {
			t.Errorf("%s: %d first %q last %q", path, res.Code, first, last)
		}
	}
	var m Manifest
	f.get(t, "alice", "/api/collections/rw/manifest/").decode(t, &m)
	if len(m.Objects) != 2 || m.Objects[0].ID != "malware--"+uuidN(2) || m.Objects[1].Version != "2020-02-01T00:00:00.000Z" ||
		m.Objects[1].MediaType != MediaTypeSTIX || !tsRe.MatchString(m.Objects[1].DateAdded) {
		t.Errorf("manifest = %+v", m)
	}
	var vs Versions
	f.get(t, "alice", "/api/collections/rw/objects/"+indicatorID(1)+"/versions/").decode(t, &vs)
	if fmt.Sprint(vs.Versions) != "[2020-01-01T00:00:00.000Z 2020-02-01T00:00:00.000Z]" {
		t.Errorf("versions = %v", vs.Versions)
	}
	for _, path := range []string{"manifest/", "objects/"} {
		res := f.get(t, "alice", "/api/collections/ro/"+path)
		if res.Code != 200 || string(res.Body) != "{}" {
			t.Errorf("empty %s: %d %s, want {}", path, res.Code, res.Body)
		}
	}
	res := f.get(t, "alice", "/api/collections/rw/objects/?added_after=2030-01-01T00:00:00Z")
	if res.Code != 200 || string(res.Body) != "{}" {
		t.Errorf("empty page: %s", res.Body)
	}
}

// An object that does not exist, or that the client may not see, is 404
// on the object and versions endpoints; an existing object whose versions
// are all filtered out is an empty 200.
func TestObjectNotFoundAndInvisible(t *testing.T) {
	f := newFixture(t)
	f.post(t, "alice", collRW,
		indicator(1, "2020-01-01T00:00:00.000Z", `"object_marking_refs":["`+privateMark+`"]`),
		indicator(2, "2020-01-01T00:00:00.000Z", `"x_withhold":true`),
		indicator(3, "2020-01-01T00:00:00.000Z"))
	if err := f.db.UpdateCollection(t.Context(), mustCollection(t, f, collRW, func(c *collectionEdit) { c.readBy = append(c.readBy, "org:"+orgB) })); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		user string
		n    int
		want int
	}{
		{"alice", 1, 200}, {"bob", 1, 404}, {"alice", 2, 404}, {"bob", 3, 200}, {"bob", 99, 404},
	} {
		for _, suffix := range []string{"/", "/versions/"} {
			res := f.get(t, tt.user, objectsPath+indicatorID(tt.n)+suffix)
			if res.Code != tt.want {
				t.Errorf("%s object %d%s: %d, want %d", tt.user, tt.n, suffix, res.Code, tt.want)
			}
		}
	}
	var env Envelope
	f.get(t, "bob", objectsPath).decode(t, &env)
	if got := ids(t, env.Objects); fmt.Sprint(got) != fmt.Sprint([]string{indicatorID(3)}) {
		t.Errorf("bob sees %v", got)
	}
	res := f.get(t, "alice", objectsPath+indicatorID(3)+"/?match[version]=2019-01-01T00:00:00Z")
	if res.Code != 200 || string(res.Body) != "{}" {
		t.Errorf("filtered-out object: %d %s", res.Code, res.Body)
	}
	if res := f.get(t, "alice", objectsPath+"not-an-id/"); res.Code != 404 {
		t.Errorf("malformed object id: %d", res.Code)
	}
}

type collectionEdit struct{ readBy, writeBy []string }

func mustCollection(t *testing.T, f *fixture, id string, edit func(*collectionEdit)) store.Collection {
	t.Helper()
	c, err := f.db.Collection(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	e := collectionEdit{readBy: c.ReadBy, writeBy: c.WriteBy}
	edit(&e)
	c.ReadBy, c.WriteBy = e.readBy, e.writeBy
	return c
}

// The permission matrix: can_read/can_write combinations × endpoints.
// Without can_read the read endpoints answer 404 (as for a missing
// collection); POST without can_write is 403 when the client can read the
// collection and 404 when it cannot; DELETE is 404 with neither right, 403
// with one, and deletes with both (TAXII 2.1 §5.7).
func TestPermissionMatrix(t *testing.T) {
	f := newFixture(t)
	obj := indicator(1, "2020-01-01T00:00:00.000Z")
	for _, c := range []string{collRW, collRO, collWO, collNone} {
		if _, st := f.post(t, "admin", c, obj); st.SuccessCount != 1 {
			t.Fatalf("seed %s: %+v", c, st)
		}
	}
	id := indicatorID(1)
	type row struct{ manifest, objects, object, versions, post, del int }
	want := map[string]row{
		"rw":      {200, 200, 200, 200, 202, 200},
		"ro":      {200, 200, 200, 200, 403, 403},
		"wo":      {404, 404, 404, 404, 202, 403},
		"none":    {404, 404, 404, 404, 404, 404},
		"missing": {404, 404, 404, 404, 404, 404},
	}
	for alias, w := range want {
		base := "/api/collections/" + alias + "/"
		got := row{
			manifest: f.get(t, "alice", base+"manifest/").Code,
			objects:  f.get(t, "alice", base+"objects/").Code,
			object:   f.get(t, "alice", base+"objects/"+id+"/").Code,
			versions: f.get(t, "alice", base+"objects/"+id+"/versions/").Code,
			post:     f.do(t, req{method: "POST", path: base + "objects/", user: "alice", body: envelope(indicator(2, "2020-01-01T00:00:00.000Z"))}).Code,
			del:      f.do(t, req{method: "DELETE", path: base + "objects/" + id + "/", user: "alice"}).Code,
		}
		if got != w {
			t.Errorf("%s: got %+v, want %+v", alias, got, w)
		}
	}
	if len(f.audit.find(audit.ActionRead, audit.OutcomeDenied)) == 0 || len(f.audit.find(audit.ActionDelete, audit.OutcomeDenied)) == 0 {
		t.Error("denied accesses not audited")
	}
}

// After a DELETE with both rights the object no longer appears anywhere in
// the collection; match[version] and match[spec_version] select what goes.
func TestDeleteObject(t *testing.T) {
	f := newFixture(t)
	f.post(t, "alice", collRW, indicator(1, "2020-01-01T00:00:00.000Z"), indicator(1, "2020-02-01T00:00:00.000Z"), indicator(1, "2020-03-01T00:00:00.000Z"), indicator(2, "2020-01-01T00:00:00.000Z"))
	obj := objectsPath + indicatorID(1) + "/"
	if res := f.do(t, req{method: "DELETE", path: obj + "?match[version]=first", user: "alice"}); res.Code != 200 {
		t.Fatalf("delete first: %d %s", res.Code, res.Body)
	}
	var vs Versions
	f.get(t, "alice", obj+"versions/").decode(t, &vs)
	if fmt.Sprint(vs.Versions) != "[2020-02-01T00:00:00.000Z 2020-03-01T00:00:00.000Z]" {
		t.Errorf("after deleting first: %v", vs.Versions)
	}
	if res := f.do(t, req{method: "DELETE", path: obj + "?match[version]=2020-03-01T00:00:00.000Z", user: "alice"}); res.Code != 200 {
		t.Fatalf("delete exact: %d", res.Code)
	}
	if res := f.do(t, req{method: "DELETE", path: obj + "?match[spec_version]=2.0", user: "alice"}); res.Code != 404 {
		t.Errorf("delete of no matching spec version: %d, want 404", res.Code)
	}
	if res := f.do(t, req{method: "DELETE", path: obj, user: "alice"}); res.Code != 200 {
		t.Fatalf("delete all: %d", res.Code)
	}
	for _, p := range []string{obj, obj + "versions/"} {
		if res := f.get(t, "alice", p); res.Code != 404 {
			t.Errorf("%s after delete: %d", p, res.Code)
		}
	}
	var m Manifest
	f.get(t, "alice", "/api/collections/rw/manifest/?match[version]=all").decode(t, &m)
	if len(m.Objects) != 1 || m.Objects[0].ID != indicatorID(2) {
		t.Errorf("manifest after delete: %+v", m)
	}
	if res := f.do(t, req{method: "DELETE", path: obj, user: "alice"}); res.Code != 404 {
		t.Errorf("second delete: %d, want 404", res.Code)
	}
	if res := f.do(t, req{method: "DELETE", path: obj + "?match[version]=bad", user: "alice"}); res.Code != 400 {
		t.Errorf("delete with a bad filter: %d, want 400", res.Code)
	}
	if len(f.audit.find(audit.ActionDelete, audit.OutcomeOK)) != 3 {
		t.Errorf("deletes audited: %d", len(f.audit.find(audit.ActionDelete, audit.OutcomeOK)))
	}
}

// seedFilters stores versions for the filter tests: two indicator versions,
// a malware and a STIX 2.0 indicator (no spec_version, so 2.0), in three
// POSTs.
func seedFilters(t *testing.T, f *fixture) {
	f.post(t, "alice", collRW, indicator(1, "2020-01-01T00:00:00.000Z"), malware(2, "2020-01-01T00:00:00.000Z"))
	f.post(t, "alice", collRW, indicator(1, "2020-02-01T00:00:00.000Z"))
	// STIX 2.0 objects are not valid STIX 2.1, so the server refuses them
	// on POST; peers may still deliver them, so one goes in through the
	// store.
	o, err := stix.DecodeObject([]byte(`{"type":"indicator","id":"indicator--` + uuidN(3) + `","created":"2020-01-01T00:00:00.000Z","modified":"2020-01-01T00:00:00.000Z","name":"old","pattern":"[a:b = 'c']","labels":["x"],"valid_from":"2020-01-01T00:00:00Z"}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.AddVersions(t.Context(), collRW, []store.Version{{Object: o, Audience: []string{store.ReaderAnyone}, Origin: "peer"}}); err != nil {
		t.Fatal(err)
	}
}

// Every filter of TAXII 2.1 §3.4: different fields AND, comma-separated
// values OR, match[version] last by default, match[spec_version] the
// latest by default, results ascending by date_added.
func TestFilters(t *testing.T) {
	f := newFixture(t)
	seedFilters(t, f)
	var m Manifest
	f.get(t, "alice", "/api/collections/rw/manifest/?match[version]=all").decode(t, &m)
	if len(m.Objects) != 4 {
		t.Fatalf("seed: %+v", m)
	}
	secondPost := m.Objects[1].DateAdded // the last of the first POST
	i1, m2, i3 := indicatorID(1), "malware--"+uuidN(2), indicatorID(3)
	tests := []struct {
		query string
		want  []string // id@version in order
	}{
		{"", []string{m2 + "@2020-01-01", i1 + "@2020-02-01", i3 + "@2020-01-01"}},
		{"match[version]=last", []string{m2 + "@2020-01-01", i1 + "@2020-02-01", i3 + "@2020-01-01"}},
		{"match[version]=first", []string{i1 + "@2020-01-01", m2 + "@2020-01-01", i3 + "@2020-01-01"}},
		{"match[version]=all", []string{i1 + "@2020-01-01", m2 + "@2020-01-01", i1 + "@2020-02-01", i3 + "@2020-01-01"}},
		{"match[version]=2020-02-01T00:00:00.000Z", []string{i1 + "@2020-02-01"}},
		{"match[version]=first,last&match[id]=" + i1, []string{i1 + "@2020-01-01", i1 + "@2020-02-01"}},
		{"match[type]=malware", []string{m2 + "@2020-01-01"}},
		{"match[type]=malware,indicator&match[id]=" + m2 + "," + i3, []string{m2 + "@2020-01-01", i3 + "@2020-01-01"}},
		{"match[type]=malware&match[id]=" + i1, nil},
		{"match[id]=" + i1, []string{i1 + "@2020-02-01"}},
		{"match[spec_version]=2.0", []string{i3 + "@2020-01-01"}},
		{"match[spec_version]=2.1", []string{m2 + "@2020-01-01", i1 + "@2020-02-01"}},
		{"match[spec_version]=2.0,2.1", []string{m2 + "@2020-01-01", i1 + "@2020-02-01", i3 + "@2020-01-01"}},
		{"added_after=" + secondPost, []string{i1 + "@2020-02-01", i3 + "@2020-01-01"}},
		{"added_after=" + secondPost + "&match[version]=all", []string{i1 + "@2020-02-01", i3 + "@2020-01-01"}},
		{"added_after=2000-01-01T00:00:00Z", []string{m2 + "@2020-01-01", i1 + "@2020-02-01", i3 + "@2020-01-01"}},
		{"match[unknown]=zzz", []string{m2 + "@2020-01-01", i1 + "@2020-02-01", i3 + "@2020-01-01"}},
	}
	for _, tt := range tests {
		var got []string
		var prev string
		var m Manifest
		f.get(t, "alice", "/api/collections/rw/manifest/?"+tt.query).decode(t, &m)
		for _, r := range m.Objects {
			got = append(got, r.ID+"@"+r.Version[:10])
			if r.DateAdded <= prev {
				t.Errorf("%s: not ascending by date_added", tt.query)
			}
			prev = r.DateAdded
		}
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%s:\n got %v\nwant %v", tt.query, got, tt.want)
		}
		// The objects endpoint answers the same query with the same versions.
		var env Envelope
		f.get(t, "alice", "/api/collections/rw/objects/?"+tt.query).decode(t, &env)
		if len(env.Objects) != len(tt.want) {
			t.Errorf("objects?%s: %d objects, want %d", tt.query, len(env.Objects), len(tt.want))
		}
	}
}

// Anything malformed gets 400: a bad timestamp, limit 0, negative or not a
// number, a repeated parameter, an empty or invalid match value, a next
// that is not ours.
func TestBadFilters400(t *testing.T) {
	f := newFixture(t)
	for _, q := range []string{
		"added_after=yesterday", "added_after=2020-01-01T00:00:00", "added_after=2020-01-01T00:00:00%2B01:00",
		"limit=0", "limit=-1", "limit=ten", "limit=1.5", "limit=",
		"limit=1&limit=2", "match[type]=indicator&match[type]=malware",
		"match[type]=", "match[type]=Indicator", "match[type]=a,,b", "match[id]=indicator", "match[id]=indicator--1",
		"match[version]=newest", "match[spec_version]=two", "next=garbage", "next=",
		"%zz",
	} {
		res := f.get(t, "alice", objectsPath+"?"+q)
		if res.Code != 400 {
			t.Errorf("%s: %d, want 400", q, res.Code)
			continue
		}
		res.taxiiError(t)
	}
}

// limit is never exceeded and larger values are capped at the server's
// maximum page.
func TestLimitCapped(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.MaxPageSize = 3 })
	var objs []string
	for i := range 5 {
		objs = append(objs, indicator(i, "2020-01-01T00:00:00.000Z"))
	}
	f.post(t, "alice", collRW, objs...)
	for q, n := range map[string]int{"": 3, "limit=2": 2, "limit=1000000": 3} {
		var env Envelope
		f.get(t, "alice", objectsPath+"?"+q).decode(t, &env)
		if len(env.Objects) != n || !env.More || env.Next == "" {
			t.Errorf("%q: %d objects more=%v next=%q", q, len(env.Objects), env.More, env.Next)
		}
	}
}

// pageAll follows next from a first query and returns every object id
// seen, in order.
func pageAll(t *testing.T, f *fixture, user, path, query string) (got []string, pages int) {
	t.Helper()
	q := query
	for {
		res := f.get(t, user, path+"?"+q)
		if res.Code != 200 {
			t.Fatalf("page %d: %d %s", pages, res.Code, res.Body)
		}
		var env Envelope
		res.decode(t, &env)
		pages++
		got = append(got, ids(t, env.Objects)...)
		if !env.More {
			if env.Next != "" {
				t.Errorf("next without more")
			}
			return got, pages
		}
		if env.Next == "" {
			t.Fatalf("more without next")
		}
		q = "next=" + url.QueryEscape(env.Next)
		if strings.Contains(query, "limit=") {
			q += "&" + strings.Split(query[strings.Index(query, "limit="):], "&")[0]
		}
	}
}

// Thousands of objects arriving in one POST share an arrival instant in
// real time; paging through them with next (limit 7 to make pages cross
// nothing in particular) gives every object exactly once, in order.
func TestPaginationThroughOnePost(t *testing.T) {
	f := newFixture(t)
	n := 3000
	if testing.Short() {
		n = 1500
	}
	objs := make([]string, n)
	for i := range objs {
		objs[i] = indicator(i, "2020-01-01T00:00:00.000Z")
	}
	if _, st := f.post(t, "alice", collRW, objs...); st.SuccessCount != n {
		t.Fatalf("post: %d successes", st.SuccessCount)
	}
	for _, limit := range []int{7, 1000} {
		got, pages := pageAll(t, f, "alice", objectsPath, fmt.Sprintf("limit=%d", limit))
		if len(got) != n {
			t.Fatalf("limit %d: %d objects, want %d", limit, len(got), n)
		}
		for i, id := range got {
			if id != indicatorID(i) {
				t.Fatalf("limit %d: object %d is %s, want %s (skip or repeat)", limit, i, id, indicatorID(i))
			}
		}
		if want := (n + limit - 1) / limit; pages != want {
			t.Errorf("limit %d: %d pages, want %d", limit, pages, want)
		}
	}
	if reads := f.audit.find(audit.ActionRead, audit.OutcomeOK); len(reads) < n/7 {
		t.Errorf("%d read pages audited", len(reads))
	}
}

// next binds the collection, endpoint, object and filter: a tampered or
// foreign token, or one used with other filters, is a 400; repeating the
// same filters (as taxii2-client does) is fine; and authorisation is
// checked again on every page.
func TestNextCursor(t *testing.T) {
	f := newFixture(t)
	var objs []string
	for i := range 10 {
		objs = append(objs, indicator(i, "2020-01-01T00:00:00.000Z"), malware(i, "2020-01-01T00:00:00.000Z"))
	}
	f.post(t, "alice", collRW, objs...)
	f.post(t, "admin", collRO, objs...)
	var env Envelope
	f.get(t, "alice", objectsPath+"?limit=3&match[type]=indicator").decode(t, &env)
	if env.Next == "" {
		t.Fatal("no next")
	}
	next := url.QueryEscape(env.Next)
	// The bound filter applies when only next is sent.
	var page2 Envelope
	f.get(t, "alice", objectsPath+"?next="+next).decode(t, &page2)
	if len(page2.Objects) != 3 || !strings.HasPrefix(ids(t, page2.Objects)[0], "indicator--") {
		t.Errorf("page 2 = %v", ids(t, page2.Objects))
	}
	for _, tt := range []struct {
		name, path string
		want       int
	}{
		{"same filters repeated", objectsPath + "?match[type]=indicator&limit=5&next=" + next, 200},
		{"filters widened", objectsPath + "?match[type]=indicator,malware&next=" + next, 400},
		{"other filter", objectsPath + "?match[id]=" + indicatorID(1) + "&next=" + next, 400},
		{"other endpoint", "/api/collections/rw/manifest/?next=" + next, 400},
		{"other collection", "/api/collections/ro/objects/?next=" + next, 400},
		{"other object", objectsPath + indicatorID(1) + "/?next=" + next, 400},
		{"tampered payload", objectsPath + "?next=" + url.QueryEscape(tamper(env.Next)), 400},
		{"other key", objectsPath + "?next=" + url.QueryEscape(encodeCursor([]byte("another cell"), cursor{Collection: collRW, Endpoint: epObjects})), 400},
		{"truncated", objectsPath + "?next=" + next[:len(next)-4], 400},
	} {
		if res := f.get(t, "alice", tt.path); res.Code != tt.want {
			t.Errorf("%s: %d, want %d (%s)", tt.name, res.Code, tt.want, res.Body)
		}
	}
	// A next taken by someone without read rights is worthless.
	if res := f.get(t, "bob", objectsPath+"?next="+next); res.Code != 404 {
		t.Errorf("next used by bob: %d, want 404", res.Code)
	}
	// Rights revoked between pages take effect on the next page.
	c := mustCollection(t, f, collRW, func(c *collectionEdit) { c.readBy = nil })
	if err := f.db.UpdateCollection(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	if res := f.get(t, "alice", objectsPath+"?next="+next); res.Code != 404 {
		t.Errorf("next after revocation: %d, want 404", res.Code)
	}
}

// tamper flips the first character of the payload of a token, re-encoded
// validly, so that only the signature catches it.
func tamper(tok string) string {
	p, s, _ := strings.Cut(tok, ".")
	b := []byte(p)
	if b[0] == 'e' {
		b[0] = 'f'
	} else {
		b[0] = 'e'
	}
	return string(b) + "." + s
}

// Visibility is pushed into the query: a reader gets full pages of what it
// may see, and next continues correctly across invisible versions.
func TestPaginationSkipsInvisibleVersions(t *testing.T) {
	f := newFixture(t)
	c := mustCollection(t, f, collRW, func(c *collectionEdit) { c.readBy = append(c.readBy, "org:"+orgB) })
	if err := f.db.UpdateCollection(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	var objs []string
	for i := range 40 {
		if i%2 == 0 {
			objs = append(objs, indicator(i, "2020-01-01T00:00:00.000Z", `"object_marking_refs":["`+privateMark+`"]`))
		} else {
			objs = append(objs, indicator(i, "2020-01-01T00:00:00.000Z"))
		}
	}
	f.post(t, "alice", collRW, objs...)
	got, pages := pageAll(t, f, "bob", objectsPath, "limit=5")
	if len(got) != 20 || pages != 4 {
		t.Errorf("bob: %d objects in %d pages, want 20 in 4", len(got), pages)
	}
	for _, id := range got {
		var n int
		fmt.Sscanf(id[len(id)-12:], "%x", &n)
		if n%2 == 0 {
			t.Errorf("bob sees private %s", id)
		}
	}
	all, _ := pageAll(t, f, "alice", objectsPath, "limit=5")
	if len(all) != 40 {
		t.Errorf("alice: %d objects, want 40", len(all))
	}
}

// Error bodies are TAXII error messages from the one catalogue, with
// http_status as a string and a fresh error_id.
func TestErrorCatalogue(t *testing.T) {
	seen := map[string]bool{}
	for kind, c := range catalogue {
		if c.Status < 400 || c.Title == "" || c.Code == "" || c.Description == "" {
			t.Errorf("kind %d: incomplete entry %+v", kind, c)
		}
		if seen[c.Code] {
			t.Errorf("error_code %q used twice", c.Code)
		}
		seen[c.Code] = true
	}
	f := newFixture(t)
	a, b := f.get(t, "alice", "/nowhere/").taxiiError(t), f.get(t, "alice", "/nowhere/").taxiiError(t)
	if a.ErrorID == b.ErrorID || !uuid4Re.MatchString(a.ErrorID) || a.ErrorCode != "not-found" {
		t.Errorf("error ids %q %q code %q", a.ErrorID, b.ErrorID, a.ErrorCode)
	}
}

// I-JSON: no response of the server contains an empty list.
func TestNoEmptyListsEmitted(t *testing.T) {
	f := newFixture(t)
	_, st := f.post(t, "alice", collRW, indicator(1, "2020-01-01T00:00:00.000Z"))
	for _, p := range []string{"/taxii2/", "/api/", "/api/collections/", "/api/collections/ro/", "/api/collections/ro/manifest/",
		"/api/collections/ro/objects/", "/api/status/" + st.ID + "/", objectsPath + "?added_after=2100-01-01T00:00:00Z"} {
		for _, user := range []string{"alice", "bob"} {
			if res := f.get(t, user, p); bytes.Contains(res.Body, []byte("[]")) {
				t.Errorf("%s as %s: empty list in %s", p, user, res.Body)
			}
		}
	}
}

// A read page that disclosed objects is audited with their ids; an empty
// page (an idle collection polled by a peer) is not, so that polling does
// not grow the audit log.
func TestReadAuditOnlyWhenSomethingIsDisclosed(t *testing.T) {
	f := newFixture(t)
	if res := f.get(t, "alice", objectsPath); res.Code != http.StatusOK {
		t.Fatalf("empty collection: %d", res.Code)
	}
	if reads := f.audit.find(audit.ActionRead, audit.OutcomeOK); len(reads) != 0 {
		t.Fatalf("an empty page was audited: %v", reads)
	}
	f.post(t, "alice", collRW, indicator(1, "2020-01-01T00:00:00.000Z"))
	if res := f.get(t, "alice", objectsPath); res.Code != http.StatusOK {
		t.Fatalf("objects: %d", res.Code)
	}
	reads := f.audit.find(audit.ActionRead, audit.OutcomeOK)
	if len(reads) != 1 || len(reads[0].IDs) != 1 || reads[0].IDs[0] != indicatorID(1) {
		t.Errorf("read audit = %v, want one entry naming %s", reads, indicatorID(1))
	}
}
