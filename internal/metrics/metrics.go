// Package metrics exposes counters and histograms in the Prometheus text
// exposition format (version 0.0.4), written by hand so that the cell needs no
// client library. Only what the cell uses is here: labelled counters and
// labelled histograms with fixed buckets.
package metrics

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// ContentType is the media type of the text exposition format.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// DefaultBuckets are latency buckets in seconds, from 1 ms to 10 s.
var DefaultBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// Registry holds metric families and writes them in registration order.
type Registry struct {
	mu       sync.Mutex
	families []family
	names    map[string]bool
}

// family is one metric name with its HELP and TYPE lines.
type family interface {
	write(w *bufio.Writer)
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{names: map[string]bool{}}
}

// register adds f, panicking on a duplicate or malformed name because both
// are programming errors found on the first run.
func (r *Registry) register(name string, labels []string, f family) {
	if !validName(name) {
		panic(fmt.Sprintf("metrics: invalid metric name %q", name))
	}
	for _, l := range labels {
		if !validName(l) || strings.Contains(l, ":") || strings.HasPrefix(l, "__") || l == "le" {
			panic(fmt.Sprintf("metrics: invalid label name %q", l))
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.names[name] {
		panic(fmt.Sprintf("metrics: duplicate metric %q", name))
	}
	r.names[name] = true
	r.families = append(r.families, f)
}

// Counter registers a counter with the given label names.
func (r *Registry) Counter(name, help string, labels ...string) *Counter {
	c := &Counter{name: name, help: help, labels: slices.Clone(labels), series: map[string]*counterSeries{}}
	r.register(name, labels, c)
	return c
}

// Histogram registers a histogram with the given upper bounds (ascending,
// +Inf implied) and label names.
func (r *Registry) Histogram(name, help string, buckets []float64, labels ...string) *Histogram {
	b := slices.Clone(buckets)
	if !slices.IsSorted(b) || len(b) == 0 {
		panic(fmt.Sprintf("metrics: histogram %q needs ascending buckets", name))
	}
	h := &Histogram{name: name, help: help, buckets: b, labels: slices.Clone(labels), series: map[string]*histSeries{}}
	r.register(name, labels, h)
	return h
}

// WriteTo writes every family in the text exposition format.
func (r *Registry) WriteTo(w io.Writer) (int64, error) {
	r.mu.Lock()
	fams := slices.Clone(r.families)
	r.mu.Unlock()
	cw := &countWriter{w: w}
	bw := bufio.NewWriter(cw)
	for _, f := range fams {
		f.write(bw)
	}
	err := bw.Flush()
	return cw.n, err
}

// Handler serves the registry. Authorisation is the caller's business.
func (r *Registry) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", ContentType)
		_, _ = r.WriteTo(w)
	})
}

// Counter is a monotonically increasing value per label set.
type Counter struct {
	name, help string
	labels     []string
	mu         sync.RWMutex
	series     map[string]*counterSeries
}

type counterSeries struct {
	values []string
	bits   atomic.Uint64 // float64 bits
}

// Inc adds one to the series with the given label values.
func (c *Counter) Inc(values ...string) { c.Add(1, values...) }

// Add adds v (which must not be negative) to the series.
func (c *Counter) Add(v float64, values ...string) {
	if v < 0 || math.IsNaN(v) {
		return // a counter never decreases (Prometheus data model)
	}
	s := c.get(values)
	for {
		old := s.bits.Load()
		if s.bits.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			return
		}
	}
}

// Value returns the current value of a series (0 when it does not exist).
func (c *Counter) Value(values ...string) float64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if s, ok := c.series[seriesKey(values)]; ok {
		return math.Float64frombits(s.bits.Load())
	}
	return 0
}

func (c *Counter) get(values []string) *counterSeries {
	if len(values) != len(c.labels) {
		panic(fmt.Sprintf("metrics: %s wants %d label values, got %d", c.name, len(c.labels), len(values)))
	}
	k := seriesKey(values)
	c.mu.RLock()
	s, ok := c.series[k]
	c.mu.RUnlock()
	if ok {
		return s
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok = c.series[k]; !ok {
		s = &counterSeries{values: slices.Clone(values)}
		c.series[k] = s
	}
	return s
}

func (c *Counter) write(w *bufio.Writer) {
	writeHeader(w, c.name, c.help, "counter")
	c.mu.RLock()
	ss := make([]*counterSeries, 0, len(c.series))
	for _, s := range c.series {
		ss = append(ss, s)
	}
	c.mu.RUnlock()
	sortSeries(ss, func(s *counterSeries) []string { return s.values })
	if len(ss) == 0 && len(c.labels) == 0 {
		// An unlabelled counter exists from the start, at zero.
		fmt.Fprintf(w, "%s 0\n", c.name)
	}
	for _, s := range ss {
		fmt.Fprintf(w, "%s%s %s\n", c.name, labelPairs(c.labels, s.values, "", ""), formatFloat(math.Float64frombits(s.bits.Load())))
	}
}

// Histogram counts observations in cumulative buckets per label set.
type Histogram struct {
	name, help string
	buckets    []float64
	labels     []string
	mu         sync.RWMutex
	series     map[string]*histSeries
}

type histSeries struct {
	values []string
	mu     sync.Mutex
	counts []uint64 // per bucket, not cumulative; the last is +Inf
	sum    float64
	count  uint64
}

// Observe records one value in the series with the given label values.
func (h *Histogram) Observe(v float64, values ...string) {
	if len(values) != len(h.labels) {
		panic(fmt.Sprintf("metrics: %s wants %d label values, got %d", h.name, len(h.labels), len(values)))
	}
	k := seriesKey(values)
	h.mu.RLock()
	s, ok := h.series[k]
	h.mu.RUnlock()
	if !ok {
		h.mu.Lock()
		if s, ok = h.series[k]; !ok {
			s = &histSeries{values: slices.Clone(values), counts: make([]uint64, len(h.buckets)+1)}
			h.series[k] = s
		}
		h.mu.Unlock()
	}
	i := sort.SearchFloat64s(h.buckets, v) // first bucket with upper bound >= v
	s.mu.Lock()
	s.counts[i]++
	s.sum += v
	s.count++
	s.mu.Unlock()
}

// Count returns the number of observations of a series.
func (h *Histogram) Count(values ...string) uint64 {
	h.mu.RLock()
	s, ok := h.series[seriesKey(values)]
	h.mu.RUnlock()
	if !ok {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.count
}

func (h *Histogram) write(w *bufio.Writer) {
	writeHeader(w, h.name, h.help, "histogram")
	h.mu.RLock()
	ss := make([]*histSeries, 0, len(h.series))
	for _, s := range h.series {
		ss = append(ss, s)
	}
	h.mu.RUnlock()
	sortSeries(ss, func(s *histSeries) []string { return s.values })
	for _, s := range ss {
		s.mu.Lock()
		counts := slices.Clone(s.counts)
		sum, count := s.sum, s.count
		s.mu.Unlock()
		var cum uint64
		for i, ub := range h.buckets {
			cum += counts[i]
			fmt.Fprintf(w, "%s_bucket%s %d\n", h.name, labelPairs(h.labels, s.values, "le", formatFloat(ub)), cum)
		}
		fmt.Fprintf(w, "%s_bucket%s %d\n", h.name, labelPairs(h.labels, s.values, "le", "+Inf"), count)
		fmt.Fprintf(w, "%s_sum%s %s\n", h.name, labelPairs(h.labels, s.values, "", ""), formatFloat(sum))
		fmt.Fprintf(w, "%s_count%s %d\n", h.name, labelPairs(h.labels, s.values, "", ""), count)
	}
}

func writeHeader(w *bufio.Writer, name, help, typ string) {
	if help != "" {
		fmt.Fprintf(w, "# HELP %s %s\n", name, escapeHelp(help))
	}
	fmt.Fprintf(w, "# TYPE %s %s\n", name, typ)
}

// labelPairs renders {a="x",b="y"} with an optional extra pair (le for
// histogram buckets); it renders nothing when there are no labels at all.
func labelPairs(names, values []string, extraName, extraValue string) string {
	if len(names) == 0 && extraName == "" {
		return ""
	}
	var b strings.Builder
	b.WriteByte('{')
	for i, n := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(n)
		b.WriteString(`="`)
		b.WriteString(escapeLabel(values[i]))
		b.WriteByte('"')
	}
	if extraName != "" {
		if len(names) > 0 {
			b.WriteByte(',')
		}
		b.WriteString(extraName)
		b.WriteString(`="`)
		b.WriteString(extraValue)
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String()
}

// escapeLabel escapes a label value: backslash, double quote and line feed
// are the only characters the text format escapes there.
func escapeLabel(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

// escapeHelp escapes HELP text: backslash and line feed only.
func escapeHelp(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(s)
}

func formatFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// seriesKey joins label values with a separator that cannot be confused
// with their content once each value is length-prefixed.
func seriesKey(values []string) string {
	var b strings.Builder
	for _, v := range values {
		b.WriteString(strconv.Itoa(len(v)))
		b.WriteByte(':')
		b.WriteString(v)
	}
	return b.String()
}

func sortSeries[S any](ss []S, values func(S) []string) {
	sort.Slice(ss, func(i, j int) bool { return slices.Compare(values(ss[i]), values(ss[j])) < 0 })
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		ok := r == '_' || r == ':' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || i > 0 && '0' <= r && r <= '9'
		if !ok {
			return false
		}
	}
	return true
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
