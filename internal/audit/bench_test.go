package audit

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkAppend measures durable appends from one caller: one write and
// one fsync of each file per entry.
func BenchmarkAppend(b *testing.B) {
	l := openLog(b, b.TempDir(), newKey(b), Options{})
	defer l.Close()
	e := testEntry(1)
	b.ResetTimer()
	for b.Loop() {
		if err := l.Append(context.Background(), e); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendParallel measures appends from many callers at once, the
// server's case: group commit shares each write and fsync among them.
func BenchmarkAppendParallel(b *testing.B) {
	l := openLog(b, b.TempDir(), newKey(b), Options{})
	defer l.Close()
	e := testEntry(1)
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := l.Append(context.Background(), e); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkWriteSyncBaseline is the floor under BenchmarkAppend on the
// same disk: writing one line of the same size and fsyncing it. bench/
// audit.sh reports Append as a ratio of it.
func BenchmarkWriteSyncBaseline(b *testing.B) {
	body, err := encodeEntryBody(testEntry(1))
	if err != nil {
		b.Fatal(err)
	}
	line := appendLine(nil, 1, body)
	f, err := os.OpenFile(filepath.Join(b.TempDir(), "baseline"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	b.ResetTimer()
	for b.Loop() {
		if _, err := f.Write(line); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTreePush is the in-memory cost of adding a leaf to the tree,
// which must stay O(log n) however large the log grows.
func BenchmarkTreePush(b *testing.B) {
	var t tree
	d := leafDigest([]byte("x"))
	for b.Loop() {
		t.push(d)
	}
}

// BenchmarkInclusionProof serves proofs from a log of 1<<14 entries.
func BenchmarkInclusionProof(b *testing.B) {
	dir := b.TempDir()
	l := openLog(b, dir, newKey(b), Options{})
	defer l.Close()
	const n = 1 << 14
	errs := make(chan error, n)
	for i := range n {
		go func() { errs <- l.Append(context.Background(), testEntry(i)) }()
	}
	for range n {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
	i := uint64(0)
	b.ResetTimer()
	for b.Loop() {
		i = (i*7919 + 1) % n
		if _, err := l.InclusionProof(i, n); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerify verifies a closed log of 4096 entries; ns/op divided by
// 4096 is the auditor's cost per entry.
func BenchmarkVerify(b *testing.B) {
	dir := b.TempDir()
	key := newKey(b)
	l := openLog(b, dir, key, Options{})
	errs := make(chan error, 4096)
	for i := range 4096 {
		go func() { errs <- l.Append(context.Background(), testEntry(i)) }()
	}
	for range 4096 {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
	l.Close()
	b.ResetTimer()
	for b.Loop() {
		if _, err := Verify(dir, pubOf(key)); err != nil {
			b.Fatal(err)
		}
	}
}
