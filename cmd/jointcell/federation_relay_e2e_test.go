package main

import (
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jointcell/jointcell/internal/federation"
	"github.com/jointcell/jointcell/internal/marking"
	"github.com/jointcell/jointcell/internal/store/sqlite"
	"github.com/jointcell/jointcell/internal/taxii"
)

// The relay test runs three cells as processes of the real binary (the
// helpers of federation_e2e_test.go): A produces, B relays what it gets
// from A on to C, and C also gets A's objects directly, so that the same
// versions reach C by two paths (docs/federation.md, "Peering two cells"
// and "Arrival"). B and C also push their collections back to A, so that
// "nothing goes back to the peer it came from, nor to the cell of the
// organisation that produced it" is exercised rather than assumed.
//
//	A intel ──pull──▶ B froma ──pull──▶ C feed ◀──pull── A intel
//	A viab  ──pull──▶ B froma            (viab reaches C only through B)
//	                  B bankintel ─pull─▶ C feed
//	B froma ──push──▶ A returns ◀──push── C feed
//
// Every cell is reached through a recording proxy (newFedProxy): pa sees
// everything that leaves or enters A, and pb, between C and B, alters an
// object in transit in the tampering subtest.

// relayAccount is a user of one cell and its token.
type relayAccount struct{ user, token string }

// relaySetup is the three peered cells.
type relaySetup struct {
	a, b, c    *fedCell
	pa, pb, pc *fedProxy
	cells      map[string]*fedCell
	// accounts[x][y] is the account cell x uses on cell y.
	accounts map[string]map[string]relayAccount
	acmeTok  string // analyst of acme, A's member
	bankTok  string // analyst of bank, B's member
	acme     string // identity ids
	bank     string
	gov      string // C's member
	group    string // marking id of A's group of acme (A) and gov (C)
	aKey     ed25519.PublicKey
	aFP      string // fingerprint of A's key, as C printed it when peering
}

// relayID is the id of the n-th indicator of this test; its prefix differs
// from fedObject's.
func relayID(n int) string {
	return fmt.Sprintf("indicator--%08x-2222-4000-8000-%012x", n, n)
}

// relayObject is an indicator produced by org.
func relayObject(t testing.TB, n int, org, modified, description string, refs ...string) json.RawMessage {
	t.Helper()
	o := map[string]any{
		"type": "indicator", "spec_version": "2.1", "id": relayID(n),
		"created": "2026-01-01T00:00:00.000Z", "modified": modified,
		"name": fmt.Sprintf("relay %d", n), "description": description,
		"pattern":      fmt.Sprintf("[ipv4-addr:value = '203.0.113.%d']", n%250),
		"pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z", "created_by_ref": org,
	}
	if len(refs) > 0 {
		o["object_marking_refs"] = refs
	}
	b, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const relayCreated = "2026-01-01T00:00:00.000Z"

var relayPeerFP = regexp.MustCompile(`peer cell fingerprint:\s+([0-9a-f]{64})`)

// cellKey reads the public key of the cell in dir from DIR/cell.key
// (PKCS#8 PEM, docs/admin.md).
func cellKey(t testing.TB, dir string) ed25519.PublicKey {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "cell.key"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		t.Fatal("cell.key is not PEM")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		t.Fatalf("cell.key holds a %T", k)
	}
	return priv.Public().(ed25519.PublicKey)
}

func newRelaySetup(t *testing.T) *relaySetup {
	root := t.TempDir()
	s := &relaySetup{pa: newFedProxy(t), pb: newFedProxy(t), pc: newFedProxy(t)}
	s.a = startFedCell(t, "A", filepath.Join(root, "a"))
	s.b = startFedCell(t, "B", filepath.Join(root, "b"))
	s.c = startFedCell(t, "C", filepath.Join(root, "c"))
	s.cells = map[string]*fedCell{"a": s.a, "b": s.b, "c": s.c}
	t.Cleanup(func() {
		if t.Failed() {
			for _, c := range []*fedCell{s.a, s.b, s.c} {
				t.Logf("cell %s log:\n%s", c.name, c.logs())
			}
		}
	})
	s.pa.point(s.a.base)
	s.pb.point(s.b.base)
	s.pc.point(s.c.base)
	s.aKey = cellKey(t, s.a.dir)
	a, b, c := s.a, s.b, s.c
	acc := func(c *fedCell, user, org, role string) relayAccount {
		return relayAccount{user, c.cli("user", "create", user, "--org", org, "--role", role)}
	}

	// A: acme publishes; B's and C's accounts read intel (viab is for B
	// only) and write returns, where B and C push back.
	a.cli("org", "create", "acme")
	a.cli("org", "create", "cellb")
	a.cli("org", "create", "cellc")
	s.acmeTok = a.cli("user", "create", "acme-analyst", "--org", "acme", "--role", "analyst")
	bOnA := acc(a, "peer-b", "cellb", "analyst")
	cOnA := acc(a, "peer-c", "cellc", "analyst")
	a.cli("collection", "create", "--title", "Intel", "--alias", "intel", "--read", "acme,cellb,cellc", "--write", "acme")
	a.cli("collection", "create", "--title", "Via B", "--alias", "viab", "--read", "acme,cellb", "--write", "acme")
	a.cli("collection", "create", "--title", "Returns", "--alias", "returns", "--read", "acme", "--write", "cellb,cellc")
	s.acme = orgID(t, a, "acme")

	// B: bank publishes in froma (relayed to C and pushed to A) and in
	// bankintel (relayed to C only).
	b.cli("org", "create", "bank")
	b.cli("org", "create", "cella")
	b.cli("org", "create", "cellc")
	s.bankTok = b.cli("user", "create", "bank-analyst", "--org", "bank", "--role", "analyst")
	aOnB := acc(b, "peer-a", "cella", "reader")
	cOnB := acc(b, "peer-c", "cellc", "reader")
	b.cli("collection", "create", "--title", "From A", "--alias", "froma", "--read", "bank,cellc", "--write", "bank")
	b.cli("collection", "create", "--title", "Bank intel", "--alias", "bankintel", "--read", "bank,cellc", "--write", "bank")
	s.bank = orgID(t, b, "bank")

	// C: gov reads what arrives in feed.
	c.cli("org", "create", "gov")
	c.cli("org", "create", "cella")
	c.cli("org", "create", "cellb")
	c.cli("user", "create", "gov-reader", "--org", "gov", "--role", "reader")
	aOnC := acc(c, "peer-a", "cella", "reader")
	bOnC := acc(c, "peer-b", "cellb", "reader")
	c.cli("collection", "create", "--title", "Feed", "--alias", "feed", "--read", "gov", "--write", "gov")
	s.gov = orgID(t, c, "gov")

	s.accounts = map[string]map[string]relayAccount{
		"a": {"b": aOnB, "c": aOnC},
		"b": {"a": bOnA, "c": bOnC},
		"c": {"a": cOnA, "b": cOnB},
	}
	// Peering, every cell through the proxy in front of the other. A
	// defines its group with C before C peers with A, so that C installs
	// it on its first group sync rather than ten seconds later.
	peer := func(local *fedCell, name string, remote *fedProxy, account string) string {
		on := s.accounts[strings.ToLower(local.name)][name]
		return local.cli("peer", "add", name, "--url", remote.url(), "--user", on.user, "--token", on.token, "--account", account)
	}
	peer(a, "b", s.pb, "peer-b")
	peer(a, "c", s.pc, "peer-c")
	a.cli("group", "create", "shared", "--orgs", "acme")
	s.group = a.cli("peer", "group", "shared", "--peer", "c", "--orgs", s.gov)
	peer(b, "a", s.pa, "peer-a")
	peer(b, "c", s.pc, "peer-c")
	m := relayPeerFP.FindStringSubmatch(peer(c, "a", s.pa, "peer-a"))
	if m == nil {
		t.Fatal("C's peer add a printed no peer fingerprint")
	}
	s.aFP = m[1]
	if want := federation.Fingerprint(s.aKey); s.aFP != want {
		t.Fatalf("C was shown A's fingerprint %s, A's key has %s", s.aFP, want)
	}
	peer(c, "b", s.pb, "peer-b")

	b.cli("peer", "link", "a", "--pull", "intel=froma", "--pull", "viab=froma", "--push", "froma=returns")
	c.cli("peer", "link", "a", "--pull", "intel=feed", "--push", "feed=returns")
	c.cli("peer", "link", "b", "--pull", "froma=feed", "--pull", "bankintel=feed")

	// AMBER objects marked with the group are refused by C until it knows
	// the group, so nothing is published before.
	waitFor(t, 40*time.Second, "C to install A's group", func() bool {
		var gs struct {
			Groups []struct {
				Name      string `json:"name"`
				MarkingID string `json:"marking_id"`
			} `json:"groups"`
		}
		s.adminGet(t, s.c, "/admin/groups/", &gs)
		return slices.ContainsFunc(gs.Groups, func(g struct {
			Name      string `json:"name"`
			MarkingID string `json:"marking_id"`
		}) bool {
			return g.Name == "a.shared" && g.MarkingID == s.group
		})
	})
	return s
}

// adminGet decodes the JSON answer of an admin-only GET on cell c.
func (s *relaySetup) adminGet(t testing.TB, c *fedCell, path string, out any) {
	t.Helper()
	body := s.adminRaw(t, c, path)
	if err := json.Unmarshal(body, out); err != nil {
		t.Fatalf("%s %s: %v: %s", c.name, path, err, body)
	}
}

func (s *relaySetup) adminRaw(t testing.TB, c *fedCell, path string) []byte {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, c.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.adminToken())
	hc := &http.Client{Timeout: 10 * time.Second}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s GET %s: %v", c.name, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s GET %s: %v", c.name, path, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s GET %s: %s: %s", c.name, path, resp.Status, b)
	}
	return b
}

// relayEntry is one audit entry as /admin/audit/entries/ lists it
// (docs/admin.md, docs/audit.md).
type relayEntry struct {
	Index  uint64   `json:"index"`
	Actor  string   `json:"actor"`
	Action string   `json:"action"`
	Target string   `json:"target"`
	IDs    []string `json:"ids"`
	Detail string   `json:"detail"`
}

// audit returns cell c's audit entries of one action, all pages.
func (s *relaySetup) audit(t testing.TB, c *fedCell, action string) []relayEntry {
	t.Helper()
	var out []relayEntry
	start := uint64(0)
	for {
		var page struct {
			Entries []relayEntry `json:"entries"`
			More    bool         `json:"more"`
			Next    uint64       `json:"next"`
		}
		q := url.Values{"action": {action}, "limit": {"1000"}, "start": {strconv.FormatUint(start, 10)}}
		s.adminGet(t, c, "/admin/audit/entries/?"+q.Encode(), &page)
		out = append(out, page.Entries...)
		if !page.More {
			return out
		}
		start = page.Next
	}
}

// rejected returns the provenance.reject entries of cell c naming id.
func (s *relaySetup) rejected(t testing.TB, c *fedCell, id string) []relayEntry {
	var out []relayEntry
	for _, e := range s.audit(t, c, "provenance.reject") {
		if slices.Contains(e.IDs, id) {
			out = append(out, e)
		}
	}
	return out
}

// versions lists every version of collection coll of cell c as its admin
// sees them (versions=all), by id.
func (s *relaySetup) versions(t testing.TB, c *fedCell, coll string) map[string][]json.RawMessage {
	t.Helper()
	cl := c.client(t, c.base, "admin", c.adminToken())
	out := map[string][]json.RawMessage{}
	err := cl.Iterate(context.Background(), coll, taxii.Filter{Limit: 1000, Versions: []string{"all"}}, func(p *taxii.ObjectsPage) error {
		for _, raw := range p.Objects {
			var o struct {
				ID string `json:"id"`
			}
			if err := json.Unmarshal(raw, &o); err != nil {
				return err
			}
			out[o.ID] = append(out[o.ID], raw)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%s: list %s: %v", c.name, coll, err)
	}
	return out
}

// idsOf returns the sorted ids of m.
func idsOf(m map[string][]json.RawMessage) []string {
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// onlyOnce fails for every id of m stored more than once.
func onlyOnce(t testing.TB, where string, m map[string][]json.RawMessage) {
	t.Helper()
	for id, vs := range m {
		if len(vs) != 1 {
			t.Errorf("%s holds %d versions of %s, want 1", where, len(vs), id)
		}
	}
}

// relayStored is what the test reads of a stored object.
type relayStored struct {
	Modified    string                     `json:"modified"`
	Description string                     `json:"description"`
	Extensions  map[string]json.RawMessage `json:"extensions"`
}

// checkSignedByA checks that raw carries a provenance extension naming A's
// key and that it verifies with A's key alone.
func (s *relaySetup) checkSignedByA(t testing.TB, raw json.RawMessage) {
	t.Helper()
	var o relayStored
	if err := json.Unmarshal(raw, &o); err != nil {
		t.Fatal(err)
	}
	var ext struct {
		Cell string `json:"cell"`
	}
	if err := json.Unmarshal(o.Extensions[federation.Extension], &ext); err != nil || ext.Cell != s.aFP {
		t.Errorf("stored copy names cell %q (%v), want A's %s: %s", ext.Cell, err, s.aFP, raw)
		return
	}
	sig, err := federation.Verify(raw, func(fp string) (ed25519.PublicKey, bool) { return s.aKey, fp == s.aFP })
	if err != nil || sig.Cell != s.aFP {
		t.Errorf("stored copy does not verify with A's key: %v", err)
	}
}

// linksIdle compares every link's checkpoint with the collection it
// follows: a pull link's with the last date_added the peer serves to the
// link's account, a push link's with the last date_added of the local
// collection. It returns "" when every link has handled everything.
func (s *relaySetup) linksIdle(t testing.TB) string {
	ctx := context.Background()
	lastAdded := func(c *fedCell, user, token, coll string) string {
		cl := c.client(t, c.base, user, token)
		var last string
		err := cl.Iterate(ctx, coll, taxii.Filter{Limit: 1000, Versions: []string{"all"}}, func(p *taxii.ObjectsPage) error {
			if p.DateAddedLast != "" {
				last = p.DateAddedLast
			}
			return nil
		})
		if err != nil {
			t.Fatalf("%s: list %s as %s: %v", c.name, coll, user, err)
		}
		return last
	}
	for _, name := range []string{"a", "b", "c"} {
		c := s.cells[name]
		db, err := sqlite.Open(ctx, filepath.Join(c.dir, "jointcell.db"))
		if err != nil {
			t.Fatal(err)
		}
		links, err := db.ListLinks(ctx)
		db.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range links {
			var want string
			if l.Direction == "pull" {
				on := s.accounts[name][l.Peer]
				want = lastAdded(s.cells[l.Peer], on.user, on.token, l.Remote)
			} else {
				want = lastAdded(c, "admin", c.adminToken(), l.Local)
			}
			if l.Checkpoint != want {
				return fmt.Sprintf("%s's %s link with %s (%s) is at %q, the collection at %q", c.name, l.Direction, l.Peer, l.Remote, l.Checkpoint, want)
			}
		}
	}
	return ""
}

// settle waits until every link has handled everything there is.
func (s *relaySetup) settle(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		msg := s.linksIdle(t)
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("links did not catch up: %s", msg)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// versionsCount returns cell c's count of versions its links with peer
// handled in direction with outcome (jointcell_federation_versions_total
// on /metrics, docs/federation.md "Operations").
func (s *relaySetup) versionsCount(t testing.TB, c *fedCell, peer, direction, outcome string) float64 {
	t.Helper()
	var sum float64
	for _, line := range strings.Split(string(s.adminRaw(t, c, "/metrics")), "\n") {
		if !strings.HasPrefix(line, "jointcell_federation_versions_total{") ||
			!strings.Contains(line, `peer="`+peer+`"`) || !strings.Contains(line, `direction="`+direction+`"`) ||
			!strings.Contains(line, `outcome="`+outcome+`"`) {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			t.Fatalf("%s /metrics: %q", c.name, line)
		}
		sum += v
	}
	return sum
}

func TestFederationRelay(t *testing.T) {
	start := time.Now()
	s := newRelaySetup(t)
	t.Logf("three cells peered in %v", time.Since(start).Round(time.Millisecond))
	ctx := context.Background()
	acme := s.a.client(t, s.a.base, "acme-analyst", s.acmeTok)
	bank := s.b.client(t, s.b.base, "bank-analyst", s.bankTok)

	// What A publishes, and where the rules let it go (docs/federation.md,
	// "What crosses, and what never does"). The group names acme and gov
	// (C) only: AMBER with it may go to C, not to B, and so reaches C by
	// the direct path only.
	type pub struct {
		n          int
		coll       string
		refs       []string
		toB, toC   bool
		neverLeftA bool // must not cross the proxy in front of A at all
	}
	pubs := []pub{
		{1, "intel", []string{marking.TLP2Clear}, true, true, false},
		{2, "intel", []string{marking.TLP2Green}, true, true, false},
		{3, "intel", nil, true, true, false}, // unmarked: GREEN
		{4, "intel", []string{marking.TLP2Amber}, false, false, true},
		{5, "intel", []string{marking.TLP2Amber, s.group}, false, true, false},
		{6, "intel", []string{marking.TLP2AmberStrict}, false, false, true},
		{7, "intel", []string{marking.TLP2AmberStrict, s.group}, false, false, true},
		{8, "intel", []string{marking.TLP2Red}, false, false, true},
		{9, "intel", []string{marking.TLP2Red, s.group}, false, false, true},
		{20, "viab", []string{marking.TLP2Green}, true, true, false}, // reaches C through B only
	}
	byColl := map[string][]json.RawMessage{}
	var wantA, wantB, wantC, never []string
	wantViaBOnly := relayID(20)
	for _, p := range pubs {
		byColl[p.coll] = append(byColl[p.coll], relayObject(t, p.n, s.acme, relayCreated, fmt.Sprintf("object %d of acme", p.n), p.refs...))
		if p.coll == "intel" {
			wantA = append(wantA, relayID(p.n))
		}
		if p.toB {
			wantB = append(wantB, relayID(p.n))
		}
		if p.toC {
			wantC = append(wantC, relayID(p.n))
		}
		if p.neverLeftA {
			never = append(never, relayID(p.n))
		}
	}
	for _, coll := range []string{"intel", "viab"} {
		st, err := acme.AddObjects(ctx, coll, byColl[coll])
		if err != nil || st.SuccessCount != len(byColl[coll]) {
			t.Fatalf("publish in A's %s: %v %+v", coll, err, st)
		}
	}
	// Bank's own object goes to C through B and back to A's returns: it
	// shows that the links towards A carry what may go there.
	bankObj := relayObject(t, 30, s.bank, relayCreated, "object 30 of bank", marking.TLP2Green)
	if st, err := bank.AddObjects(ctx, "froma", []json.RawMessage{bankObj}); err != nil || st.SuccessCount != 1 {
		t.Fatalf("publish in B: %v %+v", err, st)
	}
	wantB = append(wantB, relayID(30))
	wantC = append(wantC, relayID(30))
	for _, w := range [][]string{wantA, wantB, wantC} {
		slices.Sort(w)
	}

	waitFor(t, 40*time.Second, "C to hold what the rules let reach it", func() bool {
		if r := s.audit(t, s.c, "provenance.reject"); len(r) > 0 {
			t.Fatalf("C rejected objects of the honest cells: %+v", r)
		}
		return slices.Equal(idsOf(s.versions(t, s.c, "feed")), wantC)
	})
	s.settle(t)
	t.Logf("published and settled after %v", time.Since(start).Round(time.Millisecond))

	// C: exactly what the rules allow, each version once although CLEAR
	// and GREEN came by both paths, stored as A signed it.
	feed := s.versions(t, s.c, "feed")
	if got := idsOf(feed); !slices.Equal(got, wantC) {
		t.Errorf("C holds %v, want %v", got, wantC)
	}
	onlyOnce(t, "C's feed", feed)
	for _, p := range pubs {
		if p.toC {
			s.checkSignedByA(t, feed[relayID(p.n)][0])
		}
	}
	// Both paths delivered (settle: C's pull links handled everything,
	// and C rejected nothing), and the second copy of what came twice
	// added no version. docs/federation.md says the store reports it as
	// a duplicate; it does only when the first copy was committed before
	// the second page was admitted. When both pulls store at the same
	// moment, the store refuses the second copy as a conflicting edit of
	// an immutable version (store.Rejected, counted nowhere), so the
	// count is logged, not checked.
	added := s.versionsCount(t, s.c, "a", "pull", "added") + s.versionsCount(t, s.c, "b", "pull", "added")
	if added != float64(len(wantC)) {
		t.Errorf("C's pulls added %v versions, want %d", added, len(wantC))
	}
	t.Logf("C's pulls reported %v duplicates", s.versionsCount(t, s.c, "a", "pull", "duplicate")+s.versionsCount(t, s.c, "b", "pull", "duplicate"))
	if len(feed[wantViaBOnly]) == 0 {
		t.Errorf("%s did not reach C through B", wantViaBOnly)
	}
	if r := s.audit(t, s.c, "provenance.reject"); len(r) > 0 {
		t.Errorf("C rejected objects of the honest cells: %+v", r)
	}
	// B: CLEAR and GREEN, never the group's AMBER.
	froma := s.versions(t, s.b, "froma")
	if got := idsOf(froma); !slices.Equal(got, wantB) {
		t.Errorf("B holds %v, want %v", got, wantB)
	}
	onlyOnce(t, "B's froma", froma)
	if hits := s.pb.sawAny([]string{relayID(5)}); len(hits) > 0 {
		t.Errorf("AMBER for A and C only went through B: %v", hits)
	}
	// Nothing left A that may not: everything from A crosses pa.
	if hits := s.pa.sawAny(append(slices.Clone(never), marking.TLP2AmberStrict)); len(hits) > 0 {
		t.Errorf("crossed the wire out of A: %v", hits)
	}
	if s.pa.crossed.Load() == 0 || s.pb.crossed.Load() == 0 || s.pc.crossed.Load() == 0 {
		t.Fatal("nothing went through the proxies")
	}
	s.checkNothingBackToA(t, wantA)

	// B tries to version A's object; C must keep A's version only
	// (docs/federation.md "Arrival", rules 3 and 4).
	forged := func(n int, org string) json.RawMessage {
		return relayObject(t, n, org, "2026-02-01T00:00:00.000Z", "forged by cell B")
	}
	t.Run("B versions A's object", func(t *testing.T) {
		admin := s.b.client(t, s.b.base, "admin", s.b.adminToken())
		cases := []struct {
			name   string
			client *taxii.Client
			coll   string
			obj    json.RawMessage
			// B's own write rules refuse it (access.Policy.Admit): it
			// never leaves B.
			refusedByB bool
			reason     string // in C's provenance.reject entry
		}{
			{"bank as acme in froma", bank, "froma", forged(1, s.acme), true, ""},
			{"bank as bank in froma", bank, "froma", forged(1, s.bank), true, ""},
			{"admin as acme in froma", admin, "froma", forged(1, s.acme), false, "is not an organisation of the signing cell"},
			{"bank as bank in bankintel", bank, "bankintel", forged(2, s.bank), false, "was first produced by cell " + s.aFP[:16]},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				var o struct {
					ID string `json:"id"`
				}
				if err := json.Unmarshal(tc.obj, &o); err != nil {
					t.Fatal(err)
				}
				st, err := tc.client.AddObjects(ctx, tc.coll, []json.RawMessage{tc.obj})
				if err != nil {
					t.Fatalf("post to B: %v", err)
				}
				if tc.refusedByB {
					if st.SuccessCount != 0 || st.FailureCount != 1 || len(st.Failures) != 1 {
						t.Fatalf("B stored the forged version: %+v", st)
					}
					t.Logf("B refused it: %s", st.Failures[0].Message)
					return
				}
				if st.SuccessCount != 1 {
					t.Fatalf("B refused the version it should relay: %+v", st)
				}
				var rej []relayEntry
				waitFor(t, 40*time.Second, "C to audit the rejection", func() bool {
					rej = s.rejected(t, s.c, o.ID)
					return len(rej) > 0
				})
				if rej[0].Actor != "peer:b" || !strings.Contains(rej[0].Detail, tc.reason) {
					t.Errorf("C's rejection: %+v, want actor peer:b and %q", rej[0], tc.reason)
				}
				vs := s.versions(t, s.c, "feed")[o.ID]
				if len(vs) != 1 {
					t.Fatalf("C holds %d versions of %s, want A's only", len(vs), o.ID)
				}
				var got relayStored
				if err := json.Unmarshal(vs[0], &got); err != nil || got.Modified != relayCreated {
					t.Errorf("C holds %s, want A's version: %v", vs[0], err)
				}
				s.checkSignedByA(t, vs[0])
			})
		}
	})

	// A relay that alters an object in transit (docs/federation.md,
	// "Arrival": a signature broken in transit is retried): C refuses
	// it, and stores the true version once the relay stops altering it.
	t.Run("tampered relay", func(t *testing.T) {
		const desc = "relayed through cell B untouched"
		s.pb.tamper.Store(desc)
		obj := relayObject(t, 40, s.acme, relayCreated, desc, marking.TLP2Green)
		if st, err := acme.AddObjects(ctx, "viab", []json.RawMessage{obj}); err != nil || st.SuccessCount != 1 {
			t.Fatalf("publish in A: %v %+v", err, st)
		}
		waitFor(t, 40*time.Second, "C to audit the altered object", func() bool {
			return len(s.rejected(t, s.c, relayID(40))) > 0
		})
		if n := len(s.versions(t, s.c, "feed")[relayID(40)]); n != 0 {
			t.Fatal("C stored an altered object")
		}
		if r := s.rejected(t, s.c, relayID(40))[0]; r.Actor != "peer:b" || !strings.Contains(r.Detail, "does not verify") {
			t.Errorf("C's rejection: %+v", r)
		}
		s.pb.tamper.Store("")
		var vs []json.RawMessage
		waitFor(t, 40*time.Second, "C to store the true version", func() bool {
			vs = s.versions(t, s.c, "feed")[relayID(40)]
			return len(vs) > 0
		})
		var got relayStored
		if err := json.Unmarshal(vs[0], &got); err != nil || len(vs) != 1 || got.Description != desc {
			t.Fatalf("C holds %d versions, the first %s: %v", len(vs), vs[0], err)
		}
		s.checkSignedByA(t, vs[0])
	})

	// Once everything has settled, A still holds only what its users
	// posted, and C each version once.
	s.settle(t)
	s.checkNothingBackToA(t, wantA)
	onlyOnce(t, "C's feed", s.versions(t, s.c, "feed"))
	t.Logf("done in %v", time.Since(start).Round(time.Millisecond))
}

// checkNothingBackToA checks that A's intel holds exactly the versions
// acme posted, that A's returns holds bank's object only, although B and
// C push their collections to A, and that they withheld A's objects.
func (s *relaySetup) checkNothingBackToA(t *testing.T, wantIntel []string) {
	t.Helper()
	intel := s.versions(t, s.a, "intel")
	if got := idsOf(intel); !slices.Equal(got, wantIntel) {
		t.Errorf("A's intel holds %v, want %v", got, wantIntel)
	}
	onlyOnce(t, "A's intel", intel)
	returns := s.versions(t, s.a, "returns")
	if got := idsOf(returns); !slices.Equal(got, []string{relayID(30)}) {
		t.Errorf("A's returns holds %v, want bank's %s only", got, relayID(30))
	}
	onlyOnce(t, "A's returns", returns)
	if r := s.audit(t, s.a, "provenance.reject"); len(r) > 0 {
		t.Errorf("A refused objects pushed to it: %+v", r)
	}
	for _, e := range s.audit(t, s.a, "object.write") {
		if e.Actor != "peer-b" && e.Actor != "peer-c" {
			continue
		}
		for _, id := range e.IDs {
			if id != relayID(30) {
				t.Errorf("%s wrote %s to A", e.Actor, id)
			}
		}
	}
	for _, c := range []*fedCell{s.b, s.c} {
		if n := s.versionsCount(t, c, "a", "push", "withheld"); n == 0 {
			t.Errorf("%s's push link to A withheld nothing: it never saw A's objects", c.name)
		}
	}
}
