package main

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jointcell/jointcell/internal/access"
	"github.com/jointcell/jointcell/internal/admin"
	"github.com/jointcell/jointcell/internal/audit"
	"github.com/jointcell/jointcell/internal/auth"
	jcell "github.com/jointcell/jointcell/internal/cell"
	"github.com/jointcell/jointcell/internal/federation"
	"github.com/jointcell/jointcell/internal/redact"
	"github.com/jointcell/jointcell/internal/retention"
	"github.com/jointcell/jointcell/internal/taxii"
)

// defaultAddr is loopback only: a new cell is reachable from this machine
// until its operator decides otherwise with --addr.
const defaultAddr = "127.0.0.1:8443"

// cmdServe runs a cell: jointcell serve --data DIR. The wiring reads top to
// bottom: data folder -> audit log -> authentication -> access policy ->
// TAXII server and admin API -> HTTP server, until ctx is cancelled.
func cmdServe(ctx context.Context, e *env, args []string) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	data := fs.String("data", "", "the cell's data folder, created on first start (required)")
	addr := fs.String("addr", defaultAddr, "address to listen on (HOST:PORT; port 0 picks a free one)")
	plain := fs.Bool("http", false, "serve plain HTTP instead of HTTPS (behind a TLS proxy, or for local tests)")
	certFile := fs.String("tls-cert", "", "certificate file (PEM) instead of the self-signed one")
	keyFile := fs.String("tls-key", "", "key file (PEM) of --tls-cert")
	maxContent := fs.Int64("max-content-length", taxii.DefaultMaxContentLength, "largest request body accepted, in bytes (TAXII max_content_length)")
	redactionFile := fs.String("redaction", "", "egress redaction configuration (JSON, docs/privacy.md); default: the standard profile for every reader outside the producer's organisation")
	retentionFile := fs.String("retention", "", "retention configuration (JSON, docs/privacy.md); default: keep everything")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	format := fs.String("log-format", "text", "text or json")
	debugAddr := fs.String("debug-addr", "", "serve Go's runtime profiles (net/http/pprof) on this loopback address, e.g. 127.0.0.1:6060; off by default")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	switch {
	case fs.NArg() > 0:
		return fail(e, "serve: unexpected argument %q", fs.Arg(0))
	case *data == "":
		return fail(e, "serve: --data DIR is required")
	case (*certFile == "") != (*keyFile == ""):
		return fail(e, "serve: --tls-cert and --tls-key go together")
	case *maxContent <= 0:
		return fail(e, "serve: --max-content-length must be positive")
	case *plain && *certFile != "":
		return fail(e, "serve: --http and --tls-cert exclude each other")
	case *debugAddr != "" && !loopback(*debugAddr):
		return fail(e, "serve: --debug-addr %q: profiles are served without authentication, so only on a loopback address (127.0.0.1:PORT or [::1]:PORT)", *debugAddr)
	}
	logger, err := newLogger(e.stderr, *level, *format)
	if err != nil {
		return fail(e, "serve: %v", err)
	}
	// Privacy settings are read before anything starts, so that a typo
	// stops the cell instead of silently sharing more than intended.
	redaction := redact.DefaultConfig()
	if *redactionFile != "" {
		if redaction, err = readConfig(*redactionFile, redact.ParseConfig); err != nil {
			return fail(e, "serve: --redaction: %v", err)
		}
	}
	var retain *retention.Config
	if *retentionFile != "" {
		rc, err := readConfig(*retentionFile, retention.ParseConfig)
		if err != nil {
			return fail(e, "serve: --retention: %v", err)
		}
		retain = &rc
	}

	// An operator's certificate and the listening address are checked
	// before the data folder is touched, so that a typo or a busy port
	// creates no half-started cell and prints no admin token in vain.
	var tlsConf *tls.Config
	var fingerprint string
	if *certFile != "" {
		if tlsConf, fingerprint, err = jcell.LoadTLS(*certFile, *keyFile); err != nil {
			return fail(e, "serve: %v", err)
		}
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fail(e, "serve: %v", err)
	}
	defer ln.Close() // Serve closes it too; this covers the early returns

	if *debugAddr != "" {
		stop, err := serveProfiles(*debugAddr, logger)
		if err != nil {
			return fail(e, "serve: --debug-addr: %v", err)
		}
		defer stop()
	}

	// The data folder: database, cell key, secrets; on first start the
	// admin organisation and user.
	c, err := jcell.Open(ctx, *data, logger)
	if err != nil {
		return fail(e, "serve: %v", err)
	}
	defer c.Close()
	adminToken, err := c.Bootstrap(ctx)
	if err != nil {
		return fail(e, "serve: %v", err)
	}
	if adminToken != "" {
		// Printed at once: should a later step fail, the token exists
		// and the operator must have it.
		fmt.Fprintf(e.stdout, "admin token (shown only once, keep it safe): %s\n", adminToken)
	}

	// TLS unless asked otherwise (TAXII 2.1 §1.6.6).
	scheme := "http"
	if !*plain {
		if tlsConf == nil {
			if tlsConf, fingerprint, err = jcell.TLSConfig(*data); err != nil {
				return fail(e, "serve: %v", err)
			}
		}
		scheme = "https"
	}

	// The audit log, signed with the cell key; it closes before the store
	// (defers run in reverse), after the last request has finished.
	auditLog, err := audit.Open(filepath.Join(*data, jcell.AuditDir), c.Key, audit.Options{Logger: logger})
	if err != nil {
		return fail(e, "serve: %v", err)
	}
	defer func() {
		if err := auditLog.Close(); err != nil {
			logger.Error("close audit log", "err", err)
		}
	}()
	if adminToken != "" {
		// The first start made the admin organisation and user: the first
		// administrative change of the cell, audited like the others.
		err := auditLog.Append(ctx, audit.Entry{Actor: "system", Action: audit.ActionAdmin, Target: "user:admin",
			Outcome: audit.OutcomeOK, Detail: "bootstrap: create organisation admin and user admin with role admin"})
		if err != nil {
			logger.Error("audit the bootstrap", "err", err)
		}
	}
	// Management changes made with the CLI while this server holds the
	// log wait in the store's audit outbox; they are appended at start
	// and then within a second, until the log closes (internal/cell).
	if ob, ok := c.Store.(jcell.AuditOutbox); ok {
		relayCtx, stopRelay := context.WithCancel(ctx)
		relayed := make(chan struct{})
		go func() {
			defer close(relayed)
			jcell.RelayAuditOutbox(relayCtx, ob, auditLog, time.Second, logger)
		}()
		defer func() { stopRelay(); <-relayed }()
	}
	if fingerprint != "" {
		// Printed once the cell is known to start (a second server on the
		// same folder stops at the audit log's lock, above).
		fmt.Fprintf(e.stdout, "TLS certificate SHA-256 fingerprint: %s\n", fingerprint)
	}

	// Status resources older than their lifetime are deleted hourly; the
	// purger stops before the store closes.
	purgeCtx, stopPurge := context.WithCancel(ctx)
	purged := make(chan struct{})
	go func() {
		defer close(purged)
		jcell.PurgeStatuses(purgeCtx, c.Store, taxii.DefaultStatusTTL, time.Hour, nil, logger)
	}()
	defer func() { stopPurge(); <-purged }()

	metrics := jcell.NewMetrics()
	st := metrics.CountingStore(c.Store)
	authn := auth.New(st, auditLog, auth.Options{OnFailure: func() { metrics.AuthFailures.Inc() }, Logger: logger})
	policy := access.NewPolicy(access.PolicyConfig{
		Groups: st.ListGroups,
		// The store itself, not the counting wrapper: the policy only
		// reads, and the wrapper would hide the store's optional
		// StoredIDs (a batch of new ids then needs no history query).
		Objects:   c.Store,
		Redaction: redaction,
		Redactor:  redact.New(c.RedactionKey),
		Logger:    logger,
		// A marking definition's content is compared without the
		// provenance extension, which differs for the same definition
		// signed in two batches (two paths, docs/federation.md).
		DefinitionContent: federation.Content,
	})
	// Retention purges (audited) run until shutdown, stopping before the
	// audit log and the store close.
	if retain != nil {
		job := retention.New(c.Store, auditLog, *retain, retention.SystemClock{}, logger)
		retCtx, stopRet := context.WithCancel(ctx)
		retDone := make(chan struct{})
		go func() { defer close(retDone); _ = job.Run(retCtx) }()
		defer func() { stopRet(); <-retDone }()
	}
	// Federation (docs/federation.md): the guard serves peers' accounts
	// under the federation rules, and the sync loops run until shutdown,
	// stopping before the audit log and the store close.
	var taxiiAuthn taxii.Authenticator = authn
	var taxiiPolicy taxii.Policy = policy
	var fed *federation.Service
	if fst, ok := c.Store.(federation.Store); ok {
		fed = federation.New(federation.Config{Store: fst, Key: c.Key, Policy: policy, Audit: auditLog, Logger: logger})
		fed.RegisterMetrics(metrics.Registry)
		guard := fed.Guard(authn, policy)
		taxiiAuthn, taxiiPolicy, st = guard, guard, fed.Watch(st)
		fedCtx, stopFed := context.WithCancel(ctx)
		fedDone := make(chan struct{})
		go func() { defer close(fedDone); _ = fed.Run(fedCtx) }()
		defer func() { stopFed(); <-fedDone }()
	}
	taxiiServer := taxii.NewServer(taxii.Config{
		Objects:          st,
		Collections:      st,
		Statuses:         st,
		Authenticator:    taxiiAuthn,
		Policy:           taxiiPolicy,
		Auditor:          auditLog,
		Logger:           logger,
		CursorKey:        c.CursorKey,
		MaxContentLength: *maxContent,
	})
	adminAPI := admin.New(admin.Config{
		Manager:  c.Manager(),
		Auth:     authn,
		Audit:    auditLog,
		AuditDir: filepath.Join(*data, jcell.AuditDir),
		Key:      c.Key.Public().(ed25519.PublicKey),
		NotFound: taxiiServer,
		Logger:   logger,
		Peers:    adminPeers(c),
	})
	handler := jcell.Handler(jcell.Routes{TAXII: taxiiServer, Admin: adminAPI, Auth: authn, Metrics: metrics})
	if fed != nil {
		handler = federation.Mount(handler, fed.Handler(authn))
	}

	if *plain {
		logger.Warn("serving plain HTTP: tokens and intelligence cross the network in clear; use it only behind a TLS proxy or on loopback")
	}
	logger.Info(fmt.Sprintf("listening on %s://%s", scheme, ln.Addr()))
	if err := jcell.Serve(ctx, ln, handler, tlsConf, jcell.ServerOptions{}, logger); err != nil {
		return fail(e, "serve: %v", err)
	}
	logger.Info("stopped")
	return 0
}

// readConfig reads and parses a configuration file.
func readConfig[T any](path string, parse func([]byte) (T, error)) (T, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		var zero T
		return zero, err
	}
	return parse(data)
}

// newLogger builds the process's logger; it writes to stderr, leaving
// stdout for what the operator must copy (the admin token, the
// fingerprint).
func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: l}
	switch strings.ToLower(format) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: use text or json", format)
}
