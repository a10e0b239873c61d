package pattern

import (
	"fmt"
	"testing"
)

var benchPatterns = []string{
	"[ipv4-addr:value = '198.51.100.7']",
	"[file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f']",
	"[network-traffic:dst_ref.value ISSUBSET '10.0.0.0/8' AND network-traffic:dst_port IN (443, 8443)] FOLLOWEDBY [domain-name:value LIKE '%.evil.com'] WITHIN 300 SECONDS",
	"([file:name MATCHES '^inv[0-9]+\\\\.exe$'] AND [process:command_line LIKE '%powershell%']) REPEATS 2 TIMES",
}

func BenchmarkParse(b *testing.B) {
	for i := 0; i < b.N; i++ {
		if _, err := Parse(benchPatterns[i%len(benchPatterns)]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValidate(b *testing.B) {
	for i := 0; i < b.N; i++ {
		_ = Validate(benchPatterns[i%len(benchPatterns)])
	}
}

func benchObs() Observation {
	return obsOf(
		Object{ID: "ip", Type: "ipv4-addr", Props: map[string]any{"type": "ipv4-addr", "value": "198.51.100.7"}},
		Object{ID: "f", Type: "file", Props: map[string]any{"type": "file", "name": "x.exe", "hashes": map[string]any{"SHA-256": "00"}}},
	)
}

// BenchmarkMatchReference is Pattern.Match (reference semantics, no
// precompilation): the baseline for BenchmarkMatchObservation.
func BenchmarkMatchReference(b *testing.B) {
	p, _ := Parse(benchPatterns[0])
	obs := []Observation{benchObs()}
	for i := 0; i < b.N; i++ {
		if ok, err := p.Match(obs); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

// BenchmarkMatchObservation is one stateless equality pattern evaluated
// with Compiled.MatchObservation.
func BenchmarkMatchObservation(b *testing.B) {
	p, _ := Parse(benchPatterns[0])
	c, _ := Compile(p)
	o := benchObs()
	for i := 0; i < b.N; i++ {
		if !c.MatchObservation(&o) {
			b.Fatal("no match")
		}
	}
}

// BenchmarkMatchStateful evaluates a FOLLOWEDBY/WITHIN pattern over a
// window of 2 observations.
func BenchmarkMatchStateful(b *testing.B) {
	p, _ := Parse("[ipv4-addr:value = '198.51.100.7'] FOLLOWEDBY [file:name = 'x.exe'] WITHIN 60 SECONDS")
	c, _ := Compile(p)
	w := []Observation{benchObs(), benchObs()}
	for i := 0; i < b.N; i++ {
		if !c.Match(w) {
			b.Fatal("no match")
		}
	}
}

// BenchmarkAnchorIndex checks observations against 100k equality
// indicators through an anchor index; ns/op is per observation.
func BenchmarkAnchorIndex(b *testing.B) {
	idx, compiled := buildIndex(b, 100_000)
	obs := make([]Observation, 1_000_000)
	for i := range obs {
		obs[i] = syntheticObservation(i)
	}
	b.ResetTimer()
	hits := 0
	for i := 0; i < b.N; i++ {
		o := &obs[i%len(obs)]
		for _, cand := range idx[anchorKey{"ipv4-addr", "value", o.Objects[0].Props["value"].(string)}] {
			if compiled[cand].MatchObservation(o) {
				hits++
			}
		}
	}
	b.ReportMetric(float64(hits)/float64(b.N), "hits/op")
}

// BenchmarkNaiveScan is the baseline without an index: every observation
// against 1000 indicators (ns/op per observation; scale by 100 for 100k).
func BenchmarkNaiveScan(b *testing.B) {
	var compiled []*Compiled
	for i := 0; i < 1000; i++ {
		p, _ := Parse(fmt.Sprintf("[ipv4-addr:value = '%s']", ipString(i*10)))
		c, _ := Compile(p)
		compiled = append(compiled, c)
	}
	o := syntheticObservation(5)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, c := range compiled {
			c.MatchObservation(&o)
		}
	}
}
