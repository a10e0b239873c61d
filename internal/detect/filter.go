package detect

import (
	"hash/maphash"
	"math/bits"
)

// keyFilter is a split-block Bloom filter over every key of the index's
// hash maps (path id and value, or path id, prefix length and masked
// address). Most event values are in no map, and with a million
// indicators each map probe is a miss in the CPU caches; the filter, two
// bytes a key, stays in cache and answers "certainly absent" for about 99.9%
// of them with one cache line. Removed keys stay in it (false positives
// only) until the next rebuild.
type keyFilter struct {
	blocks   [][8]uint32
	seed     maphash.Seed
	capacity int // keys it was sized for
	keys     int // keys added since the last build
	removed  int // keys removed since the last build
}

// filterBitsPerKey: 16 bits a key give a false positive rate near 0.1%.
const filterBitsPerKey = 16

var filterSalt = [8]uint32{0x47b6137b, 0x44974d91, 0x8824ad5b, 0xa2b7289d, 0x705495c7, 0x2df1424b, 0x9efc4947, 0x5c6bfb31}

func (f *keyFilter) reset(capacity int) {
	capacity = max(capacity, 1024)
	n := capacity * filterBitsPerKey / 256
	f.blocks = make([][8]uint32, n)
	f.capacity, f.keys, f.removed = capacity, 0, 0
}

// full reports whether the filter should be rebuilt: more keys than it was
// sized for, or many removed.
func (f *keyFilter) full() bool {
	return f.keys >= f.capacity || f.removed > f.capacity/2
}

func (f *keyFilter) add(h uint64) {
	b := &f.blocks[(h>>32*uint64(len(f.blocks)))>>32]
	x := uint32(h)
	for i := range b {
		b[i] |= 1 << ((x * filterSalt[i]) >> 27)
	}
	f.keys++
}

func (f *keyFilter) has(h uint64) bool {
	if len(f.blocks) == 0 {
		return true
	}
	b := &f.blocks[(h>>32*uint64(len(f.blocks)))>>32]
	x := uint32(h)
	miss := uint32(0)
	for i := range b {
		miss |= ^b[i] & (1 << ((x * filterSalt[i]) >> 27))
	}
	return miss == 0
}

// mix finishes a hash (the splitmix64 finaliser).
func mix(h uint64) uint64 {
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	return h ^ h>>31
}

func (f *keyFilter) strKey(pid uint32, v string) uint64 {
	return mix(maphash.String(f.seed, v) ^ uint64(pid)<<32)
}

func (f *keyFilter) v4Key(pid uint32, nbits int, a uint32) uint64 {
	return mix(uint64(a) ^ uint64(pid)<<32 ^ uint64(nbits)<<56 ^ 0x5bd1e995)
}

func (f *keyFilter) v6Key(pid uint32, nbits int, a u128) uint64 {
	return mix(mix(a.hi^uint64(nbits)<<1) ^ bits.RotateLeft64(a.lo, 17) ^ uint64(pid)<<32)
}
