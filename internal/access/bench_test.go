package access_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/jointcell/jointcell/internal/access"
	"github.com/jointcell/jointcell/internal/marking"
	"github.com/jointcell/jointcell/internal/redact"
	"github.com/jointcell/jointcell/internal/stix"
	"github.com/jointcell/jointcell/internal/store"
	"github.com/jointcell/jointcell/internal/store/sqlite"
)

// BenchmarkReadPolicy measures the read path of one TAXII page (store.Query
// with limit 100, then Present on every version) for an organisation's
// reader, against the same page read by an admin (Readers nil, Present
// returning the stored bytes). bench/access.sh prints the ratio.
func BenchmarkReadPolicy(b *testing.B) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "jointcell.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	orgs := make([]string, 8)
	for i := range orgs {
		orgs[i] = randID(rng, "identity")
	}
	g, err := access.NewGroup("sector", orgs[:4], time.Now())
	if err != nil {
		b.Fatal(err)
	}
	if err := db.PutGroup(ctx, g); err != nil {
		b.Fatal(err)
	}
	groups := []store.Group{g}
	var readBy []string
	for _, o := range orgs {
		readBy = append(readBy, store.ReaderOrg(o))
	}
	coll := store.Collection{ID: "3c6c1f0e-5b8e-4a43-9f0a-2d6c7e8f9a01", Title: "bench", ReadBy: readBy, WriteBy: readBy}
	if err := db.CreateCollection(ctx, coll); err != nil {
		b.Fatal(err)
	}
	pol := access.NewPolicy(access.PolicyConfig{Groups: db.ListGroups, Objects: db,
		Redaction: redact.DefaultConfig(), Redactor: redact.New([]byte("bench key"))})
	// A realistic mix: mostly GREEN or unmarked, some CLEAR, AMBER and
	// sharing-group content, a tenth with a granular marking, descriptions
	// on every SDO (scrubbed by the standard profile for other readers).
	const n = 10000
	var batch []store.Version
	for i := range n {
		producer := orgs[rng.IntN(len(orgs))]
		var refs string
		switch r := rng.IntN(20); {
		case r < 3:
			refs = `,"object_marking_refs":["` + marking.TLP2Clear + `"]`
		case r < 12:
			refs = `,"object_marking_refs":["` + marking.TLP2Green + `"]`
		case r < 15:
			refs = `,"object_marking_refs":["` + marking.TLP2Amber + `"]`
		case r < 17:
			producer = orgs[rng.IntN(4)] // a member of the group
			refs = `,"object_marking_refs":["` + g.MarkingID + `"]`
		}
		p := access.Principal{OrgID: producer, Role: access.RoleAnalyst, Readers: access.ReaderKeys(producer, groups)}
		gran := ""
		if i%10 == 0 {
			gran = `,"granular_markings":[{"selectors":["description"],"marking_ref":"` + marking.TLP2Red + `"}]`
		}
		raw := fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":%q,"created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","name":"indicator %d","description":"Observed in a phishing wave against the sector; block at the perimeter.","pattern":"[ipv4-addr:value = '10.%d.%d.%d']","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z"%s%s}`,
			randID(rng, "indicator"), i, rng.IntN(256), rng.IntN(256), rng.IntN(256), refs, gran)
		o, err := stix.DecodeObject([]byte(raw))
		if err != nil {
			b.Fatal(err)
		}
		v, err := pol.Admit(ctx, p, coll, o)
		if err != nil {
			b.Fatal(err)
		}
		batch = append(batch, v)
		if len(batch) == 500 || i == n-1 {
			if _, err := db.AddVersions(ctx, coll.ID, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	// Cursors spread over the collection, as clients paging through it.
	var cursors []time.Time
	f := store.Filter{Limit: n / 16}
	for {
		page, err := db.Query(ctx, coll.ID, f)
		if err != nil {
			b.Fatal(err)
		}
		cursors = append(cursors, f.AddedAfter)
		if !page.More {
			break
		}
		f.AddedAfter = page.Versions[len(page.Versions)-1].DateAdded
	}
	member := access.Principal{UserName: "analyst", OrgName: "member", OrgID: orgs[5], Role: access.RoleReader, Readers: access.ReaderKeys(orgs[5], groups)}
	admin := access.Principal{UserName: "root", Role: access.RoleAdmin}
	page := func(p access.Principal, cursor time.Time, present bool) {
		pg, err := db.Query(ctx, coll.ID, store.Filter{AddedAfter: cursor, Limit: 100, Readers: p.Readers})
		if err != nil {
			b.Fatal(err)
		}
		if present {
			for _, v := range pg.Versions {
				pol.Present(p, coll, v)
			}
		}
	}
	// interleaved alternates admin and member pages in one loop, so that
	// a busy machine slows both alike; its ratio metrics are the numbers
	// to quote (bench/access.sh).
	b.Run("interleaved", func(b *testing.B) {
		var tAdmin, tMember, tAdminQ, tMemberQ time.Duration
		i := 0
		for b.Loop() {
			c := cursors[i%len(cursors)]
			t0 := time.Now()
			page(admin, c, true)
			t1 := time.Now()
			page(member, c, true)
			t2 := time.Now()
			page(admin, c, false)
			t3 := time.Now()
			page(member, c, false)
			t4 := time.Now()
			tAdmin += t1.Sub(t0)
			tMember += t2.Sub(t1)
			tAdminQ += t3.Sub(t2)
			tMemberQ += t4.Sub(t3)
			i++
		}
		b.ReportMetric(float64(tAdmin.Nanoseconds())/float64(b.N), "admin-ns/page")
		b.ReportMetric(float64(tMember.Nanoseconds())/float64(b.N), "member-ns/page")
		b.ReportMetric(float64(tMember)/float64(tAdmin), "member/admin")
		b.ReportMetric(float64(tMemberQ)/float64(tAdminQ), "query-member/admin")
		b.ReportMetric(float64(tMember-tMemberQ)/float64(tAdmin), "present-share")
	})
	// present-only: Present on a fetched page of 100, without the store.
	b.Run("present-only", func(b *testing.B) {
		pg, err := db.Query(ctx, coll.ID, store.Filter{AddedAfter: cursors[len(cursors)/2], Limit: 100, Readers: member.Readers})
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			for _, v := range pg.Versions {
				pol.Present(member, coll, v)
			}
		}
	})
	// member-query-only isolates the store's share (visibility in SQL)
	// from Present's (granular removal and egress redaction).
	for _, tc := range []struct {
		name    string
		p       access.Principal
		present bool
	}{{"admin", admin, true}, {"member", member, true}, {"admin-query-only", admin, false}, {"member-query-only", member, false}} {
		b.Run(tc.name, func(b *testing.B) {
			bytes := 0
			i := 0
			for b.Loop() {
				page, err := db.Query(ctx, coll.ID, store.Filter{AddedAfter: cursors[i%len(cursors)], Limit: 100, Readers: tc.p.Readers})
				if err != nil {
					b.Fatal(err)
				}
				for _, v := range page.Versions {
					if !tc.present {
						bytes += len(v.Object.Raw)
						continue
					}
					out, ok := pol.Present(tc.p, coll, v)
					if ok {
						bytes += len(out)
					}
				}
				i++
			}
			b.ReportMetric(float64(bytes)/float64(b.N), "B/page")
		})
	}
}
