package stix

// nameTable maps a fixed set of names (property names, type names,
// vocabulary values) to values. Validation looks up every member of every
// object by name, and Go's map hashes the whole key; this table hashes the
// length and three bytes and, for almost every set of names in the
// catalogue, finds a name in the first slot it reads, so a lookup costs one
// hash, one load and one comparison. It is built once and never modified.
type nameTable[V any] struct {
	slots []nameSlot[V] // an empty name marks an empty slot
	mult  uint64        // the odd multiplier of nameHash for this table
	bits  uint8         // len(slots) is 1<<bits
}

type nameSlot[V any] struct {
	name string
	val  V
}

// nameHash is the home slot of a name of length n in a table of 1<<bits
// slots: multiplicative hashing of the length and three of its bytes. n
// must be at least 1.
func nameHash(n int, first, mid, last byte, mult uint64, bits uint8) uint32 {
	k := uint64(n) | uint64(first)<<8 | uint64(mid)<<16 | uint64(last)<<24
	return uint32((k * mult) >> (64 - bits))
}

// lookupName returns the value of key and whether t has it. It probes
// linearly from the key's home slot up to an empty slot; newNameTable
// keeps at least half of the slots empty, so the probe always ends.
func lookupName[V any, K string | []byte](t *nameTable[V], key K) (V, bool) {
	n := len(key)
	if n == 0 || len(t.slots) == 0 {
		var zero V
		return zero, false
	}
	mask := uint32(len(t.slots) - 1)
	for i := nameHash(n, key[0], key[n/2], key[n-1], t.mult, t.bits); ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.name == "" {
			var zero V
			return zero, false
		}
		if s.name == string(key) {
			return s.val, true
		}
	}
}

// newNameTable builds the table of names[i] to vals[i]; the names must be
// distinct and not empty. It looks for a multiplier that gives every name
// its own home slot, so that a lookup reads one slot, in a table of two to
// sixteen times as many slots as names; should none be found (two names of
// the same length with the same three bytes), linear probing resolves the
// collisions in the smallest table.
func newNameTable[V any](names []string, vals []V) nameTable[V] {
	var t nameTable[V]
	least := uint8(2)
	for 1<<least < 2*len(names) {
		least++
	}
	seed := uint64(0)
	for bits := least; bits <= least+3; bits++ {
		for range 256 {
			// The multipliers are the outputs of SplitMix64, made odd.
			seed += 0x9e3779b97f4a7c15
			m := (seed ^ seed>>30) * 0xbf58476d1ce4e5b9
			m = (m ^ m>>27) * 0x94d049bb133111eb
			if t.place(names, vals, m^m>>31|1, bits) {
				return t
			}
		}
	}
	t.place(names, vals, 0x9e3779b97f4a7c15, least)
	return t
}

// place lays the names out in a table of 1<<bits slots with multiplier
// mult and reports whether each one landed in its home slot.
func (t *nameTable[V]) place(names []string, vals []V, mult uint64, bits uint8) bool {
	t.slots, t.mult, t.bits = make([]nameSlot[V], 1<<bits), mult, bits
	mask := uint32(len(t.slots) - 1)
	perfect := true
	for j, name := range names {
		n := len(name)
		i := nameHash(n, name[0], name[n/2], name[n-1], mult, bits)
		for t.slots[i].name != "" {
			perfect = false
			i = (i + 1) & mask
		}
		t.slots[i] = nameSlot[V]{name, vals[j]}
	}
	return perfect
}
