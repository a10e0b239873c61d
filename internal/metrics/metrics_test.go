package metrics

import (
	"bytes"
	"flag"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// TestExposition compares the rendering of every kind of series with a
// golden file in the text exposition format.
func TestExposition(t *testing.T) {
	r := NewRegistry()
	reqs := r.Counter("http_requests_total", "Requests by route and status.", "route", "code")
	objs := r.Counter("objects_stored_total", "Objects stored.\nSecond line with a \\ backslash.")
	lat := r.Histogram("http_request_duration_seconds", "Latency.", []float64{0.01, 0.1, 1}, "route")
	quiet := r.Histogram("unused_seconds", "", []float64{1})
	_ = quiet

	reqs.Inc("/api/", "200")
	reqs.Inc("/api/", "200")
	reqs.Inc("/taxii2/", "401")
	reqs.Add(2.5, `we"ird\route`+"\n", "500")
	reqs.Add(-1, "/api/", "200") // ignored: counters never decrease
	objs.Add(1000)
	for _, v := range []float64{0.005, 0.01, 0.05, 0.5, 3} {
		lat.Observe(v, "/api/")
	}

	var buf bytes.Buffer
	if _, err := r.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "exposition.golden")
	if *update {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("exposition differs from %s:\n%s", golden, buf.String())
	}
	if got := reqs.Value("/api/", "200"); got != 2 {
		t.Errorf("Value = %v, want 2", got)
	}
	if got := lat.Count("/api/"); got != 5 {
		t.Errorf("Count = %v, want 5", got)
	}
}

func TestEmptyUnlabelledCounterIsZero(t *testing.T) {
	r := NewRegistry()
	r.Counter("auth_failures_total", "Failures.")
	var buf bytes.Buffer
	if _, err := r.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "\nauth_failures_total 0\n") {
		t.Errorf("missing zero sample:\n%s", buf.String())
	}
}

func TestRegisterPanics(t *testing.T) {
	tests := []struct {
		name string
		reg  func(r *Registry)
	}{
		{"duplicate", func(r *Registry) { r.Counter("a_total", ""); r.Counter("a_total", "") }},
		{"bad name", func(r *Registry) { r.Counter("1abc", "") }},
		{"bad label", func(r *Registry) { r.Counter("a_total", "", "le") }},
		{"reserved label", func(r *Registry) { r.Counter("a_total", "", "__x") }},
		{"colon label", func(r *Registry) { r.Counter("a_total", "", "a:b") }},
		{"unsorted buckets", func(r *Registry) { r.Histogram("h", "", []float64{2, 1}) }},
		{"wrong arity", func(r *Registry) { r.Counter("a_total", "", "x").Inc() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			tt.reg(NewRegistry())
		})
	}
}

func TestConcurrent(t *testing.T) {
	r := NewRegistry()
	c := r.Counter("c_total", "", "k")
	h := r.Histogram("h_seconds", "", DefaultBuckets, "k")
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				k := string(rune('a' + (g+i)%3))
				c.Inc(k)
				h.Observe(float64(i)/1000, k)
			}
		}()
	}
	for range 10 {
		var buf bytes.Buffer
		_, _ = r.WriteTo(&buf)
	}
	wg.Wait()
	total := c.Value("a") + c.Value("b") + c.Value("c")
	if total != 8000 {
		t.Errorf("total = %v, want 8000", total)
	}
	if n := h.Count("a") + h.Count("b") + h.Count("c"); n != 8000 {
		t.Errorf("observations = %d, want 8000", n)
	}
}

func TestHandler(t *testing.T) {
	r := NewRegistry()
	r.Counter("x_total", "X.").Inc()
	rec := httptest.NewRecorder()
	r.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if ct := rec.Header().Get("Content-Type"); ct != ContentType {
		t.Errorf("Content-Type = %q", ct)
	}
	if !strings.Contains(rec.Body.String(), "x_total 1\n") {
		t.Errorf("body = %q", rec.Body.String())
	}
}

func BenchmarkCounterInc(b *testing.B) {
	c := NewRegistry().Counter("c_total", "", "route", "code")
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c.Inc("/api/collections/{id}/objects/", "200")
		}
	})
}

func BenchmarkHistogramObserve(b *testing.B) {
	h := NewRegistry().Histogram("h_seconds", "", DefaultBuckets, "route")
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			h.Observe(0.042, "/api/collections/{id}/objects/")
		}
	})
}
