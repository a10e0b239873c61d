package sqlite

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jointcell/jointcell/internal/stix"
	"github.com/jointcell/jointcell/internal/store"
)

// FuzzQueryFilter feeds arbitrary filter values, as a TAXII request may
// carry them, into Query: whatever they hold, the query either answers a
// well-formed page or fails with ErrInvalid for a malformed match[version],
// never with an SQL error.
func FuzzQueryFilter(f *testing.F) {
	f.Add("last", "2.1", "indicator--00000001-1111-4111-8111-000000000001", "indicator", "*", 10)
	f.Add("first,all", "2.0,2.1", "", "malware,tool", "org:identity--a,community", 1)
	f.Add("2020-01-01T00:00:01.000Z,last", "", "x'); DROP TABLE objects; --", "", "", 3)
	f.Add("2020-13-01T00:00:00Z", "3.0", "?", "%", "\x00", 0)
	f.Add("", "", "", "", ",", -5)

	db := openTemp(f)
	f.Cleanup(func() { db.Close() })
	ctx := context.Background()
	const coll = "f0220000-0000-4000-8000-000000000001"
	if err := db.CreateCollection(ctx, store.Collection{ID: coll, Title: "fuzz"}); err != nil {
		f.Fatal(err)
	}
	var vs []store.Version
	for i, raw := range []string{
		`{"type":"indicator","spec_version":"2.1","id":"indicator--00000001-1111-4111-8111-000000000001","created":"2020-01-01T00:00:00.000Z","modified":"2020-01-01T00:00:01.000Z"}`,
		`{"type":"indicator","spec_version":"2.1","id":"indicator--00000001-1111-4111-8111-000000000001","created":"2020-01-01T00:00:00.000Z","modified":"2020-01-01T00:00:02.000Z"}`,
		`{"type":"malware","id":"malware--00000002-1111-4111-8111-000000000002","created":"2020-01-01T00:00:00.000Z","modified":"2020-01-01T00:00:01.000Z"}`,
		`{"type":"ipv4-addr","id":"ipv4-addr--00000003-1111-4111-8111-000000000003","value":"10.0.0.1"}`,
	} {
		o, err := stix.DecodeObject([]byte(raw))
		if err != nil {
			f.Fatal(err)
		}
		aud := []string{store.ReaderAnyone}
		if i%2 == 1 {
			aud = []string{store.ReaderOrg("identity--a")}
		}
		vs = append(vs, store.Version{Object: o, Audience: aud})
	}
	if _, err := db.AddVersions(ctx, coll, vs); err != nil {
		f.Fatal(err)
	}

	split := func(s string) []string {
		if s == "" {
			return nil
		}
		return strings.Split(s, ",")
	}
	f.Fuzz(func(t *testing.T, versions, specs, ids, types, readers string, limit int) {
		filter := store.Filter{
			Versions: split(versions), SpecVersions: split(specs), IDs: split(ids), Types: split(types),
			Readers: split(readers), Limit: limit,
		}
		malformed := limit <= 0
		for _, v := range filter.Versions {
			if v == "first" || v == "last" || v == "all" {
				continue
			}
			if _, err := time.Parse(time.RFC3339Nano, v); err != nil {
				malformed = true
			}
		}
		p, err := db.Query(ctx, coll, filter)
		if malformed {
			if !errors.Is(err, store.ErrInvalid) {
				t.Fatalf("Query(%+v): %v, want ErrInvalid", filter, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("Query(%+v): %v", filter, err)
		}
		if len(p.Versions) > limit || (p.More && len(p.Versions) != limit) {
			t.Fatalf("Query(%+v): %d versions, More %v", filter, len(p.Versions), p.More)
		}
		for i := 1; i < len(p.Versions); i++ {
			if !p.Versions[i].DateAdded.After(p.Versions[i-1].DateAdded) {
				t.Fatalf("Query(%+v): not sorted by date_added", filter)
			}
		}
	})
}
