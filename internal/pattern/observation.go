package pattern

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Observation is one observed-data SDO reduced to what matching needs
// (STIX 2.1 §4.13): its time window, how many times it was observed, and
// its cyber-observable objects.
//
// The detection engine builds Observations straight from telemetry: one
// Object per SCO, Props holding the SCO's JSON properties as Go values
// (string, bool, nil, int64 or float64 numbers, []any, map[string]any; the
// int, int32, uint32, float32 and json.Number forms are accepted too).
// Objects keep their order, which the reference matcher follows when it
// looks for the first match; ID is what _ref properties point at: the STIX
// id in STIX 2.1, the local key ("0", "1", ...) in the deprecated STIX 2.0
// "objects" dictionary.
type Observation struct {
	FirstObserved, LastObserved time.Time
	NumberObserved              int
	Objects                     []Object

	// numErr and objErr are errors the reference matcher raises only when
	// this observation takes part in matching: a non-integer
	// number_observed, and a 2.0 "objects" that is not a dictionary.
	numErr, objErr error
}

// Object is one SCO of an observation.
type Object struct {
	ID    string
	Type  string
	Props map[string]any

	// raw is a STIX 2.0 "objects" entry that is not a dictionary: it never
	// matches a type but a reference can reach it.
	raw any
}

// MatchError is a matching failure the reference matcher reports as an
// error (its command line tool exits 2): malformed observed data, an
// invalid literal, or a value that cannot be compared as the pattern asks.
type MatchError struct {
	Msg string
}

func (e *MatchError) Error() string { return e.Msg }

func matchErrf(format string, a ...any) error {
	return &MatchError{Msg: fmt.Sprintf(format, a...)}
}

// Spec versions accepted by ObservationsFromJSON.
const (
	Version20 = "2.0"
	Version21 = "2.1"
)

// ObservationsFromJSON builds observations from the JSON the reference
// matcher accepts. With version "2.1" data is a list of bundles (or one
// bundle): the bundles are merged, and each observed-data object becomes
// an Observation holding the observed-data object itself (which never
// matches, as an SDO) and the objects its object_refs name, in object_refs
// order. With version "2.0" data is a list of observed-data SDOs (or one)
// whose "objects" dictionary holds the SCOs. JSON is read as Python's json
// module reads it. Errors are *MatchError and follow the reference's rules
// for malformed input.
func ObservationsFromJSON(data []byte, version string) ([]Observation, error) {
	v, err := decodePyJSON(data)
	if err != nil {
		return nil, err
	}
	return observationsFrom(v, version)
}

func observationsFrom(v any, version string) ([]Observation, error) {
	list, ok := v.([]any)
	if !ok {
		list = []any{v}
	}
	if version == Version21 {
		return observations21(list)
	}
	return observations20(list)
}

// jsonNumber converts a json.Number the way Python's json module reads
// numbers.
func jsonNumber(n json.Number) any {
	s := string(n)
	if !strings.ContainsAny(s, ".eE") {
		if i, err := n.Int64(); err == nil {
			return i
		}
		if b, ok := new(big.Int).SetString(s, 10); ok {
			return b
		}
	}
	f, _ := n.Float64()
	return f
}

// pyHashKey is a key under which a JSON scalar hashes and compares as a
// Python dictionary key does (1, 1.0 and true are the same key); ok is
// false for lists and dictionaries, which are unhashable.
func pyHashKey(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return "s" + x, true
	case nil:
		return "n", true
	case bool:
		if x {
			return "i1", true
		}
		return "i0", true
	case int64:
		return "i" + strconv.FormatInt(x, 10), true
	case *big.Int:
		return "i" + x.String(), true
	case float64:
		switch {
		case math.IsNaN(x):
			return "nan" + strconv.FormatUint(nanKeys.Add(1), 10), true // equal to nothing
		case math.IsInf(x, 0) || x != math.Trunc(x):
			return "f" + strconv.FormatFloat(x, 'g', -1, 64), true
		}
		b, _ := new(big.Float).SetFloat64(x).Int(nil)
		return "i" + b.String(), true
	case []any, map[string]any:
		return "", false
	}
	return fmt.Sprintf("?%v", v), true
}

var nanKeys atomic.Uint64

// objectID is the id of an object as the reference's string comparisons
// see it: a non-string id equals no reference.
func objectID(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	k, _ := pyHashKey(v)
	return "\x00" + k
}

// deepMerge merges bundles the way the reference does (deepmerge's
// always_merger): dictionaries merge recursively, lists concatenate, and
// anything else is replaced by the later value.
func deepMerge(base, next any) any {
	bm, ok1 := base.(map[string]any)
	nm, ok2 := next.(map[string]any)
	if ok1 && ok2 {
		for k, v := range nm {
			if old, ok := bm[k]; ok {
				bm[k] = deepMerge(old, v)
			} else {
				bm[k] = v
			}
		}
		return bm
	}
	bl, ok1 := base.([]any)
	nl, ok2 := next.([]any)
	if ok1 && ok2 {
		return append(append([]any{}, bl...), nl...)
	}
	return next
}

func observations21(bundles []any) ([]Observation, error) {
	var merged any = map[string]any{}
	for _, b := range bundles {
		merged = deepMerge(merged, b)
	}
	mm, ok := merged.(map[string]any)
	if !ok {
		return nil, matchErrf("STIX v2.1 bundle object must have 'objects' key")
	}
	objsV, ok := mm["objects"]
	if !ok {
		return nil, matchErrf("STIX v2.1 bundle object must have 'objects' key")
	}
	objs, ok := objsV.([]any)
	if !ok {
		// The reference iterates whatever "objects" is: an empty
		// dictionary or string yields nothing, anything else fails.
		switch o := objsV.(type) {
		case map[string]any:
			ok = len(o) == 0
		case string:
			ok = o == ""
		}
		if !ok {
			return nil, matchErrf("STIX v2.1 bundle 'objects' is not a list")
		}
	}
	var observed []map[string]any
	scos := map[string]map[string]any{}
	for _, o := range objs {
		om, ok := o.(map[string]any)
		if !ok {
			return nil, matchErrf("bundle object is not a JSON object")
		}
		t, ok := om["type"]
		if !ok {
			return nil, matchErrf("bundle object without 'type'")
		}
		if t == "observed-data" {
			observed = append(observed, om)
			continue
		}
		id, ok := om["id"]
		if !ok {
			return nil, matchErrf("bundle object without 'id'")
		}
		key, ok := pyHashKey(id)
		if !ok {
			return nil, matchErrf("unhashable object id")
		}
		scos[key] = om
	}
	out := make([]Observation, 0, len(observed))
	for _, od := range observed {
		refsV, ok := od["object_refs"]
		if !ok {
			return nil, matchErrf("STIX v2.1 observed-data object must have 'object_refs' key")
		}
		var refs []any
		switch r := refsV.(type) {
		case []any:
			refs = r
		case string:
			for _, c := range r {
				refs = append(refs, string(c))
			}
		case map[string]any:
			for k := range r {
				refs = append(refs, k)
			}
		default:
			return nil, matchErrf("object_refs is not iterable")
		}
		obs, err := observationHeader(od, "STIX v2.1 observed-data object must have all the following keys: number_observed, first_observed, last_observed.")
		if err != nil {
			return nil, err
		}
		odIDV, ok := od["id"]
		if !ok {
			return nil, matchErrf("KeyError: observed-data object without 'id'")
		}
		odKey, ok := pyHashKey(odIDV)
		if !ok {
			return nil, matchErrf("unhashable object id")
		}
		// The reference's observation holds the observed-data object first;
		// it never matches (an SDO type) but references can reach it.
		obs.Objects = append(obs.Objects, Object{ID: objectID(odIDV), Type: "observed-data", Props: od})
		seen := map[string]int{odKey: 0}
		for _, ref := range refs {
			rk, ok := pyHashKey(ref)
			if !ok {
				return nil, matchErrf("unhashable entry in object_refs")
			}
			sco, ok := scos[rk]
			if !ok {
				continue
			}
			typ, _ := sco["type"].(string)
			obj := Object{ID: objectID(sco["id"]), Type: typ, Props: sco}
			// The reference selects objects through a dictionary keyed by
			// id: a repeated id keeps its first place and its last object.
			if i, dup := seen[rk]; dup {
				obs.Objects[i] = obj
				continue
			}
			seen[rk] = len(obs.Objects)
			obs.Objects = append(obs.Objects, obj)
		}
		out = append(out, obs)
	}
	return out, nil
}

func observationHeader(od map[string]any, missing string) (Observation, error) {
	var obs Observation
	fo, ok1 := od["first_observed"]
	lo, ok2 := od["last_observed"]
	no, ok3 := od["number_observed"]
	if !ok1 || !ok2 || !ok3 {
		return obs, &MatchError{Msg: missing}
	}
	switch n := no.(type) {
	case int64:
		if n < 1 {
			return obs, matchErrf("SDO with invalid number_observed (must be >= 1): %d", n)
		}
		if n > 1<<31 {
			n = 1 << 31
		}
		obs.NumberObserved = int(n)
	case bool:
		if !n {
			return obs, matchErrf("SDO with invalid number_observed (must be >= 1): False")
		}
		obs.NumberObserved = 1
	case float64:
		if n < 1 {
			return obs, matchErrf("SDO with invalid number_observed (must be >= 1): %v", n)
		}
		obs.NumberObserved = 1
		obs.numErr = matchErrf("number_observed is not an integer: %v", n)
	default:
		return obs, matchErrf("number_observed is not a number")
	}
	ts := func(v any) (time.Time, error) {
		s, ok := v.(string)
		if !ok {
			return time.Time{}, matchErrf("timestamp is not a string")
		}
		t, err := parsePyTimestamp(s, false)
		if err != nil {
			return t, &MatchError{Msg: err.Error()}
		}
		return t, nil
	}
	var err error
	if obs.FirstObserved, err = ts(fo); err != nil {
		return obs, err
	}
	if obs.LastObserved, err = ts(lo); err != nil {
		return obs, err
	}
	return obs, nil
}

func observations20(list []any) ([]Observation, error) {
	out := make([]Observation, 0, len(list))
	for _, item := range list {
		od, ok := item.(map[string]any)
		if !ok {
			return nil, matchErrf("STIX v2.0 SDO must have all the following keys: number_observed, first_observed, last_observed.")
		}
		obs, err := observationHeader(od, "STIX v2.0 SDO must have all the following keys: number_observed, first_observed, last_observed.")
		if err != nil {
			return nil, err
		}
		if objs, ok := od["objects"]; ok {
			om, ok := objs.(map[string]any)
			if !ok {
				obs.objErr = matchErrf("AttributeError: 'objects' of an observed-data SDO is not a dictionary")
			} else {
				for _, k := range sortedKeysInOrder(om) {
					switch m := om[k].(type) {
					case map[string]any:
						typ, _ := m["type"].(string)
						obs.Objects = append(obs.Objects, Object{ID: k, Type: typ, Props: m})
					default:
						// The reference tests `"type" in obj` on every
						// object: a TypeError for numbers, booleans and
						// null, and for strings and lists that contain
						// "type" the lookup obj["type"] fails.
						if !pyContainsType(m) {
							obs.Objects = append(obs.Objects, Object{ID: k, raw: m})
						} else if obs.objErr == nil {
							obs.objErr = matchErrf("TypeError: object %q of an observed-data SDO is not a dictionary", k)
						}
					}
				}
			}
		}
		out = append(out, obs)
	}
	return out, nil
}

// pyContainsType reports whether Python's `"type" in v` is true or fails
// for a value that is not a dictionary.
func pyContainsType(v any) bool {
	switch x := v.(type) {
	case string:
		return strings.Contains(x, "type")
	case []any:
		for _, e := range x {
			if e == "type" {
				return true
			}
		}
		return false
	}
	return true
}

// sortedKeysInOrder returns the keys of a 2.0 objects dictionary. JSON
// object order is lost by encoding/json, so keys are ordered numerically
// when they are the usual "0", "1", ... and lexically otherwise; order only
// decides which of several errors the reference would meet first.
func sortedKeysInOrder(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sortKeys(keys)
	return keys
}
