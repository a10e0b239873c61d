package detect

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// STIXDecoder decodes STIX 2.1 observed-data (STIX 2.1 §4.13): each record
// is a bundle, a JSON list of objects, or a single observed-data object
// using the deprecated embedded `objects` dictionary (STIX 2.0 form, still
// accepted by pattern matchers). Every observed-data becomes one event
// holding the SCOs it references through object_refs; refs to objects that
// are not in the same record are ignored. The event time is first_observed
// and Count is number_observed.
type STIXDecoder struct {
	ev Event
}

var _ Decoder = (*STIXDecoder)(nil)

var errNoObserved = errors.New("detect: STIX record holds no observed-data")

// Decode implements Decoder.
func (d *STIXDecoder) Decode(rec []byte, emit func(*Event)) error {
	rec = bytes.TrimSpace(rec)
	var objs []map[string]any
	switch {
	case len(rec) > 0 && rec[0] == '[':
		if err := json.Unmarshal(rec, &objs); err != nil {
			return fmt.Errorf("detect: decode STIX list: %w", err)
		}
	case len(rec) > 0 && rec[0] == '{':
		var m map[string]any
		if err := json.Unmarshal(rec, &m); err != nil {
			return fmt.Errorf("detect: decode STIX object: %w", err)
		}
		if m["type"] == "bundle" {
			list, _ := m["objects"].([]any)
			for _, o := range list {
				if om, ok := o.(map[string]any); ok {
					objs = append(objs, om)
				}
			}
		} else {
			objs = []map[string]any{m}
		}
	default:
		return errNotObject
	}
	byID := make(map[string]map[string]any, len(objs))
	for _, o := range objs {
		if id, ok := o["id"].(string); ok {
			byID[id] = o
		}
	}
	n := 0
	for _, o := range objs {
		if o["type"] != "observed-data" {
			continue
		}
		ev := &d.ev
		ev.Reset()
		first, _ := o["first_observed"].(string)
		t, err := time.Parse(time.RFC3339Nano, first)
		if err != nil {
			return fmt.Errorf("detect: observed-data %v: first_observed: %w", o["id"], ErrNoTime)
		}
		ev.Time = t.UTC()
		if c, ok := o["number_observed"].(float64); ok && c >= 1 && c <= 999999999 {
			ev.Count = int(c)
		}
		if err := addSTIXObjects(ev, o, byID); err != nil {
			return err
		}
		if len(ev.Objects) == 0 {
			continue
		}
		n++
		emit(ev)
	}
	if n == 0 {
		return errNoObserved
	}
	return nil
}

// addSTIXObjects adds the SCOs of one observed-data to ev, resolving
// references to indexes within the event.
func addSTIXObjects(ev *Event, od map[string]any, byID map[string]map[string]any) error {
	// keys are the references used inside the observation: SCO ids for
	// STIX 2.1 object_refs, dictionary keys for the 2.0 objects form.
	var keys []string
	scos := map[string]map[string]any{}
	if refs, ok := od["object_refs"].([]any); ok {
		for _, r := range refs {
			id, _ := r.(string)
			if o, ok := byID[id]; ok && isSCOType(o["type"]) {
				if _, dup := scos[id]; !dup {
					keys = append(keys, id)
					scos[id] = o
				}
			}
		}
		// SCOs referenced from the listed ones (e.g. an ipv4-addr behind a
		// network-traffic src_ref) belong to the observation too.
		for i := 0; i < len(keys) && len(keys) < 256; i++ {
			for _, id := range refTargets(scos[keys[i]]) {
				if o, ok := byID[id]; ok && isSCOType(o["type"]) {
					if _, dup := scos[id]; !dup {
						keys = append(keys, id)
						scos[id] = o
					}
				}
			}
		}
	} else if m, ok := od["objects"].(map[string]any); ok {
		for k, v := range m {
			if o, ok := v.(map[string]any); ok && isSCOType(o["type"]) {
				keys = append(keys, k)
				scos[k] = o
			}
		}
		sort.Strings(keys)
	} else {
		return fmt.Errorf("detect: observed-data %v has neither object_refs nor objects", od["id"])
	}
	index := make(map[string]int, len(keys))
	for i, k := range keys {
		index[k] = i
	}
	for _, k := range keys {
		o := scos[k]
		typ, _ := o["type"].(string)
		i := ev.add(typ)
		flatten(ev, i, "", o, index)
	}
	return nil
}

func isSCOType(t any) bool {
	s, _ := t.(string)
	switch s {
	case "artifact", "autonomous-system", "directory", "domain-name", "email-addr", "email-message",
		"file", "ipv4-addr", "ipv6-addr", "mac-addr", "mutex", "network-traffic", "process",
		"software", "url", "user-account", "windows-registry-key", "x509-certificate":
		return true
	}
	return strings.HasPrefix(s, "x-")
}

func refTargets(o map[string]any) []string {
	var out []string
	var walk func(m map[string]any)
	walk = func(m map[string]any) {
		// In key order: the objects' order in the event (and so the
		// golden files) must not follow map iteration.
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			v := m[k]
			switch x := v.(type) {
			case string:
				if strings.HasSuffix(k, "_ref") {
					out = append(out, x)
				}
			case []any:
				if strings.HasSuffix(k, "_refs") {
					for _, e := range x {
						if s, ok := e.(string); ok {
							out = append(out, s)
						}
					}
				}
			case map[string]any:
				walk(x)
			}
		}
	}
	walk(o)
	return out
}

// flatten turns one SCO map into props with pattern-style paths. Strings,
// numbers and booleans become typed props that the index can read; lists of
// strings become KindStrings; references become KindRef/KindRefs to event
// indexes; anything else is kept whole as KindAny for the evaluator.
func flatten(ev *Event, obj int, prefix string, m map[string]any, index map[string]int) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if prefix == "" && (k == "type" || k == "id") {
			continue
		}
		path := prefix + pathKey(k)
		props := &ev.Objects[obj].Props
		switch x := m[k].(type) {
		case string:
			if strings.HasSuffix(k, "_ref") {
				if t, ok := index[x]; ok {
					*props = append(*props, Prop{Path: path, Kind: KindRef, Int: int64(t)})
				}
				continue
			}
			*props = append(*props, Prop{Path: path, Kind: KindString, Str: x})
		case float64:
			if x == float64(int64(x)) && x < 1<<53 && x > -(1<<53) {
				*props = append(*props, Prop{Path: path, Kind: KindInt, Int: int64(x)})
			} else {
				*props = append(*props, Prop{Path: path, Kind: KindFloat, F: x})
			}
		case bool:
			p := Prop{Path: path, Kind: KindBool}
			if x {
				p.Int = 1
			}
			*props = append(*props, p)
		case map[string]any:
			flatten(ev, obj, path+".", x, index)
		case []any:
			if strings.HasSuffix(k, "_refs") {
				for _, e := range x {
					if s, ok := e.(string); ok {
						if t, ok := index[s]; ok {
							*props = append(*props, Prop{Path: path, Kind: KindRefs, Int: int64(t)})
						}
					}
				}
				continue
			}
			allStrings := len(x) > 0
			for _, e := range x {
				if _, ok := e.(string); !ok {
					allStrings = false
				}
			}
			if allStrings {
				for _, e := range x {
					*props = append(*props, Prop{Path: path, Kind: KindStrings, Str: e.(string)})
				}
			} else {
				*props = append(*props, Prop{Path: path, Kind: KindAny, Any: x})
			}
		case nil:
		default:
			*props = append(*props, Prop{Path: path, Kind: KindAny, Any: x})
		}
	}
}

// pathKey writes one key of a property path as the patterning grammar
// allows it: bare when it is an identifier, else single-quoted (STIX 2.1
// §9.3.1, e.g. hashes.'SHA-256').
func pathKey(k string) string {
	if k == "" {
		return "''"
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i > 0 && c >= '0' && c <= '9')) {
			return "'" + k + "'"
		}
	}
	return k
}
