package federation

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

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
// duplicate member anywhere is an error. The extension lies after the body
// in the same array, and the body's capacity ends where it does, so that
// appending to the body does not overwrite the extension.
func canonicalBody(dst, raw []byte) (body, ext []byte, err error) {
	_, body, ext, err = appendBody(dst, raw, true)
	if err != nil {
		return nil, nil, err
	}
	return body[:len(body):len(body)], ext, nil
}

// appendBody is canonicalBody for callers that manage their buffers: it
// appends to dst the body and then, with keepExt, a copy of the
// provenance extension (the body is cut in place, over it). It returns dst
// so extended, the body (out[len(dst):len(dst)+len(body)]) and the
// extension (a slice of out after the body; nil when absent or not kept).
func appendBody(dst, raw []byte, keepExt bool) (out, body, ext []byte, err error) {
	n := len(dst)
	out, err = stix.AppendCanonical(dst, raw)
	if err != nil {
		return out, nil, nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	c := out[n:]
	if len(c) < 2 || c[0] != '{' {
		return out, nil, nil, fmt.Errorf("%w: not a JSON object", ErrMalformed)
	}
	ks, vs := findName(c, extsKey)
	if ks < 0 {
		return out, c, nil, nil
	}
	if c[vs] != '{' {
		return out, nil, nil, fmt.Errorf("%w: extensions is not an object", ErrMalformed)
	}
	// One pass over the members of extensions: where ours is, and where
	// extensions ends.
	s, evs, eve, ve := -1, -1, -1, vs+2
	for i := vs + 1; c[i] == '"'; i = ve {
		ke := skipString(c, i)
		e := skipValue(c, ke+1)
		if bytes.Equal(c[i:ke], extKey) {
			s, evs, eve = i, ke+1, e
		}
		ve = e + 1
		if c[e] != ',' {
			break
		}
	}
	if s >= 0 {
		if keepExt {
			out = append(out, c[evs:eve]...)
			c = out[n : len(out)-(eve-evs)] // out may have moved
			ext = out[len(out)-(eve-evs):]
		}
		m := len(c)
		c = cutMember(c, s, eve)
		ve -= m - len(c)
	}
	if ve-vs == 2 {
		// Empty (an empty extensions is signed as absent, which is what
		// remains once ours is taken out).
		c = cutMember(c, ks, ve)
	}
	return out, c, ext, nil
}

// findMember finds the member named key (quoted, plain) in the canonical
// object obj and returns the offsets of its start, of its value and of its
// end, or -1s.
func findMember(obj, key []byte) (start, colon, vstart, vend int) {
	s, vs := findName(obj, key)
	if s < 0 {
		return -1, -1, -1, -1
	}
	return s, vs - 1, vs, skipValue(obj, vs)
}

// findName is findMember without the end of the value (which takes a scan
// of it): the offsets of the member's start and of its value, or -1s.
func findName(obj, key []byte) (start, vstart int) {
	name := key[1 : len(key)-1]
	i := 1
	for i < len(obj) && obj[i] == '"' {
		ke := skipString(obj, i)
		if bytes.Equal(obj[i:ke], key) {
			return i, ke + 1
		}
		// Members are sorted (RFC 8785 §3.2.3), and a plain name sorts
		// bytewise as in UTF-16: past one that sorts after key, key is
		// not there. (Other names are passed: an escape's backslash does
		// not sort as the character it stands for.)
		if k := obj[i+1 : ke-1]; bytes.Compare(k, name) > 0 && plain(k) {
			break
		}
		ve := skipValue(obj, ke+1)
		if ve >= len(obj) || obj[ve] != ',' {
			break
		}
		i = ve + 1
	}
	return -1, -1
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

// verifyScratch is what verifying an object uses besides the stack,
// pooled: the buffer its canonical body is written to, the audit path
// walked last, and the names of the last signature (most objects come
// from the same cell as the one before).
type verifyScratch struct {
	buf            []byte
	memo           pathMemo
	cell, signedBy string
	// The audit path entries of the object verified last, as base64 text
	// and decoded: neighbours in a batch share most of their path, and an
	// entry with the same text decodes to the same hash.
	proofText [maxProof][base64Len32]byte
	proofHash [maxProof][32]byte
	nproof    int
}

var scratchPool = sync.Pool{New: func() any { return &verifyScratch{buf: make([]byte, 0, 4096)} }}

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
	sc := signPool.Get().(*signScratch)
	defer sc.release()
	// The bodies are written in one arena, each in a slot of its own after
	// a 0x00 byte: with it, a body is the input of its leaf hash. A body
	// longer than its slot (JCS can lengthen a number) moves out by
	// append, prefix and all.
	offs := resize(sc.offs, len(raws)+1)
	offs[0] = 0
	for i, r := range raws {
		offs[i+1] = offs[i] + 1 + len(r)
	}
	arena := resize(sc.arena, offs[len(raws)])
	bodies := resize(sc.bodies, len(raws))
	hashes := resize(sc.hashes, len(raws))
	places := resize(sc.places, len(raws))
	direct := resize(sc.direct, len(raws))
	sc.offs, sc.arena, sc.bodies, sc.hashes, sc.places, sc.direct = offs, arena, bodies, hashes, places, direct
	parallel(len(raws), func(i int) {
		buf, body, _, err := appendBody(append(arena[offs[i]:offs[i]:offs[i+1]], 0), raws[i], false)
		if err != nil {
			errs[i] = fmt.Errorf("federation: sign: %w", err)
			return
		}
		bodies[i], hashes[i] = body, sha256.Sum256(buf[:1+len(body)])
		places[i], direct[i] = placeExt(body)
	})
	idx, leaves := sc.idx[:0], sc.leaves[:0]
	for i := range raws {
		if errs[i] == nil {
			idx = append(idx, i)
			leaves = append(leaves, hashes[i])
		}
	}
	sc.idx, sc.leaves = idx, leaves
	if len(leaves) == 0 {
		return out, errs
	}
	levels := merkleLevels(leaves, &sc.nodes)
	root := levels[len(levels)-1][0]
	bs := newBatchSigner(levels, ed25519.Sign(key, batchMessage(root, len(leaves))),
		Fingerprint(key.Public().(ed25519.PublicKey)), identity, &sc.b64)
	// The objects written directly are each allocated once, at their
	// exact size (were a size wrong, append would reallocate, still
	// right): at[j]:at[j+1] is object j's.
	at := resize(sc.at, len(idx)+1)
	sc.at = at
	at[0] = 0
	for j, i := range idx {
		at[j+1] = at[j]
		if bs.tail != nil && direct[i] {
			at[j+1] += len(bodies[i]) + places[i].len() + bs.extLen(j)
		}
	}
	parallel(len(idx), func(j int) {
		i := idx[j]
		if bs.tail == nil || !direct[i] {
			b, err := bs.general(bodies[i], j)
			if err != nil {
				errs[i] = fmt.Errorf("federation: sign: %w: %v", ErrMalformed, err)
				return
			}
			out[i] = b
			return
		}
		p, body := places[i], bodies[i]
		b := p.appendHead(make([]byte, 0, at[j+1]-at[j]), body)
		b = bs.appendExt(b, j)
		out[i] = p.appendTail(b, body)
	})
	return out, errs
}

// signScratch is SignBatch's working memory: dead once the objects are
// signed, and large enough (the objects' canonical forms, and some 200
// bytes an object besides) that allocating it for every batch shows in
// the collector's work. It is pooled, up to maxScratch bytes of arena.
type signScratch struct {
	arena                 []byte
	offs, at, idx         []int
	bodies                [][]byte
	hashes, leaves, nodes [][32]byte
	places                []extPlace
	direct                []bool
	b64                   []byte
}

var signPool = sync.Pool{New: func() any { return new(signScratch) }}

const maxScratch = 16 << 20

// release returns sc to the pool, without the references to bodies that
// outgrew the arena, unless a huge batch made it grow too much to keep.
func (sc *signScratch) release() {
	clear(sc.bodies)
	if cap(sc.arena) <= maxScratch {
		signPool.Put(sc)
	}
}

// resize returns s with length n, reallocated only when too small; the
// contents are not cleared.
func resize[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// batchSigner writes the provenance extensions of one signed batch. The
// members after batch_proof are the same in every object of the batch, so
// they are encoded once, in tail, and so is every node of the tree, in
// base64, for the proofs.
type batchSigner struct {
	levels [][][32]byte // merkleLevels
	b64    [][]byte     // the nodes of each level (but the head) in base64, one after the other
	tail   []byte       // from "batch_root" to the closing brace; nil when not plain
	ext    sigExt       // the members of tail, for the general path
}

// newBatchSigner returns the signer of the batch with the tree levels,
// signed with sig by fp. The proofs' base64 is written in *buf, grown as
// needed.
func newBatchSigner(levels [][][32]byte, sig []byte, fp, identity string, buf *[]byte) *batchSigner {
	root := levels[len(levels)-1][0]
	bs := &batchSigner{levels: levels, ext: sigExt{
		ExtensionType: "property-extension",
		Cell:          fp,
		Signature:     base64.StdEncoding.EncodeToString(sig),
		SignedBy:      identity,
		BatchRoot:     base64.StdEncoding.EncodeToString(root[:]),
		BatchSize:     len(levels[0]),
	}}
	if !plain(identity) {
		return bs
	}
	// appendExt's members from batch_root on, in the same order.
	t := []byte(`"batch_root":"`)
	t = append(t, bs.ext.BatchRoot...)
	t = append(t, `","batch_size":`...)
	t = strconv.AppendInt(t, int64(bs.ext.BatchSize), 10)
	t = append(t, `,"cell":"`...)
	t = append(t, fp...)
	t = append(t, `","extension_type":"property-extension","signature":"`...)
	t = append(t, bs.ext.Signature...)
	t = append(t, '"')
	if identity != "" {
		t = append(t, `,"signed_by":"`...)
		t = append(t, identity...)
		t = append(t, '"')
	}
	bs.tail = append(t, '}')
	n := 0
	for _, l := range levels[:len(levels)-1] {
		n += len(l)
	}
	*buf = resize(*buf, n*base64Len32)
	all := *buf
	bs.b64 = make([][]byte, len(levels)-1)
	for k, l := range levels[:len(levels)-1] {
		bs.b64[k], all = all[:len(l)*base64Len32], all[len(l)*base64Len32:]
		for i := range l {
			base64.StdEncoding.Encode(bs.b64[k][i*base64Len32:], l[i][:])
		}
	}
	return bs
}

// base64Len32 is the length of the base64 of a hash.
const base64Len32 = 44

// pathLen returns the length of leaf j's audit path.
func (bs *batchSigner) pathLen(j int) int {
	n := 0
	for k := range len(bs.levels) - 1 {
		if j>>k^1 < len(bs.levels[k]) {
			n++
		}
	}
	return n
}

// extLen returns the length of what appendExt appends for leaf j.
func (bs *batchSigner) extLen(j int) int {
	n := 1 + len(bs.tail)
	if j != 0 {
		n += len(`"batch_index":,`) + decimalLen(j)
	}
	if np := bs.pathLen(j); np > 0 {
		n += len(`"batch_proof":[],`) + np*len(`"",`) - 1 + np*base64Len32
	}
	return n
}

// decimalLen returns the number of digits of n ≥ 0.
func decimalLen(n int) int {
	d := 1
	for ; n >= 10; n /= 10 {
		d++
	}
	return d
}

// appendExt appends the provenance extension of leaf j: what the function
// appendExt writes for its sigExt (see general), byte for byte.
func (bs *batchSigner) appendExt(dst []byte, j int) []byte {
	dst = append(dst, '{')
	if j != 0 {
		dst = append(dst, `"batch_index":`...)
		dst = strconv.AppendInt(dst, int64(j), 10)
		dst = append(dst, ',')
	}
	sep := byte('[')
	for k := range len(bs.levels) - 1 {
		if s := j>>k ^ 1; s < len(bs.levels[k]) {
			if sep == '[' {
				dst = append(dst, `"batch_proof":`...)
			}
			dst = append(dst, sep, '"')
			dst = append(dst, bs.b64[k][s*base64Len32:(s+1)*base64Len32]...)
			dst = append(dst, '"')
			sep = ','
		}
	}
	if sep == ',' {
		dst = append(dst, ']', ',')
	}
	return append(dst, bs.tail...)
}

// general returns body, the canonical body of leaf j, with its provenance
// extension added by addExtension: the path for what appendExt and
// placeExt do not write.
func (bs *batchSigner) general(body []byte, j int) ([]byte, error) {
	e := bs.ext
	e.BatchIndex = j
	for k := range len(bs.levels) - 1 {
		if s := j>>k ^ 1; s < len(bs.levels[k]) {
			e.BatchProof = append(e.BatchProof, base64.StdEncoding.EncodeToString(bs.levels[k][s][:]))
		}
	}
	return addExtension(body, e)
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

// nodeHash is RFC 6962 §2.1's, with SHA-256. The leaf hash, SHA-256 of
// 0x00 and the body, is taken where the body is written after a 0x00 byte.
func nodeHash(l, r [32]byte) [32]byte {
	var buf [65]byte
	buf[0] = 1
	copy(buf[1:], l[:])
	copy(buf[33:], r[:])
	return sha256.Sum256(buf[:])
}

// merkleLevels returns the nodes of the RFC 6962 tree over leaves (at
// least one), level by level from the leaves (levels[0] is leaves) to the
// head (the only node of the last level), all above the leaves in one
// array, *buf (grown as needed). Each level pairs the nodes of the one
// below from the left; an odd node out at the end is carried up unchanged. That is RFC 6962's tree,
// which splits n leaves at the largest power of two below n: the left part
// is a perfect tree, paired alike, and the right part ends up as the
// sibling of its root. A leaf's audit path (RFC 6962 §2.1.1, deepest
// first) is then its node's sibling at each level where it has one.
func merkleLevels(leaves [][32]byte, buf *[][32]byte) [][][32]byte {
	levels := [][][32]byte{leaves}
	// n-1 hashes, and a carry a level at most: the levels never move.
	if n := len(leaves) + bits.Len(uint(len(leaves))); cap(*buf) < n {
		*buf = make([][32]byte, 0, n)
	}
	nodes := (*buf)[:0]
	for cur := leaves; len(cur) > 1; {
		start := len(nodes)
		for i := 0; i+1 < len(cur); i += 2 {
			nodes = append(nodes, nodeHash(cur[i], cur[i+1]))
		}
		if len(cur)%2 == 1 {
			nodes = append(nodes, cur[len(cur)-1])
		}
		cur = nodes[start:]
		levels = append(levels, cur)
	}
	return levels
}

// maxLevels bounds the levels of a tree: a size is an int.
const maxLevels = 64

// pathMemo remembers the last audit path that led to a batch root: the
// node at each level from the leaf up and the sibling it was hashed with.
// Leaves of one batch share their upper nodes, so the next leaf's path
// usually joins this one a few levels up, with the same siblings from
// there: the hashes above are the ones computed already. What it holds
// are hash computations, true whoever asked for them; it trusts nothing.
type pathMemo struct {
	root        [32]byte
	size, index int // size 0: empty
	levels      int
	node        [maxLevels + 1][32]byte
	sib         [maxLevels][32]byte
}

// walk reports whether path (deepest first) is leaf number index's audit
// path in the RFC 6962 tree of size leaves with head root: it fits the
// size (RFC 9162 §2.1.3.2: one entry for each level where the node has a
// sibling, no more) and the hashes lead to root. Levels pair nodes from
// the left, a node without a sibling carried up (see merkleLevels).
func (m *pathMemo) walk(leaf [32]byte, index, size int, path [][32]byte, root [32]byte) bool {
	if index < 0 || index >= size {
		return false
	}
	// Which levels have a sibling, and the path entry for it.
	var entry [maxLevels]int
	levels, used := 0, 0
	for w := size; w > 1; w = (w + 1) / 2 {
		entry[levels] = -1
		if index>>levels^1 < w {
			if used == len(path) {
				return false
			}
			entry[levels] = used
			used++
		}
		levels++
	}
	if used != len(path) {
		return false
	}
	// join is the lowest level from which this path is the memo's: the
	// same node positions and siblings up to the head.
	join := levels
	if m.levels == levels && m.size == size && m.root == root {
		for k := levels - 1; k >= 0 && m.index>>k == index>>k; k-- {
			if e := entry[k]; e >= 0 && path[e] != m.sib[k] {
				break
			}
			join = k
		}
	}
	// The nodes and siblings of this path, up to where it joins the
	// memo's, are kept apart until the path has led to root.
	var node [maxLevels + 1][32]byte
	var sib [maxLevels][32]byte
	node[0] = leaf
	top := 0 // node[:top+1] and sib[:top] are this path's
	for ; top < levels; top++ {
		if top == join && node[top] == m.node[top] {
			break // and the memo's hashes from here lead to root
		}
		r := node[top]
		if e := entry[top]; e >= 0 {
			sib[top] = path[e]
			if index>>top&1 == 1 {
				r = nodeHash(path[e], r)
			} else {
				r = nodeHash(r, path[e])
			}
		}
		node[top+1] = r
	}
	if top == levels && node[top] != root {
		return false
	}
	copy(m.node[:top+1], node[:top+1])
	copy(m.sib[:top], sib[:top])
	m.root, m.size, m.index, m.levels = root, size, index, levels
	return true
}

// A Verifier checks provenance signatures and remembers the batch
// signatures it has verified, so that a batch's root is checked once, not
// once per object. The zero value is ready to use; it is safe for
// concurrent use.
type Verifier struct {
	mu    sync.Mutex
	roots map[batchKey]struct{}
	// last is the batch signature verified last: the objects of a page
	// come from one batch, and find it here without the lock.
	last atomic.Pointer[batchKey]
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
	if last := v.last.Load(); last != nil && *last == k {
		return true
	}
	v.mu.Lock()
	_, ok := v.roots[k]
	v.mu.Unlock()
	if !ok {
		if !ed25519.Verify(pub, batchMessage(root, size), sig) {
			return false
		}
		v.mu.Lock()
		if v.roots == nil || len(v.roots) >= maxRoots {
			v.roots = make(map[batchKey]struct{}, 64)
		}
		v.roots[k] = struct{}{}
		v.mu.Unlock()
	}
	last := k // only here on the heap
	v.last.Store(&last)
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
	sc := scratchPool.Get().(*verifyScratch)
	defer scratchPool.Put(sc)
	// The body goes after a 0x00 byte: with it, it is the input of its
	// leaf hash. The extension is copied after the body.
	buf, body, eb, err := appendBody(append(sc.buf[:0], 0), raw, true)
	if cap(buf) > cap(sc.buf) && cap(buf) <= 1<<20 {
		sc.buf = buf[:0]
	}
	if err != nil {
		return Signature{}, nil, fmt.Errorf("federation: verify: %w", err)
	}
	if eb == nil {
		return Signature{}, nil, ErrUnsigned
	}
	s, direct := readExt(eb)
	if !direct {
		se, err := parseExt(eb)
		if err != nil {
			return Signature{}, nil, fmt.Errorf("federation: verify: %w: provenance extension: %v", ErrMalformed, err)
		}
		if s, err = viewOf(se); err != nil {
			return Signature{}, nil, fmt.Errorf("federation: verify: %w: provenance extension: %v", ErrMalformed, err)
		}
	}
	sig, err := v.verifyExt(sc, &s, buf[:1+len(body)], keyFor)
	if err != nil || !keep || !direct || string(s.extType) != "property-extension" {
		return sig, nil, err
	}
	return sig, bytes.Clone(body), nil
}

// viewOf returns s as readExt would have read it, for verifyExt. The proof
// is written back as JSON: an entry that is not plain is then not the same
// text as s's, but neither is base64 of a hash, and verifyExt refuses both
// alike.
func viewOf(s sigExt) (extView, error) {
	v := extView{extType: []byte(s.ExtensionType), cell: []byte(s.Cell), signature: []byte(s.Signature),
		signedBy: []byte(s.SignedBy), root: []byte(s.BatchRoot), size: s.BatchSize, index: s.BatchIndex, nproof: len(s.BatchProof)}
	if len(s.BatchProof) > 0 {
		var err error
		if v.proof, err = json.Marshal(s.BatchProof); err != nil {
			return v, err
		}
	}
	return v, nil
}

// maxProof bounds the audit paths verifyExt accepts: 64 levels are more
// leaves than any batch has.
const maxProof = 64

// verifyExt checks the signature s of body, whose leaf hash input is leaf:
// 0x00 followed by body.
func (v *Verifier) verifyExt(sc *verifyScratch, s *extView, leaf []byte, keyFor func(fingerprint string) (ed25519.PublicKey, bool)) (Signature, error) {
	if string(s.cell) != sc.cell || string(s.signedBy) != sc.signedBy {
		// One string for both names.
		var sb strings.Builder
		sb.Grow(len(s.cell) + len(s.signedBy))
		sb.Write(s.cell)
		sb.Write(s.signedBy)
		names := sb.String()
		sc.cell, sc.signedBy = names[:len(s.cell)], names[len(s.cell):]
	}
	signer := Signature{Cell: sc.cell, SignedBy: sc.signedBy}
	pub, ok := keyFor(signer.Cell)
	if !ok || len(pub) != ed25519.PublicKeySize {
		return Signature{}, fmt.Errorf("federation: verify: %w: %.16s", ErrUnknownSigner, signer.Cell)
	}
	var sig [ed25519.SignatureSize]byte
	if !decodeBase64(sig[:], s.signature) {
		return Signature{}, fmt.Errorf("federation: verify: %w: signature is not base64 of %d bytes", ErrBadSignature, ed25519.SignatureSize)
	}
	if s.size == 0 {
		if !ed25519.Verify(pub, leaf[1:], sig[:]) {
			return Signature{}, fmt.Errorf("federation: verify: %w", ErrBadSignature)
		}
		return signer, nil
	}
	var root [32]byte
	if !decodeBase64(root[:], s.root) {
		return Signature{}, fmt.Errorf("federation: verify: %w: batch root is not base64 of 32 bytes", ErrBadSignature)
	}
	if s.nproof > maxProof {
		return Signature{}, fmt.Errorf("federation: verify: %w: batch proof too long", ErrBadSignature)
	}
	var pathBuf [maxProof][32]byte
	path := pathBuf[:0]
	// sc.proofText[k] and sc.proofHash[k] are a decoded pair for every
	// k < sc.nproof: an entry with the same text at the same depth as one
	// of an earlier path needs no decoding.
	for p, j, ok := nextProof(s.proof, 1); ok; p, j, ok = nextProof(s.proof, j) {
		// The length first: Decode writes past a buffer too short.
		if len(p) != base64Len32 {
			return Signature{}, fmt.Errorf("federation: verify: %w: batch proof is not base64 of 32-byte hashes", ErrBadSignature)
		}
		k := len(path)
		if k >= maxProof {
			return Signature{}, fmt.Errorf("federation: verify: %w: batch proof too long", ErrBadSignature)
		}
		if k < sc.nproof && string(p) == string(sc.proofText[k][:]) {
			path = append(path, sc.proofHash[k])
			continue
		}
		var h [33]byte // base64.StdEncoding.DecodedLen(base64Len32)
		if n, err := base64.StdEncoding.Decode(h[:], p); err != nil || n != 32 {
			return Signature{}, fmt.Errorf("federation: verify: %w: batch proof is not base64 of 32-byte hashes", ErrBadSignature)
		}
		path = append(path, [32]byte(h[:32]))
		copy(sc.proofText[k][:], p)
		sc.proofHash[k] = path[k]
		sc.nproof = max(sc.nproof, k+1)
	}
	if !sc.memo.walk(sha256.Sum256(leaf), s.index, s.size, path, root) {
		return Signature{}, fmt.Errorf("federation: verify: %w: not in the signed batch", ErrBadSignature)
	}
	if !v.batchSig(pub, root, s.size, sig[:]) {
		return Signature{}, fmt.Errorf("federation: verify: %w", ErrBadSignature)
	}
	return signer, nil
}

// decodeBase64 reports whether src is standard base64 of exactly
// len(dst) bytes, as base64.StdEncoding.DecodeString would read it, and
// decodes it into dst. The usual length is decoded without allocating.
func decodeBase64(dst, src []byte) bool {
	var buf [66]byte // the decoded length of the base64 of a signature
	if n := base64.StdEncoding.DecodedLen(len(src)); n <= len(buf) {
		n, err := base64.StdEncoding.Decode(buf[:n], src)
		return err == nil && n == len(dst) && copy(dst, buf[:n]) == n
	}
	b, err := base64.StdEncoding.DecodeString(string(src))
	return err == nil && len(b) == len(dst) && copy(dst, b) == len(b)
}

// signerOf returns the fingerprint a provenance extension claims, without
// verifying it, or "". Bytes that do not name the extension at all (the
// common case: objects produced in this cell) are answered without
// canonicalizing them.
func signerOf(raw []byte) string {
	if !mayCarryExtension(raw) {
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

// mayCarryExtension reports whether raw holds extID, as bytes.Contains
// would, but faster on the objects a cell serves, which mostly have none:
// it looks for the id's second byte, an "x", which STIX properties and
// values seldom have, where bytes.Contains would stop at every "e".
func mayCarryExtension(raw []byte) bool {
	if len(raw) < len(extID) {
		return false
	}
	for i := 1; ; {
		j := bytes.IndexByte(raw[i:], extID[1])
		if j < 0 {
			return false
		}
		i += j
		if bytes.HasPrefix(raw[i-1:], extID) {
			return true
		}
		i++
	}
}

// Content returns the content of an object apart from its provenance
// extension: its canonical form without the extension, or raw itself when
// raw is not a JSON object this package can read. The same object signed
// in two batches, or signed and not, has one Content. It is what
// access.PolicyConfig.DefinitionContent needs, so that a marking
// definition that reaches a cell by two paths is the same definition.
func Content(raw []byte) []byte {
	body, _, err := canonicalBody(nil, raw)
	if err != nil {
		return raw
	}
	return body
}

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
