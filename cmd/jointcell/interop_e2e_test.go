package main

// Interoperability end to end. TestInteropTaxii2ClientE2E replays against
// a real "jointcell serve" (HTTPS, self-signed certificate) the requests
// the OASIS Python client taxii2-client 2.3 makes, with verify=False and
// Basic auth (user name, API token), and applies its checks
// (internal/taxii/interop_client_test.go has the full set).
// TestInteropPushPullMedallion runs push and pull against a stand-in for
// the OASIS reference server medallion (internal/taxii/
// interop_server_test.go has the complete one).

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const pyMedia = "application/taxii+json;version=2.1" // taxii2client MEDIA_TYPE_TAXII_V21

// pyGet is taxii2client's _HTTPConnection.get: raise_for_status, then the
// Content-Type check of valid_content_type, then resp.json().
func pyGet(t *testing.T, hc *http.Client, user, pw, u string, params url.Values) map[string]any {
	t.Helper()
	if len(params) > 0 {
		u += "?" + params.Encode()
	}
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("User-Agent", "taxii2-client/2.3.0")
	req.Header.Set("Accept", pyMedia)
	req.SetBasicAuth(user, pw)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 400 {
		t.Fatalf("GET %s: HTTPError %d %s", u, resp.StatusCode, b)
	}
	ct := strings.Split(strings.ReplaceAll(resp.Header.Get("Content-Type"), " ", ""), ";")
	for _, tok := range strings.Split(pyMedia, ";") {
		if !slices.Contains(ct, tok) || ct[0] != "application/taxii+json" {
			t.Fatalf("GET %s: TAXIIServiceException: Content-Type %q", u, resp.Header.Get("Content-Type"))
		}
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("GET %s: InvalidJSONError %v", u, err)
	}
	return m
}

func pyStatusOK(t *testing.T, m map[string]any) {
	t.Helper()
	n := func(k string) int {
		v, ok := m[k].(float64)
		if !ok {
			t.Fatalf("status without %s: %v", k, m)
		}
		return int(v)
	}
	l := func(k string) int { x, _ := m[k].([]any); return len(x) }
	if m["id"] == "" || m["status"] == "" || l("successes") != n("success_count") || l("failures") != n("failure_count") ||
		l("pendings") != n("pending_count") || n("success_count")+n("failure_count")+n("pending_count") != n("total_count") {
		t.Fatalf("Status validation fails: %v", m)
	}
}

func TestInteropTaxii2ClientE2E(t *testing.T) {
	dir := t.TempDir()
	s := e2eStart(t, dir)
	if !strings.HasPrefix(s.base, "https://") {
		t.Fatalf("serve is not HTTPS: %s", s.base)
	}
	e2eCLI(t, "org", "create", "--data", dir, "a")
	token := e2eCLI(t, "user", "create", "--data", dir, "--org", "a", "alice")
	collID := e2eCLI(t, "collection", "create", "--data", dir, "--title", "Intel", "--alias", "intel", "--read", "a", "--write", "a")

	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // verify=False
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	t.Cleanup(tr.CloseIdleConnections)
	get := func(u string, q url.Values) map[string]any { return pyGet(t, hc, "alice", token, u, q) }

	// Server(url).default, ApiRoot information and collections.
	disc := get(s.base+"/taxii2/", nil)
	roots, _ := disc["api_roots"].([]any)
	if disc["title"] == "" || len(roots) == 0 || disc["default"] != roots[0] {
		t.Fatalf("discovery: %v", disc)
	}
	base, _ := url.Parse(s.base + "/taxii2/")
	ref, _ := url.Parse(disc["default"].(string))
	root := base.ResolveReference(ref).String()
	if info := get(root, nil); info["title"] == "" || len(info["versions"].([]any)) == 0 || info["max_content_length"] == nil {
		t.Fatalf("api root: %v", info)
	}
	cols := get(root+"collections/", nil)["collections"].([]any)
	var colURL string
	for _, c := range cols {
		c := c.(map[string]any)
		if c["id"] == collID {
			colURL = root + "collections/" + collID + "/"
			if c["title"] == "" || c["can_read"] != true || c["can_write"] != true {
				t.Fatalf("collection: %v", c)
			}
		}
	}
	if colURL == "" {
		t.Fatalf("collection %s not listed: %v", collID, cols)
	}

	// add_objects, then the status at urljoin(url, "../../status/<id>")
	// with and without the trailing slash.
	var objs []json.RawMessage
	for i := range 12 {
		objs = append(objs, e2eIndicator(e2eID(i), i, 1))
	}
	req, _ := http.NewRequest(http.MethodPost, colURL+"objects/", strings.NewReader(string(e2eEnvelope(objs...))))
	req.Header.Set("Accept", pyMedia)
	req.Header.Set("Content-Type", pyMedia)
	req.SetBasicAuth("alice", token)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("add_objects: %d %s", resp.StatusCode, b)
	}
	var st map[string]any
	json.Unmarshal(b, &st)
	pyStatusOK(t, st)
	cu, _ := url.Parse(colURL)
	su, _ := url.Parse("../../status/" + st["id"].(string))
	statusURL := cu.ResolveReference(su).String()
	for _, u := range []string{statusURL + "/", statusURL} {
		m := get(u, nil)
		pyStatusOK(t, m)
		if m["success_count"] != float64(12) {
			t.Fatalf("status %s: %v", u, m)
		}
	}

	// as_pages(collection.get_objects, per_request=5, type=["indicator"]).
	params := url.Values{"limit": {"5"}, "match[type]": {"indicator"}}
	var ids []string
	for page := 0; ; page++ {
		env := get(colURL+"objects/", params)
		for _, o := range env["objects"].([]any) {
			ids = append(ids, o.(map[string]any)["id"].(string))
		}
		if more, _ := env["more"].(bool); !more {
			break
		}
		params.Set("next", env["next"].(string))
		if page > 10 {
			t.Fatal("as_pages does not end")
		}
	}
	sort.Strings(ids)
	if len(ids) != 12 || slices.Compact(slices.Clone(ids))[11] != ids[11] {
		t.Fatalf("as_pages: %v", ids)
	}
	if m := get(colURL+"manifest/", url.Values{"limit": {"20"}}); len(m["objects"].([]any)) != 12 {
		t.Fatalf("manifest: %v", m)
	}
}

// medallionStub is a compact medallion: the strict media type checks,
// Content-Length required, collections by id only, paging records behind
// next which must come with the first page's filters, {} when empty.
type medallionStub struct {
	mu     sync.Mutex
	url    string
	objs   []json.RawMessage
	added  []time.Time
	pages  map[string][2]any // next -> {args, remaining indexes}
	seq    int
	clock  time.Time
	accept []string
}

const stubColl = "91a7b528-80eb-42ed-a74d-c6fbd5a26116"

var stubMedia = regexp.MustCompile(`^application/taxii\+json(;version=(\d\.\d))?$`)

func stubMediaOK(v string) bool {
	for _, it := range strings.Split(strings.ReplaceAll(v, " ", ""), ",") {
		if m := stubMedia.FindStringSubmatch(it); m != nil {
			return m[2] == "2.1"
		}
	}
	return false
}

func (m *medallionStub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.accept = append(m.accept, r.Header.Get("Accept"))
	fail := func(code int, desc string) {
		w.Header().Set("Content-Type", pyMedia)
		w.WriteHeader(code)
		fmt.Fprintf(w, `{"title":"ProcessingError","http_status":"%d","description":%q}`, code, desc)
	}
	ok := func(code int, v any) {
		w.Header().Set("Content-Type", pyMedia)
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(v)
	}
	if u, p, _ := r.BasicAuth(); u != "admin" || p != "Password0" {
		w.WriteHeader(401)
		io.WriteString(w, "Unauthorized Access")
		return
	}
	if !stubMediaOK(r.Header.Get("Accept")) {
		fail(406, "Media type in the Accept header is invalid or not found")
		return
	}
	// medallion parses added_after with at most six fractional digits
	// and fails with 500 on more.
	if _, frac, ok := strings.Cut(strings.TrimSuffix(r.URL.Query().Get("added_after"), "Z"), "."); ok && len(frac) > 6 {
		fail(500, "unconverted data remains")
		return
	}
	coll := "/trustgroup1/collections/" + stubColl + "/"
	switch p := r.URL.Path; {
	case p == "/taxii2/":
		ok(200, map[string]any{"title": "Some TAXII Server", "default": m.url + "/trustgroup1/", "api_roots": []string{m.url + "/trustgroup1/"}})
	case p == "/trustgroup1/":
		ok(200, map[string]any{"title": "Malware Research Group", "versions": []string{pyMedia}, "max_content_length": 2000})
	case p == "/trustgroup1/collections/":
		ok(200, map[string]any{"collections": []any{map[string]any{"id": stubColl, "title": "t", "alias": "intel", "can_read": true, "can_write": true}}})
	case strings.HasPrefix(p, "/trustgroup1/status/"):
		ok(200, map[string]any{"id": strings.Split(p, "/")[3], "status": "complete", "total_count": 0, "success_count": 0, "failure_count": 0, "pending_count": 0})
	case p == coll+"objects/" && r.Method == http.MethodPost:
		if !stubMediaOK(r.Header.Get("Content-Type")) {
			fail(415, "Media type in the Content-Type header is invalid or not found")
			return
		}
		if n, err := strconv.Atoi(r.Header.Get("Content-Length")); err != nil || n <= 0 || n > 2000 {
			fail(413, "Content-Length header not valid or exceeds maximum!")
			return
		}
		var env struct{ Objects []json.RawMessage }
		b, _ := io.ReadAll(r.Body)
		json.Unmarshal(b, &env)
		var succ []any
		m.clock = m.clock.Add(time.Second)
		for i, o := range env.Objects {
			var v struct{ ID string }
			json.Unmarshal(o, &v)
			m.objs = append(m.objs, o)
			m.added = append(m.added, m.clock.Add(time.Duration(i)*time.Microsecond))
			succ = append(succ, map[string]any{"id": v.ID, "version": "2020-01-01T00:00:00.000000Z"})
		}
		m.seq++
		ok(202, map[string]any{"id": fmt.Sprintf("%08d-0000-4000-8000-000000000000", m.seq), "status": "complete", "total_count": len(succ),
			"success_count": len(succ), "successes": succ, "failure_count": 0, "pending_count": 0})
	case p == coll+"objects/":
		q := r.URL.Query()
		args := map[string]string{}
		for k, v := range q {
			if k != "limit" && k != "next" {
				args[k] = v[0]
			}
		}
		limit := 7
		if l, err := strconv.Atoi(q.Get("limit")); err == nil && l > 0 {
			limit = min(l, 7)
		}
		var idx []int
		if n := q.Get("next"); n != "" {
			rec, found := m.pages[n]
			if !found {
				fail(400, "The server did not understand the request or filter parameters: 'next' not valid")
				return
			}
			if fmt.Sprint(rec[0]) != fmt.Sprint(args) {
				fail(400, "The server did not understand the request or filter parameters: params changed over subsequent transaction")
				return
			}
			idx = rec[1].([]int)
			delete(m.pages, n)
		} else {
			// medallion filters by date_added > added_after.
			after, _ := time.Parse(time.RFC3339Nano, q.Get("added_after"))
			for i := range m.objs {
				if m.added[i].After(after) {
					idx = append(idx, i)
				}
			}
		}
		page, rest := idx[:min(limit, len(idx))], idx[min(limit, len(idx)):]
		res := map[string]any{}
		if len(page) > 0 {
			var objs []json.RawMessage
			for _, i := range page {
				objs = append(objs, m.objs[i])
			}
			res["objects"], res["more"] = objs, len(rest) > 0
			w.Header().Set("X-TAXII-Date-Added-First", m.added[page[0]].Format("2006-01-02T15:04:05.000000Z"))
			w.Header().Set("X-TAXII-Date-Added-Last", m.added[page[len(page)-1]].Format("2006-01-02T15:04:05.000000Z"))
		}
		if len(rest) > 0 {
			m.seq++
			n := fmt.Sprintf("%08d-aaaa-4aaa-8aaa-aaaaaaaaaaaa", m.seq)
			m.pages[n] = [2]any{args, rest}
			res["next"] = n
		}
		ok(200, res)
	case strings.HasPrefix(p, "/trustgroup1/collections/"):
		fail(404, "Collection not found")
	default:
		w.WriteHeader(404)
	}
}

func TestInteropPushPullMedallion(t *testing.T) {
	stub := &medallionStub{pages: map[string][2]any{}, clock: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)}
	ts := httptest.NewServer(stub)
	t.Cleanup(ts.Close)
	stub.url = ts.URL

	var objs []string
	for i := range 20 {
		objs = append(objs, pushPullIndicator(i, fmt.Sprintf("ind %d", i)))
	}
	file := filepath.Join(t.TempDir(), "bundle.json")
	if err := os.WriteFile(file, []byte(`{"type":"bundle","id":"bundle--6f0c8b55-6c0e-4d8c-a6d0-0b7a4b8c2c11","objects":[`+strings.Join(objs, ",")+`]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	// --collection by alias: medallion routes by id, the client resolves
	// the alias through the collections list.
	for _, coll := range []string{"intel", stubColl} {
		conn := []string{"--server", ts.URL, "--user", "admin", "--token", "Password0", "--collection", coll}
		stub.mu.Lock()
		stub.objs, stub.added = nil, nil
		stub.mu.Unlock()
		code, out, errOut := runCmd(t, "", append(append([]string{"push"}, conn...), file)...)
		if code != 0 || !strings.Contains(out, "20 objects: 20 succeeded, 0 failed") || !strings.Contains(errOut, "envelope 2 of") {
			t.Fatalf("push --collection %s: %d\n%s\n%s", coll, code, out, errOut)
		}
		outFile := filepath.Join(t.TempDir(), "pulled.json")
		// A finer --added-after than TAXII's microseconds is truncated,
		// which selects the same objects and keeps medallion happy.
		code, _, errOut = runCmd(t, "", append(append([]string{"pull"}, conn...), "--type", "indicator", "--limit", "5",
			"--added-after", "2000-01-01T00:00:00.1234567Z", "-o", outFile)...)
		if code != 0 {
			t.Fatalf("pull --collection %s: %d %s", coll, code, errOut)
		}
		var bundle struct{ Objects []json.RawMessage }
		b, _ := os.ReadFile(outFile)
		if err := json.Unmarshal(b, &bundle); err != nil || len(bundle.Objects) != 20 {
			t.Fatalf("pulled %d objects: %v\n%s", len(bundle.Objects), err, errOut)
		}
	}
	stub.mu.Lock()
	defer stub.mu.Unlock()
	for _, a := range stub.accept {
		if a != pyMedia {
			t.Errorf("Accept %q sent", a)
		}
	}
}
