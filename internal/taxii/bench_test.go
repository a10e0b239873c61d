package taxii

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jointcell/jointcell/internal/cputime"
	"github.com/jointcell/jointcell/internal/stix"
	"github.com/jointcell/jointcell/internal/store"
)

// noAudit runs a benchmark without an auditor, so that the in-memory test
// recorder does not grow for millions of objects.
func noAudit(c *Config) { c.Auditor = nil }

// benchObjects returns n distinct indicators numbered from first.
func benchObjects(first, n int) []string {
	objs := make([]string, n)
	for i := range objs {
		objs[i] = indicator(first+i, "2020-01-01T00:00:00.000Z", `"description":"benchmark object with a few words of text, as real ones have"`)
	}
	return objs
}

// BenchmarkIngest measures Add Objects through the handler (decode,
// validate, admit, one store transaction, status) in objects per second.
// The store/ sub-benchmarks add the same envelopes with AddVersions only:
// the baseline that the handler's overhead is measured against.
func BenchmarkIngest(b *testing.B) {
	for _, size := range []int{100, 1000} {
		b.Run(fmt.Sprintf("handler/envelope=%d", size), func(b *testing.B) {
			f := newFixture(b, noAudit)
			next := 0
			var cpu time.Duration
			b.ResetTimer()
			for b.Loop() {
				b.StopTimer()
				body := envelope(benchObjects(next, size)...)
				next += size
				r := httptest.NewRequest(http.MethodPost, objectsPath, strings.NewReader(string(body)))
				r.Header.Set("Content-Type", MediaTypeTAXII)
				r.Header.Set("Authorization", "Bearer alice")
				w := httptest.NewRecorder()
				b.StartTimer()
				c0 := cputime.Process()
				f.srv.ServeHTTP(w, r)
				cpu += cputime.Process() - c0
				if w.Code != http.StatusAccepted || !strings.Contains(w.Body.String(), `"success_count":`+strconv.Itoa(size)) {
					b.Fatalf("post: %d %.200s", w.Code, w.Body)
				}
			}
			reportIngest(b, next, cpu)
		})
		b.Run(fmt.Sprintf("store/envelope=%d", size), func(b *testing.B) {
			f := newFixture(b, noAudit)
			next := 0
			var cpu time.Duration
			for b.Loop() {
				b.StopTimer()
				vs := make([]store.Version, size)
				for i, raw := range benchObjects(next, size) {
					o, _ := stix.DecodeObject([]byte(raw))
					vs[i] = store.Version{Object: o, Audience: []string{store.ReaderAnyone}}
				}
				next += size
				b.StartTimer()
				c0 := cputime.Process()
				if _, err := f.db.AddVersions(context.Background(), collRW, vs); err != nil {
					b.Fatal(err)
				}
				cpu += cputime.Process() - c0
			}
			reportIngest(b, next, cpu)
		})
	}
}

// reportIngest reports objects per second of wall time and per second of
// process CPU time, the steadier number on a shared machine.
func reportIngest(b *testing.B, objects int, cpu time.Duration) {
	b.ReportMetric(float64(objects)/b.Elapsed().Seconds(), "objects/s")
	if cpu > 0 {
		b.ReportMetric(float64(objects)/cpu.Seconds(), "objects/cpu-s")
	}
}

// BenchmarkPage measures the latency of GET objects pages at random points
// of a large collection (JOINTCELL_BENCH_OBJECTS versions, default 20000;
// bench/taxii.sh uses 1M), reporting p50 and p99. The store/ sub-benchmarks
// run the same queries on the store alone as the baseline.
func BenchmarkPage(b *testing.B) {
	n := 20000
	if v, err := strconv.Atoi(os.Getenv("JOINTCELL_BENCH_OBJECTS")); err == nil && v > 0 {
		n = v
	}
	f := newFixture(b, noAudit)
	ctx := context.Background()
	var added []time.Time
	const batch = 5000
	for first := 0; first < n; first += batch {
		size := min(batch, n-first)
		vs := make([]store.Version, size)
		for i, raw := range benchObjects(first, size) {
			o, _ := stix.DecodeObject([]byte(raw))
			vs[i] = store.Version{Object: o, Audience: []string{store.ReaderAnyone}}
		}
		res, err := f.db.AddVersions(ctx, collRW, vs)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range res {
			added = append(added, r.DateAdded)
		}
	}
	alice := testPrincipals["alice"]
	for _, limit := range []int{100, 1000} {
		rng := rand.New(rand.NewPCG(1, uint64(limit)))
		start := func() time.Time { return added[rng.IntN(max(1, len(added)-limit))] }
		b.Run(fmt.Sprintf("handler/limit=%d", limit), func(b *testing.B) {
			var lat []time.Duration
			var cpu time.Duration
			for b.Loop() {
				path := objectsPath + "?limit=" + strconv.Itoa(limit) + "&added_after=" + start().Format(TimestampFormat)
				r := httptest.NewRequest(http.MethodGet, path, nil)
				r.Header.Set("Authorization", "Bearer alice")
				w := httptest.NewRecorder()
				t0, c0 := time.Now(), cputime.Process()
				f.srv.ServeHTTP(w, r)
				lat = append(lat, time.Since(t0))
				cpu += cputime.Process() - c0
				if w.Code != http.StatusOK {
					b.Fatalf("get: %d %.200s", w.Code, w.Body)
				}
			}
			reportLatency(b, lat, cpu)
		})
		b.Run(fmt.Sprintf("store/limit=%d", limit), func(b *testing.B) {
			var lat []time.Duration
			var cpu time.Duration
			for b.Loop() {
				filter := store.Filter{AddedAfter: start(), Limit: limit, Readers: alice.Readers}
				t0, c0 := time.Now(), cputime.Process()
				if _, err := f.db.Query(ctx, collRW, filter); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t0))
				cpu += cputime.Process() - c0
			}
			reportLatency(b, lat, cpu)
		})
	}
}

func reportLatency(b *testing.B, lat []time.Duration, cpu time.Duration) {
	if len(lat) == 0 {
		return
	}
	if cpu > 0 {
		b.ReportMetric(float64(cpu.Microseconds())/1000/float64(len(lat)), "cpu-ms/page")
	}
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
}
