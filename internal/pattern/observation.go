package pattern

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
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
// an Observation with the SCOs its object_refs name, in object_refs order.
// With version "2.0" data is a list of observed-data SDOs (or one) whose
// "objects" dictionary holds the SCOs. Errors are *MatchError and follow
// the reference's rules for malformed input.
func ObservationsFromJSON(data []byte, version string) ([]Observation, error) {
	v, err := decodeJSON(data)
	if err != nil {
		return nil, err
	}
	list, ok := v.([]any)
	if !ok {
		list = []any{v}
	}
	if version == Version21 {
		return observations21(list)
	}
	return observations20(list, data)
}

// decodeJSON decodes JSON numbers as Python does: int64 for integers,
// float64 otherwise.
func decodeJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, &MatchError{Msg: "invalid JSON: " + err.Error()}
	}
	if _, err := dec.Token(); err == nil {
		return nil, &MatchError{Msg: "invalid JSON: extra data"}
	}
	return convertNumbers(v), nil
}

func convertNumbers(v any) any {
	switch v := v.(type) {
	case json.Number:
		return jsonNumber(v)
	case []any:
		for i := range v {
			v[i] = convertNumbers(v[i])
		}
	case map[string]any:
		for k := range v {
			v[k] = convertNumbers(v[k])
		}
	}
	return v
}

func jsonNumber(n json.Number) any {
	s := string(n)
	if !strings.ContainsAny(s, ".eE") {
		if i, err := n.Int64(); err == nil {
			return i
		}
	}
	f, _ := n.Float64()
	return f
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
		return nil, matchErrf("STIX v2.1 bundle 'objects' is not a list")
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
		ids, ok := id.(string)
		if !ok {
			// Unhashable ids fail in the reference; other non-string ids
			// can never be referenced from object_refs.
			if _, bad := id.([]any); bad {
				return nil, matchErrf("unhashable object id")
			}
			if _, bad := id.(map[string]any); bad {
				return nil, matchErrf("unhashable object id")
			}
			continue
		}
		scos[ids] = om
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
		if _, ok := od["id"].(string); !ok {
			return nil, matchErrf("observed-data object without a string 'id'")
		}
		seen := map[string]int{}
		for _, ref := range refs {
			switch ref.(type) {
			case []any, map[string]any:
				return nil, matchErrf("unhashable entry in object_refs")
			}
			rs, ok := ref.(string)
			if !ok {
				continue
			}
			sco, ok := scos[rs]
			if !ok {
				continue
			}
			typ, _ := sco["type"].(string)
			// A repeated object_refs entry adds nothing a match could
			// observe: the reference selects each object once by id.
			if _, dup := seen[rs]; dup {
				continue
			}
			seen[rs] = len(obs.Objects)
			obs.Objects = append(obs.Objects, Object{ID: rs, Type: typ, Props: sco})
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

func observations20(list []any, _ []byte) ([]Observation, error) {
	out := make([]Observation, 0, len(list))
	for _, item := range list {
		od, ok := item.(map[string]any)
		if !ok {
			return nil, matchErrf("observed-data SDO is not a JSON object")
		}
		obs, err := observationHeader(od, "STIX v2.0 SDO must have all the following keys: number_observed, first_observed, last_observed.")
		if err != nil {
			return nil, err
		}
		if objs, ok := od["objects"]; ok {
			om, ok := objs.(map[string]any)
			if !ok {
				obs.objErr = matchErrf("observed-data 'objects' is not a dictionary")
			} else {
				for _, k := range sortedKeysInOrder(om) {
					m, ok := om[k].(map[string]any)
					if !ok {
						continue
					}
					typ, _ := m["type"].(string)
					obs.Objects = append(obs.Objects, Object{ID: k, Type: typ, Props: m})
				}
			}
		}
		out = append(out, obs)
	}
	return out, nil
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
