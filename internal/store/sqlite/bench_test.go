package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jointcell/jointcell/internal/cputime"
	"github.com/jointcell/jointcell/internal/stix"
	"github.com/jointcell/jointcell/internal/store"
)

// benchCollection is the collection id used by the benchmark fixtures.
const benchCollection = "be0c4b9e-0000-4000-8000-000000000001"

// benchObject returns the n-th synthetic object of a fixture: mostly 2.1
// indicators of realistic size, some malware (a few in STIX 2.0), SCOs and
// relationships; version is its modified second.
func benchObject(b testing.TB, n, version int) stix.Object {
	b.Helper()
	mod := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(version) * time.Second).Format("2006-01-02T15:04:05.000Z")
	var raw string
	switch n % 10 {
	case 7:
		spec := `"spec_version":"2.1",`
		if n%100 == 17 {
			spec = ""
		}
		raw = fmt.Sprintf(`{"type":"malware",%s"id":"malware--%08x-3333-4333-8333-%012x","created":"2024-01-01T00:00:00.000Z","modified":%q,"name":"Family %d","is_family":true,"malware_types":["trojan"],"created_by_ref":"identity--a6c8e0a4-4b7f-4c6d-9a3e-2f1d0c9b8a71"}`, spec, n, n, mod, n)
	case 8:
		raw = fmt.Sprintf(`{"type":"ipv4-addr","spec_version":"2.1","id":"ipv4-addr--%08x-3333-5333-8333-%012x","value":"10.%d.%d.%d"}`, n, n, n>>16&255, n>>8&255, n&255)
	case 9:
		raw = fmt.Sprintf(`{"type":"relationship","spec_version":"2.1","id":"relationship--%08x-3333-4333-8333-%012x","created":"2024-01-01T00:00:00.000Z","modified":%q,"relationship_type":"indicates","source_ref":"indicator--%08x-3333-4333-8333-%012x","target_ref":"malware--%08x-3333-4333-8333-%012x"}`, n, n, mod, n-9, n-9, n-2, n-2)
	default:
		raw = fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":"indicator--%08x-3333-4333-8333-%012x","created":"2024-01-01T00:00:00.000Z","modified":%q,"name":"Malicious site %d","description":"Command and control server seen in a phishing campaign against the energy sector.","indicator_types":["malicious-activity"],"pattern":"[domain-name:value = 'c2-%d.example.org']","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z","created_by_ref":"identity--a6c8e0a4-4b7f-4c6d-9a3e-2f1d0c9b8a71","object_marking_refs":["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"]}`, n, n, mod, n, n)
	}
	o, err := stix.DecodeObject([]byte(raw))
	if err != nil {
		b.Fatal(err)
	}
	return o
}

// benchAudience spreads reader keys: most versions are public, some for
// the community, a few for one organisation or another.
func benchAudience(n int) []string {
	switch n % 20 {
	case 0:
		return []string{store.ReaderOrg("identity--a")}
	case 1:
		return []string{store.ReaderOrg("identity--b")}
	case 2, 3:
		return []string{store.ReaderCommunity}
	default:
		return []string{store.ReaderAnyone}
	}
}

// BenchmarkAddVersions measures AddVersions in batches of 1000 and 100
// versions (store/), next to a baseline/ that writes the same objects'
// bytes through SQLite with none of the store's work: one multi-row
// insert into a table without indexes per batch, in a transaction of the
// same kind. bench/store.sh prints the store as a ratio of the baseline
// measured in the same run, which the load on a shared machine moves less
// than either number.
func BenchmarkAddVersions(b *testing.B) {
	for _, size := range []int{1000, 100} {
		for _, kind := range []string{"store", "baseline"} {
			b.Run("batch="+strconv.Itoa(size)+"/"+kind, func(b *testing.B) {
				benchAdd(b, size, kind == "baseline")
			})
		}
	}
}

func benchAdd(b *testing.B, size int, baseline bool) {
	ctx := context.Background()
	db := openTemp(b)
	defer db.Close()
	if err := db.CreateCollection(ctx, store.Collection{ID: benchCollection, Title: "bench"}); err != nil {
		b.Fatal(err)
	}
	add := func(vs []store.Version) error {
		res, err := db.AddVersions(ctx, benchCollection, vs)
		if err == nil && res[len(res)-1].Outcome != store.Added {
			err = fmt.Errorf("outcome %v", res[len(res)-1].Outcome)
		}
		return err
	}
	if baseline {
		if _, err := db.w.ExecContext(ctx, `CREATE TABLE bench_raw (id TEXT NOT NULL, raw BLOB NOT NULL)`); err != nil {
			b.Fatal(err)
		}
		add = func(vs []store.Version) error {
			return db.write(ctx, func(tx *sql.Tx) error {
				args := make([]any, 0, 2*len(vs))
				for _, v := range vs {
					args = append(args, v.Object.ID, []byte(v.Object.Raw))
				}
				_, err := tx.ExecContext(ctx, `INSERT INTO bench_raw (id, raw) VALUES `+
					strings.TrimSuffix(strings.Repeat("(?, ?),", len(vs)), ","), args...)
				return err
			})
		}
	}
	next := 0
	batch := func() []store.Version {
		vs := make([]store.Version, size)
		for i := range vs {
			vs[i] = store.Version{Object: benchObject(b, next, 0), Audience: benchAudience(next)}
			next++
		}
		return vs
	}
	var cpu time.Duration
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		vs := batch()
		b.StartTimer()
		c0 := cputime.Process()
		err := add(vs)
		cpu += cputime.Process() - c0
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(next)/b.Elapsed().Seconds(), "objects/s")
	if cpu > 0 {
		// Objects per second of process CPU time: what the store costs,
		// whatever else the machine is doing.
		b.ReportMetric(float64(next)/cpu.Seconds(), "objects/cpu-s")
	}
}

// benchSize is the number of object versions of the query fixture:
// $JOINTCELL_BENCH_OBJECTS, default 200 000 (bench/store.sh uses 1M).
func benchSize(b *testing.B) int {
	if v := os.Getenv("JOINTCELL_BENCH_OBJECTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			b.Fatalf("JOINTCELL_BENCH_OBJECTS=%q: want a positive integer", v)
		}
		return n
	}
	return 200_000
}

// queryFixture opens the cached fixture database of n versions, building it
// first when absent. One object in ten has three versions. The cache lives
// in the temporary directory, keyed by size, schema and page size, because
// building a million versions takes a while.
func queryFixture(b *testing.B, n int) *DB {
	ctx := context.Background()
	ms, err := loadMigrations()
	if err != nil {
		b.Fatal(err)
	}
	h := sha256.New()
	for _, m := range ms {
		h.Write([]byte(m.sql))
	}
	fmt.Fprintf(h, "page size %s", pageSize)
	path := filepath.Join(os.TempDir(), fmt.Sprintf("jointcell-bench-%d-%x.db", n, h.Sum(nil)[:6]))
	if _, err := os.Stat(path); err != nil {
		start := time.Now()
		tmp := path + ".building"
		for _, suffix := range []string{"", "-wal", "-shm"} {
			os.Remove(tmp + suffix)
		}
		db, err := Open(ctx, tmp)
		if err != nil {
			b.Fatal(err)
		}
		if err := db.CreateCollection(ctx, store.Collection{ID: benchCollection, Title: "bench"}); err != nil {
			b.Fatal(err)
		}
		vs := make([]store.Version, 0, 1000)
		for i, obj := 0, 0; i < n; obj++ {
			versions := 1
			if obj%10 == 3 {
				versions = 3
			}
			for v := 0; v < versions && i < n; v++ {
				vs = append(vs, store.Version{Object: benchObject(b, obj, v), Audience: benchAudience(obj + v)})
				i++
			}
			if len(vs) >= 1000 || i == n {
				if _, err := db.AddVersions(ctx, benchCollection, vs); err != nil {
					b.Fatal(err)
				}
				vs = vs[:0]
			}
		}
		if err := db.Close(); err != nil {
			b.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			b.Fatal(err)
		}
		b.Logf("built %s (%d versions) in %v", path, n, time.Since(start))
	}
	db, err := Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	return db
}

func BenchmarkQueryPage(b *testing.B) {
	db, lo, hi := addedRangeFixture(b)
	defer db.Close()
	ctx := context.Background()
	member := []string{store.ReaderAnyone, store.ReaderCommunity, store.ReaderOrg("identity--a")}
	for _, limit := range []int{100, 1000} {
		for _, tc := range []struct {
			name   string
			filter store.Filter
		}{
			// baseline is the raw page read without any TAXII semantics,
			// for the ratio that bench/store.sh prints.
			{"baseline", store.Filter{}},
			{"admin", store.Filter{}},
			{"member", store.Filter{Readers: member}},
			{"member-type", store.Filter{Readers: member, Types: []string{"indicator"}}},
			{"member-all-versions", store.Filter{Readers: member, Versions: []string{"all"}, SpecVersions: []string{"2.0", "2.1"}}},
			// One organisation's own versions only (5% of the collection):
			// the scan reads about twenty versions per match.
			{"org-only", store.Filter{Readers: []string{store.ReaderOrg("identity--b")}}},
			// GET .../objects/{id}/ and versions/: a handful of rows.
			{"member-ids", store.Filter{Readers: member, Versions: []string{"all"}, IDs: []string{
				benchObject(b, 3, 0).ID, benchObject(b, 13, 0).ID, benchObject(b, 104, 0).ID}}},
		} {
			b.Run(fmt.Sprintf("limit=%d/%s", limit, tc.name), func(b *testing.B) {
				rng := rand.New(rand.NewPCG(1, uint64(limit)))
				var lat []time.Duration
				var cpu time.Duration
				for b.Loop() {
					f := tc.filter
					f.Limit = limit
					// A random page, but one that is full: start early
					// enough that limit versions follow.
					after := lo + rng.Int64N(max(1, (hi-lo)*9/10))
					if len(f.IDs) == 0 {
						f.AddedAfter = fromMicros(after)
					}
					start, c0 := time.Now(), cputime.Process()
					var got int
					if tc.name == "baseline" {
						got = baselinePage(b, db, after, limit)
					} else {
						p, err := db.Query(ctx, benchCollection, f)
						if err != nil {
							b.Fatal(err)
						}
						got = len(p.Versions)
					}
					lat = append(lat, time.Since(start))
					cpu += cputime.Process() - c0
					if got == 0 {
						b.Fatal("empty page")
					}
				}
				slices.Sort(lat)
				b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
				b.ReportMetric(ms(lat[min(len(lat)-1, len(lat)*99/100)]), "p99-ms")
				if cpu > 0 {
					b.ReportMetric(ms(cpu)/float64(len(lat)), "cpu-ms/page")
				}
			})
		}
	}
}

// baselinePage reads limit raw versions after a date_added with the
// simplest possible query, scanning them like Query does.
func baselinePage(b *testing.B, db *DB, after int64, limit int) int {
	rows, err := db.r.QueryContext(context.Background(), `SELECT object_id, date_added_us, raw FROM objects
		WHERE coll = 1 AND date_added_us > ? ORDER BY date_added_us LIMIT ?`, after, limit+1)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	var n int
	for rows.Next() {
		var id string
		var at int64
		var raw []byte
		if err := rows.Scan(&id, &at, &raw); err != nil {
			b.Fatal(err)
		}
		n++
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	return n
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// fedObject returns the n-th indicator of a federation page: about 1.3 KB
// of raw bytes, like the signed indicators a puller stores (see
// internal/federation/pull_bench_test.go), each with its own id.
func fedObject(b testing.TB, n int) stix.Object {
	b.Helper()
	raw := fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":"indicator--%08x-1111-4000-8000-%012x",`+
		`"created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","name":"catch-up %d",`+
		`"description":"Command and control server of a banking trojan campaign seen against retail banks.",`+
		`"pattern":"[ipv4-addr:value = '198.51.%d.%d']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z",`+
		`"created_by_ref":"identity--11111111-1111-4111-8111-111111111111",`+
		`"object_marking_refs":["marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"],`+
		`"labels":["malicious-activity"],"indicator_types":["malicious-activity"],`+
		`"extensions":{"extension-definition--6b2b9a3e-1f1a-4e6e-9f55-2f4c6e2d8a10":{"extension_type":"property-extension",`+
		`"cell":"%s","batch":"%s","signature":"%s"}}}`,
		n, n, n, n/250%250, n%250, strings.Repeat("c", 64), strings.Repeat("b", 64), strings.Repeat("s", 700))
	o, err := stix.DecodeObject([]byte(raw))
	if err != nil {
		b.Fatal(err)
	}
	return o
}

// BenchmarkAddVersionsAt measures what a puller's store does with a page
// of 1000 new objects: AddVersionsAt with 1000 provenance records and the
// link's checkpoint, in one transaction. With ids=sequential the ids of
// successive objects ascend, as in the federation benchmarks, so that every
// B-tree keyed by id grows at its end; with ids=random they are spread
// like UUIDs and each page lands all over the id-keyed B-trees of a
// collection that already holds 100 pages.
func BenchmarkAddVersionsAt(b *testing.B) {
	for _, random := range []bool{false, true} {
		name := "ids=sequential"
		if random {
			name = "ids=random"
		}
		b.Run(name, func(b *testing.B) { benchAddAt(b, random) })
	}
}

func benchAddAt(b *testing.B, random bool) {
	const size = 1000
	ctx := context.Background()
	db := openTemp(b)
	defer db.Close()
	if err := db.CreateCollection(ctx, store.Collection{ID: benchCollection, Title: "bench"}); err != nil {
		b.Fatal(err)
	}
	if err := db.PutPeer(ctx, store.Peer{Name: "a", URL: "https://a.invalid", Created: time.Now()}); err != nil {
		b.Fatal(err)
	}
	l := store.Link{Peer: "a", Direction: store.Pull, Local: benchCollection, Remote: "intel"}
	if err := db.PutLink(ctx, l); err != nil {
		b.Fatal(err)
	}
	cell := strings.Repeat("c", 64)
	audience := []string{store.ReaderOrg("identity--11111111-1111-4111-8111-111111111111"), store.ReaderCommunity}
	next := 0
	page := func() ([]store.Version, []store.Provenance) {
		vs := make([]store.Version, size)
		prov := make([]store.Provenance, size)
		for i := range vs {
			n := next
			if random {
				n = int(uint32(next) * 2654435761) // a bijection of 32-bit numbers that scatters neighbours
			}
			vs[i] = store.Version{Object: fedObject(b, n), Audience: audience, Origin: cell}
			prov[i] = store.Provenance{ObjectID: vs[i].Object.ID, Cell: cell, Peer: "a"}
			next++
		}
		l.Checkpoint = fmt.Sprintf("2026-01-01T00:00:00.%06dZ", next)
		return vs, prov
	}
	add := func(vs []store.Version, prov []store.Provenance) error {
		res, err := db.AddVersionsAt(ctx, benchCollection, vs, prov, l)
		if err == nil && res[size-1].Outcome != store.Added {
			err = fmt.Errorf("outcome %v", res[size-1].Outcome)
		}
		l.Synced += size
		return err
	}
	if random {
		for range 100 {
			if err := add(page()); err != nil {
				b.Fatal(err)
			}
		}
	}
	var cpu time.Duration
	var added int
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		vs, prov := page()
		b.StartTimer()
		c0 := cputime.Process()
		err := add(vs, prov)
		cpu += cputime.Process() - c0
		if err != nil {
			b.Fatal(err)
		}
		added += size
	}
	b.ReportMetric(float64(added)/b.Elapsed().Seconds(), "objects/s")
	if cpu > 0 {
		// Process CPU time, the checkpointer's included: what a page
		// costs, whatever else the machine is doing.
		b.ReportMetric(float64(cpu.Microseconds())/float64(added), "cpu-µs/object")
	}
}

// BenchmarkReadPage measures what a cell serving a federation pull reads:
// pages of 1000 versions, all versions, after a date_added, for a reader
// who sees everything (the peer's account) and for an administrator.
func BenchmarkReadPage(b *testing.B) {
	db, lo, hi := addedRangeFixture(b)
	defer db.Close()
	ctx := context.Background()
	peer := []string{store.ReaderAnyone, store.ReaderCommunity, store.ReaderOrg("identity--a"), store.ReaderOrg("identity--b")}
	for _, tc := range []struct {
		name    string
		readers []string
	}{{"admin", nil}, {"peer", peer}} {
		b.Run(tc.name, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 1000))
			var cpu time.Duration
			var pages int
			for b.Loop() {
				f := store.Filter{Readers: tc.readers, Versions: []string{"all"}, Limit: 1000,
					AddedAfter: fromMicros(lo + rng.Int64N(max(1, (hi-lo)*9/10)))}
				c0 := cputime.Process()
				p, err := db.Query(ctx, benchCollection, f)
				cpu += cputime.Process() - c0
				if err != nil {
					b.Fatal(err)
				}
				if len(p.Versions) != 1000 {
					b.Fatalf("page of %d versions", len(p.Versions))
				}
				pages++
			}
			b.ReportMetric(ms(cpu)/float64(pages), "cpu-ms/page")
		})
	}
}

// addedRangeFixture opens the query fixture (queryFixture) and returns the
// range of its date_added instants, where the benchmarks place cursors.
func addedRangeFixture(b *testing.B) (db *DB, lo, hi int64) {
	db = queryFixture(b, benchSize(b))
	if err := db.r.QueryRowContext(context.Background(), `SELECT MIN(date_added_us), MAX(date_added_us) FROM objects`).Scan(&lo, &hi); err != nil {
		db.Close()
		b.Fatal(err)
	}
	return db, lo, hi
}
