package stix

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/jointcell/jointcell/internal/cputime"
)

// report adds objects/s (wall clock) and objects/cpu-s.
func report(b *testing.B, n int, cpuStart time.Duration) {
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "objects/s")
	if cpu := cputime.Process() - cpuStart; cpu > 0 {
		b.ReportMetric(float64(n)/cpu.Seconds(), "objects/cpu-s")
	}
}

// benchMix is a realistic ingest batch: mostly indicators with markings,
// references and kill chain phases, plus the relationships, sightings,
// identities and SCOs that travel with them.
func benchMix() [][]byte {
	var out [][]byte
	for i := range 100 {
		id := fmt.Sprintf("%08x-17d4-4cbf-938f-98ee46b3cd3f", i)
		switch {
		case i%10 < 6:
			out = append(out, []byte(`{"type":"indicator","spec_version":"2.1","id":"indicator--`+id+`","created_by_ref":"identity--f431f809-377b-45e0-aa1c-6a4751cae5ff","created":"2016-04-06T20:03:48.000Z","modified":"2016-04-06T20:03:48.000Z","indicator_types":["malicious-activity"],"name":"Poison Ivy Malware","description":"This file is part of Poison Ivy","pattern":"[ file:hashes.'SHA-256' = '4bac27393bdd9777ce02453256c5577cd02275510b2227f473d03f533924f877' ]","pattern_type":"stix","valid_from":"2016-01-01T00:00:00Z","kill_chain_phases":[{"kill_chain_name":"mandiant-attack-lifecycle-model","phase_name":"establish-foothold"}],"external_references":[{"source_name":"vendor","url":"https://example.com/poison-ivy"}],"object_marking_refs":["marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"],"confidence":80}`))
		case i%10 == 6:
			out = append(out, []byte(`{"type":"relationship","spec_version":"2.1","id":"relationship--`+id+`","created":"2016-04-06T20:06:37.000Z","modified":"2016-04-06T20:06:37.000Z","relationship_type":"indicates","source_ref":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","target_ref":"malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b"}`))
		case i%10 == 7:
			out = append(out, []byte(`{"type":"sighting","spec_version":"2.1","id":"sighting--`+id+`","created":"2016-04-06T20:08:31.000Z","modified":"2016-04-06T20:08:31.000Z","first_seen":"2015-12-21T19:00:00Z","last_seen":"2015-12-21T19:00:00Z","count":50,"sighting_of_ref":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","where_sighted_refs":["identity--b67d30ff-02ac-498a-92f9-32f845f448ff"]}`))
		case i%10 == 8:
			out = append(out, []byte(`{"type":"ipv4-addr","spec_version":"2.1","id":"ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4","value":"198.51.100.3"}`))
		default:
			out = append(out, []byte(`{"type":"identity","spec_version":"2.1","id":"identity--`+id+`","created":"2016-04-06T20:03:00.000Z","modified":"2016-04-06T20:03:00.000Z","name":"ACME Widget, Inc.","identity_class":"organization","sectors":["technology"]}`))
		}
	}
	return out
}

// BenchmarkDecodeValidate measures DecodeObject followed by Validate on
// the realistic mix, in objects per second.
func BenchmarkDecodeValidate(b *testing.B) {
	mix := benchMix()
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cputime.Process()
	n := 0
	for b.Loop() {
		for _, raw := range mix {
			o, err := DecodeObject(raw)
			if err != nil {
				b.Fatal(err)
			}
			if probs := Validate(o, Options{}); len(probs) != 0 {
				b.Fatal(probs)
			}
			n++
		}
	}
	report(b, n, cpu)
}

// BenchmarkDecodeValidateStrict is the same under Options.Strict, which
// recomputes deterministic SCO ids.
func BenchmarkDecodeValidateStrict(b *testing.B) {
	mix := benchMix()
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cputime.Process()
	n := 0
	for b.Loop() {
		for _, raw := range mix {
			o, err := DecodeObject(raw)
			if err != nil {
				b.Fatal(err)
			}
			_ = Validate(o, Options{Strict: true})
			n++
		}
	}
	report(b, n, cpu)
}

// BenchmarkBaselineUnmarshalMap is the baseline the others are compared
// with: encoding/json into map[string]any, which does no validation at
// all.
func BenchmarkBaselineUnmarshalMap(b *testing.B) {
	mix := benchMix()
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cputime.Process()
	n := 0
	for b.Loop() {
		for _, raw := range mix {
			var m map[string]any
			if err := json.Unmarshal(raw, &m); err != nil {
				b.Fatal(err)
			}
			n++
		}
	}
	report(b, n, cpu)
}
