// Package detect is jointcell's streaming detection engine: decoders that
// turn telemetry (STIX observed-data, ECS, Zeek, Suricata EVE) into STIX
// cyber observables, an index of active STIX indicators, windows for stateful
// patterns, and the aggregation of matches into STIX sightings.
//
// The flow is Source -> Decoder -> Index.Match -> Aggregator -> Sink. Events
// are decoded into a compact internal form (Event) that the index reads
// without allocation; only candidates found by the index are converted to
// the pattern package's Observation for the full evaluation.
package detect

import (
	"strconv"
	"strings"
	"time"

	"github.com/jointcell/jointcell/internal/pattern"
)

// PropKind is the type of one property value of an observable.
type PropKind uint8

// Kinds of property values. KindRef and KindRefs point at other objects of
// the same event by index, as STIX `_ref`/`_refs` properties do (STIX 2.1
// §3.5, §6: an observed-data object's SCOs reference each other).
const (
	KindString PropKind = iota + 1
	KindInt
	KindBool
	KindRef  // Int is the index of the referenced object in Event.Objects
	KindRefs // one entry per element; consecutive props with the same Path form the list
	KindStrings
	KindFloat
	KindAny // Any holds a JSON-decoded value (STIX input), not indexed
)

// Prop is one property of an observable. Path is the property path as the
// STIX patterning language writes it after the colon (STIX 2.1 §9.3), e.g.
// "value", "hashes.'SHA-256'",
// "extensions.'http-request-ext'.request_header.'User-Agent'"; list
// elements (KindStrings, KindRefs) repeat the same Path without "[*]".
type Prop struct {
	Path string
	Kind PropKind
	Str  string
	Int  int64
	F    float64
	Any  any
}

// SCO is one STIX cyber observable of an event.
type SCO struct {
	Type  string
	Props []Prop
}

// Event is one observation decoded from telemetry: its time (from the
// event's own time field, never the arrival time) and its observables, the
// first being the primary one. Decoders reuse Events, so the Index and the
// Aggregator copy what they keep.
type Event struct {
	Time    time.Time
	Objects []SCO
	// Count is number_observed (STIX 2.1 §4.13); 1 for telemetry lines.
	Count int
	// Line is the input line number (1-based) when known, for diagnostics.
	Line int64
}

// Reset empties e for reuse, keeping its allocations.
func (e *Event) Reset() {
	for i := range e.Objects {
		e.Objects[i].Props = e.Objects[i].Props[:0]
	}
	e.Objects = e.Objects[:0]
	e.Time = time.Time{}
	e.Count = 1
	e.Line = 0
}

// add appends an object of type typ and returns its index, reusing the
// Props capacity left by Reset.
func (e *Event) add(typ string) int {
	n := len(e.Objects)
	if n < cap(e.Objects) {
		e.Objects = e.Objects[:n+1]
		e.Objects[n].Type = typ
		e.Objects[n].Props = e.Objects[n].Props[:0]
	} else {
		e.Objects = append(e.Objects, SCO{Type: typ})
	}
	return n
}

// value returns the index of the object of type typ whose "value" is v,
// adding it when absent, so that an address seen as both source and DNS
// answer is one object.
func (e *Event) value(typ, v string) int {
	for i := range e.Objects {
		o := &e.Objects[i]
		if o.Type == typ && len(o.Props) > 0 && o.Props[0].Path == "value" && o.Props[0].Str == v {
			return i
		}
	}
	i := e.add(typ)
	e.setStr(i, "value", v)
	return i
}

func (e *Event) setStr(obj int, path, v string) {
	e.Objects[obj].Props = append(e.Objects[obj].Props, Prop{Path: path, Kind: KindString, Str: v})
}

func (e *Event) setInt(obj int, path string, v int64) {
	e.Objects[obj].Props = append(e.Objects[obj].Props, Prop{Path: path, Kind: KindInt, Int: v})
}

func (e *Event) setRef(obj int, path string, target int) {
	e.Objects[obj].Props = append(e.Objects[obj].Props, Prop{Path: path, Kind: KindRef, Int: int64(target)})
}

func (e *Event) addRefs(obj int, path string, target int) {
	e.Objects[obj].Props = append(e.Objects[obj].Props, Prop{Path: path, Kind: KindRefs, Int: int64(target)})
}

func (e *Event) addStrings(obj int, path string, v string) {
	for _, p := range e.Objects[obj].Props {
		if p.Path == path && p.Kind == KindStrings && p.Str == v {
			return
		}
	}
	e.Objects[obj].Props = append(e.Objects[obj].Props, Prop{Path: path, Kind: KindStrings, Str: v})
}

// ipType returns the SCO type for an address literal: ipv6-addr when it
// contains a colon (STIX 2.1 §6.5, §6.6), else ipv4-addr.
func ipType(s string) string {
	if strings.IndexByte(s, ':') >= 0 {
		return "ipv6-addr"
	}
	return "ipv4-addr"
}

// Maps returns the event's observables as STIX JSON-shaped maps keyed by
// their index ("0", "1", ...), with references written as those keys, the
// form of the deprecated STIX 2.0 observed-data `objects` dictionary that
// pattern matchers accept (STIX 2.1 §9.1 evaluates patterns over the SCOs of
// an observation). Integers are int64, other numbers float64 and lists []any, as the pattern package expects;
// encoding/json renders them the same.
func (e *Event) Maps() map[string]map[string]any {
	out := make(map[string]map[string]any, len(e.Objects))
	for i := range e.Objects {
		out[strconv.Itoa(i)] = e.Objects[i].Map(strconv.Itoa)
	}
	return out
}

// Observation converts the event for the pattern package's evaluator: one
// observation whose objects are the event's SCOs, identified by their index
// ("0", "1", ...) as in the STIX 2.0 objects dictionary, so references need
// no STIX ids.
//
// The strings of the observation are those of the event, which may alias
// the input record (see Decoder): keep it no longer than the event.
func (e *Event) Observation() pattern.Observation { return e.observation(false) }

// observation builds the Observation; with clone its strings are copies,
// for observations kept beyond the event (the windows of stateful
// patterns).
func (e *Event) observation(clone bool) pattern.Observation {
	objs := make([]pattern.Object, len(e.Objects))
	for i := range e.Objects {
		typ := e.Objects[i].Type
		if clone {
			typ = strings.Clone(typ)
		}
		objs[i] = pattern.Object{ID: strconv.Itoa(i), Type: typ, Props: e.Objects[i].mapTo(strconv.Itoa, clone)}
	}
	return pattern.Observation{FirstObserved: e.Time, LastObserved: e.Time, NumberObserved: max(e.Count, 1), Objects: objs}
}

// Map renders one object as a JSON-shaped map; ref renders a reference to
// another object of the event by index.
func (o *SCO) Map(ref func(int) string) map[string]any { return o.mapTo(ref, false) }

func (o *SCO) mapTo(ref func(int) string, clone bool) map[string]any {
	m := map[string]any{"type": o.Type}
	for _, p := range o.Props {
		keys := splitPath(p.Path)
		if clone {
			p.Str = strings.Clone(p.Str)
		}
		var v any
		switch p.Kind {
		case KindString:
			v = p.Str
		case KindInt:
			v = p.Int
		case KindFloat:
			v = p.F
		case KindBool:
			v = p.Int != 0
		case KindRef:
			v = ref(int(p.Int))
		case KindAny:
			v = p.Any
		case KindRefs, KindStrings:
			s := p.Str
			if p.Kind == KindRefs {
				s = ref(int(p.Int))
			}
			parent := nest(m, keys[:len(keys)-1])
			l, _ := parent[keys[len(keys)-1]].([]any)
			parent[keys[len(keys)-1]] = append(l, s)
			continue
		}
		nest(m, keys[:len(keys)-1])[keys[len(keys)-1]] = v
	}
	return m
}

func nest(m map[string]any, keys []string) map[string]any {
	for _, k := range keys {
		sub, ok := m[k].(map[string]any)
		if !ok {
			sub = map[string]any{}
			m[k] = sub
		}
		m = sub
	}
	return m
}

// splitPath splits a pattern-style property path into its keys, removing
// the quotes around quoted keys: "hashes.'SHA-256'" -> [hashes SHA-256].
func splitPath(p string) []string {
	var keys []string
	for len(p) > 0 {
		if p[0] == '\'' {
			end := strings.IndexByte(p[1:], '\'')
			if end < 0 {
				keys = append(keys, p[1:])
				break
			}
			key := p[1 : 1+end]
			p = p[2+end:]
			if strings.HasPrefix(p, "[") {
				// A list index after a quoted key: 'x-list'[*].
				j := strings.IndexByte(p, ']')
				if j < 0 {
					j = len(p) - 1
				}
				key += p[:j+1]
				p = p[j+1:]
			}
			keys = append(keys, key)
		} else {
			end := strings.IndexByte(p, '.')
			if end < 0 {
				keys = append(keys, p)
				break
			}
			keys = append(keys, p[:end])
			p = p[end:]
		}
		p = strings.TrimPrefix(p, ".")
	}
	return keys
}
