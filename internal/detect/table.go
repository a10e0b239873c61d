package detect

import "unsafe"

// keyTable maps the equality keys of the index, (path id, value), to the
// head of their chain of postings. It is open addressing with linear
// probing over one slice of uint64 (the low 32 bits of the key's hash,
// then the head record), with nothing for the garbage collector to scan:
// the values themselves are in the value arena, referenced by the records.
type keyTable struct {
	slots []uint64
	n     int
}

func (t *keyTable) init(capacity int) {
	size := 1024
	for size*3 < capacity*4 {
		size *= 2
	}
	t.slots = make([]uint64, size)
	t.n = 0
}

// find returns the slot of key (h, pid, v) and the head of its chain, or
// -1 and 0.
func (ix *Index) findKey(h uint64, pid uint32, v string) (int, uint32) {
	t := &ix.table
	if len(t.slots) == 0 {
		return -1, 0
	}
	mask := len(t.slots) - 1
	tag := uint32(h)
	for i := int(tag) & mask; ; i = (i + 1) & mask {
		s := t.slots[i]
		if s == 0 {
			return -1, 0
		}
		if uint32(s>>32) == tag {
			r := ix.recs.at(uint32(s))
			if r.path == pid && ix.arena.get(r.vchunk, r.voff, r.vlen) == v {
				return i, uint32(s)
			}
		}
	}
}

// insertKey adds a key known to be absent, with head as its chain.
func (ix *Index) insertKey(h uint64, head uint32) {
	t := &ix.table
	if (t.n+1)*4 > len(t.slots)*3 {
		t.grow()
	}
	t.place(uint64(uint32(h))<<32 | uint64(head))
	t.n++
}

func (t *keyTable) place(s uint64) {
	mask := len(t.slots) - 1
	i := int(uint32(s>>32)) & mask
	for t.slots[i] != 0 {
		i = (i + 1) & mask
	}
	t.slots[i] = s
}

func (t *keyTable) grow() {
	old := t.slots
	t.slots = make([]uint64, max(1024, 2*len(old)))
	for _, s := range old {
		if s != 0 {
			t.place(s)
		}
	}
}

// remove empties slot i, moving back the entries after it that would no
// longer be found (deletion without tombstones for linear probing).
func (t *keyTable) remove(i int) {
	mask := len(t.slots) - 1
	for {
		j := i
		for {
			j = (j + 1) & mask
			s := t.slots[j]
			if s == 0 {
				t.slots[i] = 0
				t.n--
				return
			}
			k := int(uint32(s>>32)) & mask // where the entry at j wants to be
			// The entry stays when its home lies cyclically in (i, j].
			if (i <= j && i < k && k <= j) || (i > j && (i < k || k <= j)) {
				continue
			}
			t.slots[i] = s
			i = j
			break
		}
	}
}

// valueArena stores the values of the keys in large chunks: no object per
// value, nothing to scan for the garbage collector, no allocator rounding.
// Space of removed values is reclaimed by compaction when it outweighs the
// live values.
type valueArena struct {
	chunks     [][]byte
	cur        int // the chunk small values are appended to
	live, dead int
}

const arenaChunk = 1 << 20

// arenaCompactMin is the removed bytes below which the arena is never
// compacted (a variable for tests).
var arenaCompactMin = arenaChunk

func (a *valueArena) put(v string) (chunk, off, n uint32) {
	a.live += len(v)
	if len(v) > arenaChunk/8 {
		a.chunks = append(a.chunks, []byte(v))
		return uint32(len(a.chunks) - 1), 0, uint32(len(v))
	}
	if len(a.chunks) == 0 || cap(a.chunks[a.cur])-len(a.chunks[a.cur]) < len(v) {
		a.chunks = append(a.chunks, make([]byte, 0, arenaChunk))
		a.cur = len(a.chunks) - 1
	}
	c := &a.chunks[a.cur]
	off = uint32(len(*c))
	*c = append(*c, v...)
	return uint32(a.cur), off, uint32(len(v))
}

// get returns a value without copying it: it is valid until the next
// compaction, that is, while the caller holds a lock on the index.
func (a *valueArena) get(chunk, off, n uint32) string {
	if n == 0 {
		return ""
	}
	return unsafe.String(&a.chunks[chunk][off], int(n))
}
