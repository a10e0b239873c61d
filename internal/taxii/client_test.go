package taxii

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// tlsFixture serves the test handler over TLS and returns a client that
// trusts its certificate through CAFile.
func tlsFixture(t *testing.T, cfg ClientConfig, opts ...fixtureOption) (*fixture, *Client) {
	t.Helper()
	f := newFixture(t, opts...)
	ts := httptest.NewTLSServer(f.srv)
	t.Cleanup(ts.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw})
	if err := os.WriteFile(ca, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = ts.URL
	} else {
		cfg.BaseURL = ts.URL + cfg.BaseURL
	}
	cfg.CAFile = ca
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return f, c
}

func TestClientAgainstServer(t *testing.T) {
	ctx := t.Context()
	_, c := tlsFixture(t, ClientConfig{User: "alice", Token: "secret"})
	d, err := c.Discovery(ctx)
	if err != nil || d.Title != "test cell" {
		t.Fatalf("discovery: %+v %v", d, err)
	}
	root, err := c.APIRoot(ctx)
	if err != nil || root.MaxContentLength != DefaultMaxContentLength {
		t.Fatalf("api root: %+v %v", root, err)
	}
	cols, err := c.Collections(ctx)
	if err != nil || len(cols) != 3 {
		t.Fatalf("collections: %+v %v", cols, err)
	}
	col, err := c.Collection(ctx, "rw")
	if err != nil || col.ID != collRW || !col.CanWrite {
		t.Fatalf("collection: %+v %v", col, err)
	}
	var objs []json.RawMessage
	for i := range 25 {
		objs = append(objs, json.RawMessage(indicator(i, "2020-01-01T00:00:00.000Z")))
	}
	st, err := c.AddObjects(ctx, "rw", objs)
	if err != nil || st.SuccessCount != 25 || st.Status != StatusComplete {
		t.Fatalf("add: %+v %v", st, err)
	}
	if again, err := c.Status(ctx, st.ID); err != nil || again.SuccessCount != 25 {
		t.Fatalf("status: %+v %v", again, err)
	}
	var got []string
	pages := 0
	err = c.Iterate(ctx, "rw", Filter{Limit: 10, Types: []string{"indicator"}}, func(p *ObjectsPage) error {
		pages++
		if p.DateAddedFirst == "" || p.DateAddedLast == "" {
			t.Errorf("page without date headers")
		}
		got = append(got, ids(t, p.Objects)...)
		return nil
	})
	if err != nil || len(got) != 25 || pages != 3 || got[24] != indicatorID(24) {
		t.Fatalf("iterate: %d objects in %d pages, %v", len(got), pages, err)
	}
	m, err := c.Manifest(ctx, collRW, Filter{IDs: []string{indicatorID(3)}})
	if err != nil || len(m.Objects) != 1 {
		t.Fatalf("manifest: %+v %v", m, err)
	}
	page, err := c.GetObject(ctx, "rw", indicatorID(3), Filter{})
	if err != nil || len(page.Objects) != 1 {
		t.Fatalf("get object: %+v %v", page, err)
	}
	vs, err := c.Versions(ctx, "rw", indicatorID(3), Filter{})
	if err != nil || len(vs.Versions) != 1 {
		t.Fatalf("versions: %+v %v", vs, err)
	}
	if err := c.DeleteObject(ctx, "rw", indicatorID(3), Filter{Versions: []string{"all"}}); err != nil {
		t.Fatalf("delete: %v", err)
	}
	_, err = c.GetObject(ctx, "rw", indicatorID(3), Filter{})
	var he *HTTPError
	if !errors.As(err, &he) || he.StatusCode != 404 || he.TAXII == nil || he.TAXII.HTTPStatus != "404" {
		t.Fatalf("deleted object: %v", err)
	}
	_, err = c.GetObjects(ctx, "rw", Filter{Limit: -1, AddedAfter: "yesterday"})
	if !errors.As(err, &he) || he.StatusCode != 400 || he.TAXII.ErrorCode != "bad-filter" {
		t.Fatalf("bad filter: %v", err)
	}
}

func TestClientBearerAndErrors(t *testing.T) {
	ctx := t.Context()
	_, c := tlsFixture(t, ClientConfig{Token: "bob", BaseURL: "/taxii2/"})
	if cols, err := c.Collections(ctx); err != nil || len(cols) != 0 {
		t.Fatalf("bob's collections: %v %v", cols, err)
	}
	_, bad := tlsFixture(t, ClientConfig{Token: "nobody"})
	_, err := bad.APIRoot(ctx)
	var he *HTTPError
	if !errors.As(err, &he) || he.StatusCode != 401 {
		t.Fatalf("bad token: %v", err)
	}
	// Without the CA the certificate is refused; Insecure accepts it.
	f := newFixture(t)
	ts := httptest.NewTLSServer(f.srv)
	defer ts.Close()
	strict, _ := NewClient(ClientConfig{BaseURL: ts.URL, Token: "alice"})
	if _, err := strict.Discovery(ctx); err == nil {
		t.Error("self-signed certificate accepted without CA")
	}
	loose, _ := NewClient(ClientConfig{BaseURL: ts.URL, Token: "alice", Insecure: true})
	if _, err := loose.Discovery(ctx); err != nil {
		t.Errorf("insecure: %v", err)
	}
	for _, u := range []string{"", "ftp://x/", "localhost:8443"} {
		if _, err := NewClient(ClientConfig{BaseURL: u}); err == nil {
			t.Errorf("base URL %q accepted", u)
		}
	}
}

// otherServer imitates a server that differs from jointcell in ways the
// spec allows or that real servers show: a space in the content type,
// relative api_roots, more without next, and pending statuses.
func otherServer(t *testing.T) (*httptest.Server, *atomic.Int32) {
	var polls atomic.Int32
	total := 7
	mux := http.NewServeMux()
	mux.HandleFunc("GET /taxii2/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/taxii+json; version=2.1")
		fmt.Fprint(w, `{"title":"other","api_roots":["/root1/"]}`)
	})
	mux.HandleFunc("GET /root1/collections/c/objects/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("next") != "" {
			t.Errorf("client sent a next this server never gave")
		}
		after := 0
		if a := r.URL.Query().Get("added_after"); a != "" {
			fmt.Sscanf(a, "2020-01-01T00:00:%02d.000000Z", &after)
		}
		end := min(after+3, total)
		var objs []string
		for i := after + 1; i <= end; i++ {
			objs = append(objs, indicator(i, "2020-01-01T00:00:00.000Z"))
		}
		w.Header().Set("Content-Type", "application/taxii+json; version=2.1")
		w.Header().Set("X-TAXII-Date-Added-First", fmt.Sprintf("2020-01-01T00:00:%02d.000000Z", after+1))
		w.Header().Set("X-TAXII-Date-Added-Last", fmt.Sprintf("2020-01-01T00:00:%02d.000000Z", end))
		fmt.Fprintf(w, `{"more":%v,"objects":[%s]}`, end < total, strings.Join(objs, ","))
	})
	mux.HandleFunc("POST /root1/collections/c/objects/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/taxii+json; version=2.1")
		w.WriteHeader(202)
		fmt.Fprint(w, `{"id":"s1","status":"pending","total_count":1,"success_count":0,"failure_count":0,"pending_count":1}`)
	})
	mux.HandleFunc("GET /root1/status/s1/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/taxii+json; version=2.1")
		if polls.Add(1) < 2 {
			fmt.Fprint(w, `{"id":"s1","status":"pending","total_count":1,"success_count":0,"failure_count":0,"pending_count":1}`)
			return
		}
		fmt.Fprint(w, `{"id":"s1","status":"complete","total_count":1,"success_count":1,"successes":[{"id":"x","version":"y"}],"failure_count":0,"pending_count":0}`)
	})
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	return ts, &polls
}

func TestClientLiberalWithOtherServers(t *testing.T) {
	ctx := t.Context()
	ts, polls := otherServer(t)
	c, err := NewClient(ClientConfig{BaseURL: ts.URL + "/taxii2/", User: "u", Token: "p"})
	if err != nil {
		t.Fatal(err)
	}
	root, err := c.APIRootURL(ctx)
	if err != nil || root != ts.URL+"/root1/" {
		t.Fatalf("api root from relative api_roots: %q %v", root, err)
	}
	var got []string
	err = c.Iterate(ctx, "c", Filter{}, func(p *ObjectsPage) error {
		got = append(got, ids(t, p.Objects)...)
		return nil
	})
	if err != nil || len(got) != 7 || got[6] != indicatorID(7) {
		t.Fatalf("fallback to added_after: %v %v", got, err)
	}
	start := time.Now()
	st, err := c.AddObjects(ctx, "c", []json.RawMessage{json.RawMessage(indicator(1, "2020-01-01T00:00:00.000Z"))})
	if err != nil || st.Status != StatusComplete || polls.Load() != 2 {
		t.Fatalf("pending status: %+v %v after %d polls", st, err, polls.Load())
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("polling took %v", time.Since(start))
	}
}

func TestClientStopsWhenServerGivesNoWayOn(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"more":true,"objects":[{"id":"x"}]}`)
	})
	ts := httptest.NewServer(mux)
	defer ts.Close()
	c, _ := NewClient(ClientConfig{BaseURL: ts.URL + "/api/"})
	err := c.Iterate(t.Context(), "c", Filter{}, func(*ObjectsPage) error { return nil })
	if !errors.Is(err, ErrNoProgress) {
		t.Fatalf("got %v, want ErrNoProgress", err)
	}
}

// TestClientPageErrors checks that a malformed page is an error that names
// the request, for each paged endpoint, and says what is wrong with it.
func TestClientPageErrors(t *testing.T) {
	var body, contentType string
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", contentType)
		fmt.Fprint(w, body)
	}))
	defer ts.Close()
	c, err := NewClient(ClientConfig{BaseURL: ts.URL + "/api/"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	calls := map[string]func() error{
		"collections/c/objects/": func() error { _, err := c.GetObjects(ctx, "c", Filter{}); return err },
		"collections/c/objects/x/": func() error {
			_, err := c.GetObject(ctx, "c", "x", Filter{})
			return err
		},
		"collections/c/manifest/": func() error { _, err := c.Manifest(ctx, "c", Filter{}); return err },
		"collections/c/objects/x/versions/": func() error {
			_, err := c.Versions(ctx, "c", "x", Filter{})
			return err
		},
	}
	for _, tc := range []struct {
		body, contentType, want string
	}{
		{`{"more":true,"objects":[{"id":"a"}`, MediaTypeTAXII, "decode: unexpected end of JSON input"},
		{`{"more":true,"more":false}`, MediaTypeTAXII, `decode: duplicate member "more"`},
		{`{"next":7}`, MediaTypeTAXII, "decode: next must be a JSON string, not a number"},
		{`{"objects":[]} []`, "application/json", "decode: invalid character '['"},
		{`[]`, MediaTypeTAXII, "decode: the body must be a JSON object, not a list"},
		{`<html>gateway error</html>`, "text/html", `unexpected content type "text/html": invalid character '<'`},
	} {
		body, contentType = tc.body, tc.contentType
		for path, call := range calls {
			err := call()
			prefix := "taxii: GET " + ts.URL + "/api/" + path + ": "
			if err == nil || !strings.HasPrefix(err.Error(), prefix) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s %q: got %v, want %s...%s", path, tc.body, err, prefix, tc.want)
			}
		}
	}
}

// TestClientReadsPagesWhole checks that pages read with a Content-Length
// and chunked decode alike, and that the objects of one page stay intact
// while the client reads the next ones into its reused buffer.
func TestClientReadsPagesWhole(t *testing.T) {
	pages := make([][]byte, 4)
	for i := range pages {
		pages[i] = envelope(benchObjects(i*50, 50)...) // large enough to be chunked
	}
	var chunked bool
	var n atomic.Int32
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		page := pages[int(n.Add(1)-1)%len(pages)]
		if !chunked {
			w.Header().Set("Content-Length", fmt.Sprint(len(page)))
		}
		_, _ = w.Write(page)
	}))
	defer ts.Close()
	c, err := NewClient(ClientConfig{BaseURL: ts.URL + "/api/"})
	if err != nil {
		t.Fatal(err)
	}
	for _, chunked = range []bool{false, true} {
		var kept [][]json.RawMessage
		for range pages {
			p, err := c.GetObjects(t.Context(), "c", Filter{})
			if err != nil {
				t.Fatal(err)
			}
			kept = append(kept, p.Objects)
		}
		for i, objs := range kept {
			want, err := decodeEnvelopeBody(pages[i])
			if err != nil {
				t.Fatal(err)
			}
			if !sameResource(Envelope{Objects: objs}, want) {
				t.Errorf("chunked %v: page %d changed after the pages that followed it", chunked, i)
			}
		}
	}
}

// TestClientResponseLimit: a server cannot make the client read without
// bound, whether it announces the length or streams the body.
func TestClientResponseLimit(t *testing.T) {
	page := []byte(`{"more":false,"objects":[` + strings.Repeat(`{"type":"x","id":"x--1","pad":"`+strings.Repeat("a", 1000)+`"},`, 50) + `{"type":"x","id":"x--2"}]}`)
	for _, chunked := range []bool{false, true} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", MediaTypeTAXII)
			if !chunked {
				w.Header().Set("Content-Length", strconv.Itoa(len(page)))
			}
			w.Write(page)
			if chunked {
				w.(http.Flusher).Flush()
			}
		}))
		c, err := NewClient(ClientConfig{BaseURL: srv.URL + "/api/", MaxResponse: 10_000})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.GetObjects(context.Background(), "9b4c2a1e-0000-4000-8000-000000000001", Filter{})
		if !errors.Is(err, ErrResponseTooLarge) {
			t.Errorf("chunked=%v: err = %v, want ErrResponseTooLarge", chunked, err)
		}
		c2, _ := NewClient(ClientConfig{BaseURL: srv.URL + "/api/", MaxResponse: int64(len(page))})
		if _, err := c2.GetObjects(context.Background(), "9b4c2a1e-0000-4000-8000-000000000001", Filter{}); err != nil {
			t.Errorf("chunked=%v: a body of exactly the limit: %v", chunked, err)
		}
		srv.Close()
	}
}
