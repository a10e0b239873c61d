package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/jointcell/jointcell/internal/detect"
	"github.com/jointcell/jointcell/internal/stix"
	"github.com/jointcell/jointcell/internal/taxii"
)

// cmdDetect matches telemetry against STIX indicators and reports sightings.
// Offline it reads indicators from a file and writes sightings to stdout;
// online it follows a TAXII collection and posts sightings back.
func cmdDetect(ctx context.Context, e *env, args []string) int {
	fs := flag.NewFlagSet("detect", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	var (
		indicators = fs.String("indicators", "", "indicators file: STIX bundle, JSON list, or one object a line")
		events     = fs.String("events", "", "events: FILE, - for stdin, or nats://HOST:PORT/SUBJECT")
		listen     = fs.String("listen", "", "accept events as JSON lines on POST http://ADDR/events (e.g. 127.0.0.1:8089)")
		format     = fs.String("format", "", "event format: stix, ecs, zeek or eve")
		identity   = fs.String("identity", "", "the member's identity id (identity--...) for where_sighted_refs and created_by_ref")
		window     = fs.Duration("window", 60*time.Second, "aggregate the matches of one indicator into one sighting over this window")
		workers    = fs.Int("workers", 0, "decoding and matching workers (default: one per CPU)")
		maxLine    = fs.Int("max-line", detect.DefaultMaxLine, "reject event lines longer than this many bytes")
		server     = fs.String("server", "", "TAXII server URL of the cell (online mode)")
		user       = fs.String("user", "", "TAXII user (HTTP Basic with the token as password)")
		token      = fs.String("token", "", "TAXII API token")
		caFile     = fs.String("ca", "", "PEM file of the CA that signed the cell's certificate")
		insecure   = fs.Bool("insecure", false, "do not verify the cell's certificate (self-signed test cells only)")
		collection = fs.String("collection", "", "TAXII collection id of the indicators to follow")
		sightColl  = fs.String("sightings-collection", "", "TAXII collection id where sightings are posted")
		spool      = fs.String("spool", "", "file keeping unsent sightings across restarts")
		stream     = fs.String("stream", "JOINTCELL_EVENTS", "NATS JetStream stream (created when missing)")
		consumer   = fs.String("consumer", "jointcell-detect", "NATS durable consumer name, shared by detectors that split the work")
		drain      = fs.Duration("drain-timeout", 10*time.Second, "at shutdown, how long to keep trying to deliver sightings")
		quiet      = fs.Bool("quiet", false, "log only errors")
	)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		return fail(e, "detect: unexpected argument %q", fs.Arg(0))
	}
	f, err := detect.ParseFormat(*format)
	if err != nil {
		return fail(e, "detect: %v", err)
	}
	if *events == "" && *listen == "" {
		return fail(e, "detect: give --events FILE|-|nats://HOST:PORT/SUBJECT or --listen ADDR")
	}
	if *events != "" && *listen != "" {
		return fail(e, "detect: give either --events or --listen, not both")
	}
	if *identity != "" && !strings.HasPrefix(*identity, "identity--") {
		return fail(e, "detect: --identity %q is not an identity id", *identity)
	}
	if *window <= 0 {
		return fail(e, "detect: --window must be positive")
	}
	online := *server != ""
	if online && *collection == "" {
		return fail(e, "detect: --server needs --collection")
	}
	if !online && *indicators == "" {
		return fail(e, "detect: give --indicators FILE, or --server and --collection")
	}
	if !online && (*sightColl != "" || *collection != "") {
		return fail(e, "detect: --collection and --sightings-collection need --server")
	}
	// Open the events file first, so a typo fails before indicators load.
	var eventsFile *os.File
	if *events != "" && *events != "-" && !strings.HasPrefix(*events, "nats://") {
		eventsFile, err = os.Open(*events)
		if err != nil {
			return fail(e, "detect: %v", err)
		}
		defer eventsFile.Close()
	}
	level := slog.LevelInfo
	if *quiet {
		level = slog.LevelError
	}
	logger := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	ix := detect.NewIndex(detect.CompilePattern, detect.IndexConfig{}, logger)
	var client *taxii.Client
	var follower *detect.Follower
	if online {
		client, err = taxii.NewClient(taxii.ClientConfig{BaseURL: *server, User: *user, Token: *token, CAFile: *caFile, Insecure: *insecure})
		if err != nil {
			return fail(e, "detect: %v", err)
		}
		follower = &detect.Follower{Feed: taxiiFeed{c: client, collection: *collection}, Index: ix, Log: logger}
		loadStart := time.Now()
		res, err := follower.Load(ctx)
		if err != nil {
			return fail(e, "detect: load indicators: %v", err)
		}
		logger.Info("indicators loaded", "active", ix.Len(), "failed", res.Failed, "pending", res.Pending,
			"seconds", fmt.Sprintf("%.2f", time.Since(loadStart).Seconds()))
	}
	if *indicators != "" {
		loadStart := time.Now()
		inds, err := readIndicators(*indicators)
		if err != nil {
			return fail(e, "detect: %v", err)
		}
		res := ix.Update(inds)
		if ix.Len() == 0 && res.Pending == 0 && !online {
			return fail(e, "detect: %s holds no active STIX indicator (%d failed to compile)", *indicators, res.Failed)
		}
		logger.Info("indicators loaded", "active", ix.Len(), "failed", res.Failed, "pending", res.Pending, "ignored", res.Ignored,
			"seconds", fmt.Sprintf("%.2f", time.Since(loadStart).Seconds()))
	}

	// Where sightings go: the cell (through the outbox) or stdout.
	var emit detect.Emit
	var outbox *detect.Outbox
	var outWG sync.WaitGroup
	outCtx, outCancel := context.WithCancel(context.Background())
	defer outCancel()
	if online && *sightColl != "" {
		outbox, err = detect.NewOutbox(detect.OutboxConfig{Spool: *spool}, taxiiPoster{c: client, collection: *sightColl, log: logger}, logger)
		if err != nil {
			return fail(e, "detect: %v", err)
		}
		emit = outbox.Emit
		outWG.Add(1)
		go func() { defer outWG.Done(); _ = outbox.Run(outCtx) }()
	} else {
		var mu sync.Mutex
		w := bufio.NewWriter(e.stdout)
		defer w.Flush()
		emit = func(objs []json.RawMessage) error {
			mu.Lock()
			defer mu.Unlock()
			for _, o := range objs {
				w.Write(o)
				w.WriteByte('\n')
			}
			return w.Flush()
		}
	}
	agg := detect.NewAggregator(detect.AggregatorConfig{Identity: *identity, Window: *window}, emit)
	det, err := detect.NewDetector(detect.Config{Format: f, Workers: *workers}, ix, agg, logger)
	if err != nil {
		return fail(e, "detect: %v", err)
	}

	var src detect.Source
	var httpSrv *http.Server
	switch {
	case *listen != "":
		hs := &detect.HTTPSource{MaxLine: *maxLine, Log: logger}
		ln, err := net.Listen("tcp", *listen)
		if err != nil {
			return fail(e, "detect: listen %s: %v", *listen, err)
		}
		httpSrv = &http.Server{Handler: hs, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = httpSrv.Serve(ln) }()
		logger.Info("accepting events", "url", "http://"+ln.Addr().String()+"/events")
		src = hs
	case strings.HasPrefix(*events, "nats://"):
		srv, subject, err := detect.ParseNATSURL(*events)
		if err != nil {
			return fail(e, "%v", err)
		}
		src = &detect.NATSSource{URL: srv, Subject: subject, Stream: *stream, Consumer: *consumer, MaxLine: *maxLine, Log: logger}
	case *events == "-":
		src = &detect.ReaderSource{R: e.stdin, MaxLine: *maxLine, JoinLines: f == detect.FormatSTIX}
	default:
		src = &detect.ReaderSource{R: eventsFile, MaxLine: *maxLine, JoinLines: f == detect.FormatSTIX}
	}

	var followWG sync.WaitGroup
	if follower != nil {
		followWG.Add(1)
		go func() { defer followWG.Done(); _ = follower.Run(ctx) }()
	}
	start := time.Now()
	runErr := det.Run(ctx, src)
	elapsed := time.Since(start)
	if httpSrv != nil {
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = httpSrv.Shutdown(sctx)
		scancel()
	}
	cancel()
	followWG.Wait()
	// Flush at shutdown: the open windows become sightings now.
	flushErr := agg.Flush()
	status := 0
	if outbox != nil {
		outCancel()
		outWG.Wait()
		dctx, dcancel := context.WithTimeout(context.Background(), *drain)
		if err := outbox.Drain(dctx); err != nil {
			if *spool != "" {
				logger.Warn("sightings kept in spool for the next run", "objects", outbox.Pending(), "spool", *spool)
			} else {
				logger.Error("sightings not delivered", "err", err)
				status = 1
			}
		}
		dcancel()
		_ = outbox.Close()
	}
	st := det.Stats()
	rate := float64(st.Events) / max(elapsed.Seconds(), 1e-9)
	fmt.Fprintf(e.stderr, "detect: events read %d, malformed %d (too long %d), matched %d, sightings %d, %.0f events/s\n",
		st.Events, st.Malformed, st.TooLong, st.Matched, agg.Sightings(), rate)
	if runErr != nil {
		return fail(e, "detect: %v", runErr)
	}
	if flushErr != nil {
		return fail(e, "detect: %v", flushErr)
	}
	return status
}

// readIndicators reads a bundle, a JSON list, one object, or JSON lines,
// decoding on every core. Other objects in the file are skipped.
func readIndicators(path string) ([]detect.Indicator, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if objs, err := stix.Decode(data); err == nil {
		raws := make([]json.RawMessage, len(objs))
		for i, o := range objs {
			raws[i] = o.Raw
		}
		return detect.ParseIndicators(raws), nil
	}
	// stix.Decode stops at the end of the first value of JSON lines.
	inds, err := detect.DecodeIndicatorLines(data)
	var le *detect.LineError
	if errors.As(err, &le) {
		return nil, fmt.Errorf("%s:%d: not a JSON object", path, le.Line)
	}
	return inds, err
}

// taxiiFeed adapts the TAXII client to detect.IndicatorFeed: every object
// added after the cursor, following next (TAXII 2.1 §3.4.2, §3.5).
type taxiiFeed struct {
	c          *taxii.Client
	collection string
}

var _ detect.IndicatorFeed = taxiiFeed{}

func (f taxiiFeed) Since(ctx context.Context, after string) ([]json.RawMessage, string, error) {
	var objs []json.RawMessage
	last := after
	err := f.c.Iterate(ctx, f.collection, taxii.Filter{AddedAfter: after, Types: []string{"indicator"}}, func(p *taxii.ObjectsPage) error {
		objs = append(objs, p.Objects...)
		if p.DateAddedLast != "" {
			last = p.DateAddedLast
		}
		return nil
	})
	return objs, last, err
}

// taxiiPoster adapts the TAXII client to detect.Poster. Objects the cell
// rejects (failures in the status) are logged, not retried: sending them
// again would fail again and block everything behind them.
type taxiiPoster struct {
	c          *taxii.Client
	collection string
	log        *slog.Logger
}

var _ detect.Poster = taxiiPoster{}

func (p taxiiPoster) Post(ctx context.Context, objs []json.RawMessage) error {
	st, err := p.c.AddObjects(ctx, p.collection, objs)
	if err != nil {
		var he *taxii.HTTPError
		if errors.As(err, &he) && he.StatusCode >= 400 && he.StatusCode < 500 && he.StatusCode != 408 && he.StatusCode != 429 {
			// A request the cell will never accept (bad rights, bad
			// collection): retrying cannot help, but losing sightings
			// silently is worse, so it is retried and logged loudly.
			p.log.Error("cell refused sightings", "status", he.StatusCode, "err", err)
		}
		return err
	}
	if st != nil && st.FailureCount > 0 {
		p.log.Error("cell rejected sighting objects", "failures", st.FailureCount, "status_id", st.ID)
	}
	return nil
}
