package audit

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Report is the outcome of a successful Verify.
type Report struct {
	Entries     uint64     // entries in entries.jsonl, all checked
	Checkpoints int        // signed checkpoints, all checked
	Root        []byte     // root hash of the tree of all entries
	Latest      Checkpoint // the last checkpoint
	// Indexed is how many entries were also checked against their leaf
	// index record; fewer than Entries only when the index is missing or
	// the server is mid-write.
	Indexed uint64
	// Unsigned is how many entries come after the latest checkpoint. Their
	// hashes are checked against the leaf index, but no signature covers
	// them yet; a log closed cleanly has none.
	Unsigned uint64
}

// VerifyError names the first thing wrong with an audit log.
type VerifyError struct {
	// Entry is the index (from 0) of the first altered or missing entry, or
	// -1 when the problem is a checkpoint itself.
	Entry int64
	// File and Line locate it: a line of entries.jsonl (Line = Entry+1 up
	// to the first structural damage), or a line of checkpoints.jsonl.
	File   string
	Line   int64
	Reason string
}

func (e *VerifyError) Error() string {
	if e.Entry < 0 && e.Line == 0 {
		return fmt.Sprintf("%s: %s", e.File, e.Reason)
	}
	if e.Entry < 0 {
		return fmt.Sprintf("checkpoint at %s line %d: %s", e.File, e.Line, e.Reason)
	}
	return fmt.Sprintf("entry %d (%s line %d): %s", e.Entry, e.File, e.Line, e.Reason)
}

// Verify checks the audit log in dir against the cell's public key, reading
// only the files: it may run while the server appends, and by anyone who
// has a copy of the directory.
//
// It checks every checkpoint's signature and canonical form; recomputes the
// tree from entries.jsonl and checks every checkpoint's root at its size;
// checks each line's sequence number (naming dropped, duplicated and moved
// lines) and leaf hash against leaves.idx; and detects entries removed from
// the end. On the first problem it returns a *VerifyError naming the first
// altered or missing entry.
//
// A single signed root cannot say which entry under it changed. The leaf
// index can, once the signed root has vouched for it: when an entry does
// not match its leaf index record, the checkpoint after it tells whether
// the entry or the record was altered. When both an entry and its record
// were rewritten to agree, the error names the first entry after the
// previous good checkpoint, the earliest one that may have changed.
//
// What no local check can see is the end of the log cut off together with
// the checkpoints that covered it; an outside auditor who kept an earlier
// checkpoint sees it with a consistency proof (see docs/audit.md).
func Verify(dir string, pub ed25519.PublicKey) (Report, error) {
	return VerifyFS(os.DirFS(dir), pub)
}

// VerifyFS is Verify over the audit directory's files in fsys, for
// verifying a copy that is not on disk (an archive, say).
func VerifyFS(fsys fs.FS, pub ed25519.PublicKey) (Report, error) {
	if len(pub) != ed25519.PublicKeySize {
		return Report{}, fmt.Errorf("audit: verify: public key is %d bytes, want %d", len(pub), ed25519.PublicKeySize)
	}
	cps, cpLines, err := readCheckpoints(fsys, pub)
	if err != nil {
		return Report{}, err
	}
	// A missing entries file is an empty one: the checkpoints then say
	// which entries are missing.
	var entries io.Reader = strings.NewReader("")
	if f, err := fsys.Open(EntriesFile); err == nil {
		defer f.Close()
		entries = f
	} else if !errors.Is(err, fs.ErrNotExist) {
		return Report{}, fmt.Errorf("audit: verify: %w", err)
	}
	v := verifier{cps: cps, cpLines: cpLines, pending: -1}
	if idx, err := fsys.Open(IndexFile); err == nil {
		defer idx.Close()
		st, err := idx.Stat()
		if err != nil {
			return Report{}, fmt.Errorf("audit: verify: %w", err)
		}
		// A torn last record is the server mid-write, not damage: the
		// index only helps to locate damage, the signatures decide.
		v.idxRecords = uint64(st.Size() / indexRecordSize)
		v.idx = bufio.NewReaderSize(idx, 1<<16)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return Report{}, fmt.Errorf("audit: verify: %w", err)
	}
	if verr := v.walk(bufio.NewReaderSize(entries, 1<<16)); verr != nil {
		return Report{}, verr
	}
	latest := cps[len(cps)-1]
	root := v.tree.root()
	return Report{
		Entries:     v.tree.size,
		Checkpoints: len(cps),
		Root:        root[:],
		Latest:      latest,
		Indexed:     min(v.tree.size, v.idxRecords),
		Unsigned:    v.tree.size - latest.TreeSize,
	}, nil
}

// readCheckpoints reads and checks checkpoints.jsonl: canonical lines,
// good signatures, tree sizes that never decrease, and at least one.
func readCheckpoints(fsys fs.FS, pub ed25519.PublicKey) ([]Checkpoint, []int64, error) {
	b, err := fs.ReadFile(fsys, CheckpointsFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, &VerifyError{Entry: -1, File: CheckpointsFile, Reason: "missing: nothing in the log is signed"}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("audit: verify: %w", err)
	}
	var cps []Checkpoint
	var lines []int64
	for n := int64(1); len(b) > 0; n++ {
		bad := func(format string, a ...any) error {
			return &VerifyError{Entry: -1, File: CheckpointsFile, Line: n, Reason: fmt.Sprintf(format, a...)}
		}
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return nil, nil, bad("incomplete line (no newline)")
		}
		c, err := ParseCheckpoint(b[:i])
		b = b[i+1:]
		if err != nil {
			return nil, nil, bad("not a valid checkpoint: %v", err)
		}
		if err := c.Verify(pub); err != nil {
			return nil, nil, bad("tree size %d: %v", c.TreeSize, err)
		}
		if len(cps) > 0 && c.TreeSize < cps[len(cps)-1].TreeSize {
			return nil, nil, bad("tree size %d is smaller than the previous checkpoint's %d: checkpoints were reordered or replaced",
				c.TreeSize, cps[len(cps)-1].TreeSize)
		}
		cps = append(cps, c)
		lines = append(lines, n)
	}
	if len(cps) == 0 {
		return nil, nil, &VerifyError{Entry: -1, File: CheckpointsFile, Reason: "empty: nothing in the log is signed"}
	}
	return cps, lines, nil
}

type verifier struct {
	cps     []Checkpoint
	cpLines []int64
	next    int    // the first checkpoint not yet checked
	good    uint64 // tree size of the last checkpoint that matched
	tree    compactRange

	idx        *bufio.Reader // nil without a leaf index
	idxRecords uint64
	pending    int64 // first entry that disagrees with its index record, or -1
}

func (v *verifier) entryError(i uint64, format string, a ...any) *VerifyError {
	return &VerifyError{Entry: int64(i), File: EntriesFile, Line: int64(i) + 1, Reason: fmt.Sprintf(format, a...)}
}

func (v *verifier) pendingError(why string) *VerifyError {
	return v.entryError(uint64(v.pending), "does not match its record in %s (hash or offset): %s", IndexFile, why)
}

func (v *verifier) walk(r *bufio.Reader) error {
	if verr := v.checkpointsAt(); verr != nil {
		return verr
	}
	var offset int64
	for i := uint64(0); ; i++ {
		line, err := r.ReadBytes('\n')
		if err == io.EOF && len(line) == 0 {
			break
		}
		if err != nil && err != io.EOF {
			return fmt.Errorf("audit: verify: read %s: %w", EntriesFile, err)
		}
		// Structural damage at i comes after a pending mismatch before it.
		structural := func(format string, a ...any) error {
			if v.pending >= 0 {
				return v.pendingError("the entry was altered")
			}
			return v.entryError(i, format, a...)
		}
		if line[len(line)-1] != '\n' {
			return structural("incomplete line (%d bytes, no newline): the file was truncated or is being written", len(line))
		}
		body := line[:len(line)-1]
		seq, _, err := ParseEntry(body)
		switch {
		case err != nil:
			return structural("not a valid audit entry: %v", err)
		case seq > i:
			return structural("missing: the line holds entry %d instead (lines were dropped or moved)", seq)
		case seq < i:
			return structural("the line holds entry %d again instead (a duplicated or moved line)", seq)
		}
		d := leafDigest(body)
		if v.idx != nil && i < v.idxRecords {
			var rec [indexRecordSize]byte
			if _, err := io.ReadFull(v.idx, rec[:]); err != nil {
				return fmt.Errorf("audit: verify: read %s: %w", IndexFile, err)
			}
			if v.pending < 0 && (int64(binary.BigEndian.Uint64(rec[:8])) != offset || !bytes.Equal(rec[8:], d[:])) {
				v.pending = int64(i)
			}
		}
		v.tree.push(d)
		offset += int64(len(line))
		if verr := v.checkpointsAt(); verr != nil {
			return verr
		}
	}
	n := v.tree.size
	if v.pending >= 0 {
		return v.pendingError("no checkpoint covers it yet, so either may have been altered")
	}
	if v.next < len(v.cps) {
		c := v.cps[v.next]
		return v.entryError(n, "missing: %s ends after %d entries, but the checkpoint at %s line %d was signed at tree size %d (entries were removed)",
			EntriesFile, n, CheckpointsFile, v.cpLines[v.next], c.TreeSize)
	}
	if v.idxRecords > n {
		return v.entryError(n, "missing: %s ends after %d entries, but %s records %d (entries were removed)",
			EntriesFile, n, IndexFile, v.idxRecords)
	}
	return nil
}

// checkpointsAt checks the checkpoints signed at the current tree size.
func (v *verifier) checkpointsAt() error {
	size := v.tree.size
	for ; v.next < len(v.cps) && v.cps[v.next].TreeSize == size; v.next++ {
		c, line := v.cps[v.next], v.cpLines[v.next]
		root := v.tree.root()
		if bytes.Equal(root[:], c.RootHash) {
			if v.pending >= 0 {
				return v.pendingError(fmt.Sprintf("the entry matches the checkpoint at %s line %d, so the index record was altered", CheckpointsFile, line))
			}
			v.good = size
			continue
		}
		if v.pending >= 0 {
			return v.pendingError(fmt.Sprintf("the entry was altered (the checkpoint at %s line %d does not match)", CheckpointsFile, line))
		}
		if size == 0 {
			return &VerifyError{Entry: -1, File: CheckpointsFile, Line: line, Reason: "signed a non-empty root for the empty tree"}
		}
		return v.entryError(v.good, "entries %d to %d do not match the checkpoint signed at tree size %d (%s line %d): one of them was altered, and %s rewritten to match",
			v.good, size-1, size, CheckpointsFile, line, IndexFile)
	}
	return nil
}

// Scan calls fn for each entry of the audit log in dir, in order, with the
// entry's index, its line (without the newline) and the parsed entry. It
// checks the form of each line and its sequence number, not the hashes:
// that is Verify's job. A last line without its newline is being written
// and is skipped. An error from fn stops the scan and is returned.
func Scan(ctx context.Context, dir string, fn func(index uint64, line []byte, e Entry) error) error {
	f, err := os.Open(filepath.Join(dir, EntriesFile))
	if err != nil {
		return fmt.Errorf("audit: scan: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<16)
	for i := uint64(0); ; i++ {
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("audit: scan: %w", err)
			}
		}
		line, err := r.ReadBytes('\n')
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("audit: scan: read %s: %w", EntriesFile, err)
		}
		body := line[:len(line)-1]
		seq, e, err := ParseEntry(body)
		if err != nil {
			return fmt.Errorf("audit: scan: %s line %d: %w", EntriesFile, i+1, err)
		}
		if seq != i {
			return fmt.Errorf("audit: scan: %s line %d holds entry %d, want %d (run jointcell audit verify)", EntriesFile, i+1, seq, i)
		}
		if err := fn(i, body, e); err != nil {
			return err
		}
	}
}
