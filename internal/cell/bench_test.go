package cell

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// The cost of the metrics middleware, against the same handler without it
// (the baseline of bench/cell.sh).
func benchHandler(b *testing.B, h http.Handler) {
	r := httptest.NewRequest("GET", "/api/collections/0b6c5f1e-3a8e-4a4f-9f43-8c7f2d1e0a11/objects/", nil)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
	}
}

func okHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(200) })
}

func BenchmarkHandlerBaseline(b *testing.B) {
	benchHandler(b, okHandler())
}

func BenchmarkHandlerInstrumented(b *testing.B) {
	benchHandler(b, instrument(okHandler(), NewMetrics(), "/api/"))
}

func BenchmarkRoute(b *testing.B) {
	for b.Loop() {
		Route("/api/collections/0b6c5f1e-3a8e-4a4f-9f43-8c7f2d1e0a11/objects/indicator--0b6c5f1e-3a8e-4a4f-9f43-8c7f2d1e0a11/versions/", "/api/")
	}
}
