package access

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/jointcell/jointcell/internal/marking"
	"github.com/jointcell/jointcell/internal/redact"
	"github.com/jointcell/jointcell/internal/stix"
	"github.com/jointcell/jointcell/internal/store"
)

// ErrDenied is returned (wrapped, with a message meant for the client's
// TAXII status) when Admit refuses an object.
var ErrDenied = errors.New("denied")

// Querier is the part of store.Objects the policy needs: looking up the
// existing versions of an object (ownership) and marking definitions.
type Querier interface {
	Query(ctx context.Context, collectionID string, f store.Filter) (store.Page, error)
}

var _ Querier = (store.Objects)(nil)

// PolicyConfig wires a Policy.
type PolicyConfig struct {
	// Groups lists the cell's sharing groups (store.Principals.ListGroups).
	Groups func(ctx context.Context) ([]store.Group, error)
	// Objects looks up existing versions and marking definitions.
	Objects Querier
	// Unmarked is the TLP level of objects without TLP, group or recipient
	// markings; marking.NoLevel means GREEN (docs/markings.md).
	Unmarked marking.Level
	// Redaction picks the egress profile for readers outside the producer's
	// organisation; nil means no redaction.
	Redaction *redact.Config
	// Redactor applies profiles under the cell's redaction key; nil means
	// no redaction.
	Redactor *redact.Redactor
	// GroupsTTL is how long the list of groups is cached; 0 means 10s.
	GroupsTTL time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives what a read path cannot return: Present failures.
	Logger *slog.Logger
	// DefinitionContent returns the part of a marking definition's bytes
	// that is its content, for the rule that a definition keeps one
	// content; nil means all of its bytes. A federated cell strips the
	// provenance extension, which differs for the same definition signed
	// in two batches (federation.Content).
	DefinitionContent func(raw []byte) []byte
}

// Policy decides who sees what, for the TAXII server and every read path.
// It is safe for concurrent use.
type Policy struct {
	cfg   PolicyConfig
	rules marking.Rules

	mu       sync.RWMutex
	groups   map[string]marking.Definition // by marking id
	groupsAt time.Time
	defs     map[string]knownDef // statement and recipient definitions, by id

	plain *redact.Redactor // removal without a key, when Redactor is nil
}

// knownDef is a marking definition seen by the policy. Marking definitions
// are never versioned (STIX 2.1 §7.2.1), so an id means one content for
// ever and caching it is safe; sum detects a second, different content.
type knownDef struct {
	def marking.Definition
	sum [32]byte
}

// NewPolicy returns a policy. Groups and Objects may be nil in tests that
// use neither groups nor stored marking definitions.
func NewPolicy(cfg PolicyConfig) *Policy {
	if cfg.GroupsTTL <= 0 {
		cfg.GroupsTTL = 10 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Policy{
		cfg:   cfg,
		rules: marking.Rules{Unmarked: cfg.Unmarked},
		defs:  map[string]knownDef{},
		plain: redact.New(nil),
	}
}

// CanRead reports whether p may read collection c: admins always; others
// when their reader keys meet the collection's ReadBy.
func (pol *Policy) CanRead(p Principal, c store.Collection) bool {
	return p.IsAdmin() || meets(p.Readers, c.ReadBy)
}

// meets is marking.Meets, quicker on the read path: reader keys of
// organisations and groups have one length and one long prefix
// ("org:identity--", then a UUID), so comparing their last bytes first
// tells most of them apart without comparing the rest.
func meets(readers, audience []string) bool {
	for _, a := range audience {
		for _, r := range readers {
			if len(r) == len(a) && (len(a) == 0 || r[len(r)-1] == a[len(a)-1]) && r == a {
				return true
			}
		}
	}
	return false
}

// CanWrite reports whether p may add objects to c: admins always; analysts
// when their reader keys meet the collection's WriteBy; readers never.
func (pol *Policy) CanWrite(p Principal, c store.Collection) bool {
	return p.IsAdmin() || (p.Role == RoleAnalyst && marking.Meets(p.Readers, c.WriteBy))
}

// Refresh reloads the sharing groups now. The cell calls it after changing
// a group; otherwise groups are reloaded when older than GroupsTTL.
func (pol *Policy) Refresh(ctx context.Context) error {
	if pol.cfg.Groups == nil {
		return nil
	}
	gs, err := pol.cfg.Groups(ctx)
	if err != nil {
		return fmt.Errorf("access: load groups: %w", err)
	}
	m := make(map[string]marking.Definition, len(gs))
	for _, g := range gs {
		d := marking.Definition{ID: g.MarkingID, Kind: marking.KindGroup, Name: g.Name, Members: slices.Clone(g.Members)}
		m[g.MarkingID] = d
	}
	pol.mu.Lock()
	pol.groups, pol.groupsAt = m, pol.cfg.Now()
	pol.mu.Unlock()
	return nil
}

func (pol *Policy) freshGroups(ctx context.Context) error {
	pol.mu.RLock()
	stale := pol.groups == nil || pol.cfg.Now().Sub(pol.groupsAt) > pol.cfg.GroupsTTL
	pol.mu.RUnlock()
	if !stale {
		return nil
	}
	return pol.Refresh(ctx)
}

// cached resolves a marking id without I/O.
func (pol *Policy) cached(id string) (marking.Definition, bool) {
	if d, ok := marking.Builtin(id); ok {
		return d, true
	}
	pol.mu.RLock()
	defer pol.mu.RUnlock()
	if d, ok := pol.groups[id]; ok {
		return d, true
	}
	if k, ok := pol.defs[id]; ok {
		return k.def, true
	}
	return marking.Definition{}, false
}

// resolver returns a resolve function for marking.Decide that falls back to
// looking the definition up in collection collID. Definitions found in the
// store are cached: their content cannot change.
func (pol *Policy) resolver(ctx context.Context, collID string) func(string) (marking.Definition, bool) {
	return func(id string) (marking.Definition, bool) {
		if d, ok := pol.cached(id); ok {
			return d, true
		}
		if pol.cfg.Objects == nil {
			return marking.Definition{}, false
		}
		page, err := pol.cfg.Objects.Query(ctx, collID, store.Filter{IDs: []string{id}, Versions: []string{"first"}, Limit: 1})
		if err != nil || len(page.Versions) == 0 {
			if err != nil {
				pol.cfg.Logger.Warn("marking lookup failed", "marking", id, "collection", collID, "err", err)
			}
			return marking.Definition{}, false
		}
		raw := page.Versions[0].Object.Raw
		d, err := marking.ParseDefinition(raw)
		if err != nil || d.Kind == marking.KindGroup || d.Kind == marking.KindTLP {
			// Group markings mean only what the cell's group list says;
			// a stored look-alike is not a group of this cell.
			return marking.Definition{}, false
		}
		pol.remember(d, raw)
		return d, true
	}
}

// remember caches a statement or recipient definition; it reports false
// when a different content is already known under the same id.
func (pol *Policy) remember(d marking.Definition, raw []byte) bool {
	sum := sha256.Sum256(pol.content(raw))
	pol.mu.Lock()
	defer pol.mu.Unlock()
	if k, ok := pol.defs[d.ID]; ok {
		return k.sum == sum
	}
	pol.defs[d.ID] = knownDef{def: d, sum: sum}
	return true
}

// content is what of a marking definition's bytes raw must stay the same
// (PolicyConfig.DefinitionContent).
func (pol *Policy) content(raw []byte) []byte {
	if pol.cfg.DefinitionContent == nil {
		return raw
	}
	return pol.cfg.DefinitionContent(raw)
}

func (pol *Policy) members(groupID string) []string {
	d, ok := pol.cached(groupID)
	if !ok || d.Kind != marking.KindGroup {
		return nil
	}
	return d.Members
}

func denied(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrDenied}, a...)...)
}

// Admit applies the write rules to one object that p posts to c and returns
// the version to store with its audience. The rules (docs/markings.md):
//
//   - p must be allowed to write to c;
//   - an organisation publishes only as itself: created_by_ref must be its
//     identity, and is filled in when missing on objects that have one
//     (SDOs, SROs and meta objects: those with created; STIX 2.1 §3.2);
//     admins may publish on behalf of any organisation;
//   - an object may be versioned or revoked only by its creator: every
//     stored version of the id in c must have the same created_by_ref;
//   - marking definitions are never versioned (STIX 2.1 §7.2.1): a second,
//     different content under a known id is refused;
//   - every marking reference must resolve; a group marking may be used
//     only by a member organisation; a recipient marking only by the
//     organisation that created it (admins are exempt from both);
//   - the audience comes from the object markings, narrowed by granular
//     markings on properties that can never be removed (Protected).
func (pol *Policy) Admit(ctx context.Context, p Principal, c store.Collection, o stix.Object) (store.Version, error) {
	if !pol.CanWrite(p, c) {
		return store.Version{}, denied("you may not add objects to this collection")
	}
	if err := pol.freshGroups(ctx); err != nil {
		return store.Version{}, err
	}

	if o.Type == "marking-definition" {
		if d, err := marking.ParseDefinition(o.Raw); err == nil && d.Kind == marking.KindTLP {
			// A canonical TLP definition, as many producers include in
			// their bundles: it is public and belongs to no member.
			return store.Version{Object: o, Audience: []string{store.ReaderAnyone}}, nil
		}
	}

	producer := o.CreatedByRef
	switch {
	case producer == "" && o.Created != "" && p.OrgID != "":
		var err error
		if o, err = withCreatedBy(o, p.OrgID); err != nil {
			return store.Version{}, err
		}
		producer = p.OrgID
	case producer == "":
		// SCOs have no created_by_ref (STIX 2.1 §6.1); the poster is
		// the producer for the audience.
		producer = p.OrgID
	case producer != p.OrgID && !p.IsAdmin():
		return store.Version{}, denied("created_by_ref %s is not your organisation's identity %s: an organisation publishes only as itself", producer, p.OrgID)
	}

	if err := pol.checkHistory(ctx, c, o, producer); err != nil {
		return store.Version{}, err
	}

	resolve := pol.resolver(ctx, c.ID)

	refs := o.MarkingRefs
	check := func(ref string) error {
		d, ok := resolve(ref)
		if !ok {
			// marking.ErrUnknown lets federation tell a marking it has
			// not received yet (a peer's new sharing group) from a refusal.
			return denied("%w %s: publish it before, or earlier in the same envelope", marking.ErrUnknown, ref)
		}
		if p.IsAdmin() {
			return nil
		}
		switch d.Kind {
		case marking.KindGroup:
			if !slices.Contains(d.Members, producer) {
				return denied("your organisation is not a member of sharing group %q (%s)", d.Name, ref)
			}
		case marking.KindRecipients:
			if d.CreatedBy != producer {
				return denied("recipient marking %s was created by another organisation: create your own", ref)
			}
		}
		return nil
	}
	for _, ref := range refs {
		if err := check(ref); err != nil {
			return store.Version{}, err
		}
	}
	for _, g := range o.Granular {
		if g.MarkingRef == "" {
			continue
		}
		if err := check(g.MarkingRef); err != nil {
			return store.Version{}, err
		}
	}

	aud, err := marking.Audience(producer, refs, resolve, pol.rules)
	if err != nil {
		return store.Version{}, denied("%v", err)
	}
	for _, g := range o.Granular {
		if g.MarkingRef == "" || !slices.ContainsFunc(g.Selectors, func(s string) bool { return Protected(o.Type, s) }) {
			continue
		}
		prop, err := marking.Audience(producer, withRef(refs, g.MarkingRef), resolve, pol.rules)
		if err != nil {
			return store.Version{}, denied("%v", err)
		}
		aud = marking.Intersect(aud, prop, pol.members)
	}
	if o.CreatedByRef == "" && producer != "" {
		aud = append(aud, marking.ProducerKey(producer))
		slices.Sort(aud)
	}
	if aud == nil {
		aud = []string{}
	}
	if o.Type == "marking-definition" {
		// Last, once every other rule has passed: admitDefinition makes
		// the definition resolvable, and a refused one must not be.
		if err := pol.admitDefinition(p, o); err != nil {
			return store.Version{}, err
		}
	}
	return store.Version{Object: o, Audience: aud}, nil
}

func withRef(refs []string, ref string) []string {
	out := make([]string, 0, len(refs)+1)
	return append(append(out, refs...), ref)
}

// admitDefinition checks a posted marking-definition that is not a
// canonical TLP one, and makes it resolvable for the objects that follow
// it in the same envelope.
func (pol *Policy) admitDefinition(p Principal, o stix.Object) error {
	d, err := marking.ParseDefinition(o.Raw)
	if err != nil {
		return denied("%v", err)
	}
	switch d.Kind {
	case marking.KindGroup:
		if !p.IsAdmin() {
			return denied("sharing groups are managed by the cell operator (jointcell group)")
		}
		return nil
	case marking.KindTLP:
		return nil
	}
	if !pol.remember(d, o.Raw) {
		return denied("marking-definition %s already exists with another content: marking definitions are never versioned", d.ID)
	}
	return nil
}

// needsHistory reports whether Admit checks the stored versions of o: those
// of objects with a creator (SDOs, SROs, meta objects) and of marking
// definitions.
func needsHistory(o stix.Object) bool {
	return o.Created != "" || o.Type == "marking-definition"
}

// checkHistory enforces that only the creator versions an object, and that
// marking definitions keep one content. It uses the versions preloaded in
// ctx (PreloadHistory) when they cover o, and asks the store otherwise.
func (pol *Policy) checkHistory(ctx context.Context, c store.Collection, o stix.Object, producer string) error {
	if pol.cfg.Objects == nil || !needsHistory(o) {
		return nil
	}
	if h, ok := ctx.Value(historyKey{}).(*history); ok && h.coll == c.ID {
		if vs, ok := h.byID[o.ID]; ok {
			for _, v := range vs {
				if err := pol.checkVersion(o, producer, v.createdBy, v.raw); err != nil {
					return err
				}
			}
			return nil
		}
	}
	f := store.Filter{IDs: []string{o.ID}, Versions: []string{"all"}, Limit: 200}
	for {
		page, err := pol.cfg.Objects.Query(ctx, c.ID, f)
		if err != nil {
			return fmt.Errorf("access: admit %s: look up versions: %w", o.ID, err)
		}
		for _, v := range page.Versions {
			if err := pol.checkVersion(o, producer, v.Object.CreatedByRef, v.Object.Raw); err != nil {
				return err
			}
		}
		if !page.More || len(page.Versions) == 0 {
			return nil
		}
		f.AddedAfter = page.Versions[len(page.Versions)-1].DateAdded
	}
}

// checkVersion checks a posted object o against one stored version of its
// id (its created_by_ref, and its bytes for a marking definition).
func (pol *Policy) checkVersion(o stix.Object, producer, createdBy string, raw []byte) error {
	if createdBy != producer {
		return denied("object %s was created by another organisation: only its creator may version or revoke it", o.ID)
	}
	if o.Type == "marking-definition" && !bytes.Equal(pol.content(raw), pol.content(o.Raw)) {
		return denied("marking-definition %s already exists with another content: marking definitions are never versioned", o.ID)
	}
	return nil
}

// historyKey is the context key of a preloaded *history.
type historyKey struct{}

// history holds the stored versions of a batch's ids in one collection, as
// checkHistory needs them: every id looked up has an entry (nil when
// nothing is stored), in date_added order.
type history struct {
	coll string
	byID map[string][]storedVersion
}

type storedVersion struct {
	createdBy string
	raw       []byte // marking definitions only
}

// maxHistoryIDs bounds the ids of one history query: each is a bound
// parameter of the store's SQL, whose number is limited.
const maxHistoryIDs = 500

// storedIDFinder is implemented by stores that can tell cheaply which ids
// of a batch have any stored version in a collection (sqlite.DB): a batch
// of new objects then needs no history query at all.
type storedIDFinder interface {
	StoredIDs(ctx context.Context, collectionID string, ids []string) ([]string, error)
}

// PreloadHistory looks up the stored versions of every object of objs that
// Admit checks against its history (only the creator versions an object;
// marking definitions keep one content), with one store query per 500 ids
// rather than one per object, and returns a context under which Admit on
// collection c uses them. It is meant for a batch admitted together and
// stored after: what the context holds is the store as it was before the
// batch, exactly what one Admit per object would have seen, so the caller
// still checks versions of the same id earlier in the batch itself (as the
// TAXII server does). Objects outside objs fall back to a query.
func (pol *Policy) PreloadHistory(ctx context.Context, c store.Collection, objs []stix.Object) (context.Context, error) {
	if pol.cfg.Objects == nil {
		return ctx, nil
	}
	h := &history{coll: c.ID, byID: make(map[string][]storedVersion, len(objs))}
	ids := make([]string, 0, len(objs))
	for _, o := range objs {
		if !needsHistory(o) {
			continue
		}
		if _, ok := h.byID[o.ID]; !ok {
			h.byID[o.ID] = nil
			ids = append(ids, o.ID)
		}
	}
	if sf, ok := pol.cfg.Objects.(storedIDFinder); ok && len(ids) > 0 {
		// Only the ids the collection has seen have a history to read;
		// the others keep their nil entry (nothing stored).
		found, err := sf.StoredIDs(ctx, c.ID, ids)
		if err != nil {
			return ctx, fmt.Errorf("access: admit: look up versions: %w", err)
		}
		ids = found
	}
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), maxHistoryIDs)]
		ids = ids[len(chunk):]
		f := store.Filter{IDs: chunk, Versions: []string{"all"}, Limit: 1000}
		for {
			page, err := pol.cfg.Objects.Query(ctx, c.ID, f)
			if err != nil {
				return ctx, fmt.Errorf("access: admit: look up versions: %w", err)
			}
			for _, v := range page.Versions {
				sv := storedVersion{createdBy: v.Object.CreatedByRef}
				if v.Object.Type == "marking-definition" {
					sv.raw = v.Object.Raw
				}
				h.byID[v.Object.ID] = append(h.byID[v.Object.ID], sv)
			}
			if !page.More || len(page.Versions) == 0 {
				break
			}
			f.AddedAfter = page.Versions[len(page.Versions)-1].DateAdded
		}
	}
	return context.WithValue(ctx, historyKey{}, h), nil
}

// AdmitBatch admits the objects of one envelope in order, as Admit would
// one by one, but with the history of all their ids looked up at once
// (PreloadHistory). errs[i] is nil when vs[i] is to be stored. Versions of
// the same id earlier in objs are not stored yet and so not checked here:
// the caller checks them, as it would with Admit.
func (pol *Policy) AdmitBatch(ctx context.Context, p Principal, c store.Collection, objs []stix.Object) ([]store.Version, []error) {
	vs := make([]store.Version, len(objs))
	errs := make([]error, len(objs))
	fail := func(err error) ([]store.Version, []error) {
		for i := range errs {
			errs[i] = err
		}
		return vs, errs
	}
	if !pol.CanWrite(p, c) {
		return fail(denied("you may not add objects to this collection"))
	}
	if err := pol.freshGroups(ctx); err != nil {
		return fail(err)
	}
	hctx, err := pol.PreloadHistory(ctx, c, objs)
	if err != nil {
		return fail(err)
	}
	for i, o := range objs {
		vs[i], errs[i] = pol.Admit(hctx, p, c, o)
	}
	return vs, errs
}

// withCreatedBy inserts created_by_ref as the first property of the raw
// object, leaving every other byte as received, and decodes it again.
func withCreatedBy(o stix.Object, identity string) (stix.Object, error) {
	raw := bytes.TrimSpace(o.Raw)
	if len(raw) < 2 || raw[0] != '{' {
		return o, denied("object is not a JSON object")
	}
	val, err := json.Marshal(identity)
	if err != nil {
		return o, fmt.Errorf("access: created_by_ref: %w", err)
	}
	var b bytes.Buffer
	b.Grow(len(raw) + len(val) + 20)
	b.WriteString(`{"created_by_ref":`)
	b.Write(val)
	if rest := bytes.TrimSpace(raw[1:]); len(rest) > 0 && rest[0] != '}' {
		b.WriteByte(',')
	}
	b.Write(raw[1:])
	if !bytes.Contains(raw, []byte("created_by_ref")) && !bytes.Contains(raw, []byte(`\u`)) {
		// No created_by_ref key, not even an escaped one (a key's letters
		// and underscores can be escaped only as \u): decoding again
		// would give o with the new property, so skip it (ingest fills
		// in created_by_ref on most objects).
		o.Raw, o.CreatedByRef = b.Bytes(), identity
		return o, nil
	}
	out, err := stix.DecodeObject(b.Bytes())
	if err != nil {
		return o, denied("object cannot take a created_by_ref: %v", err)
	}
	if out.CreatedByRef != identity {
		// An empty or null created_by_ref already present (JSON keeps the
		// last of duplicate keys): refuse rather than store two.
		return o, denied("created_by_ref is present but empty")
	}
	return out, nil
}

// presentTimeout bounds the marking lookup that Present may need (see
// presentResolver).
const presentTimeout = 2 * time.Second

// Present returns the bytes of v that p may see, or false to withhold it:
//
//   - admins see every version as stored;
//   - others must be allowed to read c and their reader keys must meet the
//     version's audience (the store already filtered on it; this is
//     defence in depth);
//   - properties under a granular marking whose audience p is not in are
//     removed (TAXII 2.1 §8.2.2 lets a server omit what a client may not
//     see); if one of them is protected the version is withheld, unless
//     Admit's narrowing named p's organisation in the audience (a group
//     on a required property expanded to its members when posted);
//   - a reader outside the producer's organisation gets the egress profile
//     of the collection and its organisation applied.
func (pol *Policy) Present(p Principal, c store.Collection, v store.Version) ([]byte, bool) {
	pr := pol.presenter(&p, &c)
	return pr.present(v)
}

// PresentBatch presents the versions of one page to p, as Present would
// one by one (see taxii.BatchPresenter): nil for a withheld version. What
// depends only on p and c (the right to read c, the egress profile) is
// decided once for the page.
func (pol *Policy) PresentBatch(p Principal, c store.Collection, vs []store.Version) [][]byte {
	pr := pol.presenter(&p, &c)
	out := make([][]byte, len(vs))
	for i, v := range vs {
		if b, ok := pr.present(v); ok {
			out[i] = b
		}
	}
	return out
}

// Presenter returns Present for p and c, with what depends only on them
// decided once: for a caller presenting many versions to one reader of
// one collection (the federation's egress), which adds its own rules
// between the versions.
func (pol *Policy) Presenter(p Principal, c store.Collection) func(store.Version) ([]byte, bool) {
	pr := pol.presenter(&p, &c)
	// Made once for every version the function will present.
	pr.resolve = pol.presentResolver(c.ID)
	return pr.present
}

// presenter is Present's decision for one reader of one collection, with
// the parts that do not depend on the version made once. It copies what
// it needs of the reader and the collection rather than pointing at
// them, so that Present's arguments stay on its stack.
type presenter struct {
	pol      *Policy
	readers  []string // the reader's keys
	orgID    string   // the reader's organisation's identity
	userName string
	collID   string
	admin    bool
	canRead  bool
	// prof is the egress profile for a reader outside the producer's
	// organisation; nil when there is none (or no redactor).
	prof *redact.Profile
	// resolve resolves the markings of granular markings; nil when each
	// version that needs it makes its own (Present, PresentBatch: it
	// stays on the stack), made once by Presenter.
	resolve func(string) (marking.Definition, bool)
}

// presenter decides what Present decides for p and c alone.
func (pol *Policy) presenter(p *Principal, c *store.Collection) presenter {
	pr := presenter{pol: pol, readers: p.Readers, orgID: p.OrgID, userName: p.UserName, collID: c.ID, admin: p.IsAdmin()}
	if pr.admin {
		return pr
	}
	pr.canRead = pol.CanRead(*p, *c)
	if pol.cfg.Redactor != nil {
		pr.prof = pol.cfg.Redaction.For(c.ID, c.Alias, p.OrgName)
	}
	return pr
}

// present is Present for one version.
func (pr *presenter) present(v store.Version) ([]byte, bool) {
	o := v.Object
	if pr.admin {
		return o.Raw, true
	}
	pol := pr.pol
	if !pr.canRead || !meets(pr.readers, v.Audience) {
		return nil, false
	}
	producer := o.CreatedByRef
	if producer == "" {
		producer = marking.ProducerOf(v.Audience)
	}
	var remove []string
	if len(o.Granular) > 0 {
		resolve := pr.resolve
		if resolve == nil {
			// Made here, where it does not escape, for Present.
			resolve = pol.presentResolver(pr.collID)
		}
		for _, g := range o.Granular {
			if g.MarkingRef == "" {
				continue
			}
			aud, err := marking.Audience(producer, withRef(o.MarkingRefs, g.MarkingRef), resolve, pol.rules)
			if err == nil && marking.Meets(pr.readers, aud) {
				continue
			}
			for _, s := range g.Selectors {
				if Protected(o.Type, s) && pr.orgID != "" && slices.Contains(v.Audience, marking.ReaderOrg(pr.orgID)) {
					// Admit narrowed the version by this marking and
					// named the reader's organisation: a group expanded
					// to its members when the object was posted
					// (docs/markings.md). They keep the property.
					continue
				}
				if Protected(o.Type, s) {
					pol.cfg.Logger.Warn("withheld: protected property under a granular marking the reader is not cleared for",
						"object", o.ID, "selector", s, "user", pr.userName)
					return nil, false
				}
				remove = append(remove, s)
			}
		}
	}
	var prof *redact.Profile
	if producer == "" || producer != pr.orgID {
		prof = pr.prof
	}
	if len(remove) == 0 && prof.IsZero() {
		return o.Raw, true
	}
	r := pol.cfg.Redactor
	if r == nil {
		// Removal needs no key; pseudonyms are never produced without one.
		r = pol.plain
	}
	out, err := r.ApplyObject(o.Raw, o.Type, o.ID, prof, remove)
	if err != nil {
		pol.cfg.Logger.Error("withheld: redaction failed", "object", o.ID, "err", err)
		return nil, false
	}
	return out, true
}

// presentResolver resolves markings for Present, whose signature (fixed by
// the TAXII server's interface) carries no context. Definitions are nearly
// always cached (the policy saw them in Admit, or an earlier read looked
// them up); after a restart the first read of an object with a granular
// statement or recipient marking looks its definition up once, bounded by
// presentTimeout. An unresolvable marking hides the property: fail closed.
func (pol *Policy) presentResolver(collID string) func(string) (marking.Definition, bool) {
	return func(id string) (marking.Definition, bool) {
		if d, ok := pol.cached(id); ok {
			return d, true
		}
		ctx, cancel := context.WithTimeout(context.Background(), presentTimeout)
		defer cancel()
		pol.mu.RLock()
		loaded := pol.groups != nil
		pol.mu.RUnlock()
		if !loaded {
			_ = pol.freshGroups(ctx)
			if d, ok := pol.cached(id); ok {
				return d, true
			}
		}
		return pol.resolver(ctx, collID)(id)
	}
}
