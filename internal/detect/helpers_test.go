package detect

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/jointcell/jointcell/internal/pattern"
	"github.com/jointcell/jointcell/internal/stix"
)

// eqPattern is a test double of Pattern for the tests of the plumbing
// (index updates, sources, aggregation): it understands only
// [type:path = 'value'], matching on the event atoms. The differential test
// uses the real pattern package instead.
type eqPattern struct{ a Anchor }

var _ Pattern = eqPattern{}

var eqRe = regexp.MustCompile(`^\[([a-z0-9-]+):([^ ]+) = '([^']*)'\]$`)

func compileEq(s string) (Pattern, error) {
	m := eqRe.FindStringSubmatch(s)
	if m == nil {
		return nil, fmt.Errorf("test compiler: unsupported pattern %q", s)
	}
	return eqPattern{Anchor{ObjectType: m[1], Path: m[2], Kind: AnchorEqual, Value: m[3]}}, nil
}

func (p eqPattern) Anchors() []Anchor { return []Anchor{p.a} }
func (p eqPattern) Exact() bool       { return true }
func (p eqPattern) Stateless() bool   { return true }
func (p eqPattern) MatchObservation(o *pattern.Observation) bool {
	for _, obj := range o.Objects {
		if obj.Type != p.a.ObjectType {
			continue
		}
		var v any = obj.Props
		for _, k := range splitPath(p.a.Path) {
			m, _ := v.(map[string]any)
			v = m[k]
		}
		if s, ok := v.(string); ok && s == p.a.Value {
			return true
		}
	}
	return false
}
func (p eqPattern) Window() time.Duration                  { return 0 }
func (p eqPattern) MatchWindow([]pattern.Observation) bool { return false }

// fullByID returns the full entry of an active indicator, nil for a
// compact one or an unknown id.
func (ix *Index) fullByID(id string) *fullEntry {
	ix.wmu.Lock()
	defer ix.wmu.Unlock()
	u, isUUID := parseIndicatorUUID(id)
	ref, _, ok := ix.idRef(id, u, isUUID)
	if !ok || ref&fullFlag == 0 {
		return nil
	}
	return ix.fulls[ref&^fullFlag]
}

// indicatorJSON makes an indicator object.
func indicatorJSON(id, pat, modified string, extra map[string]any) json.RawMessage {
	m := map[string]any{
		"type": "indicator", "spec_version": "2.1", "id": id,
		"created": "2024-01-01T00:00:00.000Z", "modified": modified,
		"pattern": pat, "pattern_type": "stix", "valid_from": "2024-01-01T00:00:00Z",
	}
	for k, v := range extra {
		m[k] = v
	}
	b, _ := json.Marshal(m)
	return b
}

func mustIndicator(raw json.RawMessage) Indicator {
	in, err := ParseIndicator(raw)
	if err != nil {
		panic(err)
	}
	return in
}

// collector is an Emit that keeps what it is given.
type collector struct {
	mu   sync.Mutex
	objs []map[string]any
	raws []json.RawMessage
}

func (c *collector) emit(objs []json.RawMessage) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, o := range objs {
		var m map[string]any
		if err := json.Unmarshal(o, &m); err != nil {
			return err
		}
		c.objs = append(c.objs, m)
		c.raws = append(c.raws, o)
	}
	return nil
}

func (c *collector) ofType(t string) []map[string]any {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []map[string]any
	for _, o := range c.objs {
		if o["type"] == t {
			out = append(out, o)
		}
	}
	return out
}

func stixJSON(o map[string]any) ([]byte, error) { return json.Marshal(o) }

// validateAll runs stix.Validate on every object emitted: sightings,
// observed-data and SCOs must all be valid STIX 2.1.
func validateAll(t testing.TB, raws []json.RawMessage) {
	t.Helper()
	for _, raw := range raws {
		o, err := stix.DecodeObject(raw)
		if err != nil {
			t.Fatalf("decode %s: %v", raw, err)
		}
		for _, p := range stix.Validate(o, stix.Options{}) {
			if p.Severity == stix.Error {
				t.Errorf("invalid %s: %s: %s\n%s", o.Type, p.Path, p.Message, raw)
			}
		}
	}
}
