package access_test

import (
	"context"
	"testing"

	"github.com/jointcell/jointcell/internal/access"
	"github.com/jointcell/jointcell/internal/marking"
	"github.com/jointcell/jointcell/internal/redact"
	"github.com/jointcell/jointcell/internal/stix"
	"github.com/jointcell/jointcell/internal/store"
)

// BenchmarkPresent measures Present on one version for a reader of
// another organisation under the standard egress profile: an object it
// need not change (plain), one with a granular marking the reader is not
// cleared for (granular), and one with text to scrub (scrub).
func BenchmarkPresent(b *testing.B) {
	ctx := context.Background()
	pol := access.NewPolicy(access.PolicyConfig{Redaction: redact.DefaultConfig(), Redactor: redact.New([]byte("k"))})
	coll := store.Collection{ID: "c", ReadBy: []string{store.ReaderAnyone}, WriteBy: []string{store.ReaderAnyone}}
	producer := access.Principal{OrgID: orgA, Role: access.RoleAnalyst, Readers: access.ReaderKeys(orgA, nil)}
	reader := access.Principal{OrgID: orgB, OrgName: "B", Role: access.RoleReader, Readers: access.ReaderKeys(orgB, nil)}
	for _, tc := range []struct{ name, extra string }{
		{"plain", ``},
		{"granular", `,"granular_markings":[{"selectors":["description"],"marking_ref":"` + marking.TLP2Red + `"}]`},
		{"scrub", `,"x_contact":"call +44 20 7946 0958"`},
	} {
		raw := `{"type":"indicator","spec_version":"2.1","id":"indicator--3c6c1f0e-5b8e-4a43-9f0a-2d6c7e8f9a01","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","name":"indicator 123","description":"Observed in a phishing wave against the sector; block at the perimeter.","pattern":"[ipv4-addr:value = '10.1.2.3']","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z","object_marking_refs":["` + marking.TLP2Green + `"]` + tc.extra + `}`
		o, err := stix.DecodeObject([]byte(raw))
		if err != nil {
			b.Fatal(err)
		}
		v, err := pol.Admit(ctx, producer, coll, o)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				if _, ok := pol.Present(reader, coll, v); !ok {
					b.Fatal("withheld")
				}
			}
		})
	}
}
