package audit

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"math/bits"
)

// This file holds the Merkle tree mathematics of RFC 6962 §2.1 (restated in
// RFC 9162 §2.1): hashing, the proofs an outside auditor checks, and the
// pure functions that check them. Nothing here does I/O, so the admin API
// and third-party auditors can use the verifiers as they are.

// HashSize is the size of every hash in the tree: SHA-256.
const HashSize = sha256.Size

// digest is one node of the tree. An array rather than a slice so that
// nodes compare with == and live in slices without extra allocations.
type digest [HashSize]byte

// ErrProof is wrapped by every verification failure of an inclusion or
// consistency proof.
var ErrProof = errors.New("audit: proof does not verify")

// emptyRoot is MTH({}) = SHA-256() (RFC 6962 §2.1), the root of a tree with
// no entries.
var emptyRoot = digest(sha256.Sum256(nil))

// EmptyRoot returns the root hash of the empty tree, SHA-256 of nothing.
func EmptyRoot() []byte {
	r := emptyRoot
	return r[:]
}

// LeafHash returns the RFC 6962 leaf hash SHA-256(0x00 || data). For the
// audit log, data is one line of entries.jsonl without its newline.
func LeafHash(data []byte) []byte {
	d := leafDigest(data)
	return d[:]
}

func leafDigest(data []byte) digest {
	// The 0x00 prefix separates leaves from interior nodes (0x01), so that
	// no leaf can be passed off as a subtree (RFC 6962 §2.1).
	h := sha256.New()
	h.Write([]byte{0x00})
	h.Write(data)
	var d digest
	h.Sum(d[:0])
	return d
}

func nodeDigest(l, r digest) digest {
	var b [1 + 2*HashSize]byte
	b[0] = 0x01
	copy(b[1:], l[:])
	copy(b[1+HashSize:], r[:])
	return sha256.Sum256(b[:])
}

// split returns k, the largest power of two smaller than n, where RFC 6962
// §2.1 splits a list of n >= 2 leaves into a perfect left subtree and the
// rest. Splitting anywhere else (the midpoint, say) gives a tree no other
// implementation agrees with.
func split(n uint64) uint64 {
	return 1 << (bits.Len64(n-1) - 1)
}

// compactRange is the right edge of a tree grown from the left: the roots
// of its perfect subtrees, largest first, one per set bit of size. Pushing a
// leaf costs O(1) amortised and O(log n) at worst; the root folds the
// subtrees from the right, which is exactly MTH for any size.
type compactRange struct {
	size  uint64
	nodes []digest
}

func (c *compactRange) push(d digest) {
	c.nodes = append(c.nodes, d)
	c.size++
	for s := c.size; s&1 == 0; s >>= 1 {
		n := len(c.nodes)
		c.nodes[n-2] = nodeDigest(c.nodes[n-2], c.nodes[n-1])
		c.nodes = c.nodes[:n-1]
	}
}

func (c *compactRange) root() digest {
	if len(c.nodes) == 0 {
		return emptyRoot
	}
	r := c.nodes[len(c.nodes)-1]
	for i := len(c.nodes) - 2; i >= 0; i-- {
		r = nodeDigest(c.nodes[i], r)
	}
	return r
}

// perfectFunc returns the hash of the perfect subtree at level (0 for a
// leaf) and horizontal index, that is MTH of leaves
// [index<<level, (index+1)<<level).
type perfectFunc func(level uint, index uint64) (digest, error)

// rangeDigest returns MTH of the n leaves starting at lo. The proofs below
// only ask for ranges where lo is a multiple of a power of two >= n, which
// is what lets a power-of-two range be looked up as one perfect subtree.
func rangeDigest(get perfectFunc, lo, n uint64) (digest, error) {
	if n == 0 {
		return emptyRoot, nil
	}
	if n&(n-1) == 0 {
		level := uint(bits.TrailingZeros64(n))
		return get(level, lo>>level)
	}
	k := split(n)
	l, err := rangeDigest(get, lo, k)
	if err != nil {
		return digest{}, err
	}
	r, err := rangeDigest(get, lo+k, n-k)
	if err != nil {
		return digest{}, err
	}
	return nodeDigest(l, r), nil
}

// inclusionPath appends PATH(m, D[lo:lo+n]) of RFC 6962 §2.1.1 to out: the
// siblings from the leaf up to the root.
func inclusionPath(get perfectFunc, m, lo, n uint64, out [][]byte) ([][]byte, error) {
	if n <= 1 {
		return out, nil
	}
	k := split(n)
	var sib digest
	var err error
	if m < k {
		if out, err = inclusionPath(get, m, lo, k, out); err != nil {
			return nil, err
		}
		sib, err = rangeDigest(get, lo+k, n-k)
	} else {
		if out, err = inclusionPath(get, m-k, lo+k, n-k, out); err != nil {
			return nil, err
		}
		sib, err = rangeDigest(get, lo, k)
	}
	if err != nil {
		return nil, err
	}
	return append(out, sib[:]), nil
}

// consistencyPath appends SUBPROOF(m, D[lo:lo+n], whole) of RFC 6962
// §2.1.2 to out.
func consistencyPath(get perfectFunc, m, lo, n uint64, whole bool, out [][]byte) ([][]byte, error) {
	if m == n {
		if whole {
			return out, nil
		}
		d, err := rangeDigest(get, lo, n)
		if err != nil {
			return nil, err
		}
		return append(out, d[:]), nil
	}
	k := split(n)
	var d digest
	var err error
	if m <= k {
		if out, err = consistencyPath(get, m, lo, k, whole, out); err != nil {
			return nil, err
		}
		d, err = rangeDigest(get, lo+k, n-k)
	} else {
		if out, err = consistencyPath(get, m-k, lo+k, n-k, false, out); err != nil {
			return nil, err
		}
		d, err = rangeDigest(get, lo, k)
	}
	if err != nil {
		return nil, err
	}
	return append(out, d[:]), nil
}

func toDigest(what string, b []byte) (digest, error) {
	var d digest
	if len(b) != HashSize {
		return d, fmt.Errorf("%w: %s is %d bytes, want %d", ErrProof, what, len(b), HashSize)
	}
	copy(d[:], b)
	return d, nil
}

// VerifyInclusion checks that leafHash is leaf number index (from 0) of the
// tree of size leaves whose root is root, given proof, with the algorithm of
// RFC 9162 §2.1.3.2. It returns nil when the proof holds and an error
// wrapping ErrProof otherwise.
func VerifyInclusion(leafHash []byte, index, size uint64, proof [][]byte, root []byte) error {
	leaf, err := toDigest("leaf hash", leafHash)
	if err != nil {
		return err
	}
	want, err := toDigest("root hash", root)
	if err != nil {
		return err
	}
	if index >= size {
		return fmt.Errorf("%w: leaf index %d is outside a tree of size %d", ErrProof, index, size)
	}
	fn, sn := index, size-1
	r := leaf
	for i, pb := range proof {
		p, err := toDigest(fmt.Sprintf("proof element %d", i), pb)
		if err != nil {
			return err
		}
		if sn == 0 {
			return fmt.Errorf("%w: proof has %d elements, more than the path is long", ErrProof, len(proof))
		}
		if fn&1 == 1 || fn == sn {
			r = nodeDigest(p, r)
			for fn != 0 && fn&1 == 0 {
				fn >>= 1
				sn >>= 1
			}
		} else {
			r = nodeDigest(r, p)
		}
		fn >>= 1
		sn >>= 1
	}
	if sn != 0 {
		return fmt.Errorf("%w: proof has %d elements, fewer than the path is long", ErrProof, len(proof))
	}
	if r != want {
		return fmt.Errorf("%w: the computed root differs from the given root", ErrProof)
	}
	return nil
}

// VerifyConsistency checks that the tree of oldSize leaves with root
// oldRoot is a prefix of the tree of newSize leaves with root newRoot,
// given proof, with the algorithm of RFC 9162 §2.1.4.2. The two degenerate
// cases take an empty proof: equal sizes (the roots must be equal) and an
// empty old tree (its root must be the empty root). It returns nil when the
// proof holds and an error wrapping ErrProof otherwise.
func VerifyConsistency(oldSize, newSize uint64, oldRoot, newRoot []byte, proof [][]byte) error {
	first, err := toDigest("old root", oldRoot)
	if err != nil {
		return err
	}
	second, err := toDigest("new root", newRoot)
	if err != nil {
		return err
	}
	switch {
	case oldSize > newSize:
		return fmt.Errorf("%w: old size %d is larger than new size %d", ErrProof, oldSize, newSize)
	case oldSize == newSize:
		if len(proof) != 0 {
			return fmt.Errorf("%w: trees of equal size take an empty proof", ErrProof)
		}
		if first != second {
			return fmt.Errorf("%w: trees of equal size %d have different roots", ErrProof, oldSize)
		}
		return nil
	case oldSize == 0:
		if len(proof) != 0 {
			return fmt.Errorf("%w: the empty tree takes an empty proof", ErrProof)
		}
		if first != emptyRoot {
			return fmt.Errorf("%w: old root is not the empty tree's root", ErrProof)
		}
		return nil
	}
	if len(proof) == 0 {
		return fmt.Errorf("%w: empty proof", ErrProof)
	}
	path := make([]digest, 0, len(proof)+1)
	if oldSize&(oldSize-1) == 0 {
		// The old tree is a perfect subtree of the new one, so the proof
		// leaves its root out (RFC 6962 §2.1.2): the verifier supplies it.
		path = append(path, first)
	}
	for i, pb := range proof {
		p, err := toDigest(fmt.Sprintf("proof element %d", i), pb)
		if err != nil {
			return err
		}
		path = append(path, p)
	}
	fn, sn := oldSize-1, newSize-1
	for fn&1 == 1 {
		fn >>= 1
		sn >>= 1
	}
	fr, sr := path[0], path[0]
	for _, c := range path[1:] {
		if sn == 0 {
			return fmt.Errorf("%w: proof has %d elements, more than needed", ErrProof, len(proof))
		}
		if fn&1 == 1 || fn == sn {
			fr = nodeDigest(c, fr)
			sr = nodeDigest(c, sr)
			for fn != 0 && fn&1 == 0 {
				fn >>= 1
				sn >>= 1
			}
		} else {
			sr = nodeDigest(sr, c)
		}
		fn >>= 1
		sn >>= 1
	}
	if sn != 0 {
		return fmt.Errorf("%w: proof has %d elements, fewer than needed", ErrProof, len(proof))
	}
	if fr != first {
		return fmt.Errorf("%w: the proof does not lead to the old root", ErrProof)
	}
	if sr != second {
		return fmt.Errorf("%w: the proof does not lead to the new root", ErrProof)
	}
	return nil
}
