package taxii

// The reference model of the access property test (access_property_test.go):
// who may see, post and read what, written from docs/markings.md and
// docs/taxii.md alone. It shares no code with internal/marking or
// internal/access: it reasons about organisations, sharing-group
// memberships and collection rights, never about reader keys.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jointcell/jointcell/internal/access"
	"github.com/jointcell/jointcell/internal/store"
)

// apTLP is the TLP table of docs/markings.md: 1 CLEAR/WHITE, 2 GREEN,
// 3 AMBER, 4 AMBER+STRICT, 5 RED, for the TLP 1.0 and TLP 2.0 ids.
var apTLP = map[string]int{
	"marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9": apClear,  // TLP 1.0 WHITE
	"marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da": apGreen,  // TLP 1.0 GREEN
	"marking-definition--f88d31f6-486f-44da-b317-01333bde0b82": apAmber,  // TLP 1.0 AMBER
	"marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed": apRed,    // TLP 1.0 RED
	"marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487": apClear,  // TLP 2.0 CLEAR
	"marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb": apGreen,  // TLP 2.0 GREEN
	"marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421": apAmber,  // TLP 2.0 AMBER
	"marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003": apStrict, // TLP 2.0 AMBER+STRICT
	"marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1": apRed,    // TLP 2.0 RED
}

const (
	apClear = 1 + iota
	apGreen
	apAmber
	apStrict
	apRed
)

// apTLPIDs lists apTLP in a fixed order, for seeded choices.
var apTLPIDs = func() []string {
	ids := make([]string, 0, len(apTLP))
	for id := range apTLP {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}()

// apProtected says whether a granular-marking selector touches a property
// an object cannot live without (docs/markings.md): id, type, created,
// modified, created_by_ref, revoked, object_marking_refs,
// granular_markings, and the required properties of its type (STIX 2.1:
// the types this test generates).
func apProtected(typ, sel string) bool {
	top, _, _ := strings.Cut(sel, ".")
	switch top {
	case "id", "type", "spec_version", "created", "modified", "created_by_ref", "revoked",
		"object_marking_refs", "granular_markings":
		return true
	}
	required := map[string][]string{
		"indicator":   {"pattern", "pattern_type", "valid_from"},
		"malware":     {"is_family"},
		"report":      {"name", "published", "object_refs"},
		"note":        {"content", "object_refs"},
		"ipv4-addr":   {"value"},
		"domain-name": {"value"},
		"url":         {"value"},
	}
	return slices.Contains(required[typ], top)
}

// apGroup is a sharing group.
type apGroup struct {
	name    string
	id      string          // its marking-definition id
	members map[string]bool // organisations, as of now
	stored  store.Group
}

// apDef is a published statement or recipient definition.
type apDef struct {
	recipients bool
	creator    string   // created_by_ref as stored
	names      []string // recipients
	stored     []byte   // the bytes stored
}

// apAud is who may see a version: everyone in the cell, or organisations
// fixed when it was posted plus the members of sharing groups as they are
// at the time of reading.
type apAud struct {
	all    bool
	orgs   map[string]bool
	groups map[string]bool
}

func (a apAud) String() string {
	if a.all {
		return "{everyone}"
	}
	var parts []string
	for o := range a.orgs {
		parts = append(parts, "org "+apShort(o))
	}
	for g := range a.groups {
		parts = append(parts, "group "+apShort(g))
	}
	sort.Strings(parts)
	return "{" + strings.Join(parts, ", ") + "}"
}

// apShort abbreviates a STIX id for messages.
func apShort(id string) string {
	if i := strings.Index(id, "--"); i >= 0 && len(id) > i+10 {
		return id[:i+10]
	}
	return id
}

// apColl is a collection with its rights and its stored versions.
type apColl struct {
	id, alias, title        string
	readOrgs, writeOrgs     []string
	readGroups, writeGroups []string // group marking ids
	versions                []*apVer // in date_added order
}

func (c *apColl) store() store.Collection {
	sc := store.Collection{ID: c.id, Alias: c.alias, Title: c.title, ReadBy: []string{}, WriteBy: []string{}}
	for _, o := range c.readOrgs {
		sc.ReadBy = append(sc.ReadBy, store.ReaderOrg(o))
	}
	for _, g := range c.readGroups {
		sc.ReadBy = append(sc.ReadBy, store.ReaderGroup(g))
	}
	for _, o := range c.writeOrgs {
		sc.WriteBy = append(sc.WriteBy, store.ReaderOrg(o))
	}
	for _, g := range c.writeGroups {
		sc.WriteBy = append(sc.WriteBy, store.ReaderGroup(g))
	}
	return sc
}

// apVer is one stored version.
type apVer struct {
	id, typ   string
	version   string // TAXII version: modified, else created, else date_added
	vkey      int64  // the version as an instant, in microseconds
	versioned bool   // false for SCOs: versioned by date_added
	dateAdded time.Time
	spec      string
	createdBy string // created_by_ref as stored, "" when absent
	producer  string // whose object it is for the markings: createdBy, or the poster's organisation
	refs      []string
	granular  []apGran
	aud       apAud
	posted    []byte         // the bytes posted
	stored    []byte         // the bytes stored (created_by_ref may have been filled in)
	fill      string         // the created_by_ref the cell filled in, or ""
	doc       map[string]any // stored, decoded
}

func (v *apVer) String() string { return v.id + " " + v.version }

// apGran is one granular marking.
type apGran struct {
	sels []string
	ref  string // "" for a lang entry
	lang string
}

// apUser is a principal of the test.
type apUser struct {
	token, userID, name, orgName string
	org                          string // identity id; "" for an admin of no organisation
	role                         access.Role
	what                         string // how the test describes the principal
}

func (u *apUser) admin() bool { return u.role == access.RoleAdmin }

func (u *apUser) String() string { return u.name + " (" + u.what + ")" }

// apAuth authenticates "Authorization: Bearer <token>". Reader keys are
// computed on every request from the current sharing groups, as the cell
// does, so that a membership change applies from the next page on.
type apAuth struct {
	mu     sync.RWMutex
	users  map[string]*apUser
	groups []store.Group
}

func (a *apAuth) Authenticate(r *http.Request) (access.Principal, error) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	a.mu.RLock()
	defer a.mu.RUnlock()
	u := a.users[tok]
	if !ok || u == nil {
		return access.Principal{}, errNoAuth
	}
	p := access.Principal{UserID: u.userID, UserName: u.name, OrgName: u.orgName, OrgID: u.org, Role: u.role}
	if !u.admin() {
		p.Readers = access.ReaderKeys(u.org, a.groups)
	}
	return p, nil
}

func (a *apAuth) setGroups(gs []store.Group) {
	a.mu.Lock()
	a.groups = gs
	a.mu.Unlock()
}

// apModel is the reference: the world and what each principal may do in it.
type apModel struct {
	orgs     []string
	groups   []*apGroup
	byGroup  map[string]*apGroup
	defs     map[string]*apDef // published statement and recipient definitions
	defOrder []string          // their ids, in the order of publication
	colls    []*apColl
	byColl   map[string]*apColl
	epoch    int // changes whenever rights, memberships or contents change
}

func (m *apModel) member(org, group string) bool {
	g := m.byGroup[group]
	return g != nil && org != "" && g.members[org]
}

func (m *apModel) inSet(org string, orgs, groups []string) bool {
	if org == "" {
		return false
	}
	if slices.Contains(orgs, org) {
		return true
	}
	for _, g := range groups {
		if m.member(org, g) {
			return true
		}
	}
	return false
}

// canRead and canWrite: docs/taxii.md "Rights" and docs/markings.md "Who may
// publish what": admins always; readers never write.
func (m *apModel) canRead(u *apUser, c *apColl) bool {
	return u.admin() || m.inSet(u.org, c.readOrgs, c.readGroups)
}

func (m *apModel) canWrite(u *apUser, c *apColl) bool {
	return u.admin() || (u.role == access.RoleAnalyst && m.inSet(u.org, c.writeOrgs, c.writeGroups))
}

// apKind is what a marking reference means.
type apKind int

const (
	apUnknown apKind = iota
	apKindTLP
	apKindGroup
	apKindRecipients
	apKindStatement
)

// kind resolves a marking reference: a TLP id, one of the cell's sharing
// groups, or a statement or recipient definition published before (defs)
// or earlier in the same envelope (pend).
func (m *apModel) kind(ref string, pend map[string]*apDef) (apKind, *apDef) {
	if _, ok := apTLP[ref]; ok {
		return apKindTLP, nil
	}
	if _, ok := m.byGroup[ref]; ok {
		return apKindGroup, nil
	}
	d := m.defs[ref]
	if d == nil {
		d = pend[ref]
	}
	switch {
	case d == nil:
		return apUnknown, nil
	case d.recipients:
		return apKindRecipients, d
	}
	return apKindStatement, d
}

// audience applies docs/markings.md to markings refs of an object produced
// by producer: the most restrictive TLP level wins; no TLP and no names
// means GREEN; statements never restrict; group and recipient markings
// narrow to the producer and the names (with AMBER+STRICT the producer
// only; with RED the producer and the recipients, groups do not count).
func (m *apModel) audience(producer string, refs []string, pend map[string]*apDef) apAud {
	level, named := 0, false
	var groups, recipients []string
	for _, r := range refs {
		k, d := m.kind(r, pend)
		switch k {
		case apKindTLP:
			level = max(level, apTLP[r])
		case apKindGroup:
			named = true
			groups = append(groups, r)
		case apKindRecipients:
			named = true
			recipients = append(recipients, d.names...)
		}
	}
	a := apAud{orgs: map[string]bool{}, groups: map[string]bool{}}
	if producer != "" {
		a.orgs[producer] = true
	}
	switch {
	case !named && level <= apGreen:
		return apAud{all: true}
	case !named || level == apStrict:
	case level == apRed:
		for _, r := range recipients {
			a.orgs[r] = true
		}
	default:
		for _, r := range recipients {
			a.orgs[r] = true
		}
		for _, g := range groups {
			a.groups[g] = true
		}
	}
	return a
}

// narrow is the audience of an object one of whose required properties
// carries a marking whose audience is b, the object's being a: a reader
// must be in both. When one side is everyone, the other is exact. Two
// named audiences meet in the groups both name (still read with the
// members of the day) and in the organisations both cover, groups
// "expanded to the members' organisations at the time of posting"
// (docs/markings.md).
func (m *apModel) narrow(a, b apAud) apAud {
	switch {
	case a.all:
		return b
	case b.all:
		return a
	}
	expand := func(x apAud) map[string]bool {
		out := map[string]bool{}
		for o := range x.orgs {
			out[o] = true
		}
		for g := range x.groups {
			for o := range m.byGroup[g].members {
				out[o] = true
			}
		}
		return out
	}
	ea, eb := expand(a), expand(b)
	out := apAud{orgs: map[string]bool{}, groups: map[string]bool{}}
	for o := range ea {
		if eb[o] {
			out.orgs[o] = true
		}
	}
	for g := range a.groups {
		if b.groups[g] {
			out.groups[g] = true
		}
	}
	return out
}

// sees says whether a member of org is in audience a today.
func (m *apModel) sees(org string, a apAud) bool {
	if a.all {
		return true
	}
	if org == "" {
		return false
	}
	if a.orgs[org] {
		return true
	}
	for g := range a.groups {
		if m.member(org, g) {
			return true
		}
	}
	return false
}

// visible: admins see every version; others need the read right and must
// be in the version's audience.
func (m *apModel) visible(u *apUser, c *apColl, v *apVer) bool {
	return u.admin() || (m.canRead(u, c) && m.sees(u.org, v.aud))
}

// removed lists the selectors taken out of v for u: those under a granular
// marking whose audience (the object's markings plus that marking) does
// not include u. Required properties are never removed: their markings
// narrowed the whole object when it was posted.
func (m *apModel) removed(u *apUser, v *apVer) []string {
	if u.admin() {
		return nil
	}
	var out []string
	for _, g := range v.granular {
		if g.ref == "" {
			continue
		}
		if m.sees(u.org, m.audience(v.producer, append(slices.Clone(v.refs), g.ref), nil)) {
			continue
		}
		for _, s := range g.sels {
			if !apProtected(v.typ, s) && !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	return out
}

// apFilter is a TAXII query as the model reads it.
type apFilter struct {
	addedAfter time.Time
	ids        []string
	types      []string
	versions   []string // first, last, all, or timestamps; empty means last
	specs      []string // empty means the latest of each object
}

// selection answers a query of collection c for u (docs/taxii.md
// "Filters"): among the versions u may see that match ids and types, the
// spec versions asked (default the latest of each object), then the
// versions asked (default last; first and last by version, SCOs by
// date_added), then added_after; ascending by date_added.
func (m *apModel) selection(u *apUser, c *apColl, f apFilter) []*apVer {
	byID := map[string][]*apVer{}
	for _, v := range c.versions {
		if len(f.ids) > 0 && !slices.Contains(f.ids, v.id) {
			continue
		}
		if len(f.types) > 0 && !slices.Contains(f.types, v.typ) {
			continue
		}
		if !m.visible(u, c, v) {
			continue
		}
		byID[v.id] = append(byID[v.id], v)
	}
	versions := f.versions
	if len(versions) == 0 {
		versions = []string{"last"}
	}
	var exact []int64
	for _, s := range versions {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			exact = append(exact, t.UnixMicro())
		}
	}
	var out []*apVer
	for _, vs := range byID {
		if len(f.specs) > 0 {
			vs = slices.DeleteFunc(vs, func(v *apVer) bool { return !slices.Contains(f.specs, v.spec) })
		} else {
			latest := ""
			for _, v := range vs {
				if apSpecLess(latest, v.spec) {
					latest = v.spec
				}
			}
			vs = slices.DeleteFunc(vs, func(v *apVer) bool { return v.spec != latest })
		}
		if len(vs) == 0 {
			continue
		}
		lo, hi := vs[0].vkey, vs[0].vkey
		for _, v := range vs {
			lo, hi = min(lo, v.vkey), max(hi, v.vkey)
		}
		for _, v := range vs {
			ok := slices.Contains(exact, v.vkey) || slices.Contains(versions, "all") ||
				(slices.Contains(versions, "first") && v.vkey == lo) || (slices.Contains(versions, "last") && v.vkey == hi)
			if ok && v.dateAdded.After(f.addedAfter) {
				out = append(out, v)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].dateAdded.Before(out[j].dateAdded) })
	return out
}

func apSpecLess(a, b string) bool {
	rank := func(s string) int {
		x, y, _ := strings.Cut(s, ".")
		i, _ := strconv.Atoi(x)
		j, _ := strconv.Atoi(y)
		return i*1000 + j
	}
	return a == "" || rank(a) < rank(b)
}

// anyVisible says whether u may see some version of the object id in c.
func (m *apModel) anyVisible(u *apUser, c *apColl, id string) bool {
	for _, v := range c.versions {
		if v.id == id && m.visible(u, c, v) {
			return true
		}
	}
	return false
}

// ---- removing properties ----

// apPathStep is one step of a selector: a property or a list index.
type apPathStep struct {
	key   string
	index int // -1 for a property
}

func apParseSelector(s string) []apPathStep {
	var out []apPathStep
	for _, p := range strings.Split(s, ".") {
		if strings.HasPrefix(p, "[") && strings.HasSuffix(p, "]") {
			n, _ := strconv.Atoi(p[1 : len(p)-1])
			out = append(out, apPathStep{index: n})
		} else {
			out = append(out, apPathStep{key: p, index: -1})
		}
	}
	return out
}

func apFormatPath(steps []apPathStep) string {
	parts := make([]string, len(steps))
	for i, s := range steps {
		if s.index >= 0 {
			parts[i] = "[" + strconv.Itoa(s.index) + "]"
		} else {
			parts[i] = s.key
		}
	}
	return strings.Join(parts, ".")
}

// apRemove returns doc without the properties sels select, as a reader
// must receive it: a list or object left empty by the removal goes too
// (STIX forbids empty lists), and granular_markings keeps only selectors
// that still resolve, re-indexed to the shortened lists, dropping entries
// left without selectors and the property itself when no entry is left.
// It marks what goes in the original document, then rebuilds it, which is
// a different method from the one the server uses.
func apRemove(doc map[string]any, sels []string) map[string]any {
	gone := map[string]bool{}
	for _, s := range sels {
		gone[apFormatPath(apParseSelector(s))] = true
	}
	moved := map[string]string{} // old path -> new path of what stays
	var rebuild func(node any, old, cur []apPathStep) (any, bool)
	rebuild = func(node any, old, cur []apPathStep) (any, bool) {
		op := apFormatPath(old)
		if len(old) > 0 && gone[op] {
			return nil, false
		}
		switch n := node.(type) {
		case map[string]any:
			out := map[string]any{}
			for k, v := range n {
				step := apPathStep{key: k, index: -1}
				if nv, ok := rebuild(v, append(slices.Clone(old), step), append(slices.Clone(cur), step)); ok {
					out[k] = nv
				}
			}
			if len(out) == 0 && len(n) > 0 && len(old) > 0 {
				return nil, false
			}
			moved[op] = apFormatPath(cur)
			return out, true
		case []any:
			var out []any
			for i, v := range n {
				if nv, ok := rebuild(v, append(slices.Clone(old), apPathStep{index: i}), append(slices.Clone(cur), apPathStep{index: len(out)})); ok {
					out = append(out, nv)
				}
			}
			if len(out) == 0 && len(n) > 0 {
				return nil, false
			}
			moved[op] = apFormatPath(cur)
			return out, true
		default:
			moved[op] = apFormatPath(cur)
			return node, true
		}
	}
	outAny, _ := rebuild(doc, nil, nil)
	out := outAny.(map[string]any)
	gms, _ := doc["granular_markings"].([]any)
	var kept []any
	for _, e := range gms {
		em := apDeepCopy(e).(map[string]any)
		old, _ := em["selectors"].([]any)
		var keep []any
		for _, s := range old {
			if np, ok := moved[apFormatPath(apParseSelector(s.(string)))]; ok {
				keep = append(keep, np)
			}
		}
		if len(keep) == 0 {
			continue
		}
		em["selectors"] = keep
		kept = append(kept, em)
	}
	if len(kept) == 0 {
		delete(out, "granular_markings")
	} else if gms != nil {
		out["granular_markings"] = kept
	}
	return out
}

func apDeepCopy(v any) any {
	switch n := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(n))
		for k, x := range n {
			out[k] = apDeepCopy(x)
		}
		return out
	case []any:
		out := make([]any, len(n))
		for i, x := range n {
			out[i] = apDeepCopy(x)
		}
		return out
	}
	return v
}

func apDecode(b []byte) (map[string]any, error) {
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(b))
	if err := d.Decode(&m); err != nil {
		return nil, err
	}
	return m, nil
}

// apFilled is raw with created_by_ref filled in as its first property: the
// rest of the bytes as posted (docs/markings.md: "the cell fills it in,
// changing nothing else in the object").
func apFilled(raw []byte, org string) []byte {
	t := bytes.TrimSpace(raw)
	return append([]byte(`{"created_by_ref":"`+org+`",`), t[1:]...)
}

// apOnlyFilled says whether got is raw with exactly one created_by_ref
// member for org inserted somewhere and nothing else changed.
func apOnlyFilled(got, raw []byte, org string) bool {
	member := `"created_by_ref":"` + org + `"`
	for _, cut := range []string{member + ",", "," + member} {
		for i := 0; ; {
			j := bytes.Index(got[i:], []byte(cut))
			if j < 0 {
				break
			}
			j += i
			rest := append(slices.Clone(got[:j]), got[j+len(cut):]...)
			if bytes.Equal(rest, bytes.TrimSpace(raw)) {
				return true
			}
			i = j + 1
		}
	}
	return false
}

// ---- the store and server side of the harness ----

// apPutGroup stores a changed group and makes everyone see the change now.
func (h *apHarness) apPutGroup(g *apGroup, sg store.Group) {
	h.t.Helper()
	if err := h.db.PutGroup(h.ctx, sg); err != nil {
		h.t.Fatalf("put group: %v", err)
	}
	g.stored = sg
	g.members = map[string]bool{}
	for _, o := range sg.Members {
		g.members[o] = true
	}
	h.refreshGroups()
}

func (h *apHarness) refreshGroups() {
	h.t.Helper()
	if err := h.pol.Refresh(h.ctx); err != nil {
		h.t.Fatal(err)
	}
	gs, err := h.db.ListGroups(h.ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	h.auth.setGroups(gs)
	h.m.epoch++
}

// updateCollection stores changed rights of c.
func (h *apHarness) updateCollection(c *apColl) {
	h.t.Helper()
	sc := c.store()
	got, err := h.db.Collection(h.ctx, c.id)
	if err != nil {
		h.t.Fatal(err)
	}
	got.ReadBy, got.WriteBy = sc.ReadBy, sc.WriteBy
	if err := h.db.UpdateCollection(h.ctx, got); err != nil {
		h.t.Fatalf("update collection: %v", err)
	}
	h.m.epoch++
}

// apResponse is a recorded answer.
type apResponse struct {
	code   int
	header http.Header
	body   []byte
}

// apRequestLine is how a request is shown in a disagreement.
func apRequestLine(method, path string, u *apUser) string {
	return fmt.Sprintf("%s %s as %s", method, path, u)
}
