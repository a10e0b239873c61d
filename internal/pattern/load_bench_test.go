package pattern

import (
	"runtime"
	"strings"
	"testing"
)

// loadPatterns are the indicator shapes the detection engine loads by the
// million (see internal/detect): one comparison each.
var loadPatterns = []string{
	"[ipv4-addr:value = '198.51.100.7']",
	"[file:hashes.'SHA-256' = '" + strings.Repeat("ab", 32) + "']",
	"[domain-name:value = 'x.example']",
	"[url:value = 'http://x/y']",
	"[ipv6-addr:value ISSUBSET '2001:db8::/32']",
}

// BenchmarkPatternLoad is what loading one indicator costs the detection
// engine: Parse, then Validate (which reuses the tree Parse just built),
// then Compile. cpu-ns/op is the on-CPU time of the benchmark thread.
func BenchmarkPatternLoad(b *testing.B) {
	for _, s := range loadPatterns {
		b.Run(strings.SplitN(s[1:], ":", 2)[0], func(b *testing.B) {
			b.ReportAllocs()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			c0 := threadCPU()
			for i := 0; i < b.N; i++ {
				p, err := Parse(s)
				if err != nil {
					b.Fatal(err)
				}
				if err := Validate(s); err != nil {
					b.Fatal(err)
				}
				if _, err := Compile(p); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(threadCPU()-c0)/float64(b.N), "cpu-ns/op")
		})
	}
}
