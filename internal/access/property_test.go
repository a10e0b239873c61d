package access_test

// The property test: thousands of randomly marked objects go through
// Policy.Admit into a real SQLite store, then every query path of the store
// and Policy.Present are compared with a reference model of the policy
// written here from docs/markings.md alone. The model shares no code with
// the implementation: it reasons about organisations and memberships, not
// reader keys.

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jointcell/jointcell/internal/access"
	"github.com/jointcell/jointcell/internal/redact"
	"github.com/jointcell/jointcell/internal/stix"
	"github.com/jointcell/jointcell/internal/store"
	"github.com/jointcell/jointcell/internal/store/sqlite"
)

// The policy, as the TAXII server sees it.
var _ interface {
	CanRead(p access.Principal, c store.Collection) bool
	CanWrite(p access.Principal, c store.Collection) bool
	Admit(ctx context.Context, p access.Principal, c store.Collection, o stix.Object) (store.Version, error)
	Present(p access.Principal, c store.Collection, v store.Version) ([]byte, bool)
} = (*access.Policy)(nil)

// ---- the reference model ----

// refTLP is the TLP table, written out again: level 1 CLEAR .. 5 RED.
var refTLP = map[string]int{
	"marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9": 1, // TLP1 WHITE
	"marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da": 2, // TLP1 GREEN
	"marking-definition--f88d31f6-486f-44da-b317-01333bde0b82": 3, // TLP1 AMBER
	"marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed": 5, // TLP1 RED
	"marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487": 1, // CLEAR
	"marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb": 2, // GREEN
	"marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421": 3, // AMBER
	"marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003": 4, // AMBER+STRICT
	"marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1": 5, // RED
}

// refProtected: properties never removed, for the types generated here.
func refProtected(typ, selector string) bool {
	top := strings.SplitN(selector, ".", 2)[0]
	switch top {
	case "type", "spec_version", "id", "created", "modified", "created_by_ref", "revoked", "object_marking_refs", "granular_markings":
		return true
	}
	req := map[string][]string{
		"indicator": {"pattern", "pattern_type", "valid_from"},
		"malware":   {"is_family"},
		"report":    {"name", "published", "object_refs"},
		"note":      {"content", "object_refs"},
		"ipv4-addr": {"value"},
	}
	return slices.Contains(req[typ], top)
}

type refWorld struct {
	orgs       []string
	groups     map[string][]string // marking id -> members
	recipients map[string]refRecip // admitted recipient definitions
	statements map[string]bool     // admitted statement definitions
	writeBy    []string            // orgs allowed to write
	readOrgs   []string            // orgs allowed to read (directly or via the group)
}

type refRecip struct {
	creator string
	names   []string
}

type refPrincipal struct {
	org   string
	role  string
	admin bool
}

// refSees: may a member of org see something produced by producer under
// these markings? Most restrictive TLP wins; groups and recipients name.
func (w *refWorld) refSees(org, producer string, refs []string) bool {
	level, named := 0, false
	var groups, recips []string
	for _, r := range refs {
		if l, ok := refTLP[r]; ok {
			level = max(level, l)
		} else if _, ok := w.groups[r]; ok {
			named = true
			groups = append(groups, r)
		} else if rc, ok := w.recipients[r]; ok {
			named = true
			recips = append(recips, rc.names...)
		}
	}
	if !named {
		switch {
		case level <= 2: // unmarked means GREEN; every principal is in the community
			return true
		default:
			return org == producer
		}
	}
	if org == producer {
		return true
	}
	switch {
	case level == 4:
		return false
	case level == 5:
		return slices.Contains(recips, org)
	}
	if slices.Contains(recips, org) {
		return true
	}
	for _, g := range groups {
		if slices.Contains(w.groups[g], org) {
			return true
		}
	}
	return false
}

type refObj struct {
	id, typ, version string
	producer         string // created_by_ref as stored, "" for SCOs
	audienceOrg      string // producer for the audience (poster for SCOs)
	refs             []string
	granular         []stix.GranularMarking
	doc              map[string]any // the object as stored
}

// objectVisible applies the object markings and, for granular markings on
// protected properties, those too.
func (w *refWorld) objectVisible(p refPrincipal, o refObj) bool {
	if p.admin {
		return true
	}
	if !w.refSees(p.org, o.audienceOrg, o.refs) {
		return false
	}
	for _, g := range o.granular {
		if g.MarkingRef == "" {
			continue
		}
		for _, s := range g.Selectors {
			if refProtected(o.typ, s) && !w.refSees(p.org, o.audienceOrg, append(slices.Clone(o.refs), g.MarkingRef)) {
				return false
			}
		}
	}
	return true
}

func (w *refWorld) canRead(p refPrincipal) bool {
	return p.admin || slices.Contains(w.readOrgs, p.org)
}

// present returns what p should receive, or nil.
func (w *refWorld) present(p refPrincipal, o refObj) map[string]any {
	if !w.canRead(p) || !w.objectVisible(p, o) {
		return nil
	}
	doc := deepCopy(o.doc)
	if p.admin {
		return doc
	}
	var gone []string
	for _, g := range o.granular {
		if g.MarkingRef == "" || w.refSees(p.org, o.audienceOrg, append(slices.Clone(o.refs), g.MarkingRef)) {
			continue
		}
		gone = append(gone, g.Selectors...)
	}
	// Observables name no producer; the poster counts as theirs.
	prod := o.producer
	if prod == "" {
		prod = o.audienceOrg
	}
	if prod == "" || prod != p.org {
		if _, ok := doc["x_secret"]; ok {
			gone = append(gone, "x_secret")
		}
	}
	for _, s := range gone {
		if s == "external_references.[1]" {
			if refs, ok := doc["external_references"].([]any); ok && len(refs) > 1 {
				doc["external_references"] = refs[:1]
			}
			continue
		}
		delete(doc, s)
	}
	if gm, ok := doc["granular_markings"].([]any); ok {
		var kept []any
		for _, e := range gm {
			em := e.(map[string]any)
			var sels []any
			for _, s := range em["selectors"].([]any) {
				dead := false
				for _, g := range gone {
					if s == g || strings.HasPrefix(s.(string), g+".") {
						dead = true
					}
				}
				if !dead {
					sels = append(sels, s)
				}
			}
			if len(sels) > 0 {
				em["selectors"] = sels
				kept = append(kept, em)
			}
		}
		if kept == nil {
			delete(doc, "granular_markings")
		} else {
			doc["granular_markings"] = kept
		}
	}
	return doc
}

func deepCopy(m map[string]any) map[string]any {
	b, _ := json.Marshal(m)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return out
}

// refAdmit predicts whether the policy admits o posted by p.
func (w *refWorld) refAdmit(p refPrincipal, o refObj, history map[string][]refObj) bool {
	if !p.admin && (p.role != "analyst" || !slices.Contains(w.writeBy, p.org)) {
		return false
	}
	producer := o.audienceOrg
	if !p.admin && producer != p.org {
		return false
	}
	for _, prev := range history[o.id] {
		if prev.producer != producer {
			return false
		}
	}
	all := slices.Clone(o.refs)
	for _, g := range o.granular {
		if g.MarkingRef != "" {
			all = append(all, g.MarkingRef)
		}
	}
	for _, r := range all {
		_, tlp := refTLP[r]
		members, group := w.groups[r]
		rc, recip := w.recipients[r]
		switch {
		case tlp || w.statements[r]:
		case group:
			if !p.admin && !slices.Contains(members, producer) {
				return false
			}
		case recip:
			if !p.admin && rc.creator != producer {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// ---- the test ----

func randID(rng *rand.Rand, typ string) string {
	return fmt.Sprintf("%s--%08x-%04x-4%03x-8%03x-%012x", typ, rng.Uint32(), rng.Uint32()&0xffff, rng.Uint32()&0xfff, rng.Uint32()&0xfff, rng.Uint64()&0xffffffffffff)
}

func pick[T any](rng *rand.Rand, s []T) T { return s[rng.IntN(len(s))] }

func sample[T any](rng *rand.Rand, s []T, n int) []T {
	c := slices.Clone(s)
	rng.Shuffle(len(c), func(i, j int) { c[i], c[j] = c[j], c[i] })
	return c[:min(n, len(c))]
}

type harness struct {
	t       *testing.T
	ctx     context.Context
	db      *sqlite.DB
	pol     *access.Policy
	coll    store.Collection
	w       *refWorld
	groups  []store.Group
	princ   map[string]access.Principal // by org, analyst
	readers map[string]access.Principal // by org, reader role
	admin   access.Principal
	outside access.Principal
	history map[string][]refObj // accepted versions by id, in order
	rng     *rand.Rand
	clock   time.Time
}

func (h *harness) principalOf(org, role string) access.Principal {
	return access.Principal{UserName: role + "@" + org, OrgName: "org " + org, OrgID: org, Role: access.Role(role), Readers: access.ReaderKeys(org, h.groups)}
}

func newHarness(t *testing.T, seed uint64) *harness {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "jointcell.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	h := &harness{t: t, ctx: ctx, db: db, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		w:       &refWorld{groups: map[string][]string{}, recipients: map[string]refRecip{}, statements: map[string]bool{}},
		princ:   map[string]access.Principal{},
		readers: map[string]access.Principal{},
		history: map[string][]refObj{},
		clock:   time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	for range 6 {
		h.w.orgs = append(h.w.orgs, randID(h.rng, "identity"))
	}
	now := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 3 {
		members := sample(h.rng, h.w.orgs, 1+h.rng.IntN(3))
		g, err := access.NewGroup(fmt.Sprintf("group-%d", i), members, now)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.PutGroup(ctx, g); err != nil {
			t.Fatal(err)
		}
		h.groups = append(h.groups, g)
		h.w.groups[g.MarkingID] = slices.Clone(members)
	}
	// Reading: four organisations directly, and the members of group 0.
	readBy := []string{}
	for _, o := range h.w.orgs[:4] {
		readBy = append(readBy, store.ReaderOrg(o))
		h.w.readOrgs = append(h.w.readOrgs, o)
	}
	readBy = append(readBy, store.ReaderGroup(h.groups[0].MarkingID))
	for _, o := range h.w.groups[h.groups[0].MarkingID] {
		if !slices.Contains(h.w.readOrgs, o) {
			h.w.readOrgs = append(h.w.readOrgs, o)
		}
	}
	writeBy := []string{}
	for _, o := range h.w.orgs[:5] {
		writeBy = append(writeBy, store.ReaderOrg(o))
		h.w.writeBy = append(h.w.writeBy, o)
	}
	h.coll = store.Collection{ID: "5b1e6c2a-0d4e-4a8e-9d8c-1f2e3d4c5b6a", Alias: "prop", Title: "property", ReadBy: readBy, WriteBy: writeBy}
	if err := db.CreateCollection(ctx, h.coll); err != nil {
		t.Fatal(err)
	}
	for _, o := range h.w.orgs {
		h.princ[o] = h.principalOf(o, "analyst")
		h.readers[o] = h.principalOf(o, "reader")
	}
	h.admin = access.Principal{UserName: "root", Role: access.RoleAdmin}
	outsider := randID(h.rng, "identity")
	h.outside = access.Principal{UserName: "peer", OrgName: "peer", OrgID: outsider, Role: access.RoleReader, Readers: access.ReaderKeys(outsider, h.groups)}
	cfg, err := redact.ParseConfig([]byte(`{"default":"p","profiles":{"p":{"drop":[{"type":"*","property":"x_secret"}]}}}`))
	if err != nil {
		t.Fatal(err)
	}
	h.pol = access.NewPolicy(access.PolicyConfig{
		Groups:    db.ListGroups,
		Objects:   db,
		Redaction: cfg,
		Redactor:  redact.New([]byte("k")),
	})
	return h
}

func (h *harness) tick() string {
	h.clock = h.clock.Add(time.Duration(1+h.rng.IntN(5000)) * time.Millisecond)
	return h.clock.Format("2006-01-02T15:04:05.000Z")
}

// markingPool returns the marking ids objects may use, some not allowed
// for some producers, one unknown.
func (h *harness) markingPool() []string {
	var pool []string
	for id := range refTLP {
		pool = append(pool, id, id) // TLP twice as likely
	}
	for _, g := range h.groups {
		pool = append(pool, g.MarkingID)
	}
	for id := range h.w.recipients {
		pool = append(pool, id)
	}
	for id := range h.w.statements {
		pool = append(pool, id)
	}
	pool = append(pool, "marking-definition--00000000-0000-4000-8000-00000000dead")
	sort.Strings(pool)
	return pool
}

// post admits raw as p and stores what is admitted, checking the decision
// against the model. It returns the admitted version or false.
func (h *harness) post(p access.Principal, rp refPrincipal, o refObj, raw []byte) bool {
	h.t.Helper()
	obj, err := stix.DecodeObject(raw)
	if err != nil {
		h.t.Fatal(err)
	}
	want := h.w.refAdmit(rp, o, h.history)
	v, err := h.pol.Admit(h.ctx, p, h.coll, obj)
	if (err == nil) != want {
		h.t.Fatalf("Admit(%s by %s/%s) = %v, model admits: %v\n%s", o.id, rp.org, rp.role, err, want, raw)
	}
	if err != nil {
		return false
	}
	if o.producer == "" && o.typ != "ipv4-addr" {
		o.producer = o.audienceOrg
		if v.Object.CreatedByRef != o.audienceOrg || !strings.Contains(string(v.Object.Raw), o.audienceOrg) {
			h.t.Fatalf("created_by_ref not filled in: %s", v.Object.Raw)
		}
		o.doc["created_by_ref"] = o.audienceOrg
	}
	res, err := h.db.AddVersions(h.ctx, h.coll.ID, []store.Version{v})
	if err != nil {
		h.t.Fatal(err)
	}
	if res[0].Outcome != store.Added {
		h.t.Fatalf("store: %+v for %s", res[0], raw)
	}
	h.history[o.id] = append(h.history[o.id], o)
	return true
}

// postDefinitions publishes recipient and statement markings.
func (h *harness) postDefinitions() {
	for i := range 6 {
		creator := h.w.orgs[i%5]
		names := sample(h.rng, h.w.orgs, 1+h.rng.IntN(2))
		raw, err := access.NewRecipients(creator, names, h.clock)
		if err != nil {
			h.t.Fatal(err)
		}
		var doc map[string]any
		_ = json.Unmarshal(raw, &doc)
		o := refObj{id: doc["id"].(string), typ: "marking-definition", version: doc["created"].(string), producer: creator, audienceOrg: creator, doc: doc}
		if !h.post(h.princ[creator], refPrincipal{org: creator, role: "analyst"}, o, raw) {
			h.t.Fatal("recipient definition refused")
		}
		h.w.recipients[o.id] = refRecip{creator: creator, names: names}
	}
	stmt := map[string]any{"type": "marking-definition", "spec_version": "2.1", "id": randID(h.rng, "marking-definition"),
		"created": h.tick(), "definition_type": "statement", "definition": map[string]any{"statement": "Copyright ISAC"}}
	raw, _ := json.Marshal(stmt)
	o := refObj{id: stmt["id"].(string), typ: "marking-definition", version: stmt["created"].(string), audienceOrg: h.w.orgs[0], doc: stmt}
	if !h.post(h.princ[h.w.orgs[0]], refPrincipal{org: h.w.orgs[0], role: "analyst"}, o, raw) {
		h.t.Fatal("statement refused")
	}
	h.w.statements[o.id] = true
}

var genTypes = []string{"indicator", "malware", "report", "note", "ipv4-addr"}

// genObject builds a random object (or a new version of prev).
func (h *harness) genObject(producer string, prev *refObj) (refObj, []byte) {
	rng := h.rng
	typ := pick(rng, genTypes)
	id := randID(rng, typ)
	created := h.tick()
	if prev != nil {
		typ, id, created = prev.typ, prev.id, prev.doc["created"].(string)
	}
	doc := map[string]any{"type": typ, "spec_version": "2.1", "id": id, "x_secret": "internal note"}
	ext := []any{map[string]any{"source_name": "a", "url": "https://a.example"}, map[string]any{"source_name": "b", "external_id": "B-1"}}
	var free, prot []string
	version := ""
	if typ != "ipv4-addr" {
		version = h.tick()
		doc["created"], doc["modified"] = created, version
		doc["external_references"] = ext
		free = append(free, "x_secret", "external_references", "external_references.[1]")
		prot = append(prot, "modified")
	}
	switch typ {
	case "indicator":
		doc["name"], doc["description"] = "bad ip", "seen in phishing"
		doc["pattern"], doc["pattern_type"], doc["valid_from"] = "[ipv4-addr:value = '10.0.0.1']", "stix", "2024-01-01T00:00:00Z"
		free = append(free, "name", "description")
		prot = append(prot, "pattern", "valid_from")
	case "malware":
		doc["name"], doc["description"], doc["is_family"] = "dropper", "drops things", false
		free = append(free, "name", "description")
		prot = append(prot, "is_family")
	case "report":
		doc["name"], doc["description"], doc["published"] = "campaign", "summary", "2024-01-01T00:00:00Z"
		doc["object_refs"] = []any{"indicator--11111111-1111-4111-8111-111111111111"}
		free = append(free, "description")
		prot = append(prot, "name", "object_refs")
	case "note":
		doc["abstract"], doc["content"] = "short", "long text"
		doc["object_refs"] = []any{"malware--11111111-1111-4111-8111-111111111111"}
		free = append(free, "abstract")
		prot = append(prot, "content")
	case "ipv4-addr":
		doc["value"] = fmt.Sprintf("10.%d.%d.%d", rng.IntN(256), rng.IntN(256), rng.IntN(256))
		free = append(free, "x_secret")
		prot = append(prot, "value")
	}
	pool := h.markingPool()
	var refs []string
	for range rng.IntN(4) {
		r := pick(rng, pool)
		if strings.HasSuffix(r, "dead") && rng.IntN(3) > 0 {
			continue // keep unknown markings rare
		}
		refs = append(refs, r)
	}
	if len(refs) > 0 {
		doc["object_marking_refs"] = toAny(refs)
	}
	var gms []stix.GranularMarking
	for range rng.IntN(3) {
		var sels []string
		if rng.IntN(6) == 0 {
			sels = append(sels, pick(rng, prot))
		}
		for range 1 + rng.IntN(2) {
			s := pick(rng, free)
			if !slices.Contains(sels, s) {
				sels = append(sels, s)
			}
		}
		r := pick(rng, pool)
		if strings.HasSuffix(r, "dead") && rng.IntN(3) > 0 {
			r = pick(rng, pool[:9])
		}
		gms = append(gms, stix.GranularMarking{Selectors: sels, MarkingRef: r})
	}
	if rng.IntN(8) == 0 {
		gms = append(gms, stix.GranularMarking{Selectors: []string{pick(rng, free)}, Lang: "en"})
	}
	if len(gms) > 0 {
		var list []any
		for _, g := range gms {
			e := map[string]any{"selectors": toAny(g.Selectors)}
			if g.MarkingRef != "" {
				e["marking_ref"] = g.MarkingRef
			} else {
				e["lang"] = g.Lang
			}
			list = append(list, e)
		}
		doc["granular_markings"] = list
	}
	o := refObj{id: id, typ: typ, version: version, audienceOrg: producer, refs: refs, granular: gms, doc: doc}
	if typ != "ipv4-addr" && rng.IntN(3) == 0 {
		doc["created_by_ref"] = producer
		o.producer = producer
	}
	var raw []byte
	if rng.IntN(3) == 0 {
		raw, _ = json.MarshalIndent(doc, "", "  ")
	} else {
		raw, _ = json.Marshal(doc)
	}
	return o, raw
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

func (h *harness) populate(n int) (admitted int) {
	var ids []string
	for range n {
		rng := h.rng
		producer := pick(rng, h.w.orgs)
		var prev *refObj
		if len(ids) > 0 && rng.IntN(4) == 0 {
			hist := h.history[pick(rng, ids)]
			last := hist[len(hist)-1]
			if last.typ != "ipv4-addr" {
				prev = &last
				if rng.IntN(4) > 0 {
					producer = last.producer
				}
			}
		}
		o, raw := h.genObject(producer, prev)
		p, rp := h.princ[producer], refPrincipal{org: producer, role: "analyst"}
		switch rng.IntN(20) {
		case 0: // a reader may not write
			p, rp = h.readers[producer], refPrincipal{org: producer, role: "reader"}
		case 1: // an admin publishes on behalf of the producer
			switch {
			case o.typ == "ipv4-addr":
				o.audienceOrg = "" // the admin has no organisation
			case o.producer == "":
				o.producer = producer
				o.doc["created_by_ref"] = producer
				raw, _ = json.Marshal(o.doc)
			}
			p, rp = h.admin, refPrincipal{admin: true}
		case 2: // someone else claims to be the producer
			other := pick(rng, h.w.orgs)
			p, rp = h.princ[other], refPrincipal{org: other, role: "analyst"}
			if o.producer == "" {
				o.audienceOrg = other
			}
		}
		if h.post(p, rp, o, raw) {
			admitted++
			if prev == nil {
				ids = append(ids, o.id)
			}
		}
	}
	return admitted
}

// versionsOf lists every stored version, as the model sees them.
func (h *harness) all() []refObj {
	var out []refObj
	for _, hs := range h.history {
		out = append(out, hs...)
	}
	return out
}

type key struct{ id, version string }

// query pages through f and returns the versions in order.
func (h *harness) query(f store.Filter) []store.Version {
	h.t.Helper()
	var out []store.Version
	var last time.Time
	for pages := 0; ; pages++ {
		page, err := h.db.Query(h.ctx, h.coll.ID, f)
		if err != nil {
			h.t.Fatal(err)
		}
		if len(page.Versions) > f.Limit {
			h.t.Fatalf("page of %d > limit %d", len(page.Versions), f.Limit)
		}
		for _, v := range page.Versions {
			if !v.DateAdded.After(last) {
				h.t.Fatalf("date_added not increasing")
			}
			last = v.DateAdded
		}
		out = append(out, page.Versions...)
		if !page.More {
			return out
		}
		if len(page.Versions) == 0 {
			h.t.Fatal("More with an empty page")
		}
		f.AddedAfter = last
	}
}

// expect computes the model's answer to a filter for principal rp.
func (h *harness) expect(rp refPrincipal, f store.Filter) map[key]bool {
	byID := map[string][]refObj{}
	for _, o := range h.all() {
		if len(f.IDs) > 0 && !slices.Contains(f.IDs, o.id) {
			continue
		}
		if len(f.Types) > 0 && !slices.Contains(f.Types, o.typ) {
			continue
		}
		if !h.w.objectVisible(rp, o) {
			continue
		}
		byID[o.id] = append(byID[o.id], o)
	}
	want := map[key]bool{}
	for _, vs := range byID {
		sort.Slice(vs, func(i, j int) bool { return vs[i].version < vs[j].version })
		for i, o := range vs {
			sel := false
			for _, m := range f.Versions {
				switch m {
				case "all":
					sel = true
				case "first":
					sel = sel || i == 0
				case "last":
					sel = sel || i == len(vs)-1
				default:
					sel = sel || m == o.version
				}
			}
			if len(f.Versions) == 0 {
				sel = i == len(vs)-1
			}
			if sel {
				want[key{o.id, o.version}] = true
			}
		}
	}
	return want
}

func TestPolicyProperty(t *testing.T) {
	seeds := []uint64{20240601, 7, 1 << 40}
	n := 4000
	if testing.Short() {
		seeds, n = seeds[:1], 800
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { propertyRun(t, seed, n) })
	}
}

func propertyRun(t *testing.T, seed uint64, n int) {
	h := newHarness(t, seed)
	h.postDefinitions()
	admitted := h.populate(n)
	if admitted < n/3 {
		t.Fatalf("only %d of %d admitted: the generator is too hostile to test reads", admitted, n)
	}
	byKey := map[key]refObj{}
	for _, o := range h.all() {
		byKey[key{o.id, o.version}] = o
	}
	type who struct {
		p  access.Principal
		rp refPrincipal
	}
	var everyone []who
	for _, o := range h.w.orgs {
		everyone = append(everyone, who{h.readers[o], refPrincipal{org: o, role: "reader"}})
	}
	everyone = append(everyone, who{h.admin, refPrincipal{admin: true}}, who{h.outside, refPrincipal{org: h.outside.OrgID, role: "reader"}})

	var allIDs []string
	for id := range h.history {
		allIDs = append(allIDs, id)
	}
	sort.Strings(allIDs)
	rng := h.rng
	limits := []int{1, 3, 17, 64, 250, 5000}
	rounds := 8
	if testing.Short() {
		rounds = 4
	}
	checked, presented, trimmed, hidden := 0, 0, 0, 0
	for _, w := range everyone {
		if got := h.pol.CanRead(w.p, h.coll); got != h.w.canRead(w.rp) {
			t.Fatalf("CanRead(%s) = %v", w.p.UserName, got)
		}
		for round := range rounds {
			f := store.Filter{Readers: w.p.Readers, Limit: limits[2+rng.IntN(len(limits)-2)]}
			switch round % 4 {
			case 0:
				f.Versions = []string{"all"}
			case 1:
				f.Versions = []string{pick(rng, []string{"first", "last"})}
			case 2:
				f.Types = sample(rng, genTypes, 1+rng.IntN(2))
				f.Versions = sample(rng, []string{"first", "last", "all"}, 1)
			case 3:
				// Small results: page them one or a few at a time.
				f.Limit = limits[rng.IntN(3)]
				f.IDs = sample(rng, allIDs, 1+rng.IntN(40))
				if rng.IntN(2) == 0 {
					var ts []string
					for _, id := range f.IDs[:min(5, len(f.IDs))] {
						for _, o := range h.history[id] {
							if o.version != "" {
								ts = append(ts, o.version)
							}
						}
					}
					if len(ts) > 0 {
						f.Versions = sample(rng, ts, 1+rng.IntN(3))
					}
				}
			}
			want := h.expect(w.rp, f)
			got := h.query(f)
			seen := map[key]bool{}
			for _, v := range got {
				k := key{v.Object.ID, v.Object.Version()}
				if seen[k] {
					t.Fatalf("%s: %v returned twice", w.p.UserName, k)
				}
				seen[k] = true
				if !want[k] {
					t.Fatalf("%s: store returned %v, the model hides it (filter %+v, audience %v)", w.p.UserName, k, f, v.Audience)
				}
				// Present, compared with the model.
				out, ok := h.pol.Present(w.p, h.coll, v)
				exp := h.w.present(w.rp, byKey[k])
				if ok != (exp != nil) {
					t.Fatalf("%s: Present(%v) ok = %v, model %v", w.p.UserName, k, ok, exp != nil)
				}
				if ok {
					var doc map[string]any
					if err := json.Unmarshal(out, &doc); err != nil {
						t.Fatalf("Present output not JSON: %v", err)
					}
					if !reflect.DeepEqual(doc, exp) {
						t.Fatalf("%s: Present(%v) =\n%s\nmodel:\n%v", w.p.UserName, k, out, exp)
					}
					presented++
					if len(doc) < len(byKey[k].doc) {
						trimmed++
					}
				}
				checked++
			}
			hidden += len(h.expect(refPrincipal{admin: true}, f)) - len(want)
			for k := range want {
				if !seen[k] {
					t.Fatalf("%s: store misses %v (filter %+v)", w.p.UserName, k, f)
				}
			}
		}
	}
	// Versions the store never returned to someone must not be presented
	// to them either (defence in depth in Present). PresentBatch and
	// Presenter, which decide once for a page what Present decides for
	// each version, must give the same bytes.
	for _, w := range everyone {
		all := h.query(store.Filter{Versions: []string{"all"}, Limit: 5000})
		batch := h.pol.PresentBatch(w.p, h.coll, all)
		each := h.pol.Presenter(w.p, h.coll)
		for i, v := range all {
			o := byKey[key{v.Object.ID, v.Object.Version()}]
			out, ok := h.pol.Present(w.p, h.coll, v)
			if want := h.w.present(w.rp, o) != nil; ok != want {
				t.Fatalf("%s: Present(%s %s) = %v, model %v", w.p.UserName, o.id, o.version, ok, want)
			}
			if (batch[i] != nil) != ok || string(batch[i]) != string(out) {
				t.Fatalf("%s: PresentBatch(%s %s) = %s, Present %s, %v", w.p.UserName, o.id, o.version, batch[i], out, ok)
			}
			if b, bok := each(v); bok != ok || string(b) != string(out) {
				t.Fatalf("%s: Presenter(%s %s) = %s, %v; Present %s, %v", w.p.UserName, o.id, o.version, b, bok, out, ok)
			}
		}
	}
	if checked < 1000 || presented == 0 || trimmed == 0 || hidden == 0 {
		t.Fatalf("checked only %d versions (%d presented, %d trimmed, %d hidden)", checked, presented, trimmed, hidden)
	}
	t.Logf("%d posted, %d admitted, %d versions checked, %d presented (%d with properties removed), %d hidden by markings",
		n, admitted, checked, presented, trimmed, hidden)
}
