package federation

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/jointcell/jointcell/internal/stix"
)

// leafHash is RFC 6962 §2.1's, with SHA-256, as a hash function is used:
// the reference for the leaf hashes taken in place.
func leafHash(body []byte) [32]byte {
	h := sha256.New()
	h.Write([]byte{0})
	h.Write(body)
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// merkleTreeRef is RFC 6962 §2.1 as written there, recursively: the tree
// head of leaves and every leaf's audit path, deepest sibling first. It is
// the reference merkleLevels is checked against.
func merkleTreeRef(leaves [][32]byte) ([32]byte, [][][32]byte) {
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

// pathOf is leaf j's audit path read from merkleLevels' levels.
func pathOf(levels [][][32]byte, j int) [][32]byte {
	var p [][32]byte
	for k := range len(levels) - 1 {
		if s := j>>k ^ 1; s < len(levels[k]) {
			p = append(p, levels[k][s])
		}
	}
	return p
}

func TestMerkleLevelsMatchRFC6962(t *testing.T) {
	for n := 1; n <= 300; n++ {
		leaves := make([][32]byte, n)
		for i := range leaves {
			var b [8]byte
			binary.BigEndian.PutUint64(b[:], uint64(i))
			leaves[i] = leafHash(b[:])
		}
		root, proofs := merkleTreeRef(leaves)
		levels := merkleLevels(leaves, new([][32]byte))
		if got := levels[len(levels)-1]; len(got) != 1 || got[0] != root {
			t.Fatalf("n=%d: head %x, want %x", n, got, root)
		}
		bs := newBatchSigner(levels, make([]byte, 64), "ab", "", new([]byte))
		for j := range leaves {
			p := pathOf(levels, j)
			if len(p) != len(proofs[j]) || (len(p) > 0 && !equalPaths(p, proofs[j])) {
				t.Fatalf("n=%d, leaf %d: path %x, want %x", n, j, p, proofs[j])
			}
			if bs.pathLen(j) != len(p) {
				t.Fatalf("n=%d, leaf %d: pathLen %d, want %d", n, j, bs.pathLen(j), len(p))
			}
			if r, ok := rootFromPathRef(leaves[j], j, n, p); !ok || r != root {
				t.Fatalf("n=%d, leaf %d: path does not lead to the head", n, j)
			}
		}
	}
}

// rootFromPathRef is RFC 9162 §2.1.3.2's verification of an inclusion
// proof, as written there: the reference pathMemo.walk is checked against.
func rootFromPathRef(leaf [32]byte, index, size int, path [][32]byte) ([32]byte, bool) {
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

// TestPathMemoWalk checks walk, with whatever its memo holds, against
// RFC 9162's algorithm: on good paths, and on paths with a wrong index,
// size, root or entry, or an entry too many or too few.
func TestPathMemoWalk(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	type tree struct {
		leaves [][32]byte
		levels [][][32]byte
		root   [32]byte
	}
	var trees []tree
	for _, n := range []int{1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 31, 33, 100, 1000} {
		leaves := make([][32]byte, n)
		for i := range leaves {
			leaves[i] = leafHash(fmt.Appendf(nil, "%d/%d", n, i))
		}
		levels := merkleLevels(leaves, new([][32]byte))
		trees = append(trees, tree{leaves, levels, levels[len(levels)-1][0]})
	}
	var m pathMemo
	for range 20000 {
		tr := trees[rng.IntN(len(trees))]
		n := len(tr.leaves)
		j := rng.IntN(n)
		if rng.IntN(2) == 0 { // the neighbours, as pages are verified
			j = (m.index + 1 + rng.IntN(3)) % n
		}
		leaf, index, size, root := tr.leaves[j], j, n, tr.root
		path := pathOf(tr.levels, j)
		switch rng.IntN(8) {
		case 0:
			index = rng.IntN(n + 2)
		case 1:
			size = rng.IntN(n + 3)
		case 2:
			if len(path) > 0 {
				path = slices.Clone(path)
				path[rng.IntN(len(path))][rng.IntN(32)] ^= 1
			}
		case 3:
			path = append(slices.Clone(path), leaf)
		case 4:
			if len(path) > 0 {
				path = path[:len(path)-1]
			}
		case 5:
			root[0] ^= 1
		}
		ref, ok := rootFromPathRef(leaf, index, size, path)
		want := ok && ref == root
		if got := m.walk(leaf, index, size, path, root); got != want {
			t.Fatalf("n=%d: walk(leaf %d, index %d, size %d, %d entries) = %v, want %v", n, j, index, size, len(path), got, want)
		}
	}
}

func equalPaths(a, b [][32]byte) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return len(a) == len(b)
}

// TestLeafHashPrefix checks that the leaf hashes SignBatch takes from its
// arena (a body after a 0x00 byte) are leafHash's, also for a body that
// outgrows its slot (JCS writes 1E2 as 100) and for one that drops a
// provenance extension.
func TestLeafHashPrefix(t *testing.T) {
	k := testKey(1)
	signed, err := Sign([]byte(indicator), k, "")
	if err != nil {
		t.Fatal(err)
	}
	raws := [][]byte{[]byte(indicator), []byte(`{"n":[1E2,1E3,1E4,1E5]}`), signed}
	for _, raw := range raws {
		buf, body, _, err := appendBody(make([]byte, 1, 1+len(raw)), raw, false)
		if err != nil {
			t.Fatal(err)
		}
		want, _, _ := canonicalBody(nil, raw)
		if !bytes.Equal(body, want) || sha256.Sum256(buf[:1+len(body)]) != leafHash(want) {
			t.Fatalf("%s: body %s, leaf hash differs", raw, body)
		}
	}
}

// TestSignBatchAllocations checks that the objects SignBatch writes
// directly are allocated once, at exactly their size: a wrong size would
// not change a byte (TestSignGolden) but would cost an allocation more.
func TestSignBatchAllocations(t *testing.T) {
	k := testKey(1)
	for _, n := range []int{2, 3, 10, 100, 1000} {
		raws := make([][]byte, n)
		for i := range raws {
			raws[i] = []byte(strings.Replace(indicator, "198.51.100.1", fmt.Sprintf("198.51.%d.%d", i/256, i%256), 1))
		}
		raws[1] = []byte(withExtension)
		for _, id := range []string{"", "identity--3c1a0f7e-4a5b-4c6d-8e9f-0a1b2c3d4e5f"} {
			out, errs := SignBatch(raws, k, id)
			for i := range out {
				if errs[i] != nil {
					t.Fatal(errs[i])
				}
				if len(out[i]) != cap(out[i]) {
					t.Fatalf("n=%d, object %d: %d bytes in %d allocated", n, i, len(out[i]), cap(out[i]))
				}
			}
		}
	}
	if raceEnabled {
		return
	}
	raws := make([][]byte, 1000)
	for i := range raws {
		raws[i] = []byte(indicator)
	}
	// One allocation an object, and a few a batch.
	if a := testing.AllocsPerRun(5, func() { SignBatch(raws, k, "") }); a > float64(len(raws)+40) {
		t.Fatalf("SignBatch of 1000 objects: %.0f allocations", a)
	}
}

// BenchmarkVerifyPage verifies a page of 1000 objects of one batch as
// admitAll does: verifyBody on every core, keys looked up in a map.
func BenchmarkVerifyPage(b *testing.B) {
	k := testKey(1)
	raws := make([][]byte, 1000)
	for i := range raws {
		raws[i] = []byte(strings.Replace(indicator, "198.51.100.1", fmt.Sprintf("198.51.%d.%d", i/256, i%256), 1))
	}
	signed, _ := SignBatch(raws, k, "identity--3c1a0f7e-4a5b-4c6d-8e9f-0a1b2c3d4e5f")
	pub := k.Public().(ed25519.PublicKey)
	known := map[string]ed25519.PublicKey{Fingerprint(pub): pub}
	keyFor := func(fp string) (ed25519.PublicKey, bool) { p, ok := known[fp]; return p, ok }
	var v Verifier
	for b.Loop() {
		parallel(len(signed), func(i int) {
			if _, body, err := v.verifyBody(signed[i], keyFor); err != nil || body == nil {
				b.Fatal(err)
			}
		})
	}
	b.ReportMetric(float64(b.N*len(signed))/b.Elapsed().Seconds(), "objects/s")
}

// canonicalBodyRef is canonicalBody as first written, with a findMember
// that looks at every member: the reference for appendBody's single pass
// over extensions and findName's early stop.
func canonicalBodyRef(raw []byte) (body, ext []byte, err error) {
	c, err := stix.Canonicalize(raw)
	if err != nil {
		return nil, nil, err
	}
	if len(c) < 2 || c[0] != '{' {
		return nil, nil, ErrMalformed
	}
	find := func(obj, key []byte) (start, vstart, vend int) {
		for i := 1; i < len(obj) && obj[i] == '"'; {
			ke := skipString(obj, i)
			ve := skipValue(obj, ke+1)
			if bytes.Equal(obj[i:ke], key) {
				return i, ke + 1, ve
			}
			if ve >= len(obj) || obj[ve] != ',' {
				break
			}
			i = ve + 1
		}
		return -1, -1, -1
	}
	ks, vs, ve := find(c, extsKey)
	if ks < 0 {
		return c, nil, nil
	}
	if c[vs] != '{' {
		return nil, nil, ErrMalformed
	}
	if s, evs, eve := find(c[vs:ve], extKey); s >= 0 {
		ext = bytes.Clone(c[vs+evs : vs+eve])
		n := len(c)
		c = cutMember(c, vs+s, vs+eve)
		ve -= n - len(c)
	}
	if ve-vs == 2 {
		c = cutMember(c, ks, ve)
	}
	return c, ext, nil
}

// FuzzCanonicalBody checks canonicalBody against canonicalBodyRef.
func FuzzCanonicalBody(f *testing.F) {
	signed, _ := Sign([]byte(indicator), testKey(1), "identity--3c1a0f7e-4a5b-4c6d-8e9f-0a1b2c3d4e5f")
	for _, s := range append(goldenInputs(), string(signed),
		`{"a":1,"extensions":{"`+Extension+`":{"cell":"x"},"z":{}},"zz":[{"extensions":{}}]}`,
		`{"extensions":{"a":1,"`+Extension+`":{"cell":"x"}}}`,
		`{"e\u0078tensions":{"`+Extension+`":{}},"extensions\u0000":1}`,
		`{"extension\"s":1,"extensions":{"extension-definition-\"":1,"`+Extension+`":2}}`,
		`{"extensions":{"extension-definition-\u00e9":1,"`+Extension+`":[1,{"}":"]"}]}}`) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		body, ext, err := canonicalBody(nil, raw)
		wbody, wext, werr := canonicalBodyRef(raw)
		if (err == nil) != (werr == nil) || !bytes.Equal(body, wbody) || !bytes.Equal(ext, wext) {
			t.Fatalf("%q:\n got %q %q %v\nwant %q %q %v", raw, body, ext, err, wbody, wext, werr)
		}
	})
}

// TestVerifyBatchProofs checks verification of batch proofs read by both
// paths (an identity that is not plain ASCII sends the extension to
// encoding/json), and that malformed proof entries are refused, not
// trusted and not a panic (an entry longer than a hash's base64 once made
// base64 decoding write past its buffer).
func TestVerifyBatchProofs(t *testing.T) {
	k := testKey(1)
	raws := make([][]byte, 9)
	for i := range raws {
		raws[i] = []byte(strings.Replace(indicator, "198.51.100.1", fmt.Sprintf("198.51.100.%d", i), 1))
	}
	entry := regexp.MustCompile(`"batch_proof":\["[^"]*"`)
	for _, id := range []string{"identity--3c1a0f7e-4a5b-4c6d-8e9f-0a1b2c3d4e5f", "identity--\u00e9t\u00e9"} {
		out, errs := SignBatch(raws, k, id)
		var v Verifier
		for i, o := range out {
			if errs[i] != nil {
				t.Fatal(errs[i])
			}
			sig, err := v.Verify(o, keys(k))
			if err != nil || sig.SignedBy != id {
				t.Fatalf("%s, object %d: %+v, %v", id, i, sig, err)
			}
			first := entry.Find(o)
			if first == nil {
				t.Fatalf("no proof in %s", o)
			}
			for _, bad := range []string{
				strings.Repeat("A", 48),            // too long
				strings.Repeat("A", 40),            // too short
				strings.Repeat("A", 43) + "=",      // another hash
				strings.Repeat("A", 42) + "==",     // not 32 bytes
				strings.Repeat("!", 44),            // not base64
				`\u0041` + strings.Repeat("A", 43), // escaped, still 44 characters once decoded
				strings.Repeat("A", 43) + `\"`,     // a quote
			} {
				tampered := bytes.Replace(o, first, []byte(`"batch_proof":["`+bad+`"`), 1)
				if _, err := v.Verify(tampered, keys(k)); !errors.Is(err, ErrBadSignature) && !errors.Is(err, ErrMalformed) {
					t.Fatalf("%s, object %d, entry %q: %v", id, i, bad, err)
				}
			}
		}
	}
}
