package cell

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/jointcell/jointcell/internal/access"
	"github.com/jointcell/jointcell/internal/metrics"
	"github.com/jointcell/jointcell/internal/store"
)

// Metrics are the cell's Prometheus metrics.
type Metrics struct {
	Registry      *metrics.Registry
	Requests      *metrics.Counter   // route, code
	Latency       *metrics.Histogram // route
	ObjectsStored *metrics.Counter
	AuthFailures  *metrics.Counter
}

// NewMetrics registers the cell's metrics in a new registry.
func NewMetrics() *Metrics {
	r := metrics.NewRegistry()
	return &Metrics{
		Registry:      r,
		Requests:      r.Counter("jointcell_http_requests_total", "HTTP requests by route and status code.", "route", "code"),
		Latency:       r.Histogram("jointcell_http_request_duration_seconds", "HTTP request latency by route.", metrics.DefaultBuckets, "route"),
		ObjectsStored: r.Counter("jointcell_objects_stored_total", "Object versions stored (duplicates and rejections excluded)."),
		AuthFailures:  r.Counter("jointcell_auth_failures_total", "Failed authentication attempts, rate-limited ones included."),
	}
}

// CountingStore counts the versions a store adds into ObjectsStored. It is
// the store to give the TAXII server.
func (m *Metrics) CountingStore(st store.Store) store.Store {
	return countingStore{Store: st, added: m.ObjectsStored}
}

type countingStore struct {
	store.Store
	added *metrics.Counter
}

func (s countingStore) AddVersions(ctx context.Context, collectionID string, vs []store.Version) ([]store.AddResult, error) {
	res, err := s.Store.AddVersions(ctx, collectionID, vs)
	n := 0
	for _, r := range res {
		if r.Outcome == store.Added {
			n++
		}
	}
	if err == nil && n > 0 {
		s.added.Add(float64(n))
	}
	return res, err
}

// Authenticator is what the routes need to gate /metrics.
type Authenticator interface {
	Authenticate(r *http.Request) (access.Principal, error)
}

// Routes are the handlers the cell serves.
type Routes struct {
	TAXII   http.Handler // /taxii2/, the API root, and the 404 of everything unknown
	Admin   http.Handler // /admin/
	Auth    Authenticator
	Metrics *Metrics
	APIRoot string // default "/api/"
}

// Handler returns the cell's HTTP handler: the TAXII server, the admin API,
// /metrics for admins, /healthz for anyone, all instrumented.
func Handler(rt Routes) http.Handler {
	if rt.APIRoot == "" {
		rt.APIRoot = "/api/"
	}
	mux := http.NewServeMux()
	mux.Handle("/", rt.TAXII)
	mux.Handle("/admin/", rt.Admin)
	mux.Handle("/metrics", AdminOnly(rt.Auth, rt.TAXII, rt.Metrics.Registry.Handler()))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		// Unauthenticated, so it says nothing but that the process answers.
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok"))
	})
	return instrument(mux, rt.Metrics, rt.APIRoot)
}

// AdminOnly serves h to admins and answers everyone else as notFound (the
// TAXII server) answers an unknown path, so that the endpoint's existence
// is not revealed.
func AdminOnly(auth Authenticator, notFound, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "" {
			notFound.ServeHTTP(w, r)
			return
		}
		p, err := auth.Authenticate(r)
		if err != nil {
			notFound.ServeHTTP(w, WithoutCredentials(r))
			return
		}
		if !p.IsAdmin() {
			notFound.ServeHTTP(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// WithoutCredentials returns a copy of r without its Authorization header.
// A handler that failed to authenticate r and delegates it (to answer as
// the TAXII server does) passes this copy, so that the same bad
// credentials are not counted, audited and rate-limited twice.
func WithoutCredentials(r *http.Request) *http.Request {
	r2 := r.Clone(r.Context())
	r2.Header.Del("Authorization")
	return r2
}

// instrument counts requests by route template and status, and times them.
func instrument(next http.Handler, m *Metrics, apiRoot string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		route := Route(r.URL.Path, apiRoot)
		m.Requests.Inc(route, strconv.Itoa(sw.status))
		m.Latency.Observe(time.Since(start).Seconds(), route)
	})
}

type statusWriter struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.status, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wroteHeader = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the real writer (Flush,
// deadlines).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Route maps a request path to its route template, so that the metrics'
// label values stay few whatever clients send: ids become "{id}", unknown
// paths "other".
func Route(path, apiRoot string) string {
	switch {
	case path == "/taxii2/", path == "/metrics", path == "/healthz":
		return path
	case strings.HasPrefix(path, "/admin/"):
		return "/admin/"
	case !strings.HasPrefix(path, apiRoot):
		return "other"
	}
	rest := strings.TrimPrefix(path, apiRoot)
	if rest == "" {
		return apiRoot
	}
	if !strings.HasSuffix(rest, "/") {
		return "other" // TAXII paths end in "/"
	}
	// The shapes of TAXII 2.1 §4-5 paths below the API root; the label is
	// a constant per shape, so that classifying costs no allocation but
	// the final concatenation.
	var segs [5]string
	n := 0
	for rest != "" {
		seg, after, _ := strings.Cut(rest, "/")
		if seg == "" || n == len(segs) {
			return "other"
		}
		segs[n], n, rest = seg, n+1, after
	}
	var suffix string
	switch {
	case n == 2 && segs[0] == "status":
		suffix = "status/{id}/"
	case segs[0] != "collections":
		return "other"
	case n == 1:
		suffix = "collections/"
	case n == 2:
		suffix = "collections/{id}/"
	case n == 3 && (segs[2] == "manifest" || segs[2] == "objects"):
		suffix = "collections/{id}/" + segs[2] + "/"
	case n == 4 && segs[2] == "objects":
		suffix = "collections/{id}/objects/{id}/"
	case n == 5 && segs[2] == "objects" && segs[4] == "versions":
		suffix = "collections/{id}/objects/{id}/versions/"
	default:
		return "other"
	}
	return apiRoot + suffix
}

// ServerOptions are the HTTP server's limits; zero values take defaults.
type ServerOptions struct {
	ReadHeaderTimeout time.Duration // default 10 s
	// ReadTimeout bounds reading a whole request, body included; the
	// default (5 min) lets a client post a max_content_length envelope
	// over a slow link.
	ReadTimeout     time.Duration
	WriteTimeout    time.Duration // default 5 min, for large pages
	IdleTimeout     time.Duration // default 2 min
	MaxHeaderBytes  int           // default 64 KiB
	ShutdownTimeout time.Duration // default 30 s
}

func (o *ServerOptions) defaults() {
	if o.ReadHeaderTimeout <= 0 {
		o.ReadHeaderTimeout = 10 * time.Second
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = 5 * time.Minute
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 5 * time.Minute
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 2 * time.Minute
	}
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = 64 << 10
	}
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = 30 * time.Second
	}
}

// Serve serves h on ln (over TLS when tlsConf is not nil) until ctx is
// cancelled, then shuts down gracefully: it stops accepting, lets every
// request in flight finish (up to ShutdownTimeout) and returns. Request
// contexts do not derive from ctx, so that a POST being stored when the
// signal comes is stored completely.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, tlsConf *tls.Config, opts ServerOptions, logger *slog.Logger) error {
	opts.defaults()
	srv := &http.Server{
		Handler:           h,
		TLSConfig:         tlsConf,
		ReadHeaderTimeout: opts.ReadHeaderTimeout,
		ReadTimeout:       opts.ReadTimeout,
		WriteTimeout:      opts.WriteTimeout,
		IdleTimeout:       opts.IdleTimeout,
		MaxHeaderBytes:    opts.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() {
		if tlsConf != nil {
			errc <- srv.ServeTLS(ln, "", "")
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return fmt.Errorf("cell: serve: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down: finishing requests in flight", "timeout", opts.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), opts.ShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("cell: shutdown: %w", err)
	}
	return nil
}
