package taxii

// A randomized property test of "who sees what" across every TAXII read
// path. A real server (the access policy, the SQLite store) receives
// thousands of objects with random markings, granular markings, versions,
// producers and posters over HTTP; then many principals walk every read
// path with random filters and page sizes, following next until more is
// false, and every answer is compared with the reference model of
// access_helpers_test.go. Sharing-group memberships and collection rights
// change between rounds and between pages, and next cursors are handed
// from broad readers to narrow ones.
//
// go test -short runs the small size (about 500 objects); without -short
// about 3600 objects and more walks. JOINTCELL_PROPERTY_SEED=<n> replays a
// seed (the ids of sharing groups and recipient markings are random, as
// access.NewGroup and access.NewRecipients make them; every choice is the
// seed's); every disagreement prints the seed, the principal, the request
// and the difference.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jointcell/jointcell/internal/access"
	"github.com/jointcell/jointcell/internal/store"
	"github.com/jointcell/jointcell/internal/store/sqlite"
)

func TestAccessProperty(t *testing.T) {
	seed := uint64(20260526)
	if s := os.Getenv("JOINTCELL_PROPERTY_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("JOINTCELL_PROPERTY_SEED: %v", err)
		}
		seed = n
	}
	size := apSize{objects: 3600, rounds: 5, objectWalks: 8, pageBudget: 30, maxPage: 250}
	if testing.Short() {
		size = apSize{objects: 500, rounds: 2, objectWalks: 3, pageBudget: 8, maxPage: 100}
	}
	t.Logf("seed %d (replay with JOINTCELL_PROPERTY_SEED=%d), %d objects", seed, seed, size.objects)
	h := newAPHarness(t, seed, size)
	start := time.Now()

	h.publishDefinitions()
	h.mixedCreators()
	h.populate(size.objects * 9 / 10)
	populated := time.Since(start)

	h.readRound("round 1")
	h.misuseCursors()
	h.cursorHandOver()
	h.revokeBetweenPages()
	h.changeMemberships()
	h.populate(size.objects / 10)
	h.readRound("round 2 (after membership changes)")
	h.cursorHandOver()
	h.revokeBetweenPages()

	h.checkCoverage()
	t.Logf("seed %d: %d objects posted in %d envelopes (%d stored versions, %d refused) in %v; %d read requests (%d pages, %d versions compared, %d with properties removed, %d hidden from someone) in %v",
		seed, h.stats.posted, h.stats.envelopes, h.stats.stored, h.stats.refused, populated.Round(time.Millisecond),
		h.stats.requests, h.stats.pages, h.stats.compared, h.stats.trimmed, h.stats.hiddenPairs, (time.Since(start) - populated).Round(time.Millisecond))
}

type apSize struct {
	objects     int // objects posted in all
	rounds      int // listing walks per principal and collection per read round
	objectWalks int // object and versions walks per principal and collection
	pageBudget  int // pages one walk may take at most (limits are chosen so)
	maxPage     int // the server's MaxPageSize
}

type apStats struct {
	posted, envelopes, stored, refused, duplicates, revoked int
	refusedBy                                               map[string]int
	requests, pages, compared, trimmed, hiddenPairs         int
	notFound, forbidden, handOvers, revokedWalks            int
	walks                                                   map[string]int
	limits                                                  map[int]int
}

type apHarness struct {
	t     *testing.T
	seed  uint64
	size  apSize
	rng   *rand.Rand
	ctx   context.Context
	db    *sqlite.DB
	pol   *access.Policy
	srv   *Server
	auth  *apAuth
	m     *apModel
	users []*apUser
	admin *apUser // the admin of no organisation

	clock time.Time // of generated STIX timestamps
	hist  map[*apColl][]*apHist
	stats apStats
	fails int

	refusedDefs []string // definitions the cell refused: referencing them must fail
	round       int
	statuses    []apStatusSeen
}

// apHist is what the generator remembers of an object it created.
type apHist struct {
	id, typ  string
	created  string
	producer string // created_by_ref of its versions
	finished bool   // revoked (or about to be): no more versions
	last     *apVer
}

type apStatusSeen struct {
	id    string
	owner *apUser
	body  []byte
}

func newAPHarness(t *testing.T, seed uint64, size apSize) *apHarness {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	h := &apHarness{
		t: t, seed: seed, size: size, ctx: ctx, db: db,
		rng:   rand.New(rand.NewPCG(seed, seed^0x5eed5eed)),
		m:     &apModel{byGroup: map[string]*apGroup{}, defs: map[string]*apDef{}, byColl: map[string]*apColl{}},
		auth:  &apAuth{users: map[string]*apUser{}},
		clock: time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC),
		hist:  map[*apColl][]*apHist{},
		stats: apStats{refusedBy: map[string]int{}, walks: map[string]int{}, limits: map[int]int{}},
	}
	// Organisations 0-4 work in the collections; 5 reads the shared
	// collection but is in no group; 6 has no right on any collection
	// (its only group is named by no collection).
	for range 7 {
		h.m.orgs = append(h.m.orgs, h.randID("identity"))
	}
	orgs := h.m.orgs
	members := [][]string{
		h.sample(orgs[:5], 2+h.rng.IntN(2)),
		h.sample(orgs[:5], 2+h.rng.IntN(2)),
		append(h.sample(orgs[:5], 1), orgs[6]),
	}
	now := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, ms := range members {
		g, err := access.NewGroup(fmt.Sprintf("group%d", i), ms, now)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.PutGroup(ctx, g); err != nil {
			t.Fatal(err)
		}
		ag := &apGroup{name: g.Name, id: g.MarkingID, members: map[string]bool{}, stored: g}
		for _, o := range ms {
			ag.members[o] = true
		}
		h.m.groups = append(h.m.groups, ag)
		h.m.byGroup[ag.id] = ag
	}
	g := h.m.groups
	h.m.colls = []*apColl{
		{id: "aaaaaaaa-0000-4000-8000-000000000001", alias: "shared", title: "shared",
			readOrgs: slices.Clone(orgs[:6]), writeOrgs: []string{orgs[0], orgs[1]}, writeGroups: []string{g[1].id}},
		{id: "aaaaaaaa-0000-4000-8000-000000000002", alias: "group", title: "group 0",
			readOrgs: []string{orgs[5]}, readGroups: []string{g[0].id}, writeGroups: []string{g[0].id}},
		{id: "aaaaaaaa-0000-4000-8000-000000000003", alias: "narrow", title: "narrow",
			readOrgs: []string{orgs[3]}, writeOrgs: []string{orgs[3], orgs[4]}},
		{id: "aaaaaaaa-0000-4000-8000-000000000004", alias: "admins", title: "admins only"},
	}
	for _, c := range h.m.colls {
		if err := db.CreateCollection(ctx, c.store()); err != nil {
			t.Fatal(err)
		}
		h.m.byColl[c.id] = c
	}

	addUser := func(token string, org int, role access.Role, what string) *apUser {
		u := &apUser{token: token, userID: "u-" + token, name: token, role: role, what: what}
		if org >= 0 {
			u.org, u.orgName = orgs[org], fmt.Sprintf("org%d", org)
		}
		h.users = append(h.users, u)
		h.auth.users[token] = u
		return u
	}
	for i := range orgs {
		what := fmt.Sprintf("org%d", i)
		switch i {
		case 5:
			what += ", in no group"
		case 6:
			what += ", no collection right"
		}
		addUser(fmt.Sprintf("analyst%d", i), i, access.RoleAnalyst, "analyst of "+what)
		addUser(fmt.Sprintf("reader%d", i), i, access.RoleReader, "reader of "+what)
	}
	addUser("analyst0b", 0, access.RoleAnalyst, "second analyst of org0")
	h.admin = addUser("root", -1, access.RoleAdmin, "admin of no organisation")
	addUser("admin0", 0, access.RoleAdmin, "admin of org0")

	h.pol = access.NewPolicy(access.PolicyConfig{Groups: db.ListGroups, Objects: db})
	h.refreshGroups()
	h.srv = NewServer(Config{
		Objects: db, Collections: db, Statuses: db,
		Authenticator: h.auth, Policy: h.pol,
		CursorKey:   []byte("access property cursor key"),
		MaxPageSize: size.maxPage,
	})
	return h
}

// ---- randomness ----

func (h *apHarness) randID(typ string) string {
	r := h.rng
	return fmt.Sprintf("%s--%08x-%04x-4%03x-%x%03x-%012x", typ, r.Uint32(), r.Uint32()&0xffff, r.Uint32()&0xfff,
		8+r.IntN(4), r.Uint32()&0xfff, r.Uint64()&0xffffffffffff)
}

func (h *apHarness) sample(s []string, n int) []string {
	c := slices.Clone(s)
	h.rng.Shuffle(len(c), func(i, j int) { c[i], c[j] = c[j], c[i] })
	return c[:min(n, len(c))]
}

func apPick[T any](h *apHarness, s []T) T { return s[h.rng.IntN(len(s))] }

func (h *apHarness) chance(p float64) bool { return h.rng.Float64() < p }

// tick advances the generator's clock and returns a STIX timestamp.
func (h *apHarness) tick() string {
	h.clock = h.clock.Add(time.Duration(1+h.rng.IntN(90000)) * time.Millisecond)
	return h.clock.Format("2006-01-02T15:04:05.000Z")
}

// ---- disagreements ----

func (h *apHarness) disagree(format string, a ...any) {
	h.t.Helper()
	h.fails++
	h.t.Errorf("seed %d: DISAGREEMENT: "+format, append([]any{h.seed}, a...)...)
	if h.fails >= 12 {
		h.t.Fatalf("seed %d: too many disagreements, stopping", h.seed)
	}
}

// ---- HTTP ----

func (h *apHarness) do(u *apUser, method, path string, body []byte) apResponse {
	h.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	r := httptest.NewRequest(method, path, rd)
	r.Header.Set("Accept", MediaTypeTAXII)
	if body != nil {
		r.Header.Set("Content-Type", MediaTypeTAXII)
	}
	r.Header.Set("Authorization", "Bearer "+u.token)
	w := httptest.NewRecorder()
	h.srv.ServeHTTP(w, r)
	res := w.Result()
	b, _ := io.ReadAll(res.Body)
	h.stats.requests++
	if ct := res.Header.Get("Content-Type"); ct != MediaTypeTAXII {
		h.disagree("%s: Content-Type %q", apRequestLine(method, path, u), ct)
	}
	return apResponse{code: res.StatusCode, header: res.Header, body: b}
}

func (h *apHarness) get(u *apUser, path string) apResponse {
	h.t.Helper()
	return h.do(u, http.MethodGet, path, nil)
}

// errorShape is a TAXII error without its per-response error_id.
func (h *apHarness) errorShape(res apResponse) string {
	var e map[string]any
	if err := json.Unmarshal(res.body, &e); err != nil {
		return fmt.Sprintf("%d (not JSON: %q)", res.code, res.body)
	}
	if id, _ := e["error_id"].(string); id == "" {
		return fmt.Sprintf("%d (no error_id: %s)", res.code, res.body)
	}
	delete(e, "error_id")
	b, _ := json.Marshal(e)
	return fmt.Sprintf("%d %s", res.code, b)
}

// expectError checks that res is the error code and has the very shape of
// like (a request for something that does not exist), so that nothing
// tells the two apart.
func (h *apHarness) expectError(what string, res apResponse, code int, like apResponse) {
	h.t.Helper()
	if res.code != code {
		h.disagree("%s: HTTP %d, model %d\n%s", what, res.code, code, res.body)
		return
	}
	if got, want := h.errorShape(res), h.errorShape(like); got != want {
		h.disagree("%s: error %s, but for something that does not exist %s", what, got, want)
	}
	switch code {
	case http.StatusNotFound:
		h.stats.notFound++
	case http.StatusForbidden:
		h.stats.forbidden++
	}
}

// ---- generating objects ----

// apObj is one generated object.
type apObj struct {
	doc      map[string]any
	raw      []byte
	id, typ  string
	cbr      string // created_by_ref as posted
	created  string
	version  string // modified, else created; "" for SCOs
	refs     []string
	granular []apGran
	invalid  bool // the STIX validator must refuse it
	def      apDefKind
	recips   []string // apDefRecipients
	hist     *apHist  // the object it versions, nil for a new one
}

type apDefKind int

const (
	apNotDef apDefKind = iota
	apDefTLP
	apDefLookalike
	apDefStatement
	apDefRecipients
	apDefGroup
)

// TLP 2.0 ids the deterministic scenarios use.
const (
	apGreenID  = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
	apStrictID = "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003"
	apRedID    = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"
)

var apPatterns = []string{
	"[ipv4-addr:value = '198.51.100.7']",
	"[domain-name:value = 'evil.example.com']",
	"[url:value = 'https://evil.example.com/x'] OR [ipv4-addr:value = '203.0.113.0/24']",
	"[file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f']",
	"[network-traffic:dst_port = 443 AND network-traffic:dst_ref.value = '192.0.2.1'] WITHIN 300 SECONDS",
}

var apSDOTypes = []string{"indicator", "malware", "report", "note"}
var apSCOTypes = []string{"ipv4-addr", "domain-name", "url"}

// encode writes doc with its properties in a random order, compact or
// indented, so that byte-exact serving is put to the test.
func (h *apHarness) encode(doc map[string]any) []byte {
	keys := make([]string, 0, len(doc))
	for k := range doc {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h.rng.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		vb, _ := json.Marshal(doc[k])
		b.Write(kb)
		b.WriteByte(':')
		b.Write(vb)
	}
	b.WriteByte('}')
	if h.chance(0.2) {
		var out bytes.Buffer
		_ = json.Indent(&out, b.Bytes(), "", "  ")
		return out.Bytes()
	}
	return b.Bytes()
}

// markingFor picks a marking for an object of producer: mostly ones the
// producer may use, sometimes ones it may not, rarely unknown ones.
func (h *apHarness) markingFor(producer string) string {
	m := h.m
	switch x := h.rng.Float64(); {
	case x < 0.45:
		return apPick(h, apTLPIDs)
	case x < 0.65:
		var own []string
		for _, g := range m.groups {
			if g.members[producer] {
				own = append(own, g.id)
			}
		}
		if len(own) > 0 && h.chance(0.8) {
			return apPick(h, own)
		}
		return apPick(h, m.groups).id
	case x < 0.85:
		var own, all []string
		for _, id := range m.defOrder {
			if d := m.defs[id]; d.recipients {
				all = append(all, id)
				if d.creator == producer {
					own = append(own, id)
				}
			}
		}
		if len(own) > 0 && h.chance(0.85) {
			return apPick(h, own)
		}
		if len(all) > 0 {
			return apPick(h, all)
		}
		return apPick(h, apTLPIDs)
	case x < 0.95:
		var st []string
		for _, id := range m.defOrder {
			if !m.defs[id].recipients {
				st = append(st, id)
			}
		}
		if len(st) > 0 {
			return apPick(h, st)
		}
		return apPick(h, apTLPIDs)
	default:
		if len(h.refusedDefs) > 0 && h.chance(0.6) {
			return apPick(h, h.refusedDefs)
		}
		return "marking-definition--00000000-0000-4000-8000-0000000dead0"
	}
}

// newSTIX builds an SDO or SCO of typ (a new version of hist when given).
// cbr is the created_by_ref to write ("" for none).
func (h *apHarness) newSTIX(typ string, hist *apHist, cbr, producer string) *apObj {
	o := &apObj{typ: typ, hist: hist, cbr: cbr}
	sco := slices.Contains(apSCOTypes, typ)
	doc := map[string]any{"type": typ, "spec_version": "2.1"}
	if hist != nil {
		o.id = hist.id
	} else {
		o.id = h.randID(typ)
	}
	doc["id"] = o.id
	var free, prot []string
	n := h.rng.IntN(1000)
	if !sco {
		created := h.tick()
		if hist != nil {
			created = hist.created
		}
		modified := h.tick()
		if hist != nil && hist.last != nil && h.chance(0.15) {
			// An older version arriving late: between created and the
			// last version known.
			c, _ := time.Parse(time.RFC3339Nano, created)
			l, _ := time.Parse(time.RFC3339Nano, hist.last.version)
			if gap := l.Sub(c).Milliseconds(); gap > 2 {
				modified = c.Add(time.Duration(1+h.rng.Int64N(gap-1)) * time.Millisecond).Format("2006-01-02T15:04:05.000Z")
			}
		}
		o.created, o.version = created, modified
		doc["created"], doc["modified"] = created, modified
		doc["external_references"] = []any{
			map[string]any{"source_name": "a", "url": fmt.Sprintf("https://a.example/%d", n)},
			map[string]any{"source_name": "b", "external_id": fmt.Sprintf("B-%d", n), "description": "café <b> ☕"},
		}
		doc["labels"] = []any{"l" + strconv.Itoa(n%7)}
		doc["x_secret"] = fmt.Sprintf("internal %d", n)
		free = append(free, "x_secret", "labels", "external_references", "external_references.[0]", "external_references.[1]",
			"external_references.[1].description", "external_references.[0].url")
		prot = append(prot, "modified", "created")
		if cbr != "" {
			doc["created_by_ref"] = cbr
			prot = append(prot, "created_by_ref")
		}
	}
	switch typ {
	case "indicator":
		doc["name"], doc["description"] = fmt.Sprintf("indicator %d", n), "seen in phishing"
		doc["pattern"], doc["pattern_type"], doc["valid_from"] = apPick(h, apPatterns), "stix", "2024-01-01T00:00:00Z"
		free = append(free, "name", "description")
		prot = append(prot, "pattern", "valid_from", "pattern_type")
	case "malware":
		doc["name"], doc["description"], doc["is_family"] = fmt.Sprintf("dropper %d", n), "drops things", false
		free = append(free, "name", "description")
		prot = append(prot, "is_family")
	case "report":
		doc["name"], doc["description"], doc["published"] = fmt.Sprintf("campaign %d", n), "summary", "2024-01-01T00:00:00Z"
		doc["object_refs"] = []any{h.randID("indicator"), h.randID("malware")}
		free = append(free, "description")
		prot = append(prot, "name", "published", "object_refs")
	case "note":
		doc["abstract"], doc["content"] = "short", fmt.Sprintf("long text %d", n)
		doc["object_refs"] = []any{h.randID("malware")}
		free = append(free, "abstract")
		prot = append(prot, "content", "object_refs")
	case "ipv4-addr":
		doc["value"] = fmt.Sprintf("10.%d.%d.%d", h.rng.IntN(256), h.rng.IntN(256), h.rng.IntN(256))
	case "domain-name":
		doc["value"] = fmt.Sprintf("host%d.example.net", h.rng.IntN(100000))
	case "url":
		doc["value"] = fmt.Sprintf("https://host%d.example.net/p", h.rng.IntN(100000))
	}
	if sco {
		doc["x_secret"] = fmt.Sprintf("internal %d", n)
		free = append(free, "x_secret")
		prot = append(prot, "value")
	}
	for range h.rng.IntN(4) {
		r := h.markingFor(producer)
		if !slices.Contains(o.refs, r) {
			o.refs = append(o.refs, r)
		}
	}
	if len(o.refs) > 0 {
		doc["object_marking_refs"] = apAnys(o.refs)
		prot = append(prot, "object_marking_refs")
	}
	for range h.rng.IntN(4) {
		var sels []string
		if h.chance(0.2) {
			sels = append(sels, apPick(h, prot))
		}
		for range 1 + h.rng.IntN(2) {
			if s := apPick(h, free); !slices.Contains(sels, s) {
				sels = append(sels, s)
			}
		}
		o.granular = append(o.granular, apGran{sels: sels, ref: h.markingFor(producer)})
	}
	if h.chance(0.1) {
		o.granular = append(o.granular, apGran{sels: []string{apPick(h, free)}, lang: "fr"})
	}
	if len(o.granular) > 0 {
		var list []any
		for _, g := range o.granular {
			e := map[string]any{"selectors": apAnys(g.sels)}
			if g.ref != "" {
				e["marking_ref"] = g.ref
			} else {
				e["lang"] = g.lang
			}
			list = append(list, e)
		}
		doc["granular_markings"] = list
	}
	if typ == "indicator" && h.chance(0.02) {
		doc["pattern"] = "[ipv4-addr:value = ]"
		o.invalid = true
	}
	if !sco && hist != nil && h.chance(0.06) {
		doc["revoked"] = true
		hist.finished = true
	}
	o.doc = doc
	o.raw = h.encode(doc)
	return o
}

func apAnys(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// ---- posting ----

// apPlanned is the model's verdict on one object of an envelope.
type apPlanned struct {
	o      *apObj
	v      *apVer // admitted (to be stored); nil when refused
	reason string
	dup    *apVer // the stored version it duplicates
	reject bool   // refused by the store: same version, other content
}

// admit applies the write rules of docs/markings.md to o posted by u in c,
// given the definitions admitted earlier in the same envelope (pend).
func (h *apHarness) admit(u *apUser, c *apColl, o *apObj, pend map[string]*apDef, earlier []*apPlanned) (*apVer, string) {
	m := h.m
	if o.invalid {
		return nil, "invalid STIX"
	}
	v := &apVer{id: o.id, typ: o.typ, spec: "2.1", refs: o.refs, granular: o.granular, posted: o.raw, createdBy: o.cbr}
	if o.version != "" {
		t, _ := time.Parse(time.RFC3339Nano, o.version)
		v.version, v.vkey, v.versioned = o.version, t.UnixMicro(), true
	}
	if o.def == apDefTLP {
		v.stored, v.aud = o.raw, apAud{all: true}
		return v, ""
	}
	producer := o.cbr
	switch {
	case o.cbr == "" && o.created != "" && u.org != "":
		producer, v.fill, v.createdBy = u.org, u.org, u.org
	case o.cbr == "":
		producer = u.org
	case o.cbr != u.org && !u.admin():
		return nil, "publishes as another organisation"
	}
	v.producer = producer
	v.stored = o.raw
	if v.fill != "" {
		v.stored = apFilled(o.raw, v.fill)
	}
	if o.created != "" {
		// The versions stored before, and those admitted earlier in
		// the same envelope (stored with it, in order).
		prior := slices.Clone(c.versions)
		for _, p := range earlier {
			prior = append(prior, p.v)
		}
		for _, sv := range prior {
			if sv.id != o.id {
				continue
			}
			if sv.createdBy != producer {
				return nil, "versions another organisation's object"
			}
			if o.typ == "marking-definition" && !bytes.Equal(sv.stored, v.stored) {
				return nil, "changes a marking definition"
			}
		}
	}
	switch o.def {
	case apDefLookalike:
		return nil, "TLP look-alike"
	case apDefGroup:
		if !u.admin() {
			return nil, "posts a sharing group"
		}
	case apDefStatement, apDefRecipients:
		if d := m.defs[o.id]; d != nil && !bytes.Equal(d.stored, v.stored) {
			return nil, "changes a marking definition"
		}
		if d := pend[o.id]; d != nil && !bytes.Equal(d.stored, v.stored) {
			return nil, "changes a marking definition"
		}
	}
	all := slices.Clone(o.refs)
	for _, g := range o.granular {
		if g.ref != "" {
			all = append(all, g.ref)
		}
	}
	for _, r := range all {
		k, d := m.kind(r, pend)
		switch {
		case k == apUnknown:
			return nil, "unknown marking"
		case u.admin():
		case k == apKindGroup && !m.member(producer, r):
			return nil, "group marking of a group it is not in"
		case k == apKindRecipients && d.creator != producer:
			return nil, "another organisation's recipient marking"
		}
	}
	v.aud = m.audience(producer, o.refs, pend)
	for _, g := range o.granular {
		if g.ref == "" || !slices.ContainsFunc(g.sels, func(s string) bool { return apProtected(o.typ, s) }) {
			continue
		}
		v.aud = m.narrow(v.aud, m.audience(producer, append(slices.Clone(o.refs), g.ref), pend))
	}
	return v, ""
}

// post sends objs as u to c and checks the answer and the status resource
// against the model; it then learns the date_added of what was stored.
func (h *apHarness) post(u *apUser, c *apColl, objs []*apObj) {
	h.t.Helper()
	m := h.m
	h.stats.envelopes++
	h.stats.posted += len(objs)
	raws := make([]string, len(objs))
	for i, o := range objs {
		raws[i] = string(o.raw)
	}
	path := "/api/collections/" + apPick(h, []string{c.id, c.alias}) + "/objects/"
	res := h.do(u, http.MethodPost, path, envelope(raws...))
	what := apRequestLine("POST", path, u)
	switch {
	case !m.canRead(u, c) && !m.canWrite(u, c):
		like := h.do(u, http.MethodPost, "/api/collections/"+h.randID("x")[3:]+"/objects/", envelope(raws...))
		h.expectError(what, res, http.StatusNotFound, like)
		return
	case !m.canWrite(u, c):
		if res.code != http.StatusForbidden {
			h.disagree("%s: HTTP %d, model 403 (read right only)\n%s", what, res.code, res.body)
		}
		h.stats.forbidden++
		return
	}
	if res.code != http.StatusAccepted {
		h.disagree("%s: HTTP %d, model 202\n%s", what, res.code, res.body)
		return
	}

	// The model's verdict, object by object. A marking definition that
	// appears again in the envelope with other bytes is invalid STIX
	// (never versioned, STIX 2.1 §7.2.1).
	for i, o := range objs {
		for _, p := range objs[:i] {
			if p.id == o.id && o.typ == "marking-definition" && !bytes.Equal(p.raw, o.raw) {
				o.invalid = true
			}
		}
	}
	pend := map[string]*apDef{}
	var plan []*apPlanned
	var batch []*apPlanned
	for _, o := range objs {
		v, reason := h.admit(u, c, o, pend, batch)
		p := &apPlanned{o: o, v: v, reason: reason}
		plan = append(plan, p)
		if v == nil {
			h.stats.refusedBy[reason]++
			if o.def == apDefRecipients || o.def == apDefStatement {
				h.refusedDefs = append(h.refusedDefs, o.id)
			}
			continue
		}
		if o.def == apDefRecipients || o.def == apDefStatement {
			pend[o.id] = &apDef{recipients: o.def == apDefRecipients, creator: v.createdBy, names: o.recips, stored: v.stored}
		}
		batch = append(batch, p)
	}
	// The store: a version is identified by id and version (SCOs: by
	// content); identical bytes are a success, other bytes a failure.
	var fresh []*apVer
	for _, p := range batch {
		same := func(sv *apVer) bool {
			if p.v.versioned {
				return sv.id == p.v.id && sv.versioned && sv.vkey == p.v.vkey
			}
			return sv.id == p.v.id && !sv.versioned && bytes.Equal(sv.stored, p.v.stored)
		}
		var prev *apVer
		for _, sv := range slices.Concat(c.versions, fresh) {
			if same(sv) {
				prev = sv
				break
			}
		}
		switch {
		case prev == nil:
			fresh = append(fresh, p.v)
		case bytes.Equal(prev.stored, p.v.stored):
			p.dup = prev
			h.stats.duplicates++
		default:
			p.reject = true
			h.stats.refusedBy["same version, other content"]++
		}
	}

	var st Status
	if err := json.Unmarshal(res.body, &st); err != nil {
		h.disagree("%s: status not JSON: %v", what, err)
		return
	}

	type detail struct{ id, version string }
	var wantOK, wantFail []detail
	for _, p := range plan {
		if p.v == nil {
			wantFail = append(wantFail, detail{p.o.id, p.o.version})
		}
	}
	for _, p := range batch {
		switch {
		case p.reject:
			wantFail = append(wantFail, detail{p.o.id, p.o.version})
		case p.dup != nil:
			wantOK = append(wantOK, detail{p.o.id, p.dup.version})
		default:
			wantOK = append(wantOK, detail{p.o.id, p.v.version})
		}
	}
	var gotOK, gotFail []detail
	for i, d := range st.Successes {
		if i < len(wantOK) && wantOK[i].version == "" {
			d.Version = "" // a new observable: versioned by its date_added, checked below
		}
		gotOK = append(gotOK, detail{d.ID, d.Version})
	}
	for _, d := range st.Failures {
		gotFail = append(gotFail, detail{d.ID, d.Version})
		if d.Message == "" {
			h.disagree("%s: failure of %s without a message", what, d.ID)
		}
	}
	if !slices.Equal(gotOK, wantOK) || !slices.Equal(gotFail, wantFail) || st.TotalCount != len(objs) ||
		st.SuccessCount != len(wantOK) || st.FailureCount != len(wantFail) || st.PendingCount != 0 || st.Status != StatusComplete {
		var b strings.Builder
		for _, p := range plan {
			fmt.Fprintf(&b, "  %s %s by %s: model %q", p.o.id, p.o.version, apShort(p.o.cbr), p.reason)
			for _, r := range p.o.refs {
				fmt.Fprintf(&b, " [marking %s%s]", apShort(r), h.describe(r))
			}
			for _, g := range p.o.granular {
				if g.ref != "" {
					fmt.Fprintf(&b, " [granular %v %s%s]", g.sels, apShort(g.ref), h.describe(g.ref))
				}
			}
			if p.dup != nil {
				b.WriteString(" (duplicate)")
			}
			if p.reject {
				b.WriteString(" (store refuses: other content)")
			}
			b.WriteString("\n")
		}
		for _, d := range st.Failures {
			fmt.Fprintf(&b, "  server failure %s %s: %s\n", d.ID, d.Version, d.Message)
		}
		h.disagree("%s: status successes %v failures %v, model successes %v failures %v\n%s",
			what, gotOK, gotFail, wantOK, wantFail, b.String())
		h.t.FailNow() // the model no longer knows what is stored
	}
	h.learn(c, fresh)
	for i, p := range batch {
		if p.v.dateAdded.IsZero() || p.reject || p.dup != nil || p.v.versioned {
			continue
		}
		for j, d := range st.Successes {
			if d.ID == p.v.id && j <= i && d.Version != p.v.version {
				h.disagree("%s: status success %s %s, stored as version %s", what, d.ID, d.Version, p.v.version)
			}
		}
	}
	h.stats.stored += len(fresh)
	for _, v := range fresh {
		if v.doc["revoked"] == true {
			h.stats.revoked++
		}
	}
	h.stats.refused += len(wantFail)

	// Definitions admitted are published now; the generator's history
	// follows the admitted versions.
	for _, p := range batch {
		if p.reject || p.dup != nil {
			continue
		}
		if d := pend[p.o.id]; d != nil {
			m.defs[p.o.id] = d
			m.defOrder = append(m.defOrder, p.o.id)
		}
		if p.o.def != apNotDef {
			continue
		}
		hs := p.o.hist
		if hs == nil {
			hs = &apHist{id: p.o.id, typ: p.o.typ, created: p.o.created, producer: p.v.createdBy}
			h.hist[c] = append(h.hist[c], hs)
			p.o.hist = hs
		}
		if hs.last == nil || hs.last.vkey < p.v.vkey {
			hs.last = p.v
		}
	}
	h.statuses = append(h.statuses, apStatusSeen{id: st.ID, owner: u, body: res.body})
	if h.chance(0.25) {
		h.checkStatus(h.statuses[len(h.statuses)-1])
	}
}

// learn reads, as the admin, the versions c received since the last known
// one: they must be exactly fresh, in order; their date_added (and, for
// SCOs, their version) are then known to the model.
func (h *apHarness) learn(c *apColl, fresh []*apVer) {
	h.t.Helper()
	if len(fresh) == 0 {
		return
	}
	q := url.Values{"match[version]": {"all"}, "match[spec_version]": {"2.0,2.1"}}
	if n := len(c.versions); n > 0 {
		q.Set("added_after", c.versions[n-1].dateAdded.Format(TimestampFormat))
	}
	var got []ManifestRecord
	path := "/api/collections/" + c.id + "/manifest/?" + q.Encode()
	for {
		res := h.get(h.admin, path)
		var mf Manifest
		if res.code != http.StatusOK || json.Unmarshal(res.body, &mf) != nil {
			h.t.Fatalf("seed %d: learning date_added: %s: HTTP %d %s", h.seed, path, res.code, res.body)
		}
		got = append(got, mf.Objects...)
		if !mf.More {
			break
		}
		path = "/api/collections/" + c.id + "/manifest/?next=" + url.QueryEscape(mf.Next)
	}
	if len(got) != len(fresh) {
		h.t.Fatalf("seed %d: %s received %d new versions, the model stored %d: %v", h.seed, c.alias, len(got), len(fresh), got)
	}
	var last time.Time
	if n := len(c.versions); n > 0 {
		last = c.versions[n-1].dateAdded
	}
	for i, r := range got {
		v := fresh[i]
		added, err := time.Parse(TimestampFormat, r.DateAdded)
		if err != nil || !added.After(last) {
			h.t.Fatalf("seed %d: date_added %q of %s does not follow %v", h.seed, r.DateAdded, r.ID, last)
		}
		last = added
		v.dateAdded = added
		if !v.versioned {
			v.version, v.vkey = r.DateAdded, added.UnixMicro()
		}
		if r.ID != v.id || r.Version != v.version {
			h.t.Fatalf("seed %d: %s stored %s %s where the model stored %s %s", h.seed, c.alias, r.ID, r.Version, v.id, v.version)
		}
		doc, err := apDecode(v.stored)
		if err != nil {
			h.t.Fatal(err)
		}
		v.doc = doc
		c.versions = append(c.versions, v)
	}
	h.m.epoch++
}

// checkStatus reads a status resource as its owner, an admin, a colleague
// of the owner and someone else: only the first two see it.
func (h *apHarness) checkStatus(s apStatusSeen) {
	h.t.Helper()
	path := "/api/status/" + s.id + "/"
	unknown := h.get(s.owner, "/api/status/"+h.randID("x")[3:]+"/")
	for _, u := range h.users {
		if u != s.owner && !u.admin() && u.org != s.owner.org && h.chance(0.7) {
			continue
		}
		res := h.get(u, path)
		what := apRequestLine("GET", path, u)
		if u == s.owner || u.admin() {
			var got, want map[string]any
			_ = json.Unmarshal(res.body, &got)
			_ = json.Unmarshal(s.body, &want)
			if res.code != http.StatusOK || !apJSONEqual(got, want) {
				h.disagree("%s: HTTP %d %s, model 200 with the status the POST answered:\n%s", what, res.code, res.body, s.body)
			}
			continue
		}
		h.expectError(what+" (status of "+s.owner.name+")", res, http.StatusNotFound, unknown)
	}
}

// describe says what the model knows of a marking reference.
func (h *apHarness) describe(ref string) string {
	k, d := h.m.kind(ref, nil)
	switch k {
	case apKindTLP:
		return fmt.Sprintf(" TLP level %d", apTLP[ref])
	case apKindGroup:
		return " group " + h.m.byGroup[ref].name
	case apKindRecipients:
		return fmt.Sprintf(" recipients by %s", apShort(d.creator))
	case apKindStatement:
		return " statement"
	}
	if slices.Contains(h.refusedDefs, ref) {
		return " (a definition the cell refused)"
	}
	return " unknown"
}

func apJSONEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// poster picks who posts to c: mostly an analyst who may, sometimes an
// admin, a reader or an analyst who may not.
func (h *apHarness) poster(c *apColl) *apUser {
	var writers, others []*apUser
	for _, u := range h.users {
		switch {
		case u.admin():
		case h.m.canWrite(u, c):
			writers = append(writers, u)
		default:
			others = append(others, u)
		}
	}
	switch x := h.rng.Float64(); {
	case x < 0.8 && len(writers) > 0:
		return apPick(h, writers)
	case x < 0.9:
		return apPick(h, []*apUser{h.admin, h.byToken("admin0")})
	default:
		return apPick(h, others)
	}
}

func (h *apHarness) byToken(tok string) *apUser { return h.auth.users[tok] }

// publishDefinitions posts recipient and statement definitions, the
// canonical TLP definitions, and definitions the cell must refuse.
func (h *apHarness) publishDefinitions() {
	h.t.Helper()
	m := h.m
	for _, c := range m.colls {
		for i, org := range m.orgs {
			u := h.byToken(fmt.Sprintf("analyst%d", i))
			by := u
			if !m.canWrite(u, c) {
				if !h.chance(0.3) {
					continue
				}
				by = h.admin // on behalf of the organisation
			}
			var env []*apObj
			for range 1 + h.rng.IntN(2) {
				names := h.sample(m.orgs, 1+h.rng.IntN(3))
				raw, err := access.NewRecipients(org, names, h.clock)
				if err != nil {
					h.t.Fatal(err)
				}
				doc, _ := apDecode(raw)
				o := &apObj{doc: doc, raw: raw, id: doc["id"].(string), typ: "marking-definition", cbr: org,
					created: doc["created"].(string), version: doc["created"].(string), def: apDefRecipients, recips: names}
				if h.chance(0.15) {
					// Marked with something unknown: refused, and so
					// never usable.
					doc["object_marking_refs"] = []any{"marking-definition--00000000-0000-4000-8000-0000000dead1"}
					o.refs = []string{"marking-definition--00000000-0000-4000-8000-0000000dead1"}
					o.raw = h.encode(doc)
				}
				env = append(env, o)
			}
			h.post(by, c, env)
		}
		// A statement, published by a writer (created_by_ref filled in).
		stmt := map[string]any{"type": "marking-definition", "spec_version": "2.1", "id": h.randID("marking-definition"),
			"created": h.tick(), "definition_type": "statement", "definition": map[string]any{"statement": "Copyright " + c.alias}}
		h.post(h.poster(c), c, []*apObj{{doc: stmt, raw: h.encode(stmt), id: stmt["id"].(string), typ: "marking-definition",
			created: stmt["created"].(string), version: stmt["created"].(string), def: apDefStatement}})
		// The canonical TLP:GREEN 2.0 definition: stored once, its exact
		// bytes again are a success, other bytes a failure.
		tlp := `{"type":"marking-definition","spec_version":"2.1","id":"marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb","created":"2022-10-01T00:00:00.000Z","name":"TLP:GREEN","extensions":{"extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d":{"extension_type":"property-extension","tlp_2_0":"green"}}}`
		tlpObj := func(raw string) *apObj {
			return &apObj{raw: []byte(raw), id: "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb", typ: "marking-definition",
				created: "2022-10-01T00:00:00.000Z", version: "2022-10-01T00:00:00.000Z", def: apDefTLP}
		}
		var indented bytes.Buffer
		_ = json.Indent(&indented, []byte(tlp), "", " ")
		writer := h.admin
		h.post(h.poster(c), c, []*apObj{tlpObj(tlp)})
		h.post(writer, c, []*apObj{tlpObj(tlp), tlpObj(indented.String())})
		h.post(writer, c, []*apObj{tlpObj(indented.String())})
		// A look-alike TLP:CLEAR and a sharing group posted by a member:
		// refused.
		look := map[string]any{"type": "marking-definition", "spec_version": "2.1", "id": h.randID("marking-definition"),
			"created": h.tick(), "definition_type": "tlp", "name": "TLP:WHITE", "definition": map[string]any{"tlp": "white"}}
		g := apPick(h, m.groups)
		gdoc, _ := apDecode(g.stored.Definition)
		h.post(h.poster(c), c, []*apObj{
			{doc: look, raw: h.encode(look), id: look["id"].(string), typ: "marking-definition", created: look["created"].(string),
				version: look["created"].(string), def: apDefLookalike},
			{doc: gdoc, raw: g.stored.Definition, id: g.id, typ: "marking-definition", created: gdoc["created"].(string),
				version: gdoc["created"].(string), def: apDefGroup},
		})
	}
	// Changing a published recipient definition: refused.
	for _, id := range h.m.defOrder {
		d := h.m.defs[id]
		if !d.recipients {
			continue
		}
		doc, _ := apDecode(d.stored)
		ext := doc["extensions"].(map[string]any)["extension-definition--defa0139-9943-4428-b84b-0b5b225a8fd2"].(map[string]any)
		ext["recipients"] = []any{h.m.orgs[6]}
		var c *apColl
		for _, cc := range h.m.colls {
			for _, v := range cc.versions {
				if v.id == id {
					c = cc
				}
			}
		}
		org := slices.Index(h.m.orgs, d.creator)
		u := h.byToken(fmt.Sprintf("analyst%d", org))
		if !h.m.canWrite(u, c) {
			u = h.admin
		}
		h.post(u, c, []*apObj{{doc: doc, raw: h.encode(doc), id: id, typ: "marking-definition", cbr: d.creator,
			created: doc["created"].(string), version: doc["created"].(string), def: apDefRecipients, recips: []string{h.m.orgs[6]}}})
		break
	}
}

// mixedCreators: an admin posts two versions of one new object in one
// envelope, on behalf of two organisations. Only the creator versions an
// object, also for admins (docs/markings.md): the second is refused.
func (h *apHarness) mixedCreators() {
	h.t.Helper()
	c := h.m.colls[0]
	plain := func(o *apObj) *apObj {
		delete(o.doc, "object_marking_refs")
		delete(o.doc, "granular_markings")
		o.refs, o.granular, o.invalid = nil, nil, false
		o.raw = h.encode(o.doc)
		return o
	}
	first := plain(h.newSTIX("malware", nil, h.m.orgs[0], h.m.orgs[0]))
	hist := &apHist{id: first.id, typ: first.typ, created: first.created, producer: h.m.orgs[0]}
	second := plain(h.newSTIX("malware", hist, h.m.orgs[1], h.m.orgs[1]))
	second.doc["modified"] = h.tick()
	second.version = second.doc["modified"].(string)
	second.raw = h.encode(second.doc)
	h.post(h.admin, c, []*apObj{first, second})

	// Granular markings that select one list element twice, and every
	// element of a list whose other selector the reader may see: the
	// reader gets exactly the elements it may see, and no selector of
	// what went.
	u := h.byToken("analyst0")
	for _, gm := range [][]apGran{
		{{sels: []string{"external_references.[0]"}, ref: apRedID}, {sels: []string{"external_references.[0]", "labels"}, ref: apStrictID}},
		{{sels: []string{"external_references.[0]"}, ref: apRedID}, {sels: []string{"external_references.[1]"}, ref: apStrictID},
			{sels: []string{"external_references"}, ref: apGreenID}, {sels: []string{"external_references.[1].description"}, lang: "fr"}},
	} {
		o := plain(h.newSTIX("malware", nil, u.org, u.org))
		o.granular = gm
		var list []any
		for _, g := range gm {
			e := map[string]any{"selectors": apAnys(g.sels)}
			if g.ref != "" {
				e["marking_ref"] = g.ref
			} else {
				e["lang"] = g.lang
			}
			list = append(list, e)
		}
		o.doc["granular_markings"] = list
		o.raw = h.encode(o.doc)
		h.post(u, c, []*apObj{o})
	}

	// And an object revoked by its creator.
	o := plain(h.newSTIX("indicator", nil, u.org, u.org))
	o.doc["pattern"] = apPatterns[0]
	o.raw = h.encode(o.doc)
	h.post(u, c, []*apObj{o})
	if o.hist == nil {
		h.t.Fatalf("seed %d: %s refused", h.seed, o.id)
	}
	rev := plain(h.newSTIX("indicator", o.hist, u.org, u.org))
	rev.doc["pattern"], rev.doc["revoked"] = apPatterns[0], true
	rev.raw = h.encode(rev.doc)
	o.hist.finished = true
	h.post(u, c, []*apObj{rev})
}

// populate posts about n objects in envelopes of random size to random
// collections by random posters.
func (h *apHarness) populate(n int) {
	h.t.Helper()
	m := h.m
	weights := []float64{0.5, 0.25, 0.15, 0.1}
	for posted := 0; posted < n; {
		x, ci := h.rng.Float64(), 0
		for ci < len(weights)-1 && x >= weights[ci] {
			x -= weights[ci]
			ci++
		}
		c := m.colls[ci]
		u := h.poster(c)
		size := 1 + h.rng.IntN(12)
		if !testing.Short() && h.chance(0.05) {
			size = 40 + h.rng.IntN(80)
		}
		var env []*apObj
		inEnv := map[string]bool{}
		for range size {
			if o := h.genFor(u, c, inEnv); o != nil {
				env = append(env, o)
				inEnv[o.id] = true
			}
		}
		if len(env) == 0 {
			continue
		}
		h.post(u, c, env)
		posted += len(env)
	}
}

// genFor generates one object for u to post to c: a new object, a new
// version, a duplicate, a conflicting edit, or someone else's object.
func (h *apHarness) genFor(u *apUser, c *apColl, inEnv map[string]bool) *apObj {
	m := h.m
	producer := u.org
	if u.admin() {
		producer = apPick(h, m.orgs[:6])
	}
	hs := h.hist[c]
	switch x := h.rng.Float64(); {
	case x < 0.22 && len(hs) > 0:
		// A new version of an object of the collection.
		hst := apPick(h, hs)
		if hst.finished || inEnv[hst.id] || slices.Contains(apSCOTypes, hst.typ) {
			return nil
		}
		cbr := hst.producer
		switch {
		case u.admin():
			if h.chance(0.1) {
				cbr = apPick(h, m.orgs) // on behalf of someone else: refused
			}
		case cbr != u.org && h.chance(0.5):
			return nil // keep most attempts legitimate
		case h.chance(0.3):
			cbr = "" // filled in with the poster's organisation
		default:
			cbr = u.org
		}
		return h.newSTIX(hst.typ, hst, cbr, hst.producer)
	case x < 0.27 && len(c.versions) > 0:
		// Exactly what is stored already, or other content under the
		// same version.
		v := apPick(h, c.versions)
		if inEnv[v.id] || v.typ == "marking-definition" {
			return nil
		}
		o := &apObj{raw: v.posted, id: v.id, typ: v.typ, cbr: v.createdBy, refs: v.refs, granular: v.granular}
		if v.fill != "" {
			o.cbr = ""
		}
		if v.versioned {
			o.created, _ = v.doc["created"].(string)
			o.version = v.version
		}
		if h.chance(0.4) {
			doc, _ := apDecode(v.posted)
			doc["x_secret"] = "edited"
			o.raw = h.encode(doc)
		}
		return o
	case x < 0.32 && len(hs) > 0:
		// A new content of an observable: a new version.
		hst := apPick(h, hs)
		if !slices.Contains(apSCOTypes, hst.typ) || inEnv[hst.id] {
			return nil
		}
		return h.newSTIX(hst.typ, hst, "", producer)
	}
	typ := apPick(h, slices.Concat(apSDOTypes, apSDOTypes, apSCOTypes))
	if slices.Contains(apSCOTypes, typ) {
		return h.newSTIX(typ, nil, "", producer)
	}
	cbr := producer
	switch y := h.rng.Float64(); {
	case y < 0.3:
		cbr = "" // filled in (admins of no organisation leave it absent)
	case y < 0.35 && !u.admin():
		cbr = apPick(h, m.orgs) // maybe another organisation: refused
	}
	return h.newSTIX(typ, nil, cbr, producer)
}

// ---- reading ----

// apWalk is one paginated read.
type apWalk struct {
	u      *apUser
	c      *apColl
	ep     endpoint
	object string
	f      apFilter
	query  url.Values // of the first page
	limit  int        // asked on the first page; 0: none
	// between runs before page i > 0 and may change the world or return
	// another principal to continue the walk.
	between func(i int) *apUser
	label   string
}

func (h *apHarness) collPath(c *apColl) string {
	if h.chance(0.3) {
		return "/api/collections/" + c.alias + "/"
	}
	return "/api/collections/" + c.id + "/"
}

func (w *apWalk) path(h *apHarness) string {
	base := h.collPath(w.c)
	switch w.ep {
	case epManifest:
		return base + "manifest/"
	case epObjects:
		return base + "objects/"
	case epObject:
		return base + "objects/" + w.object + "/"
	}
	return base + "objects/" + w.object + "/versions/"
}

// expected is the model's answer for u from the position after: the
// selection of the walk's filter, the versions added after it.
func (h *apHarness) expected(u *apUser, w *apWalk, after time.Time) []*apVer {
	f := w.f
	switch w.ep {
	case epObject:
		f.ids, f.types = []string{w.object}, nil
	case epVersions:
		f.ids, f.types, f.versions = []string{w.object}, nil, []string{"all"}
	}
	if after.After(f.addedAfter) {
		f.addedAfter = after
	}
	return h.m.selection(u, w.c, f)
}

// effLimit is the page size the server uses for a limit parameter.
func (h *apHarness) effLimit(limit int) int {
	if limit <= 0 || limit > h.size.maxPage {
		return h.size.maxPage
	}
	return limit
}

// walk follows a read from its first page until more is false, comparing
// every page with the model.
func (h *apHarness) walk(w *apWalk) {
	h.t.Helper()
	h.stats.walks[string(w.ep)]++
	u := w.u
	L := h.effLimit(w.limit)
	h.stats.limits[w.limit]++
	var after time.Time
	next := ""
	for i := 0; ; i++ {
		if i > 0 && w.between != nil {
			if nu := w.between(i); nu != nil {
				u = nu
			}
		}
		q := url.Values{}
		if i == 0 {
			for k, v := range w.query {
				q[k] = v
			}
		} else {
			q.Set("next", next)
			if h.chance(0.4) {
				for k, v := range w.query {
					if k != "limit" {
						q[k] = v
					}
				}
			}
			if h.chance(0.15) {
				lim := apPick(h, []int{1, 2, 7, 100, h.size.maxPage, h.size.maxPage + 1})
				q.Set("limit", strconv.Itoa(lim))
				L = h.effLimit(lim)
			}
		}
		path := w.path(h)
		if len(q) > 0 {
			path += "?" + q.Encode()
		}
		res := h.get(u, path)
		h.stats.pages++
		what := apRequestLine("GET", path, u) + " [" + w.label + "]"
		if !h.m.canRead(u, w.c) {
			h.expectError(what, res, http.StatusNotFound, h.get(u, "/api/collections/"+h.randID("x")[3:]+"/"+strings.SplitN(path, "/", 5)[4]))
			return
		}
		all := h.expected(u, w, after)
		if len(all) == 0 && i == 0 && (w.ep == epObject || w.ep == epVersions) && !h.m.anyVisible(u, w.c, w.object) {
			like := h.get(u, strings.Replace(path, w.object, h.randID(strings.SplitN(w.object, "--", 2)[0]), 1))
			h.expectError(what, res, http.StatusNotFound, like)
			return
		}
		page := all[:min(L, len(all))]
		more := len(all) > L
		nx, ok := h.checkPage(what, w.ep, u, w.c, res, page, more)
		if !ok || !more {
			return
		}
		next = nx
		after = page[len(page)-1].dateAdded
		if i > 2000 {
			h.t.Fatalf("seed %d: %s: runaway walk", h.seed, what)
		}
	}
}

// checkPage compares one page with the model and returns its next.
func (h *apHarness) checkPage(what string, ep endpoint, u *apUser, c *apColl, res apResponse, page []*apVer, more bool) (string, bool) {
	h.t.Helper()
	if res.code != http.StatusOK {
		var b strings.Builder
		for _, v := range page {
			b.WriteString("  model: " + h.explain(u, v) + "\n")
		}
		h.disagree("%s: HTTP %d, model 200 with %d versions\n%s\n%s", what, res.code, len(page), res.body, b.String())
		return "", false
	}
	var head struct {
		More     *bool             `json:"more"`
		Next     string            `json:"next"`
		Objects  []json.RawMessage `json:"objects"`
		Versions []string          `json:"versions"`
	}
	if err := json.Unmarshal(res.body, &head); err != nil {
		h.disagree("%s: body is not JSON: %v", what, err)
		return "", false
	}
	gotMore := head.More != nil && *head.More
	ok := true
	if gotMore != more {
		h.disagree("%s: more %v, model %v (page of %d)", what, gotMore, more, len(page))
		ok = false
	}
	if gotMore && (head.Next == "" || len(page) == 0) {
		h.disagree("%s: more without next or on an empty page", what)
		ok = false
	}
	if !gotMore && head.Next != "" {
		h.disagree("%s: next without more", what)
	}
	first, last := res.header.Get("X-TAXII-Date-Added-First"), res.header.Get("X-TAXII-Date-Added-Last")
	wantFirst, wantLast := "", ""
	if len(page) > 0 {
		wantFirst, wantLast = page[0].dateAdded.Format(TimestampFormat), page[len(page)-1].dateAdded.Format(TimestampFormat)
	}
	if first != wantFirst || last != wantLast {
		h.disagree("%s: X-TAXII-Date-Added-First/Last %q/%q, model %q/%q", what, first, last, wantFirst, wantLast)
	}
	want := make([]string, len(page))
	for i, v := range page {
		want[i] = v.String()
	}
	var got []string
	switch ep {
	case epManifest:
		var mf Manifest
		_ = json.Unmarshal(res.body, &mf)
		for i, r := range mf.Objects {
			got = append(got, r.ID+" "+r.Version)
			if i < len(page) && page[i].String() == r.ID+" "+r.Version {
				v := page[i]
				if r.DateAdded != v.dateAdded.Format(TimestampFormat) || r.MediaType != MediaTypeSTIX {
					h.disagree("%s: manifest entry %+v, model date_added %s media_type %s", what, r, v.dateAdded.Format(TimestampFormat), MediaTypeSTIX)
				}
			}
		}
	case epVersions:
		want = want[:0]
		for _, v := range page {
			want = append(want, v.version)
		}
		got = head.Versions
	default:
		for i, raw := range head.Objects {
			var id struct {
				ID       string `json:"id"`
				Modified string `json:"modified"`
				Created  string `json:"created"`
			}
			_ = json.Unmarshal(raw, &id)
			ver := id.Modified
			if ver == "" {
				ver = id.Created
			}
			if ver == "" {
				// An observable: identified by its bytes.
				ver = "?"
				for _, v := range c.versions {
					if v.id == id.ID && (bytes.Equal(v.stored, raw) || (i < len(page) && v == page[i])) {
						ver = v.version
						break
					}
				}
			}
			got = append(got, id.ID+" "+ver)
			if i < len(page) && page[i].id == id.ID {
				h.checkBytes(what, u, page[i], raw)
			}
		}
	}
	if !slices.Equal(got, want) {
		var b strings.Builder
		for _, v := range page {
			if !slices.Contains(got, v.String()) && !slices.Contains(got, v.version) {
				b.WriteString("  model only: " + h.explain(u, v) + "\n")
			}
		}
		for _, g := range got {
			for _, v := range c.versions {
				if v.String() == g && !slices.Contains(page, v) {
					b.WriteString("  served only: " + h.explain(u, v) + "\n")
				}
			}
		}
		h.disagree("%s: page differs from the model\n%s%s", what, apListDiff(got, want), b.String())
		return "", false
	}
	h.stats.compared += len(page)
	return head.Next, ok
}

// checkBytes compares what u received of v with the model: the stored bytes
// exactly, or, when granular markings hide properties from u, the stored
// object without exactly those properties.
func (h *apHarness) checkBytes(what string, u *apUser, v *apVer, got []byte) {
	h.t.Helper()
	gone := h.m.removed(u, v)
	if len(gone) == 0 {
		if bytes.Equal(got, v.stored) {
			return
		}
		if v.fill != "" && apOnlyFilled(got, v.posted, v.fill) {
			v.stored = slices.Clone(got) // the fill went elsewhere; nothing else changed
			return
		}
		h.disagree("%s: %s served as\n%s\nmodel: the bytes stored\n%s", what, v, got, v.stored)
		return
	}
	h.stats.trimmed++
	doc, err := apDecode(got)
	if err != nil {
		h.disagree("%s: %s served as invalid JSON: %v", what, v, err)
		return
	}
	want := apRemove(v.doc, gone)
	if !apJSONEqual(doc, want) {
		var extra, missing []string
		for k := range doc {
			if _, ok := want[k]; !ok {
				extra = append(extra, k)
			}
		}
		for k := range want {
			if _, ok := doc[k]; !ok {
				missing = append(missing, k)
			}
		}
		gj, _ := json.Marshal(doc)
		wj, _ := json.Marshal(want)
		h.disagree("%s: %s with %v removed: served keys beyond the model %v, missing %v\nserved %s\nmodel  %s\nstored %s",
			what, v, gone, extra, missing, gj, wj, v.stored)
	}
}

// explain describes a version for a disagreement: its markings, the
// model's audience, and the audience the store holds.
func (h *apHarness) explain(u *apUser, v *apVer) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s producer %s, model audience %s, visible to %s: %v;", v, apShort(v.producer), v.aud, u.name, h.m.sees(u.org, v.aud))
	for _, r := range v.refs {
		fmt.Fprintf(&b, " [marking %s%s]", apShort(r), h.describe(r))
	}
	for _, g := range v.granular {
		if g.ref != "" {
			fmt.Fprintf(&b, " [granular %v %s%s]", g.sels, apShort(g.ref), h.describe(g.ref))
		}
	}
	for _, c := range h.m.colls {
		if !slices.Contains(c.versions, v) {
			continue
		}
		page, err := h.db.Query(h.ctx, c.id, store.Filter{IDs: []string{v.id}, Versions: []string{"all"}, Limit: 1000})
		if err != nil {
			return b.String() + " store: " + err.Error()
		}
		for _, sv := range page.Versions {
			if sv.DateAdded.Equal(v.dateAdded) {
				fmt.Fprintf(&b, " store audience %v", sv.Audience)
			}
		}
	}
	for _, g := range h.m.groups {
		fmt.Fprintf(&b, "; %s=%s", g.name, g.id[20:28])
		for _, o := range h.m.orgs {
			if g.members[o] {
				b.WriteString(" " + apShort(o))
			}
		}
	}
	return b.String()
}

func apListDiff(got, want []string) string {
	var b strings.Builder
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	fmt.Fprintf(&b, "  served %d, model %d; first difference at %d\n", len(got), len(want), i)
	for j := max(0, i-1); j < max(len(got), len(want)) && j < i+6; j++ {
		g, w := "-", "-"
		if j < len(got) {
			g = got[j]
		}
		if j < len(want) {
			w = want[j]
		}
		fmt.Fprintf(&b, "  [%d] served %-70s model %s\n", j, g, w)
	}
	return b.String()
}

// ---- random filters ----

// timestampVariant writes t with a random fractional precision that keeps
// the instant (or truncates it, when exact is false).
func (h *apHarness) timestampVariant(t time.Time) string {
	switch h.rng.IntN(4) {
	case 0:
		return t.Format("2006-01-02T15:04:05.000000Z")
	case 1:
		return t.Format(time.RFC3339Nano)
	case 2:
		return t.Format("2006-01-02T15:04:05.000000000Z")
	}
	return t.Format(TimestampFormat)
}

// randomFilter builds a random query for collection c, in model and wire
// form. ep limits it to the parameters of the endpoint; the others are
// sent anyway sometimes, and must be ignored.
func (h *apHarness) randomFilter(c *apColl, ep endpoint) (apFilter, url.Values) {
	var f apFilter
	q := url.Values{}
	vs := c.versions
	if len(vs) > 0 && h.chance(0.35) {
		v := apPick(h, vs)
		t := v.dateAdded
		switch h.rng.IntN(4) {
		case 0:
			t = t.Add(-time.Microsecond)
		case 1:
			t = t.Add(time.Microsecond / 2)
		}
		if h.chance(0.1) {
			t = t.Add(-time.Duration(h.rng.IntN(1000)) * time.Hour)
		}
		f.addedAfter = t
		q.Set("added_after", h.timestampVariant(t))
	}
	listing := ep == epObjects || ep == epManifest
	if len(vs) > 0 && h.chance(0.25) {
		var ids []string
		for range 1 + h.rng.IntN(5) {
			if h.chance(0.15) {
				ids = append(ids, h.randID(apPick(h, apSDOTypes)))
			} else {
				ids = append(ids, apPick(h, vs).id)
			}
		}
		if listing {
			f.ids = ids
		}
		if listing || h.chance(0.3) {
			q.Set("match[id]", strings.Join(ids, ","))
		}
	}
	if h.chance(0.25) {
		types := h.sample(slices.Concat(apSDOTypes, apSCOTypes, []string{"marking-definition"}), 1+h.rng.IntN(2))
		if listing {
			f.types = types
		}
		if listing || h.chance(0.3) {
			q.Set("match[type]", strings.Join(types, ","))
		}
	}
	if h.chance(0.6) {
		var toks []string
		for range 1 + h.rng.IntN(2) {
			switch x := h.rng.Float64(); {
			case x < 0.55:
				toks = append(toks, apPick(h, []string{"first", "last", "all"}))
			case len(vs) > 0:
				v := apPick(h, vs)
				t := time.UnixMicro(v.vkey).UTC()
				toks = append(toks, h.timestampVariant(t))
			}
		}
		if len(toks) > 0 {
			if ep != epVersions {
				f.versions = toks
			}
			q.Set("match[version]", strings.Join(toks, ","))
		}
	}
	if h.chance(0.15) {
		f.specs = apPick(h, [][]string{{"2.1"}, {"2.0"}, {"2.0", "2.1"}})
		q.Set("match[spec_version]", strings.Join(f.specs, ","))
	}
	if h.chance(0.05) {
		q.Set("match[x_unknown]", "ignored")
	}
	return f, q
}

// chooseLimit picks a page size, from 1 to above the server's maximum,
// such that the walk of n versions stays within the page budget.
func (h *apHarness) chooseLimit(n int) int {
	choices := []int{1, 2, 7, 100, h.size.maxPage, h.size.maxPage + 1 + h.rng.IntN(5000), 0}
	for range 8 {
		l := apPick(h, choices)
		if n/h.effLimit(l) < h.size.pageBudget {
			return l
		}
	}
	return 0
}

// ---- the read rounds ----

func (h *apHarness) readRound(label string) {
	h.t.Helper()
	h.round++
	for _, u := range h.users {
		h.checkCollections(u)
		if testing.Short() && strings.HasPrefix(u.token, "reader") == (h.round%2 == 1) && u.token != "analyst0b" {
			// Short: the analyst and the reader of an organisation,
			// who may read the same, take turns.
			continue
		}
		for _, c := range h.m.colls {
			if !h.m.canRead(u, c) {
				h.checkNoRead(u, c)
				continue
			}
			for range h.size.rounds {
				ep := apPick(h, []endpoint{epObjects, epManifest})
				f, q := h.randomFilter(c, ep)
				w := &apWalk{u: u, c: c, ep: ep, f: f, query: q, label: label}
				w.limit = h.chooseLimit(len(h.expected(u, w, time.Time{})))
				if w.limit != 0 {
					q.Set("limit", strconv.Itoa(w.limit))
				}
				h.walk(w)
			}
			h.objectWalks(u, c, label)
			h.countHidden(u, c)
		}
	}
}

// objectWalks reads single objects and their versions: some u may see,
// some stored but hidden from u, some that do not exist.
func (h *apHarness) objectWalks(u *apUser, c *apColl, label string) {
	h.t.Helper()
	var seen, hidden []string
	for _, v := range c.versions {
		if h.m.visible(u, c, v) {
			seen = append(seen, v.id)
		} else if !h.m.anyVisible(u, c, v.id) {
			hidden = append(hidden, v.id)
		}
	}
	for k := range h.size.objectWalks {
		var id string
		switch {
		case k%3 == 1 && len(hidden) > 0:
			id = apPick(h, hidden)
		case k%3 == 2 && h.chance(0.3):
			id = h.randID(apPick(h, apSDOTypes))
		case len(seen) > 0:
			id = apPick(h, seen)
		default:
			continue
		}
		for _, ep := range []endpoint{epObject, epVersions} {
			f, q := h.randomFilter(c, ep)
			w := &apWalk{u: u, c: c, ep: ep, object: id, f: f, query: q, label: label}
			if h.chance(0.5) {
				w.limit = apPick(h, []int{1, 2, 7})
				q.Set("limit", strconv.Itoa(w.limit))
			}
			h.walk(w)
		}
		if len(hidden) > 0 && k == 0 {
			h.checkHiddenDelete(u, c, apPick(h, hidden))
		}
	}
}

// checkHiddenDelete: deleting an object u may not see answers exactly as
// for an object that does not exist (404 with both rights, 403 with one).
func (h *apHarness) checkHiddenDelete(u *apUser, c *apColl, id string) {
	h.t.Helper()
	if u.admin() {
		return
	}
	path := h.collPath(c) + "objects/" + id + "/"
	like := h.do(u, http.MethodDelete, h.collPath(c)+"objects/"+h.randID(strings.SplitN(id, "--", 2)[0])+"/", nil)
	res := h.do(u, http.MethodDelete, path, nil)
	code := http.StatusNotFound
	if !h.m.canRead(u, c) || !h.m.canWrite(u, c) {
		code = http.StatusForbidden
	}
	h.expectError(apRequestLine("DELETE", path, u), res, code, like)
}

// countHidden counts the versions of c that u may not see.
func (h *apHarness) countHidden(u *apUser, c *apColl) {
	for _, v := range c.versions {
		if !h.m.visible(u, c, v) {
			h.stats.hiddenPairs++
		}
	}
}

// checkCollections compares the collections resource and each collection
// with the model's rights.
func (h *apHarness) checkCollections(u *apUser) {
	h.t.Helper()
	res := h.get(u, "/api/collections/")
	var cs Collections
	if res.code != http.StatusOK || json.Unmarshal(res.body, &cs) != nil {
		h.disagree("GET /api/collections/ as %s: HTTP %d %s", u, res.code, res.body)
		return
	}
	var got, want []string
	for _, c := range cs.Collections {
		got = append(got, fmt.Sprintf("%s read=%v write=%v", c.ID, c.CanRead, c.CanWrite))
	}
	for _, c := range h.m.colls {
		r, w := h.m.canRead(u, c), h.m.canWrite(u, c)
		if r || w {
			want = append(want, fmt.Sprintf("%s read=%v write=%v", c.id, r, w))
		}
	}
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		h.disagree("GET /api/collections/ as %s:\n%s", u, apListDiff(got, want))
	}
	if len(want) == 0 && string(res.body) != "{}" {
		h.disagree("GET /api/collections/ as %s: %s, model {}", u, res.body)
	}
	unknown := h.get(u, "/api/collections/"+h.randID("x")[3:]+"/")
	for _, c := range h.m.colls {
		path := h.collPath(c)
		res := h.get(u, path)
		r, w := h.m.canRead(u, c), h.m.canWrite(u, c)
		if !r && !w {
			h.expectError(apRequestLine("GET", path, u), res, http.StatusNotFound, unknown)
			continue
		}
		var got Collection
		if res.code != http.StatusOK || json.Unmarshal(res.body, &got) != nil || got.ID != c.id || got.CanRead != r || got.CanWrite != w {
			h.disagree("%s: HTTP %d %s, model can_read %v can_write %v", apRequestLine("GET", path, u), res.code, res.body, r, w)
		}
	}
}

// checkNoRead: without the read right every read endpoint answers as for a
// collection that does not exist, and a POST 404 or 403.
func (h *apHarness) checkNoRead(u *apUser, c *apColl) {
	h.t.Helper()
	id := h.randID("indicator")
	if len(c.versions) > 0 {
		id = apPick(h, c.versions).id
	}
	missing := h.randID("x")[3:]
	for _, rest := range []string{"manifest/", "objects/", "objects/" + id + "/", "objects/" + id + "/versions/"} {
		path := h.collPath(c) + rest
		h.expectError(apRequestLine("GET", path, u), h.get(u, path), http.StatusNotFound, h.get(u, "/api/collections/"+missing+"/"+rest))
	}
}

// ---- cursors handed over and rights revoked between pages ----

// cursorHandOver: a broad reader starts a walk and a narrower one continues
// it with the broad reader's next; the narrower reader must get exactly
// what it may see after the cursor's position.
func (h *apHarness) cursorHandOver() {
	h.t.Helper()
	m := h.m
	done := h.stats.handOvers
	for k := 0; k < 200 && h.stats.handOvers < done+4*h.size.rounds; k++ {
		c := apPick(h, m.colls[:3])
		var readers []*apUser
		for _, u := range h.users {
			if m.canRead(u, c) {
				readers = append(readers, u)
			}
		}
		broad := apPick(h, []*apUser{h.admin, apPick(h, readers)})
		narrow := apPick(h, h.users)
		ep := apPick(h, []endpoint{epObjects, epManifest, epObject, epVersions})
		w := &apWalk{u: broad, c: c, ep: ep, label: "next handed from " + broad.name + " to " + narrow.name}
		if ep == epObject || ep == epVersions {
			if len(c.versions) == 0 {
				continue
			}
			w.object = apPick(h, c.versions).id
		}
		w.f, w.query = h.randomFilter(c, ep)
		n := len(h.expected(broad, w, time.Time{}))
		if n < 3 {
			continue
		}
		w.limit = max(1, min(n/3, h.size.maxPage))
		w.query.Set("limit", strconv.Itoa(w.limit))
		w.between = func(i int) *apUser {
			if i == 1 {
				h.stats.handOvers++
				return narrow
			}
			return nil
		}
		h.walk(w)
	}
}

// misuseCursors: a next is bound to its collection, endpoint, object and
// filters, and signed; anything else is a 400 bad-next. Someone who may
// not read the collection gets the 404 of a collection that does not
// exist, whatever the next.
func (h *apHarness) misuseCursors() {
	h.t.Helper()
	c, other := h.m.colls[0], h.m.colls[1]
	res := h.get(h.admin, "/api/collections/"+c.id+"/objects/?limit=1&match%5Bversion%5D=all")
	var env Envelope
	if err := json.Unmarshal(res.body, &env); err != nil || env.Next == "" {
		h.disagree("GET objects/?limit=1 as %s: no next: HTTP %d %.200s", h.admin, res.code, res.body)
		return
	}
	nx := url.QueryEscape(env.Next)
	tampered := []byte(env.Next)
	tampered[5] ^= 1
	obj := c.versions[0].id
	for _, path := range []string{
		"/api/collections/" + c.id + "/manifest/?next=" + nx,
		"/api/collections/" + other.id + "/objects/?next=" + nx,
		"/api/collections/" + c.id + "/objects/?match%5Btype%5D=malware&next=" + nx,
		"/api/collections/" + c.id + "/objects/?next=" + url.QueryEscape(string(tampered)),
		"/api/collections/" + c.id + "/objects/" + obj + "/?next=" + nx,
		"/api/collections/" + c.id + "/objects/" + obj + "/versions/?next=" + nx,
	} {
		res := h.get(h.admin, path)
		var e Error
		_ = json.Unmarshal(res.body, &e)
		if res.code != http.StatusBadRequest || e.ErrorCode != "bad-next" {
			h.disagree("%s: HTTP %d %s, model 400 bad-next", apRequestLine("GET", path, h.admin), res.code, res.body)
		}
	}
	for _, u := range h.users {
		if !h.m.canRead(u, other) && !u.admin() {
			path := "/api/collections/" + other.id + "/objects/?next=" + nx
			like := h.get(u, "/api/collections/"+h.randID("x")[3:]+"/objects/?next="+nx)
			h.expectError(apRequestLine("GET", path, u), h.get(u, path), http.StatusNotFound, like)
		}
	}
}

// revokeBetweenPages takes a right away in the middle of a walk: the read
// right on the collection (the next page is a 404) or a group membership
// (the next pages lose what the group gave), and gives it back after.
func (h *apHarness) revokeBetweenPages() {
	h.t.Helper()
	m := h.m
	done := h.stats.revokedWalks
	for k := 0; k < 200 && h.stats.revokedWalks < done+2*h.size.rounds; k++ {
		c := apPick(h, m.colls[:3])
		u := apPick(h, h.users)
		if u.admin() || !m.canRead(u, c) {
			continue
		}
		ep := apPick(h, []endpoint{epObjects, epManifest})
		f, q := h.randomFilter(c, ep)
		w := &apWalk{u: u, c: c, ep: ep, f: f, query: q}
		n := len(h.expected(u, w, time.Time{}))
		if n < 3 {
			continue
		}
		w.limit = max(1, n/4)
		q.Set("limit", strconv.Itoa(w.limit))
		var undo func()
		if k%2 == 0 {
			w.label = "read right revoked between pages"
			saved := *c
			w.between = func(i int) *apUser {
				if i == 1 {
					c.readOrgs = slices.DeleteFunc(slices.Clone(c.readOrgs), func(o string) bool { return o == u.org })
					c.readGroups = slices.DeleteFunc(slices.Clone(c.readGroups), func(g string) bool { return m.member(u.org, g) })
					h.updateCollection(c)
					h.stats.revokedWalks++
				}
				return nil
			}
			undo = func() {
				c.readOrgs, c.readGroups = saved.readOrgs, saved.readGroups
				h.updateCollection(c)
			}
		} else {
			var mine []*apGroup
			for _, g := range m.groups {
				if g.members[u.org] {
					mine = append(mine, g)
				}
			}
			if len(mine) == 0 {
				continue
			}
			g := apPick(h, mine)
			w.label = "membership of " + g.name + " revoked between pages"
			w.between = func(i int) *apUser {
				if i == 1 {
					ng, err := access.RemoveMembers(g.stored, []string{u.org})
					if err != nil {
						h.t.Fatal(err)
					}
					h.apPutGroup(g, ng)
					h.stats.revokedWalks++
				}
				return nil
			}
			undo = func() {
				ng, err := access.AddMembers(g.stored, []string{u.org})
				if err != nil {
					h.t.Fatal(err)
				}
				h.apPutGroup(g, ng)
			}
		}
		h.walk(w)
		undo()
	}
}

// changeMemberships removes and adds members of every group: the groups'
// past objects follow the new memberships, except where a group marking on
// a required property fixed the audience when the object was posted.
func (h *apHarness) changeMemberships() {
	h.t.Helper()
	for _, g := range h.m.groups {
		var in, out []string
		for _, o := range h.m.orgs[:5] {
			if g.members[o] {
				in = append(in, o)
			} else {
				out = append(out, o)
			}
		}
		ng := g.stored
		var err error
		if len(in) > 1 {
			if ng, err = access.RemoveMembers(ng, h.sample(in, 1)); err != nil {
				h.t.Fatal(err)
			}
		}
		if len(out) > 0 {
			if ng, err = access.AddMembers(ng, h.sample(out, 1)); err != nil {
				h.t.Fatal(err)
			}
		}
		h.apPutGroup(g, ng)
	}
}

// checkCoverage fails when the run did not exercise what it claims to.
func (h *apHarness) checkCoverage() {
	h.t.Helper()
	s := h.stats
	var missing []string
	need := func(ok bool, what string) {
		if !ok {
			missing = append(missing, what)
		}
	}
	need(s.trimmed > 0, "versions served with properties removed")
	need(s.hiddenPairs > 0, "versions hidden from someone")
	need(s.handOvers > 0, "next handed over")
	need(s.revokedWalks > 0, "rights revoked between pages")
	need(s.notFound > 0 && s.forbidden > 0, "404 and 403 answers")
	need(s.duplicates > 0, "duplicates")
	need(s.revoked > 0, "revoked versions")
	for _, r := range []string{"invalid STIX", "publishes as another organisation", "versions another organisation's object",
		"unknown marking", "group marking of a group it is not in", "another organisation's recipient marking",
		"changes a marking definition", "TLP look-alike", "posts a sharing group", "same version, other content"} {
		need(s.refusedBy[r] > 0, "refusals: "+r)
	}
	for _, l := range []int{1, 2, 7, 100, h.size.maxPage, 0} {
		need(s.limits[l] > 0, "limit "+strconv.Itoa(l))
	}
	above := 0
	for l, n := range s.limits {
		if l > h.size.maxPage {
			above += n
		}
	}
	need(above > 0, "limits above the maximum")
	if len(missing) > 0 {
		h.t.Errorf("seed %d: the run did not cover: %s (stats %+v)", h.seed, strings.Join(missing, "; "), s)
	}
	buckets := map[string]int{}
	for l, n := range s.limits {
		switch {
		case l == 0:
			buckets["none"] += n
		case l > h.size.maxPage:
			buckets["above max"] += n
		case l == h.size.maxPage:
			buckets["max"] += n
		case slices.Contains([]int{1, 2, 7, 100}, l):
			buckets[strconv.Itoa(l)] += n
		default:
			buckets["other"] += n
		}
	}
	h.t.Logf("refusals %v; walks %v; limits %v; %d 404s, %d 403s, %d hand-overs, %d revoked walks, %d revoked versions",
		s.refusedBy, s.walks, buckets, s.notFound, s.forbidden, s.handOvers, s.revokedWalks, s.revoked)
}
