package stix

import (
	"bytes"
	"errors"
	"fmt"
)

// ErrNoDeterministicID is returned by SCOID when the object has none of its
// type's ID-contributing properties, or its type has none (process), or the
// type is not a STIX 2.1 SCO. STIX 2.1 §2.9 says such objects get a UUIDv4
// (use NewID).
var ErrNoDeterministicID = errors.New("stix: no deterministic id for this object")

// scoIDProps lists the ID-contributing properties of each SCO, from the
// "ID Contributing Properties" line of each type in STIX 2.1 §6.
var scoIDProps = map[string][]string{
	"artifact":             {"hashes", "payload_bin"},
	"autonomous-system":    {"number"},
	"directory":            {"path"},
	"domain-name":          {"value"},
	"email-addr":           {"value"},
	"email-message":        {"from_ref", "subject", "body"},
	"file":                 {"hashes", "name", "extensions", "parent_directory_ref"},
	"ipv4-addr":            {"value"},
	"ipv6-addr":            {"value"},
	"mac-addr":             {"value"},
	"mutex":                {"name"},
	"network-traffic":      {"start", "end", "src_ref", "dst_ref", "src_port", "dst_port", "protocols", "extensions"},
	"process":              nil,
	"software":             {"name", "cpe", "swid", "vendor", "version"},
	"url":                  {"value"},
	"user-account":         {"account_type", "user_id", "account_login"},
	"windows-registry-key": {"key", "values"},
	"x509-certificate":     {"hashes", "serial_number"},
}

// hashPreference is the order in which STIX 2.1 §2.9 picks the single hash
// that contributes to an id.
var hashPreference = []string{"MD5", "SHA-1", "SHA-256", "SHA-512"}

// SCOID computes the deterministic identifier of an SCO (STIX 2.1 §2.9):
// UUIDv5 in namespace 00abedb4-aa42-466c-9c01-fed23315a9b7 over the JCS
// serialisation of an object holding the type's ID-contributing properties
// that are present, with hashes reduced to one entry (MD5, else SHA-1,
// else SHA-256, else SHA-512, else the first other in UTF-16 order). sco
// holds "type" and the properties, as decoded JSON or plain Go values.
func SCOID(sco map[string]any) (string, error) {
	typ, _ := sco["type"].(string)
	props, known := scoIDProps[typ]
	if !known {
		return "", fmt.Errorf("%w: %q is not a STIX 2.1 SCO type", ErrNoDeterministicID, typ)
	}
	contrib := map[string]any{}
	for _, p := range props {
		v, ok := sco[p]
		if !ok {
			continue
		}
		if p == "hashes" {
			one, err := chooseHash(v)
			if err != nil {
				return "", err
			}
			v = one
		}
		contrib[p] = v
	}
	if len(contrib) == 0 {
		return "", fmt.Errorf("%w: %s has no ID-contributing property", ErrNoDeterministicID, typ)
	}
	var buf bytes.Buffer
	if err := writeCanonical(&buf, contrib); err != nil {
		return "", err
	}
	return typ + "--" + formatUUID(uuidV5(scoNamespace, buf.Bytes())), nil
}

// SCOIDFromJSON is SCOID over the raw JSON of one SCO.
func SCOIDFromJSON(raw []byte) (string, error) {
	v, err := parseJSON(raw)
	if err != nil {
		return "", err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return "", fmt.Errorf("%w: not a JSON object", ErrNoDeterministicID)
	}
	return SCOID(m)
}

func chooseHash(v any) (map[string]any, error) {
	var m map[string]any
	switch x := v.(type) {
	case map[string]any:
		m = x
	case map[string]string:
		m = make(map[string]any, len(x))
		for k, e := range x {
			m[k] = e
		}
	default:
		return nil, fmt.Errorf("%w: hashes must be a dictionary", ErrNoDeterministicID)
	}
	for _, k := range hashPreference {
		if h, ok := m[k]; ok {
			return map[string]any{k: h}, nil
		}
	}
	if len(m) == 0 {
		return nil, fmt.Errorf("%w: hashes is empty", ErrNoDeterministicID)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sortUTF16(keys)
	return map[string]any{keys[0]: m[keys[0]]}, nil
}
