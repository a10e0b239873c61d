package federation

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jointcell/jointcell/internal/stix"
)

// Extension is the id of jointcell's provenance extension-definition. It
// was generated once and never changes: cells recognise signatures by it.
// Its instances are property extensions (STIX 2.1 §7.3): they add the
// properties below to the object they sit in, inside
// extensions[Extension]:
//
//	"extensions": {
//	  "extension-definition--0f4b7c2e-5d1a-4c8e-9b3f-6a2d8e1c7f40": {
//	    "extension_type": "property-extension",
//	    "cell": "<hex SHA-256 of the signing cell's ed25519 public key>",
//	    "signature": "<base64 ed25519 signature>",
//	    "signed_by": "identity--..."
//	  }
//	}
//
// The signature covers the RFC 8785 (JCS) canonical form of the object
// without this one extension (and without "extensions" at all when it was
// the only one), so that it survives any re-serialisation that keeps the
// JSON value.
const Extension = "extension-definition--0f4b7c2e-5d1a-4c8e-9b3f-6a2d8e1c7f40"

// Errors of Verify, wrapped with details.
var (
	ErrUnsigned      = errors.New("object carries no provenance signature")
	ErrUnknownSigner = errors.New("object is signed by an unknown cell")
	ErrBadSignature  = errors.New("provenance signature does not verify")
	ErrMalformed     = errors.New("malformed object or provenance extension")
)

// Signature is a verified provenance extension.
type Signature struct {
	Cell     string // fingerprint of the signing cell's key
	SignedBy string // the signing cell's identity, informative
}

// sigExt is the body of one provenance extension instance.
type sigExt struct {
	ExtensionType string `json:"extension_type"`
	Cell          string `json:"cell"`
	Signature     string `json:"signature"`
	SignedBy      string `json:"signed_by,omitempty"`
}

// Fingerprint is the hex SHA-256 of an ed25519 public key: what operators
// compare out of band and what the extension names a cell by.
func Fingerprint(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:])
}

// split decodes raw into its top-level members and removes the provenance
// extension, returning it (nil when absent). A duplicate member anywhere is
// an error (stix.Canonicalize checks the whole value).
func split(raw []byte) (map[string]json.RawMessage, *sigExt, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil || top == nil {
		return nil, nil, fmt.Errorf("%w: not a JSON object", ErrMalformed)
	}
	ev, ok := top["extensions"]
	if !ok {
		return top, nil, nil
	}
	var exts map[string]json.RawMessage
	if err := json.Unmarshal(ev, &exts); err != nil || exts == nil {
		return nil, nil, fmt.Errorf("%w: extensions is not an object", ErrMalformed)
	}
	sv, ok := exts[Extension]
	if !ok {
		if len(exts) == 0 {
			// An empty extensions (invalid STIX anyway) is signed as
			// absent, which is what remains once ours is taken out.
			delete(top, "extensions")
		}
		return top, nil, nil
	}
	var s sigExt
	if err := json.Unmarshal(sv, &s); err != nil {
		return nil, nil, fmt.Errorf("%w: provenance extension: %v", ErrMalformed, err)
	}
	delete(exts, Extension)
	if len(exts) == 0 {
		delete(top, "extensions")
	} else {
		b, err := json.Marshal(exts)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		top["extensions"] = b
	}
	return top, &s, nil
}

// canonical returns the JCS form of the members.
func canonical(top map[string]json.RawMessage) ([]byte, error) {
	b, err := json.Marshal(top)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	c, err := stix.Canonicalize(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return c, nil
}

// Sign returns raw signed by key: its JCS canonical form with the
// provenance extension (replacing any previous one) added. ed25519 and JCS
// are deterministic, so signing the same object twice gives the same bytes
// and a version that reaches a cell by two paths is stored once.
func Sign(raw []byte, key ed25519.PrivateKey, identity string) ([]byte, error) {
	if _, err := stix.Canonicalize(raw); err != nil {
		// Rejects duplicate members, which encoding/json would merge.
		return nil, fmt.Errorf("federation: sign: %w: %v", ErrMalformed, err)
	}
	top, _, err := split(raw)
	if err != nil {
		return nil, fmt.Errorf("federation: sign: %w", err)
	}
	msg, err := canonical(top)
	if err != nil {
		return nil, fmt.Errorf("federation: sign: %w", err)
	}
	ext := sigExt{
		ExtensionType: "property-extension",
		Cell:          Fingerprint(key.Public().(ed25519.PublicKey)),
		Signature:     base64.StdEncoding.EncodeToString(ed25519.Sign(key, msg)),
		SignedBy:      identity,
	}
	exts := map[string]json.RawMessage{}
	if ev, ok := top["extensions"]; ok {
		if err := json.Unmarshal(ev, &exts); err != nil {
			return nil, fmt.Errorf("federation: sign: %w: %v", ErrMalformed, err)
		}
	}
	eb, err := json.Marshal(ext)
	if err != nil {
		return nil, fmt.Errorf("federation: sign: %w", err)
	}
	exts[Extension] = eb
	if top["extensions"], err = json.Marshal(exts); err != nil {
		return nil, fmt.Errorf("federation: sign: %w", err)
	}
	out, err := canonical(top)
	if err != nil {
		return nil, fmt.Errorf("federation: sign: %w", err)
	}
	return out, nil
}

// Verify checks the provenance signature of raw. keyFor returns the public
// key of a known cell by fingerprint. It returns ErrUnsigned when raw has
// no provenance extension, ErrUnknownSigner when the cell is not known,
// and ErrBadSignature when the signature does not match the content.
func Verify(raw []byte, keyFor func(fingerprint string) (ed25519.PublicKey, bool)) (Signature, error) {
	if _, err := stix.Canonicalize(raw); err != nil {
		return Signature{}, fmt.Errorf("federation: verify: %w: %v", ErrMalformed, err)
	}
	top, s, err := split(raw)
	if err != nil {
		return Signature{}, fmt.Errorf("federation: verify: %w", err)
	}
	if s == nil {
		return Signature{}, ErrUnsigned
	}
	pub, ok := keyFor(s.Cell)
	if !ok || len(pub) != ed25519.PublicKeySize {
		return Signature{}, fmt.Errorf("federation: verify: %w: %.16s", ErrUnknownSigner, s.Cell)
	}
	sig, err := base64.StdEncoding.DecodeString(s.Signature)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return Signature{}, fmt.Errorf("federation: verify: %w: signature is not base64 of %d bytes", ErrBadSignature, ed25519.SignatureSize)
	}
	msg, err := canonical(top)
	if err != nil {
		return Signature{}, fmt.Errorf("federation: verify: %w", err)
	}
	if !ed25519.Verify(pub, msg, sig) {
		return Signature{}, fmt.Errorf("federation: verify: %w", ErrBadSignature)
	}
	return Signature{Cell: s.Cell, SignedBy: s.SignedBy}, nil
}

// signerOf returns the fingerprint a provenance extension claims, without
// verifying it, or "".
func signerOf(raw []byte) string {
	_, s, err := split(raw)
	if err != nil || s == nil {
		return ""
	}
	return s.Cell
}
