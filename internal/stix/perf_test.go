package stix

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/jointcell/jointcell/internal/cputime"
)

// benchIndicator is a typical ~1 KB indicator as a producer might write it:
// pretty-printed, members in no particular order, one escaped character.
const benchIndicator = `{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
 "created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","name":"bad, \u00e9vil","description":"A long description of the indicator that makes the object about one kilobyte, as typical indicators in feeds are, with some more words to pad it.",
 "pattern":"[ipv4-addr:value = '198.51.100.1']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z","confidence":50,
 "labels":["malicious-activity","c2"],"object_marking_refs":["marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"],
 "external_references":[{"source_name":"feed","url":"https://example.com/a/b/c","external_id":"X-1"}],
 "kill_chain_phases":[{"kill_chain_name":"mitre-attack","phase_name":"command-and-control"}],
 "extensions":{"extension-definition--d83fce45-ef58-4c6c-a3f4-1fbc32e98c6e":{"extension_type":"property-extension","rank":5,"score":0.75}}}`

// compactJSON removes the whitespace between tokens, keeping member order.
func compactJSON(tb testing.TB, raw string) []byte {
	var buf bytes.Buffer
	if err := json.Compact(&buf, []byte(raw)); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// reportCPU adds the process CPU time per operation, which holds up better
// than wall time on a machine shared with other work.
func reportCPU(b *testing.B, start time.Duration) {
	if cpu := cputime.Process() - start; cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

// BenchmarkCanonicalizeForms measures AppendCanonical on the same object in
// three shapes: already canonical (what cells sign and re-serve), compact
// but unsorted, and pretty-printed and unsorted.
func BenchmarkCanonicalizeForms(b *testing.B) {
	canon, err := Canonicalize([]byte(benchIndicator))
	if err != nil {
		b.Fatal(err)
	}
	forms := []struct {
		name string
		raw  []byte
	}{
		{"canonical", canon},
		{"compact-unsorted", compactJSON(b, benchIndicator)},
		{"pretty-unsorted", []byte(benchIndicator)},
	}
	for _, f := range forms {
		b.Run(f.name, func(b *testing.B) {
			b.SetBytes(int64(len(f.raw)))
			b.ReportAllocs()
			buf := make([]byte, 0, 2048)
			cpu := cputime.Process()
			for b.Loop() {
				var err error
				if buf, err = AppendCanonical(buf[:0], f.raw); err != nil {
					b.Fatal(err)
				}
			}
			reportCPU(b, cpu)
		})
	}
}

// BenchmarkDecodeObject measures DecodeObject alone on the ingest mix.
func BenchmarkDecodeObject(b *testing.B) {
	mix := benchMix()
	size := 0
	for _, raw := range mix {
		size += len(raw)
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	cpu := cputime.Process()
	for b.Loop() {
		for _, raw := range mix {
			if _, err := DecodeObject(raw); err != nil {
				b.Fatal(err)
			}
		}
	}
	reportCPU(b, cpu)
}

// BenchmarkValidate measures Validate alone on the decoded ingest mix.
func BenchmarkValidate(b *testing.B) {
	mix := benchMix()
	objs := make([]Object, len(mix))
	size := 0
	for i, raw := range mix {
		o, err := DecodeObject(raw)
		if err != nil {
			b.Fatal(err)
		}
		objs[i] = o
		size += len(raw)
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	cpu := cputime.Process()
	for b.Loop() {
		for _, o := range objs {
			if probs := Validate(o, Options{}); len(probs) != 0 {
				b.Fatal(probs)
			}
		}
	}
	reportCPU(b, cpu)
}

// BenchmarkScanString measures the string scanner on a long plain string,
// one with non-ASCII text and one with escapes.
func BenchmarkScanString(b *testing.B) {
	for _, tc := range []struct{ name, s string }{
		{"ascii", `"A long description of the indicator that makes the object about one kilobyte, as typical indicators in feeds are."`},
		{"utf8", `"Описание индикатора: вредоносная активность, связанная с управляющим сервером злоумышленника."`},
		{"escapes", `"line one\nline two\t\"quoted\" \u00e9t\u00e9 C:\\path\\to\\file and more plain text after it"`},
	} {
		b.Run(tc.name, func(b *testing.B) {
			raw := []byte(tc.s)
			b.SetBytes(int64(len(raw)))
			cpu := cputime.Process()
			for b.Loop() {
				if end, _, err := scanString(raw, 0); err != nil || end != len(raw) {
					b.Fatal(end, err)
				}
			}
			reportCPU(b, cpu)
		})
	}
}

// typicalIndicator is what federation catch-up pulls: a compact indicator
// with markings and lists, without the provenance extension.
const typicalIndicator = `{"created":"2026-01-01T00:00:00.000Z","created_by_ref":"identity--11111111-1111-4111-8111-111111111111","description":"Command and control server of a banking trojan campaign seen against retail banks.","id":"indicator--00000000-1111-4000-8000-000000000000","indicator_types":["malicious-activity"],"labels":["malicious-activity"],"modified":"2026-01-01T00:00:00.000Z","name":"catch-up 0","object_marking_refs":["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"],"pattern":"[ipv4-addr:value = '198.51.0.0']","pattern_type":"stix","spec_version":"2.1","type":"indicator","valid_from":"2026-01-01T00:00:00Z"}`

// BenchmarkTypicalIndicator measures DecodeObject and Validate, apart, on
// the indicator federation catch-up receives.
func BenchmarkTypicalIndicator(b *testing.B) {
	raw := []byte(typicalIndicator)
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		cpu := cputime.Process()
		for b.Loop() {
			if _, err := DecodeObject(raw); err != nil {
				b.Fatal(err)
			}
		}
		reportCPU(b, cpu)
	})
	b.Run("validate", func(b *testing.B) {
		o, err := DecodeObject(raw)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		cpu := cputime.Process()
		for b.Loop() {
			if probs := Validate(o, Options{}); len(probs) != 0 {
				b.Fatal(probs)
			}
		}
		reportCPU(b, cpu)
	})
}
