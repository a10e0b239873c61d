package federation

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"

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

// sigExt is the body of one provenance extension instance. With
// BatchSize 0 Signature signs the object itself; otherwise it signs the
// batch's Merkle root (batchMessage) and the object proves its membership
// with BatchIndex and BatchProof.
type sigExt struct {
	ExtensionType string   `json:"extension_type"`
	Cell          string   `json:"cell"`
	Signature     string   `json:"signature"`
	SignedBy      string   `json:"signed_by,omitempty"`
	BatchRoot     string   `json:"batch_root,omitempty"`
	BatchSize     int      `json:"batch_size,omitempty"`
	BatchIndex    int      `json:"batch_index,omitempty"`
	BatchProof    []string `json:"batch_proof,omitempty"`
}

// Fingerprint is the hex SHA-256 of an ed25519 public key: what operators
// compare out of band and what the extension names a cell by.
func Fingerprint(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:])
}

var (
	extKey  = []byte(`"` + Extension + `"`)
	extsKey = []byte(`"extensions"`)
)

// canonicalBody appends to dst the JCS form of raw without the provenance
// extension (and without "extensions" when nothing else is left in it) and
// returns it with the raw bytes of the extension, nil when absent. A
// duplicate member anywhere is an error.
func canonicalBody(dst, raw []byte) (body, ext []byte, err error) {
	c, err := stix.AppendCanonical(dst, raw)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	c = c[len(dst):]
	if len(c) < 2 || c[0] != '{' {
		return nil, nil, fmt.Errorf("%w: not a JSON object", ErrMalformed)
	}
	ks, _, vs, ve := findMember(c, extsKey)
	if ks < 0 {
		return c, nil, nil
	}
	if c[vs] != '{' {
		return nil, nil, fmt.Errorf("%w: extensions is not an object", ErrMalformed)
	}
	if s, _, evs, eve := findMember(c[vs:ve], extKey); s >= 0 {
		ext = bytes.Clone(c[vs+evs : vs+eve])
		n := len(c)
		c = cutMember(c, vs+s, vs+eve)
		ve -= n - len(c)
	}
	if ve-vs == 2 {
		// Empty (an empty extensions is signed as absent, which is what
		// remains once ours is taken out).
		c = cutMember(c, ks, ve)
	}
	return c, ext, nil
}

// findMember finds the member named key (quoted) in the canonical object
// obj and returns the offsets of its start, of its value and of its end,
// or -1s.
func findMember(obj, key []byte) (start, colon, vstart, vend int) {
	i := 1
	for i < len(obj) && obj[i] == '"' {
		ke := skipString(obj, i)
		ve := skipValue(obj, ke+1)
		if bytes.Equal(obj[i:ke], key) {
			return i, ke, ke + 1, ve
		}
		if ve >= len(obj) || obj[ve] != ',' {
			break
		}
		i = ve + 1
	}
	return -1, -1, -1, -1
}

// cutMember removes the member obj[s:e] and its separating comma, in place.
func cutMember(obj []byte, s, e int) []byte {
	switch {
	case e < len(obj) && obj[e] == ',':
		e++
	case obj[s-1] == ',':
		s--
	}
	return append(obj[:s], obj[e:]...)
}

// skipString returns the offset after the JSON string starting at b[i]:
// after the first quote not escaped, that is not preceded by an odd run of
// backslashes.
func skipString(b []byte, i int) int {
	for j := i + 1; ; {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			return len(b)
		}
		q := j + k
		n := 0
		for p := q - 1; p > i && b[p] == '\\'; p-- {
			n++
		}
		if n%2 == 0 {
			return q + 1
		}
		j = q + 1
	}
}

// skipValue returns the offset after the canonical JSON value at b[i].
func skipValue(b []byte, i int) int {
	depth := 0
	for i < len(b) {
		switch b[i] {
		case '"':
			i = skipString(b, i)
			if depth == 0 {
				return i
			}
			continue
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return i + 1
			}
			if depth < 0 {
				return i
			}
		case ',':
			if depth == 0 {
				return i
			}
		}
		i++
	}
	return i
}

var bodyPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// Sign returns raw signed by key: its JCS canonical form with the
// provenance extension (replacing any previous one) added. ed25519 and JCS
// are deterministic, so signing the same object twice gives the same bytes.
func Sign(raw []byte, key ed25519.PrivateKey, identity string) ([]byte, error) {
	body, _, err := canonicalBody(nil, raw)
	if err != nil {
		return nil, fmt.Errorf("federation: sign: %w", err)
	}
	ext := sigExt{
		ExtensionType: "property-extension",
		Cell:          Fingerprint(key.Public().(ed25519.PublicKey)),
		Signature:     base64.StdEncoding.EncodeToString(ed25519.Sign(key, body)),
		SignedBy:      identity,
	}
	out, err := addExtension(body, ext)
	if err != nil {
		return nil, fmt.Errorf("federation: sign: %w: %v", ErrMalformed, err)
	}
	return out, nil
}

// SignBatch signs the objects of raws with one ed25519 signature: over
// the root of an RFC 6962 Merkle tree whose leaves are the objects' JCS
// forms without the provenance extension. Each signed object carries the
// root, the signature and its inclusion proof, so it verifies alone. An
// object that cannot be signed gets a nil result and its error; the
// others are signed without it.
func SignBatch(raws [][]byte, key ed25519.PrivateKey, identity string) ([][]byte, []error) {
	out := make([][]byte, len(raws))
	errs := make([]error, len(raws))
	bodies := make([][]byte, len(raws))
	hashes := make([][32]byte, len(raws))
	parallel(len(raws), func(i int) {
		body, _, err := canonicalBody(nil, raws[i])
		if err != nil {
			errs[i] = fmt.Errorf("federation: sign: %w", err)
			return
		}
		bodies[i], hashes[i] = body, leafHash(body)
	})
	idx := make([]int, 0, len(raws))
	leaves := make([][32]byte, 0, len(raws))
	for i := range raws {
		if errs[i] == nil {
			idx = append(idx, i)
			leaves = append(leaves, hashes[i])
		}
	}
	if len(leaves) == 0 {
		return out, errs
	}
	root, proofs := merkleTree(leaves)
	sig := base64.StdEncoding.EncodeToString(ed25519.Sign(key, batchMessage(root, len(leaves))))
	fp := Fingerprint(key.Public().(ed25519.PublicKey))
	rootB64 := base64.StdEncoding.EncodeToString(root[:])
	parallel(len(idx), func(j int) {
		proof := make([]string, len(proofs[j]))
		for k, h := range proofs[j] {
			proof[k] = base64.StdEncoding.EncodeToString(h[:])
		}
		ext := sigExt{ExtensionType: "property-extension", Cell: fp, Signature: sig, SignedBy: identity,
			BatchRoot: rootB64, BatchSize: len(leaves), BatchIndex: j, BatchProof: proof}
		b, err := addExtension(bodies[idx[j]], ext)
		if err != nil {
			errs[idx[j]] = fmt.Errorf("federation: sign: %w: %v", ErrMalformed, err)
			return
		}
		out[idx[j]] = b
	})
	return out, errs
}

// batchMessage is what a batch signature signs: a fixed context string,
// the Merkle root and the number of leaves.
func batchMessage(root [32]byte, size int) []byte {
	msg := make([]byte, 0, len(batchContext)+32+8)
	msg = append(msg, batchContext...)
	msg = append(msg, root[:]...)
	return binary.BigEndian.AppendUint64(msg, uint64(size))
}

const batchContext = "jointcell provenance batch v1\x00"

// leafHash and nodeHash are RFC 6962 §2.1's, with SHA-256.
func leafHash(body []byte) [32]byte {
	h := sha256.New()
	h.Write([]byte{0})
	h.Write(body)
	var out [32]byte
	h.Sum(out[:0])
	return out
}

func nodeHash(l, r [32]byte) [32]byte {
	var buf [65]byte
	buf[0] = 1
	copy(buf[1:], l[:])
	copy(buf[33:], r[:])
	return sha256.Sum256(buf[:])
}

// merkleTree returns the RFC 6962 tree head of leaves and every leaf's
// audit path (RFC 6962 §2.1.1), deepest sibling first.
func merkleTree(leaves [][32]byte) ([32]byte, [][][32]byte) {
	proofs := make([][][32]byte, len(leaves))
	var build func(lo, hi int) [32]byte
	build = func(lo, hi int) [32]byte {
		if hi-lo == 1 {
			return leaves[lo]
		}
		k := 1
		for k*2 < hi-lo {
			k *= 2
		}
		l, r := build(lo, lo+k), build(lo+k, hi)
		for i := lo; i < lo+k; i++ {
			proofs[i] = append(proofs[i], r)
		}
		for i := lo + k; i < hi; i++ {
			proofs[i] = append(proofs[i], l)
		}
		return nodeHash(l, r)
	}
	return build(0, len(leaves)), proofs
}

// rootFromPath computes the tree head from a leaf, its index, the tree
// size and its audit path (RFC 9162 §2.1.3.2); false when the path does
// not fit the size.
func rootFromPath(leaf [32]byte, index, size int, path [][32]byte) ([32]byte, bool) {
	if index < 0 || index >= size {
		return leaf, false
	}
	fn, sn, r := index, size-1, leaf
	for _, p := range path {
		if sn == 0 {
			return r, false
		}
		if fn&1 == 1 || fn == sn {
			r = nodeHash(p, r)
			if fn&1 == 0 {
				for fn&1 == 0 && fn != 0 {
					fn >>= 1
					sn >>= 1
				}
			}
		} else {
			r = nodeHash(r, p)
		}
		fn >>= 1
		sn >>= 1
	}
	return r, sn == 0
}

// A Verifier checks provenance signatures and remembers the batch
// signatures it has verified, so that a batch's root is checked once, not
// once per object. The zero value is ready to use; it is safe for
// concurrent use.
type Verifier struct {
	mu    sync.Mutex
	roots map[batchKey]struct{}
}

// batchKey is one verified batch signature.
type batchKey struct {
	pub  [ed25519.PublicKeySize]byte
	root [32]byte
	size int
	sig  [ed25519.SignatureSize]byte
}

// maxRoots bounds a Verifier's memory: the set is emptied when full.
const maxRoots = 4096

func (v *Verifier) batchSig(pub ed25519.PublicKey, root [32]byte, size int, sig []byte) bool {
	k := batchKey{root: root, size: size}
	copy(k.pub[:], pub)
	copy(k.sig[:], sig)
	v.mu.Lock()
	_, ok := v.roots[k]
	v.mu.Unlock()
	if ok {
		return true
	}
	if !ed25519.Verify(pub, batchMessage(root, size), sig) {
		return false
	}
	v.mu.Lock()
	if v.roots == nil || len(v.roots) >= maxRoots {
		v.roots = make(map[batchKey]struct{}, 64)
	}
	v.roots[k] = struct{}{}
	v.mu.Unlock()
	return true
}

// Verify checks the provenance signature of raw. keyFor returns the public
// key of a known cell by fingerprint. It returns ErrUnsigned when raw has
// no provenance extension, ErrUnknownSigner when the cell is not known,
// and ErrBadSignature when the signature (or, for a batch signature, the
// object's inclusion proof) does not match the content.
//
// Verify uses a Verifier of its own: where many objects of the same
// batches are checked, keep one Verifier and call its Verify.
func Verify(raw []byte, keyFor func(fingerprint string) (ed25519.PublicKey, bool)) (Signature, error) {
	var v Verifier
	return v.Verify(raw, keyFor)
}

// Verify is the package's Verify, remembering batch signatures.
func (v *Verifier) Verify(raw []byte, keyFor func(fingerprint string) (ed25519.PublicKey, bool)) (Signature, error) {
	sig, _, err := v.verify(raw, keyFor, false)
	return sig, err
}

// verifyBody is Verify that also returns a copy of the canonical form of
// raw without the provenance extension, when the extension holds exactly
// the members this package writes, in canonical form, with the extension
// type STIX requires (property-extension): then validating that body is
// validating raw, the extension apart, which Verify has checked. body is
// nil otherwise.
func (v *Verifier) verifyBody(raw []byte, keyFor func(fingerprint string) (ed25519.PublicKey, bool)) (sig Signature, body []byte, err error) {
	return v.verify(raw, keyFor, true)
}

func (v *Verifier) verify(raw []byte, keyFor func(fingerprint string) (ed25519.PublicKey, bool), keep bool) (Signature, []byte, error) {
	bp := bodyPool.Get().(*[]byte)
	defer bodyPool.Put(bp)
	body, eb, err := canonicalBody((*bp)[:0], raw)
	if cap(body) > cap(*bp) && cap(body) <= 1<<20 {
		*bp = body[:0]
	}
	if err != nil {
		return Signature{}, nil, fmt.Errorf("federation: verify: %w", err)
	}
	if eb == nil {
		return Signature{}, nil, ErrUnsigned
	}
	s, direct := parseExtDirect(eb)
	if !direct {
		if s, err = parseExt(eb); err != nil {
			return Signature{}, nil, fmt.Errorf("federation: verify: %w: provenance extension: %v", ErrMalformed, err)
		}
	}
	sig, err := v.verifyExt(s, body, keyFor)
	if err != nil || !keep || !direct || s.ExtensionType != "property-extension" {
		return sig, nil, err
	}
	return sig, bytes.Clone(body), nil
}

// verifyExt checks the signature s of body.
func (v *Verifier) verifyExt(s sigExt, body []byte, keyFor func(fingerprint string) (ed25519.PublicKey, bool)) (Signature, error) {
	pub, ok := keyFor(s.Cell)
	if !ok || len(pub) != ed25519.PublicKeySize {
		return Signature{}, fmt.Errorf("federation: verify: %w: %.16s", ErrUnknownSigner, s.Cell)
	}
	sig, err := base64.StdEncoding.DecodeString(s.Signature)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return Signature{}, fmt.Errorf("federation: verify: %w: signature is not base64 of %d bytes", ErrBadSignature, ed25519.SignatureSize)
	}
	if s.BatchSize == 0 {
		if !ed25519.Verify(pub, body, sig) {
			return Signature{}, fmt.Errorf("federation: verify: %w", ErrBadSignature)
		}
		return Signature{Cell: s.Cell, SignedBy: s.SignedBy}, nil
	}
	var root [32]byte
	if rb, err := base64.StdEncoding.DecodeString(s.BatchRoot); err != nil || len(rb) != 32 {
		return Signature{}, fmt.Errorf("federation: verify: %w: batch root is not base64 of 32 bytes", ErrBadSignature)
	} else {
		copy(root[:], rb)
	}
	if len(s.BatchProof) > 64 {
		return Signature{}, fmt.Errorf("federation: verify: %w: batch proof too long", ErrBadSignature)
	}
	path := make([][32]byte, len(s.BatchProof))
	for i, p := range s.BatchProof {
		if n, err := base64.StdEncoding.Decode(path[i][:], []byte(p)); err != nil || n != 32 || len(p) != 44 {
			return Signature{}, fmt.Errorf("federation: verify: %w: batch proof is not base64 of 32-byte hashes", ErrBadSignature)
		}
	}
	got, ok := rootFromPath(leafHash(body), s.BatchIndex, s.BatchSize, path)
	if !ok || got != root {
		return Signature{}, fmt.Errorf("federation: verify: %w: not in the signed batch", ErrBadSignature)
	}
	if !v.batchSig(pub, root, s.BatchSize, sig) {
		return Signature{}, fmt.Errorf("federation: verify: %w", ErrBadSignature)
	}
	return Signature{Cell: s.Cell, SignedBy: s.SignedBy}, nil
}

// signerOf returns the fingerprint a provenance extension claims, without
// verifying it, or "". Bytes that do not name the extension at all (the
// common case: objects produced in this cell) are answered without
// canonicalizing them.
func signerOf(raw []byte) string {
	if !bytes.Contains(raw, extID) {
		return ""
	}
	_, eb, err := canonicalBody(nil, raw)
	if err != nil || eb == nil {
		return ""
	}
	s, err := parseExt(eb)
	if err != nil {
		return ""
	}
	return s.Cell
}

// extID is the extension's id as it appears in any JSON form of an object
// carrying it (an id is plain ASCII; an escaped spelling of it would be
// legal JSON but is not what any cell writes, and such an object is simply
// signed anew).
var extID = []byte(Extension)

// sameContent reports whether a and b are the same object apart from
// their provenance extensions: the same version reached this cell by two
// paths, signed in different batches.
func sameContent(a, b []byte) bool {
	ba, _, err := canonicalBody(nil, a)
	if err != nil {
		return false
	}
	bb, _, err := canonicalBody(nil, b)
	return err == nil && bytes.Equal(ba, bb)
}
