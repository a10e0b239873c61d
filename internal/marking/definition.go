package marking

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrInvalid is returned (wrapped) for a marking-definition this cell cannot
// honour: malformed, of an unknown form, or a TLP look-alike.
var ErrInvalid = errors.New("invalid marking-definition")

// wire is the part of a marking-definition (STIX 2.1 §7.2.1) we interpret.
type wire struct {
	Type           string                     `json:"type"`
	ID             string                     `json:"id"`
	CreatedByRef   string                     `json:"created_by_ref"`
	DefinitionType string                     `json:"definition_type"`
	Definition     json.RawMessage            `json:"definition"`
	Extensions     map[string]json.RawMessage `json:"extensions"`
}

// ext is the body of jointcell's property extension (docs/markings.md).
type ext struct {
	ExtensionType string   `json:"extension_type"`
	Group         *group   `json:"group,omitempty"`
	Recipients    []string `json:"recipients,omitempty"`
}

type group struct {
	Name     string   `json:"name"`
	Members  []string `json:"members"`
	Revision int      `json:"revision"`
}

// ParseDefinition interprets a marking-definition object. It accepts TLP 1.0
// and TLP 2.0 definitions only under their canonical ids, statement markings,
// and jointcell's group and recipient markings; anything else is ErrInvalid,
// because a marking whose meaning the cell does not know cannot be enforced.
func ParseDefinition(raw []byte) (Definition, error) {
	var w wire
	if err := json.Unmarshal(raw, &w); err != nil {
		return Definition{}, fmt.Errorf("marking: parse definition: %w: %v", ErrInvalid, err)
	}
	if w.Type != "marking-definition" || !strings.HasPrefix(w.ID, "marking-definition--") {
		return Definition{}, fmt.Errorf("marking: parse definition: %w: not a marking-definition", ErrInvalid)
	}
	canonical, isTLP := TLP(w.ID)
	level, declared, err := declaredTLP(w)
	if err != nil {
		return Definition{}, fmt.Errorf("marking: parse definition %s: %w", w.ID, err)
	}
	switch {
	case isTLP && declared && level == canonical:
		return Definition{ID: w.ID, Kind: KindTLP, Level: level, CreatedBy: w.CreatedByRef}, nil
	case isTLP:
		return Definition{}, fmt.Errorf("marking: parse definition %s: %w: content disagrees with the canonical TLP definition", w.ID, ErrInvalid)
	case declared:
		return Definition{}, fmt.Errorf("marking: parse definition %s: %w: TLP is only accepted under the canonical ids", w.ID, ErrInvalid)
	}
	if w.DefinitionType == "statement" {
		var s struct {
			Statement string `json:"statement"`
		}
		if err := json.Unmarshal(w.Definition, &s); err != nil || s.Statement == "" {
			return Definition{}, fmt.Errorf("marking: parse definition %s: %w: statement missing", w.ID, ErrInvalid)
		}
		return Definition{ID: w.ID, Kind: KindStatement, Statement: s.Statement, CreatedBy: w.CreatedByRef}, nil
	}
	if w.DefinitionType != "" {
		return Definition{}, fmt.Errorf("marking: parse definition %s: %w: definition_type %q is not supported", w.ID, ErrInvalid, w.DefinitionType)
	}
	body, ok := w.Extensions[Extension]
	if !ok {
		return Definition{}, fmt.Errorf("marking: parse definition %s: %w: unknown kind of marking", w.ID, ErrInvalid)
	}
	var e ext
	if err := json.Unmarshal(body, &e); err != nil {
		return Definition{}, fmt.Errorf("marking: parse definition %s: %w: %v", w.ID, ErrInvalid, err)
	}
	if e.ExtensionType != "property-extension" {
		return Definition{}, fmt.Errorf("marking: parse definition %s: %w: extension_type must be property-extension", w.ID, ErrInvalid)
	}
	switch {
	case e.Group != nil && e.Recipients == nil:
		if strings.TrimSpace(e.Group.Name) == "" {
			return Definition{}, fmt.Errorf("marking: parse definition %s: %w: group without a name", w.ID, ErrInvalid)
		}
		if err := checkIdentities(e.Group.Members); err != nil {
			return Definition{}, fmt.Errorf("marking: parse definition %s: %w", w.ID, err)
		}
		return Definition{ID: w.ID, Kind: KindGroup, Name: e.Group.Name, Members: e.Group.Members,
			Revision: e.Group.Revision, CreatedBy: w.CreatedByRef}, nil
	case e.Recipients != nil && e.Group == nil:
		if len(e.Recipients) == 0 {
			return Definition{}, fmt.Errorf("marking: parse definition %s: %w: no recipients", w.ID, ErrInvalid)
		}
		if err := checkIdentities(e.Recipients); err != nil {
			return Definition{}, fmt.Errorf("marking: parse definition %s: %w", w.ID, err)
		}
		return Definition{ID: w.ID, Kind: KindRecipients, Members: e.Recipients, CreatedBy: w.CreatedByRef}, nil
	}
	return Definition{}, fmt.Errorf("marking: parse definition %s: %w: the extension needs exactly one of group or recipients", w.ID, ErrInvalid)
}

// declaredTLP reads a TLP level declared in either the TLP 1.0 form
// (definition_type "tlp", STIX 2.1 §7.2.1.4) or the TLP 2.0 extension form.
func declaredTLP(w wire) (Level, bool, error) {
	if w.DefinitionType == "tlp" {
		var d struct {
			TLP string `json:"tlp"`
		}
		if err := json.Unmarshal(w.Definition, &d); err != nil {
			return NoLevel, false, fmt.Errorf("%w: tlp definition: %v", ErrInvalid, err)
		}
		l, err := ParseLevel(d.TLP)
		if err != nil || l == AmberStrict {
			return NoLevel, false, fmt.Errorf("%w: TLP 1.0 level %q", ErrInvalid, d.TLP)
		}
		return l, true, nil
	}
	body, ok := w.Extensions[TLP2Extension]
	if !ok {
		return NoLevel, false, nil
	}
	var e struct {
		TLP string `json:"tlp_2_0"`
	}
	if err := json.Unmarshal(body, &e); err != nil {
		return NoLevel, false, fmt.Errorf("%w: tlp_2_0 extension: %v", ErrInvalid, err)
	}
	l, err := ParseLevel(e.TLP)
	if err != nil || strings.EqualFold(e.TLP, "white") {
		return NoLevel, false, fmt.Errorf("%w: TLP 2.0 level %q", ErrInvalid, e.TLP)
	}
	return l, true, nil
}

func checkIdentities(ids []string) error {
	for _, id := range ids {
		if !strings.HasPrefix(id, "identity--") || len(id) != len("identity--")+36 {
			return fmt.Errorf("%w: %q is not an identity id", ErrInvalid, id)
		}
	}
	return nil
}

// GroupDefinition encodes the marking-definition of a sharing group. id and
// created are the group's for life: STIX marking definitions are never
// versioned (STIX 2.1 §7.2.1), so membership changes keep both and increase
// revision instead (docs/markings.md).
func GroupDefinition(id, created, name string, members []string, revision int) ([]byte, error) {
	if strings.TrimSpace(name) == "" {
		return nil, fmt.Errorf("marking: group definition: %w: empty name", ErrInvalid)
	}
	if err := checkIdentities(members); err != nil {
		return nil, fmt.Errorf("marking: group definition: %w", err)
	}
	m := slices.Clone(members)
	slices.Sort(m)
	m = slices.Compact(m)
	if m == nil {
		m = []string{}
	}
	return encodeDefinition(id, created, "", "Sharing group: "+name,
		ext{ExtensionType: "property-extension", Group: &group{Name: name, Members: m, Revision: revision}})
}

// RecipientsDefinition encodes a recipient marking-definition naming the
// organisations (identity ids) an object is for, created by createdBy.
func RecipientsDefinition(id, created, createdBy string, recipients []string) ([]byte, error) {
	if len(recipients) == 0 {
		return nil, fmt.Errorf("marking: recipients definition: %w: no recipients", ErrInvalid)
	}
	if err := checkIdentities(recipients); err != nil {
		return nil, fmt.Errorf("marking: recipients definition: %w", err)
	}
	r := slices.Clone(recipients)
	slices.Sort(r)
	r = slices.Compact(r)
	return encodeDefinition(id, created, createdBy, "Recipients",
		ext{ExtensionType: "property-extension", Recipients: r})
}

func encodeDefinition(id, created, createdBy, name string, e ext) ([]byte, error) {
	if !strings.HasPrefix(id, "marking-definition--") {
		return nil, fmt.Errorf("marking: encode definition: %w: id %q", ErrInvalid, id)
	}
	v := struct {
		Type         string         `json:"type"`
		SpecVersion  string         `json:"spec_version"`
		ID           string         `json:"id"`
		CreatedByRef string         `json:"created_by_ref,omitempty"`
		Created      string         `json:"created"`
		Name         string         `json:"name"`
		Extensions   map[string]ext `json:"extensions"`
	}{"marking-definition", "2.1", id, createdBy, created, name, map[string]ext{Extension: e}}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("marking: encode definition: %w", err)
	}
	return bytes.TrimSpace(buf.Bytes()), nil
}
