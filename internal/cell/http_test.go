package cell

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/jointcell/jointcell/internal/access"
	"github.com/jointcell/jointcell/internal/stix"
	"github.com/jointcell/jointcell/internal/store"
)

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestRoute(t *testing.T) {
	tests := map[string]string{
		"/taxii2/":                               "/taxii2/",
		"/api/":                                  "/api/",
		"/api/collections/":                      "/api/collections/",
		"/api/collections/x/":                    "/api/collections/{id}/",
		"/api/collections/x/objects/":            "/api/collections/{id}/objects/",
		"/api/collections/x/manifest/":           "/api/collections/{id}/manifest/",
		"/api/collections/x/objects/y/":          "/api/collections/{id}/objects/{id}/",
		"/api/collections/x/objects/y/versions/": "/api/collections/{id}/objects/{id}/versions/",
		"/api/status/abc/":                       "/api/status/{id}/",
		"/api/collections//objects/":             "other",
		"/api/collections/x":                     "other",
		"/api/collections/x/objects/y/z/":        "other",
		"/api/whatever/":                         "other",
		"/admin/users/alice/token":               "/admin/",
		"/metrics":                               "/metrics",
		"/healthz":                               "/healthz",
		"/":                                      "other",
		"/etc/passwd":                            "other",
	}
	for path, want := range tests {
		if got := Route(path, "/api/"); got != want {
			t.Errorf("Route(%q) = %q, want %q", path, got, want)
		}
	}
}

// fakeAuth accepts "Bearer admin" (admin) and "Bearer user" (analyst).
type fakeAuth struct{}

func (fakeAuth) Authenticate(r *http.Request) (access.Principal, error) {
	switch r.Header.Get("Authorization") {
	case "Bearer admin":
		return access.Principal{UserName: "admin", Role: access.RoleAdmin}, nil
	case "Bearer user":
		return access.Principal{UserName: "user", Role: access.RoleAnalyst}, nil
	}
	return access.Principal{}, errors.New("no")
}

func TestHandlerRoutesAndMetrics(t *testing.T) {
	m := NewMetrics()
	notFound := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, "taxii 404")
	})
	h := Handler(Routes{
		TAXII: notFound,
		Admin: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "admin") }),
		Auth:  fakeAuth{}, Metrics: m,
	})
	do := func(path, authz string) (int, string) {
		r := httptest.NewRequest("GET", path, nil)
		if authz != "" {
			r.Header.Set("Authorization", authz)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code, w.Body.String()
	}
	tests := []struct {
		path, authz string
		code        int
		body        string
	}{
		{"/healthz", "", 200, "ok"},
		{"/metrics", "", 404, "taxii 404"},
		{"/metrics", "Bearer user", 404, "taxii 404"},
		{"/metrics", "Bearer wrong", 404, "taxii 404"},
		{"/admin/users", "", 200, "admin"},
		{"/api/collections/x/objects/", "", 404, "taxii 404"},
	}
	for _, tt := range tests {
		code, body := do(tt.path, tt.authz)
		if code != tt.code || body != tt.body {
			t.Errorf("GET %s (%s) = %d %q, want %d %q", tt.path, tt.authz, code, body, tt.code, tt.body)
		}
	}
	code, body := do("/metrics", "Bearer admin")
	if code != 200 {
		t.Fatalf("/metrics as admin: %d", code)
	}
	for _, want := range []string{
		`jointcell_http_requests_total{route="/healthz",code="200"} 1`,
		`jointcell_http_requests_total{route="/metrics",code="404"} 3`,
		`jointcell_http_requests_total{route="/api/collections/{id}/objects/",code="404"} 1`,
		`jointcell_http_request_duration_seconds_count{route="/admin/"} 1`,
		"jointcell_objects_stored_total 0",
		"jointcell_auth_failures_total 0",
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
}

func TestCountingStore(t *testing.T) {
	ctx := context.Background()
	c := openTest(t, t.TempDir())
	m := NewMetrics()
	st := m.CountingStore(c.Store)
	col, err := c.Manager().CreateCollection(ctx, CollectionSpec{Title: "t"})
	if err != nil {
		t.Fatal(err)
	}
	raw := `{"type":"ipv4-addr","spec_version":"2.1","id":"ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4","value":"198.51.100.3"}`
	o, _ := stix.DecodeObject([]byte(raw))
	v := store.Version{Object: o, Audience: []string{store.ReaderAnyone}}
	for range 2 {
		if _, err := st.AddVersions(ctx, col.ID, []store.Version{v}); err != nil {
			t.Fatal(err)
		}
	}
	if got := m.ObjectsStored.Value(); got != 1 {
		t.Errorf("objects stored = %v, want 1 (the duplicate is not counted)", got)
	}
}

// FuzzRoute checks that whatever path a client sends, the metrics label
// is one of a fixed set: no client can create label values.
func FuzzRoute(f *testing.F) {
	for _, s := range []string{"/", "/api/", "/api/collections/x/objects/y/versions/", "/admin/x", "/api/status//", "/api/collections/{id}/"} {
		f.Add(s)
	}
	allowed := map[string]bool{"other": true, "/taxii2/": true, "/metrics": true, "/healthz": true, "/admin/": true,
		"/api/": true, "/api/status/{id}/": true, "/api/collections/": true, "/api/collections/{id}/": true,
		"/api/collections/{id}/manifest/": true, "/api/collections/{id}/objects/": true,
		"/api/collections/{id}/objects/{id}/": true, "/api/collections/{id}/objects/{id}/versions/": true}
	f.Fuzz(func(t *testing.T, path string) {
		if r := Route(path, "/api/"); !allowed[r] {
			t.Errorf("Route(%q) = %q", path, r)
		}
	})
}
