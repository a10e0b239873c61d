package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"
)

// The Certificate Transparency reference leaves and node hashes (the RFC
// 6962 test data of the CT and transparency-dev Merkle test suites). A log
// that disagrees with them proves nothing to anyone else's tools.
var ctLeaves = []string{"", "00", "10", "2021", "3031", "40414243", "5051525354555657",
	"606162636465666768696a6b6c6d6e6f"}

// ctNodes[level][index] is the hash of each perfect subtree of the 8 leaves.
var ctNodes = [][]string{{
	"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
	"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
	"0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
	"07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
	"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
	"4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
	"b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
	"46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
}, {
	"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
	"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
	"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
	"ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
}, {
	"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
	"6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
}, {
	"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
}}

// ctRoots[n] is the root of the first n leaves.
var ctRoots = []string{
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
	"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
	"aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
	"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
	"4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
	"76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
	"ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
	"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func ctLeafData(t testing.TB) [][]byte {
	out := make([][]byte, len(ctLeaves))
	for i, s := range ctLeaves {
		out[i] = unhex(t, s)
	}
	return out
}

// The naive reference: RFC 6962 §2.1 as written, recursing over slices of
// leaf data, with nothing shared with the code under test but the two
// hash prefixes.

func refMTH(d [][]byte) []byte {
	switch len(d) {
	case 0:
		h := sha256.Sum256(nil)
		return h[:]
	case 1:
		h := sha256.Sum256(append([]byte{0}, d[0]...))
		return h[:]
	}
	k := 1
	for k*2 < len(d) {
		k *= 2
	}
	h := sha256.Sum256(append(append([]byte{1}, refMTH(d[:k])...), refMTH(d[k:])...))
	return h[:]
}

func refPath(m int, d [][]byte) [][]byte {
	if len(d) <= 1 {
		return nil
	}
	k := 1
	for k*2 < len(d) {
		k *= 2
	}
	if m < k {
		return append(refPath(m, d[:k]), refMTH(d[k:]))
	}
	return append(refPath(m-k, d[k:]), refMTH(d[:k]))
}

func refSubproof(m int, d [][]byte, b bool) [][]byte {
	if m == len(d) {
		if b {
			return nil
		}
		return [][]byte{refMTH(d)}
	}
	k := 1
	for k*2 < len(d) {
		k *= 2
	}
	if m <= k {
		return append(refSubproof(m, d[:k], b), refMTH(d[k:]))
	}
	return append(refSubproof(m-k, d[k:], false), refMTH(d[:k]))
}

// sliceTree is a perfectFunc over leaf data held in memory.
func sliceTree(d [][]byte) perfectFunc {
	return func(level uint, index uint64) (digest, error) {
		lo, hi := index<<level, (index+1)<<level
		if hi > uint64(len(d)) {
			return digest{}, errNoNode
		}
		var out digest
		copy(out[:], refMTH(d[lo:hi]))
		return out, nil
	}
}

func testData(n int) [][]byte {
	d := make([][]byte, n)
	for i := range d {
		d[i] = fmt.Appendf(nil, "leaf %d", i)
	}
	return d
}

func TestRootsMatchRFC6962Vectors(t *testing.T) {
	leaves := ctLeafData(t)
	var c compactRange
	for n := 0; n <= len(leaves); n++ {
		if n > 0 {
			c.push(leafDigest(leaves[n-1]))
		}
		r := c.root()
		if got := hex.EncodeToString(r[:]); got != ctRoots[n] {
			t.Errorf("compact range root of size %d = %s, want %s", n, got, ctRoots[n])
		}
		if got := hex.EncodeToString(refMTH(leaves[:n])); got != ctRoots[n] {
			t.Errorf("reference MTH of size %d = %s, want %s", n, got, ctRoots[n])
		}
	}
	if got := hex.EncodeToString(EmptyRoot()); got != ctRoots[0] {
		t.Errorf("EmptyRoot = %s", got)
	}
	for i, l := range leaves {
		if got := hex.EncodeToString(LeafHash(l)); got != ctNodes[0][i] {
			t.Errorf("LeafHash(leaf %d) = %s, want %s", i, got, ctNodes[0][i])
		}
	}
	for level := 1; level < len(ctNodes); level++ {
		for i, want := range ctNodes[level] {
			var l, r digest
			copy(l[:], unhex(t, ctNodes[level-1][2*i]))
			copy(r[:], unhex(t, ctNodes[level-1][2*i+1]))
			if got := nodeDigest(l, r); hex.EncodeToString(got[:]) != want {
				t.Errorf("node %d/%d = %x, want %s", level, i, got, want)
			}
		}
	}
}

func TestSplitIsLargestPowerOfTwoBelow(t *testing.T) {
	for n, want := range map[uint64]uint64{2: 1, 3: 2, 4: 2, 5: 4, 7: 4, 8: 4, 9: 8, 1000: 512, 1 << 40: 1 << 39, 1<<63 + 1: 1 << 63} {
		if got := split(n); got != want {
			t.Errorf("split(%d) = %d, want %d", n, got, want)
		}
	}
}

// Proofs from the CT test suites, written as the node hashes they consist
// of: [level, index] pairs into ctNodes, or a root size.
func TestProofsMatchCTVectors(t *testing.T) {
	leaves := ctLeafData(t)
	get := sliceTree(leaves)
	node := func(level, index int) string { return ctNodes[level][index] }
	inclusion := []struct {
		index, size uint64
		want        []string
	}{
		{0, 1, nil},
		{0, 8, []string{node(0, 1), node(1, 1), node(2, 1)}},
		{5, 8, []string{node(0, 4), node(1, 3), node(2, 0)}},
		{2, 3, []string{node(1, 0)}},
		{1, 5, []string{node(0, 0), node(1, 1), node(0, 4)}},
	}
	for _, tc := range inclusion {
		got, err := inclusionPath(get, tc.index, 0, tc.size, nil)
		if err != nil {
			t.Fatal(err)
		}
		if g, w := hexAll(got), tc.want; fmt.Sprint(g) != fmt.Sprint(w) {
			t.Errorf("inclusion(%d, %d) = %v, want %v", tc.index, tc.size, g, w)
		}
		if err := VerifyInclusion(LeafHash(leaves[tc.index]), tc.index, tc.size, got, unhex(t, ctRoots[tc.size])); err != nil {
			t.Errorf("inclusion(%d, %d): %v", tc.index, tc.size, err)
		}
	}
	consistency := []struct {
		m, n uint64
		want []string
	}{
		{1, 1, nil},
		{1, 8, []string{node(0, 1), node(1, 1), node(2, 1)}},
		{6, 8, []string{node(1, 2), node(1, 3), node(2, 0)}},
		{2, 5, []string{node(1, 1), node(0, 4)}},
		{2, 8, []string{node(1, 1), node(2, 1)}},
	}
	for _, tc := range consistency {
		var got [][]byte
		if tc.m != tc.n {
			var err error
			if got, err = consistencyPath(get, tc.m, 0, tc.n, true, nil); err != nil {
				t.Fatal(err)
			}
		}
		if g, w := hexAll(got), tc.want; fmt.Sprint(g) != fmt.Sprint(w) {
			t.Errorf("consistency(%d, %d) = %v, want %v", tc.m, tc.n, g, w)
		}
		if err := VerifyConsistency(tc.m, tc.n, unhex(t, ctRoots[tc.m]), unhex(t, ctRoots[tc.n]), got); err != nil {
			t.Errorf("consistency(%d, %d): %v", tc.m, tc.n, err)
		}
	}
}

func hexAll(p [][]byte) []string {
	var out []string
	for _, b := range p {
		out = append(out, hex.EncodeToString(b))
	}
	return out
}

// mangle returns variants of a proof that must all fail: each element
// flipped, elements swapped, one dropped, one added.
func mangle(p [][]byte) map[string][][]byte {
	out := map[string][][]byte{}
	for i := range p {
		q := clone(p)
		q[i][i%HashSize] ^= 0x40
		out[fmt.Sprintf("flip element %d", i)] = q
	}
	if len(p) >= 2 && !bytes.Equal(p[0], p[1]) {
		q := clone(p)
		q[0], q[1] = q[1], q[0]
		out["swap 0 and 1"] = q
	}
	if len(p) > 0 {
		out["drop last"] = clone(p)[:len(p)-1]
	}
	out["add one"] = append(clone(p), bytes.Repeat([]byte{0xab}, HashSize))
	return out
}

func clone(p [][]byte) [][]byte {
	q := make([][]byte, len(p))
	for i := range p {
		q[i] = bytes.Clone(p[i])
	}
	return q
}

func TestInclusionProofsAllPairs(t *testing.T) {
	const max = 40
	d := testData(max)
	get := sliceTree(d)
	for n := 1; n <= max; n++ {
		root := refMTH(d[:n])
		for m := 0; m < n; m++ {
			got, err := inclusionPath(get, uint64(m), 0, uint64(n), nil)
			if err != nil {
				t.Fatal(err)
			}
			if want := refPath(m, d[:n]); fmt.Sprint(hexAll(got)) != fmt.Sprint(hexAll(want)) {
				t.Fatalf("inclusion(%d, %d) = %x, reference %x", m, n, got, want)
			}
			leaf := LeafHash(d[m])
			if err := VerifyInclusion(leaf, uint64(m), uint64(n), got, root); err != nil {
				t.Fatalf("inclusion(%d, %d) does not verify: %v", m, n, err)
			}
			for name, bad := range mangle(got) {
				if err := VerifyInclusion(leaf, uint64(m), uint64(n), bad, root); !errors.Is(err, ErrProof) {
					t.Errorf("inclusion(%d, %d) %s: verified (err %v)", m, n, name, err)
				}
			}
			if m+1 < n {
				if err := VerifyInclusion(leaf, uint64(m+1), uint64(n), got, root); err == nil {
					t.Errorf("inclusion(%d, %d) verifies for index %d", m, n, m+1)
				}
			}
			// A wrong size can verify with the right root (a leaf in the
			// left perfect subtree has the same path shape in both), which
			// is why the size and root come together, signed.
			if err := VerifyInclusion(LeafHash(d[(m+1)%max]), uint64(m), uint64(n), got, root); err == nil {
				t.Errorf("inclusion(%d, %d) verifies another leaf", m, n)
			}
		}
		if err := VerifyInclusion(LeafHash(d[0]), uint64(n), uint64(n), nil, root); err == nil {
			t.Errorf("index %d verifies in a tree of size %d", n, n)
		}
	}
}

func TestConsistencyProofsAllPairs(t *testing.T) {
	const max = 40
	d := testData(max)
	get := sliceTree(d)
	for n := 0; n <= max; n++ {
		newRoot := refMTH(d[:n])
		for m := 0; m <= n; m++ {
			oldRoot := refMTH(d[:m])
			var got [][]byte
			if m > 0 && m < n {
				var err error
				if got, err = consistencyPath(get, uint64(m), 0, uint64(n), true, nil); err != nil {
					t.Fatal(err)
				}
				if want := refSubproof(m, d[:n], true); fmt.Sprint(hexAll(got)) != fmt.Sprint(hexAll(want)) {
					t.Fatalf("consistency(%d, %d) = %x, reference %x", m, n, got, want)
				}
			}
			if err := VerifyConsistency(uint64(m), uint64(n), oldRoot, newRoot, got); err != nil {
				t.Fatalf("consistency(%d, %d) does not verify: %v", m, n, err)
			}
			for name, bad := range mangle(got) {
				if err := VerifyConsistency(uint64(m), uint64(n), oldRoot, newRoot, bad); !errors.Is(err, ErrProof) {
					t.Errorf("consistency(%d, %d) %s: verified (err %v)", m, n, name, err)
				}
			}
			if m < n {
				// A different history, the right size and a valid-looking
				// proof: the roots must give it away.
				if m > 0 {
					other := refMTH(append([][]byte{[]byte("forged")}, d[1:m]...))
					if err := VerifyConsistency(uint64(m), uint64(n), other, newRoot, got); err == nil {
						t.Errorf("consistency(%d, %d) verifies a forged old root", m, n)
					}
				}
				if err := VerifyConsistency(uint64(m), uint64(n), oldRoot, refMTH(d[:n-1]), got); err == nil && m > 0 {
					t.Errorf("consistency(%d, %d) verifies the root of size %d", m, n, n-1)
				}
				if err := VerifyConsistency(uint64(n), uint64(m), newRoot, oldRoot, got); err == nil {
					t.Errorf("consistency(%d, %d) verifies backwards", m, n)
				}
			}
		}
	}
}

func TestVerifyRejectsMalformedHashes(t *testing.T) {
	d := testData(8)
	root := refMTH(d)
	p := refPath(3, d)
	short := make([]byte, HashSize-1)
	cases := map[string]error{
		"short leaf":    VerifyInclusion(short, 3, 8, p, root),
		"short root":    VerifyInclusion(LeafHash(d[3]), 3, 8, p, short),
		"short element": VerifyInclusion(LeafHash(d[3]), 3, 8, append(clone(p[:2]), short), root),
		"short old":     VerifyConsistency(4, 8, short, root, nil),
		"short new":     VerifyConsistency(4, 8, refMTH(d[:4]), short, nil),
		"equal, proof":  VerifyConsistency(8, 8, root, root, [][]byte{root}),
		"equal, differ": VerifyConsistency(8, 8, root, refMTH(d[:7]), nil),
		"empty old":     VerifyConsistency(0, 8, root, root, nil),
		"empty, proof":  VerifyConsistency(0, 8, EmptyRoot(), root, [][]byte{root}),
		"no proof":      VerifyConsistency(3, 8, refMTH(d[:3]), root, nil),
	}
	for name, err := range cases {
		if !errors.Is(err, ErrProof) {
			t.Errorf("%s: err = %v, want ErrProof", name, err)
		}
	}
}

// The tree the Log keeps, with its cached levels and its leaves read back
// from a leaf index, gives the reference's roots and proofs at every size,
// across the boundaries of its 16-leaf groups.
func TestTreeMatchesReference(t *testing.T) {
	const max = 50
	d := testData(max)
	tr := &tree{}
	var disk []digest
	tr.leaves = func(start, count uint64) ([]digest, error) {
		if start+count > uint64(len(disk)) {
			return nil, errNoNode
		}
		return append([]digest(nil), disk[start:start+count]...), nil
	}
	for n := 0; n <= max; n++ {
		if n > 0 {
			ld := leafDigest(d[n-1])
			disk = append(disk, ld)
			tr.push(ld)
		}
		for m := 0; m <= n; m++ {
			r, err := tr.root(uint64(m))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(r[:], refMTH(d[:m])) {
				t.Fatalf("tree of %d: root(%d) differs from the reference", n, m)
			}
			if m < n {
				p, err := inclusionPath(tr.perfect, uint64(m), 0, uint64(n), nil)
				if err != nil {
					t.Fatal(err)
				}
				if fmt.Sprint(hexAll(p)) != fmt.Sprint(hexAll(refPath(m, d[:n]))) {
					t.Fatalf("tree of %d: inclusion(%d) differs from the reference", n, m)
				}
			}
			if m > 0 && m < n {
				p, err := consistencyPath(tr.perfect, uint64(m), 0, uint64(n), true, nil)
				if err != nil {
					t.Fatal(err)
				}
				if fmt.Sprint(hexAll(p)) != fmt.Sprint(hexAll(refSubproof(m, d[:n], true))) {
					t.Fatalf("tree of %d: consistency(%d) differs from the reference", n, m)
				}
			}
		}
		if _, err := tr.root(uint64(n + 1)); err == nil {
			t.Fatalf("tree of %d gives a root of size %d", n, n+1)
		}
	}
}
