package audit

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// TestGoldenFiles pins the on-disk format that outside auditors' tools
// read: a log written with a fixed key and clock must give exactly the
// files in testdata/golden (ed25519 signatures are deterministic). Run
// with -update after a deliberate format change, and say so in docs/audit.md.
func TestGoldenFiles(t *testing.T) {
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	dir := t.TempDir()
	l := openLog(t, dir, key, Options{CheckpointEvery: 3})
	base := time.Date(2026, 3, 1, 9, 30, 0, 123456789, time.UTC)
	for i := range 7 {
		e := testEntry(i)
		e.Time = base.Add(time.Duration(i) * time.Minute)
		if i == 5 {
			e.Detail = "quote \" backslash \\ tab \t <html> é"
		}
		if err := l.Append(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{EntriesFile, IndexFile, CheckpointsFile} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		golden := filepath.Join("testdata", "golden", name)
		if name == IndexFile {
			got = []byte(hex.Dump(got))
			golden += ".hex"
		}
		if *update {
			if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(golden, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run go test -update to create it)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from %s:\n got: %s\nwant: %s", name, golden, got, want)
		}
	}
}
