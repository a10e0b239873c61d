package audit

import (
	"errors"
	"fmt"
)

// cacheLevel is the lowest level of the tree kept in memory: perfect
// subtrees of 1<<cacheLevel = 16 leaves and everything above them, about 4
// bytes per entry. Nodes below it are recomputed on demand from at most 8
// leaf hashes read from the leaf index, which only proofs need; appending
// and computing the current root never touch the disk.
const cacheLevel = 4

// tree is the Log's view of the Merkle tree. Appending is O(1) amortised
// and O(log n) at worst; the root of any size and the nodes of any proof
// cost O(log n) lookups.
type tree struct {
	size uint64
	// levels[i] holds the hashes of all complete perfect subtrees at level
	// cacheLevel+i, left to right.
	levels [][]digest
	// tail holds the leaf hashes of the incomplete group of 16 at the right
	// edge, the only leaves not yet folded into levels[0].
	tail []digest
	// leaves reads count leaf hashes from start out of the leaf index, for
	// groups that have left tail.
	leaves func(start, count uint64) ([]digest, error)
}

var errNoNode = errors.New("audit: tree node not available")

func (t *tree) push(d digest) {
	t.tail = append(t.tail, d)
	t.size++
	if len(t.tail) < 1<<cacheLevel {
		return
	}
	h := foldPerfect(t.tail)
	t.tail = t.tail[:0]
	for i := 0; ; i++ {
		if i == len(t.levels) {
			t.levels = append(t.levels, nil)
		}
		t.levels[i] = append(t.levels[i], h)
		n := len(t.levels[i])
		if n&1 == 1 {
			return
		}
		h = nodeDigest(t.levels[i][n-2], t.levels[i][n-1])
	}
}

// foldPerfect returns MTH of a power-of-two number of leaf hashes. It
// overwrites ds.
func foldPerfect(ds []digest) digest {
	for n := len(ds); n > 1; n /= 2 {
		for i := 0; i < n/2; i++ {
			ds[i] = nodeDigest(ds[2*i], ds[2*i+1])
		}
	}
	return ds[0]
}

// perfect is the tree's perfectFunc.
func (t *tree) perfect(level uint, index uint64) (digest, error) {
	if level >= cacheLevel {
		i := int(level - cacheLevel)
		if i >= len(t.levels) || index >= uint64(len(t.levels[i])) {
			return digest{}, fmt.Errorf("%w: level %d index %d in a tree of size %d", errNoNode, level, index, t.size)
		}
		return t.levels[i][index], nil
	}
	start, count := index<<level, uint64(1)<<level
	if start+count > t.size {
		return digest{}, fmt.Errorf("%w: level %d index %d in a tree of size %d", errNoNode, level, index, t.size)
	}
	ds := make([]digest, count)
	if tailStart := t.size - uint64(len(t.tail)); start >= tailStart {
		copy(ds, t.tail[start-tailStart:])
	} else {
		got, err := t.leaves(start, count)
		if err != nil {
			return digest{}, err
		}
		copy(ds, got)
	}
	return foldPerfect(ds), nil
}

// root returns MTH of the first size leaves.
func (t *tree) root(size uint64) (digest, error) {
	if size > t.size {
		return digest{}, fmt.Errorf("%w: root of size %d in a tree of size %d", errNoNode, size, t.size)
	}
	return rangeDigest(t.perfect, 0, size)
}
