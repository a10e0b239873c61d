package audit

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func newKey(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func pubOf(k ed25519.PrivateKey) ed25519.PublicKey { return k.Public().(ed25519.PublicKey) }

// clock is a deterministic Options.Now: each call is one second later.
func clock() func() time.Time {
	var mu sync.Mutex
	t := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t = t.Add(time.Second)
		return t
	}
}

func openLog(t testing.TB, dir string, key ed25519.PrivateKey, opts Options) *Log {
	t.Helper()
	if opts.CheckpointInterval == 0 {
		opts.CheckpointInterval = -1
	}
	if opts.Now == nil {
		opts.Now = clock()
	}
	l, err := Open(dir, key, opts)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func testEntry(i int) Entry {
	actions := []string{ActionRead, ActionWrite, ActionAuthFail, ActionAdmin}
	return Entry{
		Actor:   fmt.Sprintf("user%d", i%3),
		Org:     "org-a",
		Action:  actions[i%len(actions)],
		Target:  "collection-1",
		IDs:     []string{fmt.Sprintf("indicator--%08d-0000-4000-8000-000000000000", i)},
		Outcome: OutcomeOK,
	}
}

func appendN(t testing.TB, l *Log, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		if err := l.Append(context.Background(), testEntry(i)); err != nil {
			t.Fatal(err)
		}
	}
}

func readCheckpointSizes(t *testing.T, dir string) []uint64 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, CheckpointsFile))
	if err != nil {
		t.Fatal(err)
	}
	var sizes []uint64
	for _, line := range bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n")) {
		c, err := ParseCheckpoint(line)
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, c.TreeSize)
	}
	return sizes
}

func TestAppendReopenAndVerify(t *testing.T) {
	dir, key := t.TempDir(), newKey(t)
	l := openLog(t, dir, key, Options{})
	c, err := l.Checkpoint()
	if err != nil || c.TreeSize != 0 || !bytes.Equal(c.RootHash, EmptyRoot()) {
		t.Fatalf("a new log's checkpoint = %+v, %v; want a signed empty tree", c, err)
	}
	appendN(t, l, 0, 5)
	if l.Size() != 5 {
		t.Fatalf("Size = %d", l.Size())
	}
	for i := range 5 {
		line, err := l.Leaf(uint64(i))
		if err != nil {
			t.Fatal(err)
		}
		seq, e, err := ParseEntry(line)
		if err != nil || seq != uint64(i) || e.IDs[0] != testEntry(i).IDs[0] || e.Time.IsZero() {
			t.Fatalf("Leaf(%d) = %s: seq %d, %+v, %v", i, line, seq, e, err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
	if err := l.Append(context.Background(), testEntry(9)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close: %v", err)
	}

	l = openLog(t, dir, key, Options{})
	if l.Size() != 5 {
		t.Fatalf("reopened Size = %d", l.Size())
	}
	if c, _ := l.Checkpoint(); c.TreeSize != 5 {
		t.Fatalf("reopened checkpoint at %d, want the one Close signed at 5", c.TreeSize)
	}
	appendN(t, l, 5, 3)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	rep, err := Verify(dir, pubOf(key))
	if err != nil {
		t.Fatal(err)
	}
	root, _ := rootOfFile(t, dir)
	if rep.Entries != 8 || rep.Checkpoints != 3 || rep.Unsigned != 0 || rep.Indexed != 8 || !bytes.Equal(rep.Root, root) {
		t.Fatalf("report %+v", rep)
	}
	if got := readCheckpointSizes(t, dir); fmt.Sprint(got) != "[0 5 8]" {
		t.Fatalf("checkpoint sizes %v", got)
	}
}

// rootOfFile computes the root of entries.jsonl with the reference MTH.
func rootOfFile(t testing.TB, dir string) ([]byte, [][]byte) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, EntriesFile))
	if err != nil {
		t.Fatal(err)
	}
	var lines [][]byte
	if len(b) > 0 {
		lines = bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n"))
	}
	return refMTH(lines), lines
}

func TestSecondAppenderIsLockedOut(t *testing.T) {
	dir, key := t.TempDir(), newKey(t)
	l := openLog(t, dir, key, Options{})
	if _, err := Open(dir, key, Options{}); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
	// Readers need no lock.
	if _, err := Verify(dir, pubOf(key)); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	openLog(t, dir, key, Options{}).Close()
}

func TestConcurrentAppendsGroupCommit(t *testing.T) {
	dir, key := t.TempDir(), newKey(t)
	l := openLog(t, dir, key, Options{CheckpointEvery: 50})
	const workers, each = 8, 40
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				e := Entry{Actor: fmt.Sprintf("w%d", w), Action: ActionWrite, Outcome: OutcomeOK, Detail: fmt.Sprint(i)}
				if err := l.Append(context.Background(), e); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	// Proofs and checkpoints are read while the writer appends.
	wg.Go(func() {
		for l.Size() < workers*each {
			size := l.Size()
			if size == 0 {
				continue
			}
			if _, err := l.InclusionProof(size-1, size); err != nil {
				t.Error(err)
				return
			}
			if _, err := l.Checkpoint(); err != nil {
				t.Error(err)
				return
			}
		}
	})
	wg.Wait()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	rep, err := Verify(dir, pubOf(key))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Entries != workers*each {
		t.Fatalf("%d entries, want %d", rep.Entries, workers*each)
	}
	seen := map[string]bool{}
	err = Scan(context.Background(), dir, func(_ uint64, _ []byte, e Entry) error {
		k := e.Actor + "/" + e.Detail
		if seen[k] {
			return fmt.Errorf("%s twice", k)
		}
		seen[k] = true
		return nil
	})
	if err != nil || len(seen) != workers*each {
		t.Fatalf("scan: %v, %d distinct entries", err, len(seen))
	}
}

func TestCheckpointPolicy(t *testing.T) {
	t.Run("every N entries and on close", func(t *testing.T) {
		dir, key := t.TempDir(), newKey(t)
		l := openLog(t, dir, key, Options{CheckpointEvery: 4})
		appendN(t, l, 0, 10)
		if c, _ := l.Checkpoint(); c.TreeSize != 8 {
			t.Errorf("latest checkpoint at %d, want 8", c.TreeSize)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if got := readCheckpointSizes(t, dir); fmt.Sprint(got) != "[0 4 8 10]" {
			t.Fatalf("checkpoint sizes %v", got)
		}
	})
	t.Run("every interval when grown", func(t *testing.T) {
		dir, key := t.TempDir(), newKey(t)
		l := openLog(t, dir, key, Options{CheckpointInterval: 10 * time.Millisecond})
		defer l.Close()
		appendN(t, l, 0, 1)
		deadline := time.Now().Add(10 * time.Second)
		for {
			c, err := l.Checkpoint()
			if err != nil {
				t.Fatal(err)
			}
			if c.TreeSize == 1 {
				if err := c.Verify(pubOf(key)); err != nil {
					t.Fatal(err)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("no timed checkpoint after 10s")
			}
			time.Sleep(5 * time.Millisecond)
		}
		// Nothing new: no new checkpoint.
		time.Sleep(50 * time.Millisecond)
		if got := readCheckpointSizes(t, dir); fmt.Sprint(got) != "[0 1]" {
			t.Fatalf("checkpoint sizes %v", got)
		}
	})
}

// Every proof the log serves, before and after a reopen (which rebuilds the
// tree from the leaf index), equals the reference's and verifies against
// the log's own roots.
func TestLogProofsAllPairs(t *testing.T) {
	dir, key := t.TempDir(), newKey(t)
	l := openLog(t, dir, key, Options{})
	const n = 45
	appendN(t, l, 0, n)
	check := func(l *Log, step int) {
		_, lines := rootOfFile(t, dir)
		for size := 1; size <= n; size += step {
			root, err := l.Root(uint64(size))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(root, refMTH(lines[:size])) {
				t.Fatalf("Root(%d) differs from the reference", size)
			}
			for m := 0; m < size; m++ {
				p, err := l.InclusionProof(uint64(m), uint64(size))
				if err != nil {
					t.Fatal(err)
				}
				if fmt.Sprint(hexAll(p)) != fmt.Sprint(hexAll(refPath(m, lines[:size]))) {
					t.Fatalf("InclusionProof(%d, %d) differs from the reference", m, size)
				}
				leaf, err := l.Leaf(uint64(m))
				if err != nil {
					t.Fatal(err)
				}
				if err := VerifyInclusion(LeafHash(leaf), uint64(m), uint64(size), p, root); err != nil {
					t.Fatalf("InclusionProof(%d, %d): %v", m, size, err)
				}
			}
			for m := 0; m <= size; m++ {
				p, err := l.ConsistencyProof(uint64(m), uint64(size))
				if err != nil {
					t.Fatal(err)
				}
				if m > 0 && m < size && fmt.Sprint(hexAll(p)) != fmt.Sprint(hexAll(refSubproof(m, lines[:size], true))) {
					t.Fatalf("ConsistencyProof(%d, %d) differs from the reference", m, size)
				}
				old, _ := l.Root(uint64(m))
				if err := VerifyConsistency(uint64(m), uint64(size), old, root, p); err != nil {
					t.Fatalf("ConsistencyProof(%d, %d): %v", m, size, err)
				}
			}
		}
		for _, bad := range [][2]uint64{{n, n}, {0, n + 1}, {5, 3}} {
			if _, err := l.InclusionProof(bad[0], bad[1]); !errors.Is(err, ErrRange) {
				t.Errorf("InclusionProof(%d, %d): %v", bad[0], bad[1], err)
			}
		}
		if _, err := l.ConsistencyProof(5, 3); !errors.Is(err, ErrRange) {
			t.Errorf("ConsistencyProof(5, 3): %v", err)
		}
		if _, err := l.ConsistencyProof(1, n+1); !errors.Is(err, ErrRange) {
			t.Errorf("ConsistencyProof(1, n+1): %v", err)
		}
		if _, err := l.Leaf(n); !errors.Is(err, ErrRange) {
			t.Errorf("Leaf(n): %v", err)
		}
	}
	check(l, 1)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openLog(t, dir, key, Options{})
	defer l.Close()
	check(l, 7)
}

func TestOpenRecoversFromACrash(t *testing.T) {
	t.Run("torn last line", func(t *testing.T) {
		dir, key := t.TempDir(), newKey(t)
		l := openLog(t, dir, key, Options{})
		appendN(t, l, 0, 3)
		l.Close()
		before, _ := os.ReadFile(filepath.Join(dir, EntriesFile))
		appendFile(t, filepath.Join(dir, EntriesFile), []byte(`{"seq":3,"time":"2026-`))
		appendFile(t, filepath.Join(dir, IndexFile), []byte{0, 0, 0})
		appendFile(t, filepath.Join(dir, CheckpointsFile), []byte(`{"tree_size":`))
		l = openLog(t, dir, key, Options{})
		if l.Size() != 3 {
			t.Fatalf("Size = %d after recovery", l.Size())
		}
		appendN(t, l, 3, 1)
		l.Close()
		after, _ := os.ReadFile(filepath.Join(dir, EntriesFile))
		if !bytes.HasPrefix(after, before) || bytes.Count(after, []byte("\n")) != 4 {
			t.Fatalf("entries after recovery:\n%s", after)
		}
		if rep, err := Verify(dir, pubOf(key)); err != nil || rep.Entries != 4 {
			t.Fatalf("verify: %+v %v", rep, err)
		}
	})
	t.Run("entries written, index not", func(t *testing.T) {
		dir, key := t.TempDir(), newKey(t)
		l := openLog(t, dir, key, Options{})
		appendN(t, l, 0, 20)
		l.Close()
		idx := filepath.Join(dir, IndexFile)
		if err := os.Truncate(idx, 17*indexRecordSize); err != nil {
			t.Fatal(err)
		}
		// A reader sees a short index as the server mid-write.
		rep, err := Verify(dir, pubOf(key))
		if err != nil || rep.Indexed != 17 || rep.Entries != 20 {
			t.Fatalf("verify of a short index: %+v, %v", rep, err)
		}
		l = openLog(t, dir, key, Options{})
		if l.Size() != 20 {
			t.Fatalf("Size = %d", l.Size())
		}
		l.Close()
		if st, _ := os.Stat(idx); st.Size() != 20*indexRecordSize {
			t.Fatalf("index is %d bytes after recovery", st.Size())
		}
		if rep, err := Verify(dir, pubOf(key)); err != nil || rep.Indexed != 20 {
			t.Fatalf("verify: %+v, %v", rep, err)
		}
	})
}

// The leaf index is fsynced only before checkpoints, so after a crash its
// records past the latest checkpoint may be garbage or missing, or stale
// ones may remain: Open keeps what matches entries.jsonl and rebuilds the
// rest.
func TestOpenRebuildsUnsyncedIndexRecords(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(idx []byte) []byte
	}{
		{"zeroed", func(idx []byte) []byte {
			clear(idx[5*indexRecordSize:])
			return idx
		}},
		{"half lost", func(idx []byte) []byte { return idx[:7*indexRecordSize+9] }},
		{"all lost", func(idx []byte) []byte { return nil }},
		{"extra records", func(idx []byte) []byte {
			return append(idx, make([]byte, 3*indexRecordSize)...)
		}},
		{"stale record", func(idx []byte) []byte {
			copy(idx[8*indexRecordSize:], idx[2*indexRecordSize:3*indexRecordSize])
			return idx
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, key := t.TempDir(), newKey(t)
			l := openLog(t, dir, key, Options{})
			appendN(t, l, 0, 10)
			l.Close()
			want, _ := os.ReadFile(filepath.Join(dir, IndexFile))
			// Forget the checkpoint Close signed: only the empty tree is
			// signed, as after a crash.
			cps := filepath.Join(dir, CheckpointsFile)
			b, _ := os.ReadFile(cps)
			os.WriteFile(cps, b[:bytes.IndexByte(b, '\n')+1], 0o600)
			idx := filepath.Join(dir, IndexFile)
			os.WriteFile(idx, tc.damage(bytes.Clone(want)), 0o600)

			l = openLog(t, dir, key, Options{})
			if l.Size() != 10 {
				t.Fatalf("Size = %d", l.Size())
			}
			if got, _ := os.ReadFile(idx); !bytes.Equal(got, want) {
				t.Fatalf("the rebuilt index differs from the original")
			}
			appendN(t, l, 10, 2)
			l.Close()
			if rep, err := Verify(dir, pubOf(key)); err != nil || rep.Entries != 12 || rep.Indexed != 12 {
				t.Fatalf("verify: %+v, %v", rep, err)
			}
		})
	}
}

func appendFile(t *testing.T, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestOpenRefusesDamage(t *testing.T) {
	build := func(t *testing.T) (string, ed25519.PrivateKey) {
		dir, key := t.TempDir(), newKey(t)
		l := openLog(t, dir, key, Options{})
		appendN(t, l, 0, 6)
		l.Close()
		return dir, key
	}
	cases := []struct {
		name   string
		damage func(t *testing.T, dir string)
		key    func(ed25519.PrivateKey) ed25519.PrivateKey
		want   string
	}{
		{"entries cut", func(t *testing.T, dir string) {
			_, lines := rootOfFile(t, dir)
			writeLines(t, filepath.Join(dir, EntriesFile), lines[:4])
		}, nil, "shorter than its leaf index"},
		{"last entry altered", func(t *testing.T, dir string) {
			p := filepath.Join(dir, EntriesFile)
			b, _ := os.ReadFile(p)
			os.WriteFile(p, bytes.Replace(b, []byte(`"user2"`), []byte(`"userX"`), -1), 0o600)
		}, nil, "does not match its leaf index"},
		{"entries and index cut", func(t *testing.T, dir string) {
			_, lines := rootOfFile(t, dir)
			writeLines(t, filepath.Join(dir, EntriesFile), lines[:4])
			os.Truncate(filepath.Join(dir, IndexFile), 4*indexRecordSize)
		}, nil, "entries were removed"},
		{"another key", func(*testing.T, string) {}, func(ed25519.PrivateKey) ed25519.PrivateKey { return newKey(t) }, "signature"},
		{"garbage after the index", func(t *testing.T, dir string) {
			appendFile(t, filepath.Join(dir, EntriesFile), []byte("{\"seq\":9}\n"))
		}, nil, "is not entry 6"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir, key := build(t)
			tc.damage(t, dir)
			if tc.key != nil {
				key = tc.key(key)
			}
			l, err := Open(dir, key, Options{})
			if err == nil {
				l.Close()
				t.Fatal("Open accepted a damaged log")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open: %v, want %q", err, tc.want)
			}
			// The lock is released after a failed Open.
			if tc.key == nil {
				if l, err := Open(dir, key, Options{}); err == nil || errors.Is(err, ErrLocked) {
					t.Fatalf("second Open: %v", err)
				} else if l != nil {
					l.Close()
				}
			}
		})
	}
}

func writeLines(t testing.TB, path string, lines [][]byte) {
	t.Helper()
	var b []byte
	for _, l := range lines {
		b = append(append(b, l...), '\n')
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestAppendHonoursContextAndKeepsEntriesCanonical(t *testing.T) {
	dir, key := t.TempDir(), newKey(t)
	l := openLog(t, dir, key, Options{})
	defer l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.Append(ctx, testEntry(0)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Append with a cancelled context: %v", err)
	}
	if l.Size() != 0 {
		t.Fatal("a cancelled Append wrote its entry")
	}
	odd := Entry{
		Time:    time.Date(2026, 1, 2, 3, 4, 5, 600, time.FixedZone("X", 3600)),
		Actor:   "bad\xffutf8 <script>&\u2028",
		Action:  ActionAdmin,
		IDs:     []string{"", "tab\there", "\x00"},
		Outcome: OutcomeDenied,
		Detail:  strings.Repeat("long ", 2000),
	}
	if err := l.Append(context.Background(), odd); err != nil {
		t.Fatal(err)
	}
	line, err := l.Leaf(0)
	if err != nil {
		t.Fatal(err)
	}
	_, e, err := ParseEntry(line)
	if err != nil {
		t.Fatalf("the log wrote a line its own parser refuses: %v\n%s", err, line)
	}
	if !e.Time.Equal(odd.Time) || e.Time.Location() != time.UTC || e.Actor != "bad\uFFFDutf8 <script>&\u2028" || len(e.IDs) != 3 || e.Detail != odd.Detail {
		t.Fatalf("round trip: %+v", e)
	}
}

// TestLargeLog appends 100 000 entries from many callers, reopens the log
// (rebuilding the tree from the leaf index), serves proofs from it and
// verifies it.
func TestLargeLog(t *testing.T) {
	if testing.Short() {
		t.Skip("large log: skipped in -short mode")
	}
	const n, workers = 100_000, 64
	dir, key := t.TempDir(), newKey(t)
	l := openLog(t, dir, key, Options{})
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				if err := l.Append(context.Background(), testEntry(i)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	l = openLog(t, dir, key, Options{})
	defer l.Close()
	t.Logf("reopened %d entries in %v", l.Size(), time.Since(start))
	c, err := l.Checkpoint()
	if err != nil || c.TreeSize != n {
		t.Fatalf("checkpoint %+v, %v", c, err)
	}
	for _, i := range []uint64{0, 1, 15, 16, 4095, 65536, n - 1} {
		leaf, err := l.Leaf(i)
		if err != nil {
			t.Fatal(err)
		}
		p, err := l.InclusionProof(i, n)
		if err != nil {
			t.Fatal(err)
		}
		if err := VerifyInclusion(LeafHash(leaf), i, n, p, c.RootHash); err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
	}
	old, _ := l.Root(n / 3)
	p, err := l.ConsistencyProof(n/3, n)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyConsistency(n/3, n, old, c.RootHash, p); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	rep, err := Verify(dir, pubOf(key))
	if err != nil || rep.Entries != n {
		t.Fatalf("verify: %+v, %v", rep, err)
	}
	t.Logf("verified %d entries, %d checkpoints in %v", rep.Entries, rep.Checkpoints, time.Since(start))
}
