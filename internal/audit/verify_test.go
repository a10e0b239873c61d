package audit

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
)

// logFiles is a closed log's three files, to damage in memory and verify.
type logFiles struct {
	entries, index, checkpoints []byte
	pub                         ed25519.PublicKey
}

func buildLog(t testing.TB, n int, every uint64) logFiles {
	t.Helper()
	dir, key := t.TempDir(), newKey(t)
	l := openLog(t, dir, key, Options{CheckpointEvery: every})
	appendN(t, l, 0, n)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	return logFiles{read(EntriesFile), read(IndexFile), read(CheckpointsFile), pubOf(key)}
}

// verify verifies the files in memory (nil: the file is missing). The
// first call also writes them to dir and checks that Verify on disk agrees
// with VerifyFS, so that the many damaged logs need no disk.
func (f logFiles) verify(t testing.TB, dir string) (Report, error) {
	t.Helper()
	fsys := fstest.MapFS{}
	for name, b := range map[string][]byte{EntriesFile: f.entries, IndexFile: f.index, CheckpointsFile: f.checkpoints} {
		if b != nil {
			fsys[name] = &fstest.MapFile{Data: b, Mode: 0o600}
		}
	}
	rep, err := VerifyFS(fsys, f.pub)
	if _, seen := checkedOnDisk.LoadOrStore(dir, true); !seen {
		for name, b := range map[string][]byte{EntriesFile: f.entries, IndexFile: f.index, CheckpointsFile: f.checkpoints} {
			p := filepath.Join(dir, name)
			if b == nil {
				os.Remove(p)
			} else if err := os.WriteFile(p, b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		rep2, err2 := Verify(dir, f.pub)
		if fmt.Sprint(rep2, err2) != fmt.Sprint(rep, err) {
			t.Fatalf("Verify on disk: %+v, %v; VerifyFS: %+v, %v", rep2, err2, rep, err)
		}
	}
	return rep, err
}

var checkedOnDisk sync.Map

// wantEntry fails unless err is a *VerifyError naming entry want.
func wantEntry(t testing.TB, err error, want int64, what string) *VerifyError {
	t.Helper()
	var ve *VerifyError
	if !errors.As(err, &ve) {
		t.Fatalf("%s: Verify = %v, want an error naming entry %d", what, err, want)
	}
	if ve.Entry != want {
		t.Fatalf("%s: Verify names entry %d, want %d: %v", what, ve.Entry, want, err)
	}
	if want >= 0 && (ve.File != EntriesFile || ve.Line != want+1) {
		t.Fatalf("%s: Verify names %s line %d, want %s line %d", what, ve.File, ve.Line, EntriesFile, want+1)
	}
	return ve
}

func splitLines(b []byte) [][]byte {
	return bytes.SplitAfter(b, []byte("\n"))[:bytes.Count(b, []byte("\n"))]
}

func joinLines(lines [][]byte) []byte { return bytes.Join(lines, nil) }

// lineOf returns the index of the line holding byte p.
func lineOf(b []byte, p int) int64 { return int64(bytes.Count(b[:p], []byte("\n"))) }

func TestVerifyIntactLog(t *testing.T) {
	f := buildLog(t, 7, 3)
	rep, err := f.verify(t, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Entries != 7 || rep.Checkpoints != 4 || rep.Unsigned != 0 || rep.Latest.TreeSize != 7 {
		t.Fatalf("report %+v", rep)
	}
}

var flipMasks = []byte{0x01, 0x20, 0x80}

// masksAt returns the masks to flip byte p with: all of them, or in -short
// mode one, changing with p, so that every byte is still flipped.
func masksAt(p int) []byte {
	if testing.Short() {
		return flipMasks[p%len(flipMasks) : p%len(flipMasks)+1]
	}
	return flipMasks
}

// Every single-byte change anywhere in a small log is caught and blamed
// on the entry (or checkpoint) it is in.
func TestVerifyCatchesEveryFlippedByte(t *testing.T) {
	f := buildLog(t, 4, 2)
	dir := t.TempDir()
	t.Run(EntriesFile, func(t *testing.T) {
		for p := range f.entries {
			for _, mask := range masksAt(p) {
				g := f
				g.entries = bytes.Clone(f.entries)
				g.entries[p] ^= mask
				_, err := g.verify(t, dir)
				wantEntry(t, err, lineOf(f.entries, p), fmt.Sprintf("byte %d ^ %#x", p, mask))
			}
		}
	})
	t.Run(IndexFile, func(t *testing.T) {
		for p := range f.index {
			for _, mask := range masksAt(p) {
				g := f
				g.index = bytes.Clone(f.index)
				g.index[p] ^= mask
				_, err := g.verify(t, dir)
				ve := wantEntry(t, err, int64(p/indexRecordSize), fmt.Sprintf("byte %d ^ %#x", p, mask))
				if !strings.Contains(ve.Reason, "index record was altered") {
					t.Fatalf("byte %d: %v, want the index record blamed", p, err)
				}
			}
		}
	})
	t.Run(CheckpointsFile, func(t *testing.T) {
		for p := range f.checkpoints {
			for _, mask := range masksAt(p) {
				g := f
				g.checkpoints = bytes.Clone(f.checkpoints)
				g.checkpoints[p] ^= mask
				_, err := g.verify(t, dir)
				ve := wantEntry(t, err, -1, fmt.Sprintf("byte %d ^ %#x", p, mask))
				if ve.File != CheckpointsFile || ve.Line != lineOf(f.checkpoints, p)+1 {
					t.Fatalf("byte %d: %v, want checkpoint line %d", p, err, lineOf(f.checkpoints, p)+1)
				}
			}
		}
	})
}

func TestVerifyCatchesMovedLines(t *testing.T) {
	f := buildLog(t, 5, 2)
	dir := t.TempDir()
	lines := splitLines(f.entries)
	n := len(lines)
	for i := range n {
		g := f
		g.entries = joinLines(append(append([][]byte{}, lines[:i]...), lines[i+1:]...))
		_, err := g.verify(t, dir)
		wantEntry(t, err, int64(i), fmt.Sprintf("line %d dropped", i+1))

		g.entries = joinLines(append(append(append([][]byte{}, lines[:i+1]...), lines[i]), lines[i+1:]...))
		_, err = g.verify(t, dir)
		wantEntry(t, err, int64(i+1), fmt.Sprintf("line %d duplicated", i+1))

		for j := i + 1; j < n; j++ {
			swapped := append([][]byte{}, lines...)
			swapped[i], swapped[j] = swapped[j], swapped[i]
			g.entries = joinLines(swapped)
			_, err = g.verify(t, dir)
			wantEntry(t, err, int64(i), fmt.Sprintf("lines %d and %d swapped", i+1, j+1))
		}
	}
	// A line duplicated at the end, beyond every checkpoint and index.
	g := f
	g.entries = joinLines(append(append([][]byte{}, lines...), lines[n-1]))
	_, err := g.verify(t, dir)
	wantEntry(t, err, int64(n), "last line duplicated")
}

func TestVerifyCatchesTruncation(t *testing.T) {
	f := buildLog(t, 4, 2)
	dir := t.TempDir()
	for p := range len(f.entries) {
		g := f
		g.entries = f.entries[:p]
		_, err := g.verify(t, dir)
		wantEntry(t, err, lineOf(f.entries, p), fmt.Sprintf("cut at byte %d", p))
	}
	// Without the file at all.
	g := f
	g.entries = nil
	_, err := g.verify(t, t.TempDir())
	wantEntry(t, err, 0, "entries.jsonl removed")
	// Without the index, the last checkpoint still knows the size.
	g.entries, g.index = joinLines(splitLines(f.entries)[:2]), nil
	_, err = g.verify(t, dir)
	wantEntry(t, err, 2, "cut with the index removed")
}

// An attacker who rewrites the leaf index to match an altered entry is
// still caught by the checkpoint after it, which can only narrow the
// damage down to the entries since the checkpoint before.
func TestVerifyCatchesRewrittenIndex(t *testing.T) {
	f := buildLog(t, 10, 3) // checkpoints at 0, 3, 6, 9, 10
	dir := t.TempDir()
	lines := splitLines(f.entries)
	for i, wantFrom := range map[int]int64{0: 0, 2: 0, 3: 3, 4: 3, 5: 3, 8: 6, 9: 9} {
		altered := append([][]byte{}, lines...)
		altered[i] = bytes.Replace(lines[i], []byte(`"org-a"`), []byte(`"org-b"`), 1)
		g := f
		g.entries = joinLines(altered)
		g.index = rebuildIndex(g.entries)
		_, err := g.verify(t, dir)
		ve := wantEntry(t, err, wantFrom, fmt.Sprintf("entry %d altered, index rewritten", i))
		if !strings.Contains(ve.Reason, "do not match the checkpoint") {
			t.Fatalf("entry %d: %v", i, err)
		}
		g.index = nil
		_, err = g.verify(t, dir)
		wantEntry(t, err, wantFrom, fmt.Sprintf("entry %d altered, index removed", i))
	}
}

func rebuildIndex(entries []byte) []byte {
	var out []byte
	var off int64
	for _, line := range splitLines(entries) {
		out = appendIndexRecord(out, off, leafDigest(line[:len(line)-1]))
		off += int64(len(line))
	}
	return out
}

func TestVerifyCheckpointProblems(t *testing.T) {
	f := buildLog(t, 6, 2) // checkpoints at 0, 2, 4, 6
	dir := t.TempDir()
	cps := splitLines(f.checkpoints)
	other := buildLog(t, 6, 2)
	cases := []struct {
		name        string
		checkpoints []byte
		line        int64
		reason      string
	}{
		{"missing", nil, 0, "missing"},
		{"empty", []byte{}, 0, "empty"},
		{"reordered", joinLines([][]byte{cps[0], cps[2], cps[1], cps[3]}), 3, "smaller"},
		{"from another cell", joinLines([][]byte{cps[0], cps[1], splitLines(other.checkpoints)[2]}), 3, "signature"},
		{"torn", f.checkpoints[:len(f.checkpoints)-1], 4, "incomplete"},
		{"blank line", joinLines([][]byte{cps[0], []byte("\n"), cps[1]}), 2, "not a valid checkpoint"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := f
			g.checkpoints = tc.checkpoints
			_, err := g.verify(t, dir)
			ve := wantEntry(t, err, -1, tc.name)
			if ve.Line != tc.line || !strings.Contains(ve.Reason, tc.reason) {
				t.Fatalf("%v, want line %d and %q", err, tc.line, tc.reason)
			}
		})
	}
	// Dropping the last checkpoint leaves the last entries unsigned, which
	// Verify reports; cutting them too is what only an auditor's earlier
	// checkpoint can reveal (docs/audit.md).
	g := f
	g.checkpoints = joinLines(cps[:3])
	rep, err := g.verify(t, dir)
	if err != nil || rep.Unsigned != 2 {
		t.Fatalf("last checkpoint dropped: %+v, %v", rep, err)
	}
}

// Entries after the last checkpoint, as in a running server, are checked
// against the leaf index.
func TestVerifyUnsignedTail(t *testing.T) {
	dir, key := t.TempDir(), newKey(t)
	l := openLog(t, dir, key, Options{CheckpointEvery: 1000})
	defer l.Close()
	appendN(t, l, 0, 3)
	rep, err := Verify(dir, pubOf(key))
	if err != nil || rep.Entries != 3 || rep.Unsigned != 3 {
		t.Fatalf("open log: %+v, %v", rep, err)
	}
	f := logFiles{pub: pubOf(key)}
	f.entries, _ = os.ReadFile(filepath.Join(dir, EntriesFile))
	f.index, _ = os.ReadFile(filepath.Join(dir, IndexFile))
	f.checkpoints, _ = os.ReadFile(filepath.Join(dir, CheckpointsFile))
	f.entries = bytes.Replace(f.entries, []byte(`"user1"`), []byte(`"user9"`), 1)
	_, err = f.verify(t, t.TempDir())
	ve := wantEntry(t, err, 1, "unsigned entry altered")
	if !strings.Contains(ve.Reason, "no checkpoint covers it") {
		t.Fatalf("%v", err)
	}
}

// Random damage to a larger log: every kind, anywhere, always caught and
// always blamed on the right entry.
func TestVerifyRandomDamage(t *testing.T) {
	n, rounds := 300, 300
	if testing.Short() {
		n, rounds = 120, 150
	}
	f := buildLog(t, n, 25)
	dir := t.TempDir()
	lines := splitLines(f.entries)
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range rounds {
		g := f
		var want int64
		var what string
		switch kind := rng.IntN(5); kind {
		case 0:
			p := rng.IntN(len(f.entries))
			g.entries = bytes.Clone(f.entries)
			g.entries[p] ^= byte(1 + rng.IntN(255))
			want, what = lineOf(f.entries, p), fmt.Sprintf("flip byte %d", p)
		case 1:
			i := rng.IntN(n)
			g.entries = joinLines(append(append([][]byte{}, lines[:i]...), lines[i+1:]...))
			want, what = int64(i), fmt.Sprintf("drop line %d", i+1)
		case 2:
			i := rng.IntN(n)
			g.entries = joinLines(append(append(append([][]byte{}, lines[:i+1]...), lines[i]), lines[i+1:]...))
			want, what = int64(i+1), fmt.Sprintf("duplicate line %d", i+1)
		case 3:
			i, j := rng.IntN(n-1), 0
			j = i + 1 + rng.IntN(n-1-i)
			swapped := append([][]byte{}, lines...)
			swapped[i], swapped[j] = swapped[j], swapped[i]
			g.entries = joinLines(swapped)
			want, what = int64(i), fmt.Sprintf("swap lines %d and %d", i+1, j+1)
		case 4:
			p := rng.IntN(len(f.entries))
			g.entries = f.entries[:p]
			want, what = lineOf(f.entries, p), fmt.Sprintf("cut at byte %d", p)
		}
		_, err := g.verify(t, dir)
		wantEntry(t, err, want, fmt.Sprintf("round %d: %s", round, what))
	}
}

func TestScan(t *testing.T) {
	dir, key := t.TempDir(), newKey(t)
	l := openLog(t, dir, key, Options{})
	appendN(t, l, 0, 5)
	l.Close()
	appendFile(t, filepath.Join(dir, EntriesFile), []byte(`{"seq":5,`)) // being written
	var got []uint64
	err := Scan(context.Background(), dir, func(i uint64, line []byte, e Entry) error {
		if e.IDs[0] != testEntry(int(i)).IDs[0] || !bytes.HasPrefix(line, fmt.Appendf(nil, `{"seq":%d,`, i)) {
			return fmt.Errorf("entry %d: %+v", i, e)
		}
		got = append(got, i)
		return nil
	})
	if err != nil || len(got) != 5 {
		t.Fatalf("scan: %v, %v", got, err)
	}
	stop := errors.New("stop")
	if err := Scan(context.Background(), dir, func(uint64, []byte, Entry) error { return stop }); err != stop {
		t.Fatalf("scan returned %v, want fn's error", err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, EntriesFile))
	os.WriteFile(filepath.Join(dir, EntriesFile), bytes.Replace(b, []byte(`"seq":2,`), []byte(`"seq":7,`), 1), 0o600)
	if err := Scan(context.Background(), dir, func(uint64, []byte, Entry) error { return nil }); err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Fatalf("scan of a moved line: %v", err)
	}
}
