package detect

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/jointcell/jointcell/internal/stix"
)

// AggregatorConfig configures sighting aggregation.
type AggregatorConfig struct {
	// Identity is the member's identity id: where_sighted_refs and
	// created_by_ref of every object made. Optional.
	Identity string
	// Window is how long matches of one indicator are aggregated into one
	// sighting (default 60 s), so that a scan hitting an indicator a
	// million times makes one sighting with count 1000000.
	Window time.Duration
	// MaxRefs bounds the observed-data objects kept per sighting (default
	// 10): the first matching events of the window are evidence enough.
	MaxRefs int
	// MaxPending bounds the open aggregates; when reached, all are
	// emitted early (default 100000).
	MaxPending int
	// Now is the clock, for tests.
	Now func() time.Time
}

// Emit receives the objects of finished sightings: the SCOs and
// observed-data each references, then the sighting, in that order.
type Emit func(objs []json.RawMessage) error

// Aggregator turns matches into STIX 2.1 sightings (STIX 2.1 §5.2),
// aggregated per indicator over a window. It is safe for concurrent use.
type Aggregator struct {
	cfg  AggregatorConfig
	emit Emit

	mu   sync.Mutex
	open map[string]*aggregate
	// Sightings counts the sightings emitted.
	sightings int64
}

type aggregate struct {
	indicator   string
	opened      time.Time
	count       int64
	first, last time.Time
	objects     []json.RawMessage // SCOs and observed-data, in order
	seenSCO     map[string]bool
	refs        []string // observed-data ids
}

// NewAggregator returns an aggregator that hands finished sightings to emit.
func NewAggregator(cfg AggregatorConfig, emit Emit) *Aggregator {
	if cfg.Window <= 0 {
		cfg.Window = 60 * time.Second
	}
	if cfg.MaxRefs <= 0 {
		cfg.MaxRefs = 10
	}
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = 100000
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Aggregator{cfg: cfg, emit: emit, open: map[string]*aggregate{}}
}

// Add records that ev matched the indicator. The event is converted to an
// observed-data object only while the sighting has fewer than MaxRefs.
func (a *Aggregator) Add(indicator string, ev *Event) error {
	var evidence []json.RawMessage
	var odID string
	a.mu.Lock()
	g := a.open[indicator]
	if g == nil {
		g = &aggregate{indicator: indicator, opened: a.cfg.Now(), first: ev.Time, last: ev.Time, seenSCO: map[string]bool{}}
		a.open[indicator] = g
	}
	g.count += int64(max(ev.Count, 1))
	if ev.Time.Before(g.first) {
		g.first = ev.Time
	}
	if ev.Time.After(g.last) {
		g.last = ev.Time
	}
	need := len(g.refs) < a.cfg.MaxRefs
	full := len(a.open) >= a.cfg.MaxPending
	a.mu.Unlock()
	if need {
		var err error
		var scoIDs []string
		odID, scoIDs, evidence, err = a.observedData(ev)
		if err != nil {
			return err
		}
		a.mu.Lock()
		if g2 := a.open[indicator]; g2 == g && len(g.refs) < a.cfg.MaxRefs {
			for i, o := range evidence[:len(evidence)-1] {
				if !g.seenSCO[scoIDs[i]] {
					g.seenSCO[scoIDs[i]] = true
					g.objects = append(g.objects, o)
				}
			}
			g.objects = append(g.objects, evidence[len(evidence)-1])
			g.refs = append(g.refs, odID)
		}
		a.mu.Unlock()
	}
	if full {
		return a.Flush()
	}
	return nil
}

// Tick emits the sightings whose window has ended. The detector calls it
// every second.
func (a *Aggregator) Tick() error {
	now := a.cfg.Now()
	a.mu.Lock()
	var done []*aggregate
	for k, g := range a.open {
		if now.Sub(g.opened) >= a.cfg.Window {
			done = append(done, g)
			delete(a.open, k)
		}
	}
	a.mu.Unlock()
	return a.finish(done)
}

// Flush emits every open sighting, at shutdown or when too many are open.
func (a *Aggregator) Flush() error {
	a.mu.Lock()
	done := make([]*aggregate, 0, len(a.open))
	for _, g := range a.open {
		done = append(done, g)
	}
	a.open = map[string]*aggregate{}
	a.mu.Unlock()
	return a.finish(done)
}

// Sightings returns the number of sightings emitted so far.
func (a *Aggregator) Sightings() int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.sightings
}

func (a *Aggregator) finish(done []*aggregate) error {
	sort.Slice(done, func(i, j int) bool { return done[i].indicator < done[j].indicator })
	var errs []error
	for _, g := range done {
		s, err := a.sighting(g)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		objs := append(g.objects, s)
		if err := a.emit(objs); err != nil {
			errs = append(errs, err)
			continue
		}
		a.mu.Lock()
		a.sightings++
		a.mu.Unlock()
	}
	return errors.Join(errs...)
}

func (a *Aggregator) sighting(g *aggregate) (json.RawMessage, error) {
	now := stix.FormatTimestamp(a.cfg.Now())
	// count is an integer 0..999999999 (STIX 2.1 §5.2.1).
	count := min(g.count, 999999999)
	s := map[string]any{
		"type":            "sighting",
		"spec_version":    "2.1",
		"id":              stix.NewID("sighting"),
		"created":         now,
		"modified":        now,
		"sighting_of_ref": g.indicator,
		"count":           count,
		"first_seen":      stix.FormatTimestamp(g.first),
		"last_seen":       stix.FormatTimestamp(g.last),
	}
	if len(g.refs) > 0 {
		s["observed_data_refs"] = g.refs
	}
	if a.cfg.Identity != "" {
		s["where_sighted_refs"] = []string{a.cfg.Identity}
		s["created_by_ref"] = a.cfg.Identity
	}
	b, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("detect: encode sighting: %w", err)
	}
	return b, nil
}

// observedData builds the SCOs of ev, with deterministic ids (STIX 2.1
// §2.9), and one observed-data object referencing them (STIX 2.1 §4.13);
// the observed-data comes last. It returns the observed-data id, the SCO
// ids (in the order of the objects) and the objects.
func (a *Aggregator) observedData(ev *Event) (string, []string, []json.RawMessage, error) {
	ids, maps, err := SCOs(ev)
	if err != nil {
		return "", nil, nil, err
	}
	out := make([]json.RawMessage, 0, len(maps)+1)
	for _, m := range maps {
		b, err := marshalJSON(m)
		if err != nil {
			return "", nil, nil, fmt.Errorf("detect: encode observable: %w", err)
		}
		out = append(out, b)
	}
	now := stix.FormatTimestamp(a.cfg.Now())
	t := stix.FormatTimestamp(ev.Time)
	od := map[string]any{
		"type":            "observed-data",
		"spec_version":    "2.1",
		"id":              stix.NewID("observed-data"),
		"created":         now,
		"modified":        now,
		"first_observed":  t,
		"last_observed":   t,
		"number_observed": min(max(ev.Count, 1), 999999999),
		"object_refs":     ids,
	}
	if a.cfg.Identity != "" {
		od["created_by_ref"] = a.cfg.Identity
	}
	b, err := marshalJSON(od)
	if err != nil {
		return "", nil, nil, fmt.Errorf("detect: encode observed-data: %w", err)
	}
	return od["id"].(string), ids, append(out, b), nil
}

// SCOs renders the event's observables as STIX 2.1 SCO maps with their
// ids. References are resolved to the referenced object's id, so an
// object's id is computed after those it references (a network-traffic id
// depends on its src_ref and dst_ref, STIX 2.1 §2.9); objects without
// ID-contributing properties (process) get a UUIDv4.
func SCOs(ev *Event) ([]string, []map[string]any, error) {
	n := len(ev.Objects)
	ids := make([]string, n)
	maps := make([]map[string]any, n)
	state := make([]uint8, n) // 0 new, 1 in progress, 2 done
	var visit func(i int) error
	visit = func(i int) error {
		if state[i] == 2 {
			return nil
		}
		if state[i] == 1 {
			return fmt.Errorf("detect: reference cycle among observables")
		}
		state[i] = 1
		o := &ev.Objects[i]
		for _, p := range o.Props {
			if p.Kind == KindRef || p.Kind == KindRefs {
				if t := int(p.Int); t >= 0 && t < n && t != i {
					if err := visit(t); err != nil {
						return err
					}
				}
			}
		}
		m := o.Map(func(t int) string {
			if t >= 0 && t < n {
				return ids[t]
			}
			return ""
		})
		m["spec_version"] = "2.1"
		id, err := stix.SCOID(m)
		if errors.Is(err, stix.ErrNoDeterministicID) {
			id, err = stix.NewID(o.Type), nil
		}
		if err != nil {
			return fmt.Errorf("detect: id of %s: %w", o.Type, err)
		}
		m["id"] = id
		ids[i], maps[i] = id, m
		state[i] = 2
		return nil
	}
	for i := range ev.Objects {
		if err := visit(i); err != nil {
			return nil, nil, err
		}
	}
	// An event may hold the same observable twice (STIX input); keep one.
	seen := map[string]bool{}
	outIDs := ids[:0:0]
	outMaps := maps[:0:0]
	for i := range ids {
		if !seen[ids[i]] {
			seen[ids[i]] = true
			outIDs = append(outIDs, ids[i])
			outMaps = append(outMaps, maps[i])
		}
	}
	return outIDs, outMaps, nil
}
