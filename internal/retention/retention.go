// Package retention purges what a cell must not keep: object versions older
// than the maximum age of their collection or of one of their markings
// (measured from date_added, the cell's arrival time), and indicators whose
// valid_until has passed. Every purge is audited. Configuration is described
// in docs/privacy.md.
package retention

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/jointcell/jointcell/internal/audit"
	"github.com/jointcell/jointcell/internal/store"
)

// Store is what the job needs of the store.
type Store interface {
	ListCollections(ctx context.Context) ([]store.Collection, error)
	Query(ctx context.Context, collectionID string, f store.Filter) (store.Page, error)
	DeleteVersions(ctx context.Context, collectionID, objectID string, f store.Filter) (int, error)
}

// Auditor records purges.
type Auditor interface {
	Append(ctx context.Context, e audit.Entry) error
}

// Clock is the job's time source, replaced by a fake in tests.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

// SystemClock is the real clock.
type SystemClock struct{}

// Now returns the current time.
func (SystemClock) Now() time.Time { return time.Now() }

// After waits for d on the real clock.
func (SystemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Config is the retention policy. A zero maximum age means "keep".
type Config struct {
	Interval         time.Duration            // between passes; 0 means one hour
	Collections      map[string]time.Duration // by collection id or alias
	Markings         map[string]time.Duration // by marking-definition id
	ExpireIndicators bool                     // delete indicator versions past valid_until
}

// fileConfig is the JSON form of Config (docs/privacy.md).
type fileConfig struct {
	Interval         string            `json:"interval"`
	Collections      map[string]string `json:"collections"`
	Markings         map[string]string `json:"markings"`
	ExpireIndicators bool              `json:"expire_indicators"`
}

// ParseConfig reads the JSON configuration. Durations are Go durations
// ("720h", "90m") or whole days ("90d").
func ParseConfig(data []byte) (Config, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var fc fileConfig
	if err := dec.Decode(&fc); err != nil {
		return Config{}, fmt.Errorf("retention: parse config: %w", err)
	}
	var c Config
	var err error
	if fc.Interval != "" {
		if c.Interval, err = parseDuration(fc.Interval); err != nil {
			return Config{}, fmt.Errorf("retention: config interval: %w", err)
		}
	}
	parseMap := func(what string, in map[string]string) (map[string]time.Duration, error) {
		out := make(map[string]time.Duration, len(in))
		for k, v := range in {
			d, err := parseDuration(v)
			if err != nil {
				return nil, fmt.Errorf("retention: config %s %q: %w", what, k, err)
			}
			out[k] = d
		}
		return out, nil
	}
	if c.Collections, err = parseMap("collection", fc.Collections); err != nil {
		return Config{}, err
	}
	if c.Markings, err = parseMap("marking", fc.Markings); err != nil {
		return Config{}, err
	}
	for k := range c.Markings {
		if !strings.HasPrefix(k, "marking-definition--") {
			return Config{}, fmt.Errorf("retention: config marking %q: not a marking-definition id", k)
		}
	}
	c.ExpireIndicators = fc.ExpireIndicators
	return c, nil
}

func parseDuration(s string) (time.Duration, error) {
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil {
			return 0, fmt.Errorf("bad duration %q", s)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, err
		}
	}
	if d <= 0 {
		return 0, fmt.Errorf("duration %q must be positive", s)
	}
	return d, nil
}

// Job applies a Config periodically.
type Job struct {
	store  Store
	audit  Auditor
	cfg    Config
	clock  Clock
	logger *slog.Logger
}

// New returns a job. clock nil means the system clock.
func New(s Store, a Auditor, cfg Config, clock Clock, logger *slog.Logger) *Job {
	if cfg.Interval <= 0 {
		cfg.Interval = time.Hour
	}
	if clock == nil {
		clock = SystemClock{}
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Job{store: s, audit: a, cfg: cfg, clock: clock, logger: logger}
}

// Run purges now and then every Interval until ctx is done; a failed pass
// is logged and retried at the next interval. It returns nil when ctx ends.
func (j *Job) Run(ctx context.Context) error {
	for {
		if n, err := j.Once(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			j.logger.Error("retention pass failed", "err", err, "purged", n)
		} else if n > 0 {
			j.logger.Info("retention pass", "purged", n)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-j.clock.After(j.cfg.Interval):
		}
	}
}

// pageSize is how many versions one scan query reads.
const pageSize = 500

// Once runs one pass over every collection and returns how many versions
// it deleted.
func (j *Job) Once(ctx context.Context) (int, error) {
	colls, err := j.store.ListCollections(ctx)
	if err != nil {
		return 0, fmt.Errorf("retention: list collections: %w", err)
	}
	now := j.clock.Now()
	total := 0
	for _, c := range colls {
		n, err := j.collection(ctx, c, now)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

func (j *Job) collection(ctx context.Context, c store.Collection, now time.Time) (int, error) {
	maxAge, ok := j.cfg.Collections[c.ID]
	if !ok && c.Alias != "" {
		maxAge = j.cfg.Collections[c.Alias]
	}
	if maxAge == 0 && len(j.cfg.Markings) == 0 && !j.cfg.ExpireIndicators {
		return 0, nil
	}
	n := 0
	f := store.Filter{Versions: []string{"all"}, Limit: pageSize}
	for {
		page, err := j.store.Query(ctx, c.ID, f)
		if err != nil {
			return n, fmt.Errorf("retention: scan %s: %w", c.ID, err)
		}
		for _, v := range page.Versions {
			reason := j.expired(v, maxAge, now)
			if reason == "" {
				continue
			}
			if err := j.purge(ctx, c, v, reason, now); err != nil {
				return n, err
			}
			n++
		}
		if !page.More || len(page.Versions) == 0 {
			return n, nil
		}
		f.AddedAfter = page.Versions[len(page.Versions)-1].DateAdded
	}
}

// expired says why v must go, or "".
func (j *Job) expired(v store.Version, collMax time.Duration, now time.Time) string {
	limit, why := collMax, "collection maximum age"
	for _, ref := range v.Object.MarkingRefs {
		if d, ok := j.cfg.Markings[ref]; ok && (limit == 0 || d < limit) {
			limit, why = d, "maximum age of marking "+ref
		}
	}
	if limit > 0 && now.Sub(v.DateAdded) > limit {
		return fmt.Sprintf("%s %s exceeded", why, limit)
	}
	if j.cfg.ExpireIndicators && v.Object.Type == "indicator" {
		var ind struct {
			ValidUntil string `json:"valid_until"`
		}
		if json.Unmarshal(v.Object.Raw, &ind) == nil && ind.ValidUntil != "" {
			// STIX timestamps are RFC 3339 in UTC (STIX 2.1 §3.2).
			if t, err := time.Parse(time.RFC3339Nano, ind.ValidUntil); err == nil && t.Before(now) {
				return "valid_until " + ind.ValidUntil + " passed"
			}
		}
	}
	return ""
}

func (j *Job) purge(ctx context.Context, c store.Collection, v store.Version, reason string, now time.Time) error {
	o := v.Object
	f := store.Filter{}
	if ver := o.Version(); ver != "" {
		f.Versions = []string{ver}
	}
	e := audit.Entry{Time: now, Actor: "system", Action: audit.ActionPurge, Target: c.ID, IDs: []string{o.ID},
		Outcome: audit.OutcomeOK, Detail: "version " + o.Version() + ": " + reason}
	_, err := j.store.DeleteVersions(ctx, c.ID, o.ID, f)
	if errors.Is(err, store.ErrNotFound) {
		return nil // already gone: someone deleted it meanwhile
	}
	if err != nil {
		e.Outcome, e.Detail = audit.OutcomeError, e.Detail+": "+err.Error()
	}
	if aerr := j.audit.Append(ctx, e); aerr != nil {
		return fmt.Errorf("retention: audit purge of %s: %w", o.ID, errors.Join(aerr, err))
	}
	if err != nil {
		return fmt.Errorf("retention: purge %s in %s: %w", o.ID, c.ID, err)
	}
	return nil
}
