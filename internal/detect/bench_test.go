package detect

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jointcell/jointcell/internal/cputime"
)

// benchIndicators is the index size of the benchmarks: 1M by default as
// the detection target says, DETECT_BENCH_INDICATORS to change it.
func benchIndicators() int {
	if s := os.Getenv("DETECT_BENCH_INDICATORS"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			return n
		}
	}
	return 1_000_000
}

// benchPattern is indicator i of the mix: 30% IPv4 equality, 10% IPv6
// CIDR, 25% domain, 15% URL, 20% SHA-256.
func benchPattern(i int) string {
	switch i % 20 {
	case 0, 1, 2, 3, 4, 5:
		return fmt.Sprintf("[ipv4-addr:value = '%d.%d.%d.%d']", 11+i%200, (i>>8)&255, (i>>16)&255, i&255)
	case 6, 7:
		return fmt.Sprintf("[ipv6-addr:value ISSUBSET '2001:db8:%x:%x::/64']", (i>>16)&0xffff, i&0xffff)
	case 8, 9, 10, 11, 12:
		return fmt.Sprintf("[domain-name:value = 'd%d.example.net']", i)
	case 13, 14, 15:
		return fmt.Sprintf("[url:value = 'http://u%d.example.org/x']", i)
	default:
		return fmt.Sprintf("[file:hashes.'SHA-256' = '%064x']", uint64(i)*0x9e3779b97f4a7c15)
	}
}

func benchIndicatorList(n int) []Indicator {
	inds := make([]Indicator, n)
	for i := range inds {
		inds[i] = Indicator{
			ID: fmt.Sprintf("indicator--%08x-%04x-4000-8000-000000000000", i, i>>16&0xffff), Type: "indicator",
			Pattern: benchPattern(i), PatternType: "stix", Modified: "2024-01-01T00:00:00.000Z", ValidFrom: "2024-01-01T00:00:00Z",
		}
	}
	return inds
}

// benchEvents returns n ECS lines; about 1% hit an indicator.
func benchEvents(n, nInd int) [][]byte {
	r := rand.New(rand.NewPCG(1, 2))
	out := make([][]byte, n)
	for k := range out {
		i := r.IntN(nInd)
		hit := r.IntN(100) == 0
		src := fmt.Sprintf("192.168.%d.%d", r.IntN(256), r.IntN(256))
		dst := fmt.Sprintf("172.%d.%d.%d", 16+r.IntN(16), r.IntN(256), r.IntN(256))
		dom := fmt.Sprintf("www%d.example.com", r.IntN(1000000))
		if hit {
			switch i % 20 {
			case 0, 1, 2, 3, 4, 5:
				dst = fmt.Sprintf("%d.%d.%d.%d", 11+i%200, (i>>8)&255, (i>>16)&255, i&255)
			case 8, 9, 10, 11, 12:
				dom = fmt.Sprintf("d%d.example.net", i)
			}
		}
		line := fmt.Sprintf(`{"@timestamp":"2025-01-01T00:00:%02d.%03dZ","source":{"ip":"%s","port":%d},"destination":{"ip":"%s","port":443},"network":{"transport":"tcp"},"url":{"full":"https://%s/index.html","domain":"%s"},"user_agent":{"original":"Mozilla/5.0"},"event":{"action":"connection"}}`,
			k%60, k%1000, src, 1024+r.IntN(60000), dst, dom, dom)
		out[k] = []byte(line)
	}
	return out
}

var (
	benchOnce sync.Once
	benchIx   *Index
)

func benchIndex(b *testing.B) *Index {
	benchOnce.Do(func() {
		benchIx = NewIndex(CompilePattern, IndexConfig{}, nil)
		benchIx.Update(benchIndicatorList(benchIndicators()))
	})
	return benchIx
}

// reportRate reports events/s (wall clock, all cores) and CPU time per
// event (all threads, GC included), the steadier figure on a shared
// machine.
func reportRate(b *testing.B, cpu0 time.Duration) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	if cpu := cputime.Process() - cpu0; cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/event")
	}
}

// BenchmarkDecodeECS is the baseline: decoding alone, on all cores, over
// the same events as BenchmarkDetectECS.
func BenchmarkDecodeECS(b *testing.B) {
	evs := benchEvents(100000, benchIndicators())
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cputime.Process()
	b.RunParallel(func(pb *testing.PB) {
		d := &ECSDecoder{}
		i := 0
		for pb.Next() {
			_ = d.Decode(evs[i%len(evs)], func(*Event) {})
			i++
		}
	})
	reportRate(b, cpu0)
}

// BenchmarkDetectECS: decode and index match against the 1M-indicator mix
// on all cores (one decoder and matcher per goroutine).
func BenchmarkDetectECS(b *testing.B) {
	ix := benchIndex(b)
	evs := benchEvents(100000, benchIndicators())
	var hits int64
	var mu sync.Mutex
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cputime.Process()
	b.RunParallel(func(pb *testing.PB) {
		d := &ECSDecoder{}
		m := ix.NewMatcher()
		var h int64
		i := 0
		emit := func(ev *Event) { h += int64(len(m.Match(ev))) }
		for pb.Next() {
			_ = d.Decode(evs[i%len(evs)], emit)
			i++
		}
		mu.Lock()
		hits += h
		mu.Unlock()
	})
	reportRate(b, cpu0)
	if b.N > 10000 && hits == 0 {
		b.Fatal("no event matched: the benchmark measures nothing")
	}
}

// BenchmarkDetectorPipeline: the whole Detector (reader source, batches,
// workers, aggregation) over an in-memory file of ECS lines.
func BenchmarkDetectorPipeline(b *testing.B) {
	ix := benchIndex(b)
	evs := benchEvents(100000, benchIndicators())
	f, err := os.CreateTemp(b.TempDir(), "events")
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	for _, e := range evs {
		w.Write(e)
		w.WriteByte('\n')
	}
	w.Flush()
	f.Close()
	b.ResetTimer()
	cpu0 := cputime.Process()
	total := 0
	for b.Loop() {
		fh, _ := os.Open(f.Name())
		agg := NewAggregator(AggregatorConfig{}, func([]json.RawMessage) error { return nil })
		d, _ := NewDetector(Config{Format: FormatECS}, ix, agg, nil)
		if err := d.Run(b.Context(), &ReaderSource{R: fh}); err != nil {
			b.Fatal(err)
		}
		_ = agg.Flush()
		fh.Close()
		total += len(evs)
	}
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "events/s")
	if cpu := cputime.Process() - cpu0; cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(total), "cpu-ns/event")
	}
}

// BenchmarkLoadIndex: time to build the index of the mix, and the heap it
// holds per indicator (runtime.MemStats before and after, after GC).
func BenchmarkLoadIndex(b *testing.B) {
	n := benchIndicators()
	for b.Loop() {
		b.StopTimer()
		inds := benchIndicatorList(n)
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		b.StartTimer()
		start, cpu0 := time.Now(), cputime.Process()
		ix := NewIndex(CompilePattern, IndexConfig{}, nil)
		res := ix.Update(inds)
		load, cpu := time.Since(start), cputime.Process()-cpu0
		b.StopTimer()
		// The indicator list is still alive, so the difference is the
		// index alone.
		runtime.GC()
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(inds)
		if res.Added != n {
			b.Fatalf("%+v", res)
		}
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(n), "bytes/indicator")
		b.ReportMetric(load.Seconds(), "load-s")
		if cpu > 0 {
			b.ReportMetric(cpu.Seconds(), "load-cpu-s")
		}
		runtime.KeepAlive(ix)
		b.StartTimer()
	}
}

// BenchmarkAggregateMatch: one match of an indicator not seen yet in the
// window, the common case of 1M indicators: its evidence (SCOs with
// deterministic ids, observed-data) is built. ns/op is per match.
func BenchmarkAggregateMatch(b *testing.B) {
	lines := benchEvents(1000, 1000)
	evs := make([]*Event, len(lines))
	for i, l := range lines {
		_ = (&ECSDecoder{}).Decode(l, func(ev *Event) { c := *ev; evs[i] = &c })
	}
	agg := NewAggregator(AggregatorConfig{MaxPending: 1 << 30}, func([]json.RawMessage) error { return nil })
	ids := make([]string, 1<<16)
	for i := range ids {
		ids[i] = fmt.Sprintf("indicator--%08x-0000-4000-8000-000000000000", i)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if i%len(ids) == 0 {
			_ = agg.Flush()
		}
		_ = agg.Add(ids[i%len(ids)], evs[i%len(evs)])
	}
}
