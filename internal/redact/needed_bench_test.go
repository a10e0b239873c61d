package redact

import "testing"

// BenchmarkNeeded measures the prefilter on an indicator that the
// standard profile does not change, the common case of the read path.
func BenchmarkNeeded(b *testing.B) {
	raw := []byte(`{"type":"indicator","spec_version":"2.1","id":"indicator--3c6c1f0e-5b8e-4a43-9f0a-2d6c7e8f9a01","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","name":"indicator 123","description":"Observed in a phishing wave against the sector; block at the perimeter.","pattern":"[ipv4-addr:value = '10.1.2.3']","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z","object_marking_refs":["marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"],"created_by_ref":"identity--3c6c1f0e-5b8e-4a43-9f0a-2d6c7e8f9a01"}`)
	r, p := New(testKey), Standard()
	for b.Loop() {
		if r.needed(raw, "indicator", p) {
			b.Fatal("needed")
		}
	}
}
