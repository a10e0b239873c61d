package stix

import (
	"crypto/rand"
	"crypto/sha1"
	"encoding/hex"
)

// scoNamespace is the UUIDv5 namespace for deterministic SCO identifiers
// (STIX 2.1 §2.9): 00abedb4-aa42-466c-9c01-fed23315a9b7.
var scoNamespace = [16]byte{0x00, 0xab, 0xed, 0xb4, 0xaa, 0x42, 0x46, 0x6c, 0x9c, 0x01, 0xfe, 0xd2, 0x33, 0x15, 0xa9, 0xb7}

// NewID returns a fresh identifier typ--UUIDv4, the form STIX 2.1 §2.9
// recommends for every object that is not an SCO.
func NewID(typ string) string {
	var u [16]byte
	// crypto/rand.Read never returns an error since Go 1.24; it aborts the
	// program instead of handing back predictable bytes.
	_, _ = rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return typ + "--" + formatUUID(u)
}

// uuidV5 hashes name in namespace ns per RFC 4122 §4.3.
func uuidV5(ns [16]byte, name []byte) [16]byte {
	h := sha1.New()
	h.Write(ns[:])
	h.Write(name)
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	return u
}

func formatUUID(u [16]byte) string {
	var buf [36]byte
	hex.Encode(buf[0:8], u[0:4])
	buf[8] = '-'
	hex.Encode(buf[9:13], u[4:6])
	buf[13] = '-'
	hex.Encode(buf[14:18], u[6:8])
	buf[18] = '-'
	hex.Encode(buf[19:23], u[8:10])
	buf[23] = '-'
	hex.Encode(buf[24:], u[10:])
	return string(buf[:])
}

// idProblem describes what is wrong with an identifier, or "" when it is
// well formed: type--UUID where type follows the type-name rules and the
// UUID is in 8-4-4-4-12 hex form with an RFC 4122 variant (STIX 2.1 §2.9).
// It also returns the type part and the UUID version nibble.
func splitID(id []byte) (typ []byte, version byte, problem string) {
	sep := -1
	for i := 0; i+1 < len(id); i++ {
		if id[i] == '-' && id[i+1] == '-' {
			sep = i
			break
		}
	}
	if sep <= 0 {
		return nil, 0, "must have the form type--UUID"
	}
	typ = id[:sep]
	if typeNameProblem(typ) != "" {
		return typ, 0, "has an invalid object type prefix"
	}
	version, problem = uuidProblem(id[sep+2:])
	return typ, version, problem
}

// uuidProblem is splitID's check of the UUID part of an identifier: what
// is wrong with u, or "", and the version nibble when u has the form of a
// UUID.
func uuidProblem(u []byte) (version byte, problem string) {
	const form = "must end in a UUID (8-4-4-4-12 hex digits)"
	if len(u) != 36 || u[8] != '-' || u[13] != '-' || u[18] != '-' || u[23] != '-' {
		return 0, form
	}
	if !allHex(u[:8]) || !allHex(u[9:13]) || !allHex(u[14:18]) || !allHex(u[19:23]) || !allHex(u[24:]) {
		return 0, form
	}
	// RFC 4122 defines versions 1 to 5; the OASIS schema's identifier
	// pattern agrees ([1-5] in the version nibble).
	version = hexVal(u[14])
	if version < 1 || version > 5 {
		return version, "must use an RFC 4122 UUID (version 1 to 5)"
	}
	if v := hexVal(u[19]); v < 8 || v > 0xb {
		return version, "must use an RFC 4122 UUID (variant bits 10)"
	}
	return version, ""
}

func hexVal(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10
	}
	return 0xff
}

// typeNameProblem checks an object type name against STIX 2.1 §3.1 / §11.2:
// 3 to 250 characters of a-z, 0-9 and hyphen, starting with a letter, no
// double hyphen. It returns "" when the name is valid.
func typeNameProblem(t []byte) string {
	if len(t) < 3 || len(t) > 250 {
		return "must be 3 to 250 characters"
	}
	if t[0] < 'a' || t[0] > 'z' {
		return "must start with a lowercase letter"
	}
	for i, c := range t {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '-':
			if i > 0 && t[i-1] == '-' {
				return "must not contain a double hyphen"
			}
		default:
			return "must use only a-z, 0-9 and hyphen"
		}
	}
	if t[len(t)-1] == '-' {
		return "must not end with a hyphen"
	}
	return ""
}

// propNameOK checks a property name against STIX 2.1 §3.1: 3 to 250
// characters of a-z, 0-9 and underscore.
func propNameOK(p []byte) bool {
	if len(p) < 3 || len(p) > 250 {
		return false
	}
	for _, c := range p {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}
