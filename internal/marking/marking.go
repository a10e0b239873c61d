// Package marking says what data markings mean: TLP 2.0 and TLP 1.0,
// statement markings, and jointcell's own sharing-group and recipient
// markings (see docs/markings.md). It turns the markings of an object into
// its audience, a set of reader keys. It is pure: no I/O, standard library
// only.
package marking

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Level is a Traffic Light Protocol level, ordered from least to most
// restrictive so that "most restrictive wins" is a maximum.
type Level int

// TLP levels. TLP 1.0 WHITE maps to Clear; TLP 1.0 has no AMBER+STRICT.
const (
	NoLevel     Level = iota // the markings carry no TLP level
	Clear                    // TLP:CLEAR, TLP:WHITE
	Green                    // TLP:GREEN
	Amber                    // TLP:AMBER
	AmberStrict              // TLP:AMBER+STRICT
	Red                      // TLP:RED
)

var levelNames = [...]string{"none", "clear", "green", "amber", "amber+strict", "red"}

func (l Level) String() string {
	if l < 0 || int(l) >= len(levelNames) {
		return fmt.Sprintf("Level(%d)", int(l))
	}
	return levelNames[l]
}

// ParseLevel parses a level name as written in configuration ("clear",
// "white", "green", "amber", "amber+strict", "red"; any case).
func ParseLevel(s string) (Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "clear", "white":
		return Clear, nil
	case "green":
		return Green, nil
	case "amber":
		return Amber, nil
	case "amber+strict", "amber_strict", "amberstrict":
		return AmberStrict, nil
	case "red":
		return Red, nil
	}
	return NoLevel, fmt.Errorf("marking: unknown TLP level %q", s)
}

// The canonical marking-definition ids of TLP 1.0 (STIX 2.1 §7.2.1.4) and
// TLP 2.0 (the FIRST TLP 2.0 extension definition). Only these ids carry TLP
// meaning: a marking-definition that claims to be TLP under another id is
// refused by ParseDefinition, so nobody can mint a look-alike TLP:CLEAR.
const (
	TLP1White = "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"
	TLP1Green = "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"
	TLP1Amber = "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"
	TLP1Red   = "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed"

	TLP2Clear       = "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487"
	TLP2Green       = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
	TLP2Amber       = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"
	TLP2AmberStrict = "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003"
	TLP2Red         = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"

	// TLP2Extension is the extension-definition that TLP 2.0 marking
	// definitions use.
	TLP2Extension = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"

	// Extension is jointcell's own extension-definition for sharing-group
	// and recipient markings (docs/markings.md). It was generated once and
	// never changes: peers recognise the markings by it.
	Extension = "extension-definition--defa0139-9943-4428-b84b-0b5b225a8fd2"
)

var tlpByID = map[string]Level{
	TLP1White:       Clear,
	TLP1Green:       Green,
	TLP1Amber:       Amber,
	TLP1Red:         Red,
	TLP2Clear:       Clear,
	TLP2Green:       Green,
	TLP2Amber:       Amber,
	TLP2AmberStrict: AmberStrict,
	TLP2Red:         Red,
}

// TLP returns the level of a canonical TLP marking-definition id.
func TLP(id string) (Level, bool) {
	l, ok := tlpByID[id]
	return l, ok
}

// Kind is what a marking definition does.
type Kind int

// Kinds of marking definitions.
const (
	KindTLP        Kind = iota + 1 // a TLP level
	KindStatement                  // a copyright or terms-of-use statement: never restricts
	KindGroup                      // a jointcell sharing group
	KindRecipients                 // a jointcell list of recipient organisations
)

// Definition is the meaning of one marking-definition.
type Definition struct {
	ID        string
	Kind      Kind
	Level     Level    // KindTLP
	Statement string   // KindStatement
	Name      string   // KindGroup: the group's name
	Members   []string // KindGroup: member identity ids; KindRecipients: the recipients
	Revision  int      // KindGroup: increases with every membership change
	CreatedBy string   // created_by_ref of the definition, "" when absent
}

// Builtin returns the definition of a canonical TLP marking.
func Builtin(id string) (Definition, bool) {
	l, ok := tlpByID[id]
	if !ok {
		return Definition{}, false
	}
	return Definition{ID: id, Kind: KindTLP, Level: l}, true
}

// Reader keys, duplicated from package store so that this package stays
// pure; a test in package access checks that they agree.
const (
	ReaderAnyone    = "*"
	ReaderCommunity = "community"
)

// ReaderOrg is the reader key of an organisation by its identity id.
func ReaderOrg(identityID string) string { return "org:" + identityID }

// ReaderGroup is the reader key of a sharing group by its marking id.
func ReaderGroup(markingID string) string { return "group:" + markingID }

// ProducerKey is the reader key that records the producer of an object that
// cannot name it itself: STIX cyber-observables have no created_by_ref
// (STIX 2.1 §6.1), so the organisation that posted one is written into its
// audience under this key. No principal ever holds such a key, so it grants
// nothing; it lets the read path know the producer (for granular markings
// and for egress redaction, which is off for the producer).
func ProducerKey(identityID string) string { return "producer:" + identityID }

// ProducerOf returns the producer recorded in an audience by ProducerKey, or
// "".
func ProducerOf(audience []string) string {
	for _, k := range audience {
		if id, ok := strings.CutPrefix(k, "producer:"); ok {
			return id
		}
	}
	return ""
}

// ErrUnknown is returned (wrapped) for a marking reference that does not
// resolve. The caller must refuse the object: an unknown marking may mean a
// restriction the cell cannot honour.
var ErrUnknown = errors.New("unknown marking-definition")

// Rules are the cell's choices where the standards leave room.
type Rules struct {
	// Unmarked is the level of an object that carries no TLP marking and no
	// group or recipient marking. NoLevel means Green: the community.
	Unmarked Level
}

// Decision is the analysed meaning of a set of markings.
type Decision struct {
	Level      Level    // effective TLP level (after Rules.Unmarked)
	Groups     []string // marking ids of named sharing groups, sorted
	Recipients []string // identity ids of named recipients, sorted
	Named      bool     // some group or recipient marking is present
}

// Decide resolves refs and combines them: the most restrictive TLP level
// wins, statement markings do not restrict, and every group and recipient
// marking is collected. An unresolvable ref is an ErrUnknown error.
func Decide(refs []string, resolve func(id string) (Definition, bool), rules Rules) (Decision, error) {
	var d Decision
	for _, ref := range refs {
		def, ok := Builtin(ref)
		if !ok && resolve != nil {
			def, ok = resolve(ref)
		}
		if !ok {
			return Decision{}, fmt.Errorf("marking: %w: %s", ErrUnknown, ref)
		}
		switch def.Kind {
		case KindTLP:
			d.Level = max(d.Level, def.Level)
		case KindStatement:
			// Statement markings (STIX 2.1 §7.2.1.3) state terms of use;
			// they do not limit who may see the object.
		case KindGroup:
			d.Named = true
			d.Groups = append(d.Groups, def.ID)
		case KindRecipients:
			d.Named = true
			d.Recipients = append(d.Recipients, def.Members...)
		default:
			return Decision{}, fmt.Errorf("marking: %w: %s has no known kind", ErrUnknown, ref)
		}
	}
	if d.Level == NoLevel && !d.Named {
		d.Level = rules.Unmarked
		if d.Level == NoLevel {
			d.Level = Green
		}
	}
	slices.Sort(d.Groups)
	d.Groups = slices.Compact(d.Groups)
	slices.Sort(d.Recipients)
	d.Recipients = slices.Compact(d.Recipients)
	return d, nil
}

// Readers returns the audience of the decision as reader keys, given the
// producer's identity id ("" when unknown):
//
//   - with no group or recipient marking: CLEAR anyone; GREEN the
//     community; AMBER, AMBER+STRICT and RED the producer's organisation;
//   - with group or recipient markings, which always narrow: up to AMBER the
//     producer plus the named organisations and groups; AMBER+STRICT the
//     producer only; RED the producer plus the named recipient
//     organisations (a sharing group is too wide for RED).
//
// The result is sorted and has no duplicates. It may be empty (only admins
// see the object) when the producer is unknown.
func (d Decision) Readers(producer string) []string {
	var keys []string
	addProducer := func() {
		if producer != "" {
			keys = append(keys, ReaderOrg(producer))
		}
	}
	switch {
	case !d.Named && d.Level <= Clear:
		return []string{ReaderAnyone}
	case !d.Named && d.Level == Green:
		return []string{ReaderCommunity}
	case !d.Named || d.Level == AmberStrict:
		addProducer()
	case d.Level == Red:
		addProducer()
		for _, r := range d.Recipients {
			keys = append(keys, ReaderOrg(r))
		}
	default:
		addProducer()
		for _, r := range d.Recipients {
			keys = append(keys, ReaderOrg(r))
		}
		for _, g := range d.Groups {
			keys = append(keys, ReaderGroup(g))
		}
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}

// Audience is Decide followed by Readers: the reader keys allowed to see an
// object produced by producer and carrying the object markings refs.
func Audience(producer string, refs []string, resolve func(id string) (Definition, bool), rules Rules) ([]string, error) {
	d, err := Decide(refs, resolve, rules)
	if err != nil {
		return nil, err
	}
	return d.Readers(producer), nil
}

// Meets reports whether a principal holding the reader keys readers may see
// a version whose audience is audience: the two sets meet.
func Meets(readers, audience []string) bool {
	for _, a := range audience {
		if slices.Contains(readers, a) {
			return true
		}
	}
	return false
}

// Intersect returns reader keys for "in a and in b": the audience of an
// object whose required property is marked b while the object is marked a.
// members expands a group marking id into its member identity ids. Anyone
// and the community are treated as containing every organisation (every
// principal holds both keys); two named sets meet in the groups they share
// and in the organisations both of them cover, directly or through a group.
func Intersect(a, b []string, members func(groupID string) []string) []string {
	rank := func(s []string) int {
		switch {
		case slices.Contains(s, ReaderAnyone):
			return 2
		case slices.Contains(s, ReaderCommunity):
			return 1
		}
		return 0
	}
	ra, rb := rank(a), rank(b)
	switch {
	case ra > 0 && rb > 0:
		if ra < rb {
			return slices.Clone(a)
		}
		return slices.Clone(b)
	case ra > 0:
		return slices.Clone(b)
	case rb > 0:
		return slices.Clone(a)
	}
	orgs := func(s []string) map[string]bool {
		m := map[string]bool{}
		for _, k := range s {
			if id, ok := strings.CutPrefix(k, "org:"); ok {
				m[id] = true
			} else if g, ok := strings.CutPrefix(k, "group:"); ok && members != nil {
				for _, id := range members(g) {
					m[id] = true
				}
			}
		}
		return m
	}
	oa, ob := orgs(a), orgs(b)
	var keys []string
	for _, k := range a {
		if strings.HasPrefix(k, "group:") && slices.Contains(b, k) {
			keys = append(keys, k)
		}
	}
	for id := range oa {
		if ob[id] {
			keys = append(keys, ReaderOrg(id))
		}
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}
