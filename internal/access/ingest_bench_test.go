package access_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jointcell/jointcell/internal/access"
	"github.com/jointcell/jointcell/internal/cputime"
	"github.com/jointcell/jointcell/internal/stix"
	"github.com/jointcell/jointcell/internal/store"
	"github.com/jointcell/jointcell/internal/store/sqlite"
	"github.com/jointcell/jointcell/internal/taxii"
)

// benchAuth authenticates every request as one principal.
type benchAuth access.Principal

func (a benchAuth) Authenticate(*http.Request) (access.Principal, error) {
	return access.Principal(a), nil
}

// passPolicy admits everything for anyone: the baseline that the real
// policy's admission cost is measured against.
type passPolicy struct{}

func (passPolicy) CanRead(access.Principal, store.Collection) bool  { return true }
func (passPolicy) CanWrite(access.Principal, store.Collection) bool { return true }
func (passPolicy) Admit(_ context.Context, _ access.Principal, _ store.Collection, o stix.Object) (store.Version, error) {
	return store.Version{Object: o, Audience: []string{store.ReaderAnyone}}, nil
}
func (passPolicy) Present(_ access.Principal, _ store.Collection, v store.Version) ([]byte, bool) {
	return v.Object.Raw, true
}

// ingestObjects returns n distinct indicators numbered from first, as the
// TAXII package's ingest benchmark posts them (no created_by_ref: the
// policy fills it in).
func ingestObjects(first, n int, extra string) []string {
	objs := make([]string, n)
	for i := range objs {
		k := first + i
		objs[i] = fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":"indicator--%08x-0000-4000-8000-%012x","created":"2020-01-01T00:00:00.000Z","modified":"2020-01-01T00:00:00.000Z","name":"ind %d","pattern":"[ipv4-addr:value = '198.51.100.%d']","pattern_type":"stix","valid_from":"2020-01-01T00:00:00Z","description":"benchmark object with a few words of text, as real ones have"%s}`,
			k, k, k, k%256, extra)
	}
	return objs
}

// BenchmarkIngestPolicy measures Add Objects through the TAXII handler
// with the real access policy (policy/), against the same handler with a
// policy that admits everything (pass/), in objects per second.
func BenchmarkIngestPolicy(b *testing.B) {
	const org = "identity--aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
	for _, size := range []int{100, 1000} {
		for _, kind := range []string{"policy", "policy-created-by", "pass"} {
			b.Run(fmt.Sprintf("%s/envelope=%d", kind, size), func(b *testing.B) {
				ctx := context.Background()
				db, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "db"))
				if err != nil {
					b.Fatal(err)
				}
				defer db.Close()
				coll := store.Collection{ID: "11111111-1111-4111-8111-111111111111", Title: "rw",
					ReadBy: []string{store.ReaderOrg(org)}, WriteBy: []string{store.ReaderOrg(org)}}
				if err := db.CreateCollection(ctx, coll); err != nil {
					b.Fatal(err)
				}
				var pol taxii.Policy = passPolicy{}
				if kind != "pass" {
					pol = access.NewPolicy(access.PolicyConfig{Groups: db.ListGroups, Objects: db})
				}
				extra := ""
				if kind == "policy-created-by" {
					extra = `,"created_by_ref":"` + org + `"`
				}
				p := access.Principal{UserID: "u", UserName: "alice", OrgName: "A", OrgID: org, Role: access.RoleAnalyst, Readers: access.ReaderKeys(org, nil)}
				srv := taxii.NewServer(taxii.Config{Objects: db, Collections: db, Statuses: db,
					Authenticator: benchAuth(p), Policy: pol, CursorKey: []byte("k")})
				path := "/api/collections/" + coll.ID + "/objects/"
				next := 0
				var elapsed, cpu time.Duration
				for b.Loop() {
					b.StopTimer()
					body := `{"objects":[` + strings.Join(ingestObjects(next, size, extra), ",") + `]}`
					next += size
					r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
					r.Header.Set("Content-Type", taxii.MediaTypeTAXII)
					w := httptest.NewRecorder()
					b.StartTimer()
					t0, c0 := time.Now(), cputime.Process()
					srv.ServeHTTP(w, r)
					elapsed, cpu = elapsed+time.Since(t0), cpu+cputime.Process()-c0
					if w.Code != http.StatusAccepted || !strings.Contains(w.Body.String(), `"success_count":`+strconv.Itoa(size)) {
						b.Fatalf("post: %d %.300s", w.Code, w.Body)
					}
				}
				b.ReportMetric(float64(next)/elapsed.Seconds(), "objects/s")
				if cpu > 0 {
					b.ReportMetric(float64(next)/cpu.Seconds(), "objects/cpu-s")
				}
			})
		}
	}
}
