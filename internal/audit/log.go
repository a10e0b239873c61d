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
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// The files of an audit directory. See docs/audit.md for their formats.
const (
	EntriesFile     = "entries.jsonl"
	IndexFile       = "leaves.idx"
	CheckpointsFile = "checkpoints.jsonl"
	LockFile        = "lock"
)

// indexRecordSize is the size of one leaves.idx record: the byte offset of
// the entry's line in entries.jsonl (uint64, big-endian) and its leaf hash.
const indexRecordSize = 8 + HashSize

const (
	defaultCheckpointEvery    = 1000
	defaultCheckpointInterval = time.Minute
	// maxBatch bounds one group commit, so that one write and one fsync
	// serve many concurrent Appends without an unbounded buffer.
	maxBatch = 512
)

// Errors callers may test for with errors.Is.
var (
	ErrClosed = errors.New("audit: log is closed")
	ErrLocked = errors.New("audit: log is already open for appending")
	ErrRange  = errors.New("audit: index or tree size out of range")
)

// Options tunes a Log. The zero value is usable.
type Options struct {
	// CheckpointEvery signs a checkpoint once this many entries have been
	// appended since the last one. Zero means 1000.
	CheckpointEvery uint64
	// CheckpointInterval signs a checkpoint this often when entries were
	// appended since the last one. Zero means one minute; negative turns
	// the timer off (checkpoints then come from CheckpointEvery and Close).
	CheckpointInterval time.Duration
	// Logger receives recovery warnings and background checkpoint
	// failures. Nil discards them.
	Logger *slog.Logger
	// Now is the clock for entries without a time and for checkpoints. Nil
	// means time.Now.
	Now func() time.Time
}

// Log is an open, append-only audit log. Its methods are safe for
// concurrent use. Exactly one Log may be open on a directory at a time: the
// server is the only writer, and Open takes a lock file so that a second
// writer fails with ErrLocked instead of interleaving lines. Readers (the
// CLI, Verify, Scan) read the files directly and take no lock.
type Log struct {
	dir    string
	key    ed25519.PrivateKey
	every  uint64
	logger *slog.Logger
	now    func() time.Time

	lock        io.Closer
	entries     *os.File
	index       *os.File
	checkpoints *os.File

	reqs chan request
	quit chan struct{}
	done chan struct{}

	// closeMu orders Append's sends against Close: Close takes it
	// exclusively, so after that no Append is between its closed check and
	// its send, and the writer can drain the queue completely.
	closeMu sync.RWMutex
	closed  bool

	// Owned by the writer goroutine.
	buf, ibuf []byte
	closeErr  error

	mu          sync.RWMutex // guards the fields below
	tree        tree
	entriesSize int64
	last        Checkpoint
	err         error // sticky: a failed write leaves the log unusable
}

type request struct {
	body []byte
	done chan error
}

// Open opens the audit log in dir, creating it when new, and starts its
// writer. key signs the checkpoints; it must be the key that signed the
// log's existing checkpoints.
//
// Open recovers from a crash: a torn last line (written, never
// acknowledged) is cut off, and leaf index records after the latest
// checkpoint that were lost or torn are rebuilt from entries.jsonl. It
// refuses a log that lacks entries its leaf index or latest checkpoint
// covers, or whose tree does not match its latest signed checkpoint: that
// is damage for an auditor to look at (jointcell audit verify), not
// something to append to.
func Open(dir string, key ed25519.PrivateKey, opts Options) (*Log, error) {
	if len(key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("audit: open %s: private key is %d bytes, want %d", dir, len(key), ed25519.PrivateKeySize)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("audit: open: %w", err)
	}
	l := &Log{
		dir:    dir,
		key:    key,
		every:  opts.CheckpointEvery,
		logger: opts.Logger,
		now:    opts.Now,
		reqs:   make(chan request, maxBatch),
		quit:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	if l.every == 0 {
		l.every = defaultCheckpointEvery
	}
	if l.logger == nil {
		l.logger = slog.New(slog.DiscardHandler)
	}
	if l.now == nil {
		l.now = time.Now
	}
	interval := opts.CheckpointInterval
	if interval == 0 {
		interval = defaultCheckpointInterval
	}
	lock, err := lockDir(filepath.Join(dir, LockFile))
	if err != nil {
		return nil, err
	}
	l.lock = lock
	if err := l.openFiles(); err != nil {
		l.closeFiles()
		return nil, err
	}
	l.tree.leaves = l.readLeaves
	if err := l.recover(); err != nil {
		l.closeFiles()
		return nil, fmt.Errorf("audit: open %s: %w", dir, err)
	}
	go l.run(interval)
	return l, nil
}

func (l *Log) openFiles() error {
	var err error
	open := func(name string) *os.File {
		if err != nil {
			return nil
		}
		var f *os.File
		f, err = os.OpenFile(filepath.Join(l.dir, name), os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			err = fmt.Errorf("audit: open: %w", err)
		}
		return f
	}
	l.entries = open(EntriesFile)
	l.index = open(IndexFile)
	l.checkpoints = open(CheckpointsFile)
	if err != nil {
		return err
	}
	// The files' directory entries must be durable too, or a crash right
	// after creating them could lose acknowledged entries.
	return syncDir(l.dir)
}

func (l *Log) closeFiles() error {
	var errs []error
	for _, c := range []io.Closer{l.entries, l.index, l.checkpoints} {
		if f, ok := c.(*os.File); ok && f != nil {
			errs = append(errs, f.Close())
		}
	}
	if l.lock != nil {
		errs = append(errs, l.lock.Close())
	}
	return errors.Join(errs...)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("audit: sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("audit: sync %s: %w", dir, err)
	}
	return nil
}

// recover rebuilds the tree from the leaf index, reconciles it with
// entries.jsonl and checkpoints.jsonl, and signs a first checkpoint for a
// new log.
//
// The leaf index is fsynced before each checkpoint is written, not with
// each batch (see write), so after a crash its records up to the latest
// checkpoint are durable and trusted (the checkpoint's root vouches for
// them), while records after it may be missing or garbage. Those are
// checked against entries.jsonl, whose lines are durable once acknowledged,
// and rebuilt from it where they disagree.
func (l *Log) recover() error {
	last, haveLast, err := l.readLastCheckpoint()
	if err != nil {
		return err
	}
	signed := last.TreeSize

	st, err := l.index.Stat()
	if err != nil {
		return err
	}
	records := uint64(st.Size() / indexRecordSize)
	torn := st.Size()%indexRecordSize != 0 // a record cut by a crash
	idx := bufio.NewReaderSize(io.NewSectionReader(l.index, 0, int64(records*indexRecordSize)), 1<<16)
	readRecord := func() (int64, digest, error) {
		var rec [indexRecordSize]byte
		if _, err := io.ReadFull(idx, rec[:]); err != nil {
			return 0, digest{}, fmt.Errorf("read %s: %w", IndexFile, err)
		}
		var d digest
		copy(d[:], rec[8:])
		return int64(binary.BigEndian.Uint64(rec[:8])), d, nil
	}

	// 1. The trusted records, up to the latest checkpoint.
	trusted := min(records, signed)
	lastOffset := int64(-1)
	var lastDigest digest
	for range trusted {
		off, d, err := readRecord()
		if err != nil {
			return err
		}
		if (lastOffset < 0 && off != 0) || (lastOffset >= 0 && off <= lastOffset) {
			return fmt.Errorf("%s record %d has offset %d after %d: the leaf index is damaged (run jointcell audit verify)", IndexFile, l.tree.size, off, lastOffset)
		}
		lastOffset, lastDigest = off, d
		l.tree.push(d)
	}
	st, err = l.entries.Stat()
	if err != nil {
		return err
	}
	pos := int64(0)
	if lastOffset >= 0 {
		line, err := bufio.NewReader(io.NewSectionReader(l.entries, lastOffset, st.Size()-lastOffset)).ReadBytes('\n')
		if err != nil {
			return fmt.Errorf("%s is shorter than its leaf index (%d entries): entries were removed (run jointcell audit verify)", EntriesFile, l.tree.size)
		}
		if leafDigest(line[:len(line)-1]) != lastDigest {
			return fmt.Errorf("entry %d does not match its leaf index record (run jointcell audit verify)", l.tree.size-1)
		}
		pos = lastOffset + int64(len(line))
	}

	// 2. The lines after them: keep the index records that match, rebuild
	// the rest.
	r := bufio.NewReaderSize(io.NewSectionReader(l.entries, pos, st.Size()-pos), 1<<16)
	var rebuilt []byte
	keep := trusted // index records kept; the rest are cut and rebuilt
	for {
		line, err := r.ReadBytes('\n')
		if err == io.EOF {
			if len(line) > 0 {
				// Append returns only after the fsync that follows the
				// whole write, so a line without its newline was never
				// acknowledged to anyone.
				l.logger.Warn("audit: cutting a torn last line off the log", "file", EntriesFile, "bytes", len(line))
				if err := l.entries.Truncate(pos); err != nil {
					return err
				}
			}
			break
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", EntriesFile, err)
		}
		body := line[:len(line)-1]
		d := leafDigest(body)
		if rebuilt == nil && keep < records {
			off, rd, err := readRecord()
			if err != nil {
				return err
			}
			if off == pos && rd == d {
				keep++
				l.tree.push(d)
				pos += int64(len(line))
				continue
			}
			rebuilt = []byte{} // from here on, rebuild
		}
		seq, _, err := ParseEntry(body)
		if err != nil || seq != l.tree.size {
			return fmt.Errorf("%s line %d after the signed entries is not entry %d (run jointcell audit verify)", EntriesFile, l.tree.size+1, l.tree.size)
		}
		if rebuilt == nil {
			rebuilt = []byte{}
		}
		rebuilt = appendIndexRecord(rebuilt, pos, d)
		l.tree.push(d)
		pos += int64(len(line))
	}
	l.entriesSize = pos
	if l.tree.size < signed {
		return fmt.Errorf("the latest checkpoint was signed at tree size %d but the log holds %d entries: entries were removed (run jointcell audit verify)", signed, l.tree.size)
	}
	if keep < records || len(rebuilt) > 0 || torn {
		l.logger.Warn("audit: rebuilding leaf index records lost in a crash", "kept", keep, "dropped", records-keep, "rebuilt", len(rebuilt)/indexRecordSize)
		if err := l.index.Truncate(int64(keep * indexRecordSize)); err != nil {
			return err
		}
		if _, err := l.index.Write(rebuilt); err != nil {
			return fmt.Errorf("write %s: %w", IndexFile, err)
		}
		if err := l.index.Sync(); err != nil {
			return err
		}
	}

	// 3. The latest checkpoint must match the tree.
	if !haveLast {
		return l.checkpoint()
	}
	if err := last.Verify(l.key.Public().(ed25519.PublicKey)); err != nil {
		return fmt.Errorf("latest checkpoint: %w (is this the cell's key?)", err)
	}
	root, err := l.tree.root(signed)
	if err != nil {
		return err
	}
	if !bytes.Equal(root[:], last.RootHash) {
		return fmt.Errorf("the log does not match its latest checkpoint at tree size %d: entries were altered (run jointcell audit verify)", signed)
	}
	l.last = last
	return nil
}

// readLastCheckpoint returns the last complete line of checkpoints.jsonl,
// cutting off a torn one.
func (l *Log) readLastCheckpoint() (Checkpoint, bool, error) {
	st, err := l.checkpoints.Stat()
	if err != nil {
		return Checkpoint{}, false, err
	}
	size := st.Size()
	if size == 0 {
		return Checkpoint{}, false, nil
	}
	// A checkpoint line is about 200 bytes; the window holds several.
	from := max(size-4096, 0)
	tail := make([]byte, size-from)
	if _, err := l.checkpoints.ReadAt(tail, from); err != nil {
		return Checkpoint{}, false, fmt.Errorf("read %s: %w", CheckpointsFile, err)
	}
	if tail[len(tail)-1] != '\n' {
		cut := bytes.LastIndexByte(tail, '\n') + 1
		if cut == 0 && from > 0 {
			return Checkpoint{}, false, fmt.Errorf("%s ends in %d bytes without a newline", CheckpointsFile, len(tail))
		}
		l.logger.Warn("audit: cutting a torn last checkpoint off", "file", CheckpointsFile, "bytes", len(tail)-cut)
		if err := l.checkpoints.Truncate(from + int64(cut)); err != nil {
			return Checkpoint{}, false, err
		}
		tail = tail[:cut]
		if len(tail) == 0 {
			return Checkpoint{}, false, nil
		}
	}
	tail = tail[:len(tail)-1]
	line := tail[bytes.LastIndexByte(tail, '\n')+1:]
	c, err := ParseCheckpoint(line)
	if err != nil {
		return Checkpoint{}, false, fmt.Errorf("latest checkpoint: %w", err)
	}
	return c, true, nil
}

func appendIndexRecord(b []byte, offset int64, d digest) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(offset))
	return append(b, d[:]...)
}

// readLeaves reads count leaf hashes from the leaf index, starting at leaf
// start. It is the tree's source for nodes below cacheLevel.
func (l *Log) readLeaves(start, count uint64) ([]digest, error) {
	b := make([]byte, count*indexRecordSize)
	if _, err := l.index.ReadAt(b, int64(start*indexRecordSize)); err != nil {
		return nil, fmt.Errorf("audit: read %s: %w", IndexFile, err)
	}
	ds := make([]digest, count)
	for i := range ds {
		copy(ds[i][:], b[i*indexRecordSize+8:])
	}
	return ds, nil
}

// Append adds e to the log. An entry without a time gets the current time.
// Append returns once the entry's line is written to entries.jsonl and
// fsynced, and its leaf index record written: concurrent Appends share one
// write and one fsync (group commit). The leaf index is fsynced before each
// checkpoint; Open rebuilds records a crash lost since the last one. Once the entry is queued, Append waits for the write
// even if ctx is cancelled, so that its answer is the truth about the
// entry. An error means the entry may or may not be in the log, and the
// log refuses further entries.
func (l *Log) Append(ctx context.Context, e Entry) error {
	if e.Time.IsZero() {
		e.Time = l.now()
	}
	body, err := encodeEntryBody(e)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("audit: append: %w", err)
	}
	done := make(chan error, 1)
	l.closeMu.RLock()
	if l.closed {
		l.closeMu.RUnlock()
		return ErrClosed
	}
	select {
	case l.reqs <- request{body: body, done: done}:
	case <-ctx.Done():
		l.closeMu.RUnlock()
		return fmt.Errorf("audit: append: %w", ctx.Err())
	}
	l.closeMu.RUnlock()
	return <-done
}

// run is the writer goroutine: it commits queued entries in batches and
// signs checkpoints.
func (l *Log) run(interval time.Duration) {
	defer close(l.done)
	var tick <-chan time.Time
	if interval > 0 {
		t := time.NewTicker(interval)
		defer t.Stop()
		tick = t.C
	}
	batch := make([]request, 0, maxBatch)
	for {
		select {
		case r := <-l.reqs:
			batch = l.drain(append(batch[:0], r))
			l.commit(batch)
		case <-tick:
			l.checkpointIfGrown()
		case <-l.quit:
			for {
				batch = l.drain(batch[:0])
				if len(batch) == 0 {
					break
				}
				l.commit(batch)
			}
			if err := l.checkpointIfGrown(); err != nil {
				l.closeErr = err
			}
			return
		}
	}
}

func (l *Log) drain(batch []request) []request {
	for len(batch) < maxBatch {
		select {
		case r := <-l.reqs:
			batch = append(batch, r)
		default:
			return batch
		}
	}
	return batch
}

func (l *Log) commit(batch []request) {
	err := l.write(batch)
	for _, r := range batch {
		r.done <- err
	}
	if err != nil {
		return
	}
	if l.tree.size-l.last.TreeSize >= l.every {
		l.checkpointIfGrown()
	}
}

func (l *Log) write(batch []request) error {
	l.mu.RLock()
	err := l.err
	l.mu.RUnlock()
	if err != nil {
		return err
	}
	size, start := l.tree.size, l.entriesSize
	l.buf, l.ibuf = l.buf[:0], l.ibuf[:0]
	ds := make([]digest, len(batch))
	for i, r := range batch {
		from := len(l.buf)
		l.buf = appendLine(l.buf, size+uint64(i), r.body)
		ds[i] = leafDigest(l.buf[from : len(l.buf)-1])
		l.ibuf = appendIndexRecord(l.ibuf, start+int64(from), ds[i])
	}
	fail := func(op string, err error) error {
		err = fmt.Errorf("audit: append: %s: %w", op, err)
		l.mu.Lock()
		l.err = err
		l.mu.Unlock()
		return err
	}
	if _, err := l.entries.Write(l.buf); err != nil {
		// Take back a partial write, so that a restart does not find
		// half a line; if even that fails, Open cuts it off.
		_ = l.entries.Truncate(start)
		return fail("write "+EntriesFile, err)
	}
	if err := l.entries.Sync(); err != nil {
		return fail("sync "+EntriesFile, err)
	}
	// The leaf index is written after the entries and fsynced only before
	// the next checkpoint: it can be rebuilt from the entries, so one
	// fsync per batch is enough for durability, and Open checks records
	// after the latest checkpoint against the entries (see recover).
	if _, err := l.index.Write(l.ibuf); err != nil {
		return fail("write "+IndexFile, err)
	}
	l.mu.Lock()
	for _, d := range ds {
		l.tree.push(d)
	}
	l.entriesSize = start + int64(len(l.buf))
	l.mu.Unlock()
	return nil
}

func (l *Log) checkpointIfGrown() error {
	if l.tree.size == l.last.TreeSize {
		return nil
	}
	if err := l.checkpoint(); err != nil {
		// The entries are safe; the next checkpoint covers them, and Close
		// reports a failure of the last one.
		l.logger.Error("audit: checkpoint failed", "err", err)
		return err
	}
	return nil
}

// checkpoint signs and writes a checkpoint of the whole tree. Only the
// writer goroutine (or Open, before it starts) calls it.
func (l *Log) checkpoint() error {
	root, err := l.tree.root(l.tree.size)
	if err != nil {
		return err
	}
	// Every record the checkpoint covers must be durable before it.
	if err := l.index.Sync(); err != nil {
		return fmt.Errorf("audit: sync %s: %w", IndexFile, err)
	}
	c := signCheckpoint(l.key, l.tree.size, root, l.now())
	line, err := c.MarshalJSON()
	if err != nil {
		return err
	}
	if _, err := l.checkpoints.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("audit: write %s: %w", CheckpointsFile, err)
	}
	if err := l.checkpoints.Sync(); err != nil {
		return fmt.Errorf("audit: sync %s: %w", CheckpointsFile, err)
	}
	l.mu.Lock()
	l.last = c
	l.mu.Unlock()
	return nil
}

// Close waits for queued entries, signs a final checkpoint covering every
// entry, and closes the files and the lock.
func (l *Log) Close() error {
	l.closeMu.Lock()
	if l.closed {
		l.closeMu.Unlock()
		return ErrClosed
	}
	l.closed = true
	l.closeMu.Unlock()
	close(l.quit)
	<-l.done
	return errors.Join(l.closeErr, l.closeFiles())
}

// Size returns the number of entries in the log.
func (l *Log) Size() uint64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.tree.size
}

// Checkpoint returns the latest signed checkpoint.
func (l *Log) Checkpoint() (Checkpoint, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.last.Signature == nil {
		return Checkpoint{}, errors.New("audit: no checkpoint yet")
	}
	return l.last, nil
}

// Root returns the root hash of the tree of the first treeSize entries.
func (l *Log) Root(treeSize uint64) ([]byte, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if treeSize > l.tree.size {
		return nil, fmt.Errorf("%w: tree size %d, log holds %d entries", ErrRange, treeSize, l.tree.size)
	}
	r, err := l.tree.root(treeSize)
	if err != nil {
		return nil, err
	}
	return r[:], nil
}

// Leaf returns line index of entries.jsonl without its newline: the bytes
// whose LeafHash is the leaf, for an auditor to check with an inclusion
// proof and to parse with ParseEntry.
func (l *Log) Leaf(index uint64) ([]byte, error) {
	l.mu.RLock()
	size, end := l.tree.size, l.entriesSize
	l.mu.RUnlock()
	if index >= size {
		return nil, fmt.Errorf("%w: entry %d, log holds %d entries", ErrRange, index, size)
	}
	n := uint64(1)
	if index+1 < size {
		n = 2
	}
	b := make([]byte, n*indexRecordSize)
	if _, err := l.index.ReadAt(b, int64(index*indexRecordSize)); err != nil {
		return nil, fmt.Errorf("audit: read %s: %w", IndexFile, err)
	}
	start := int64(binary.BigEndian.Uint64(b))
	if n == 2 {
		end = int64(binary.BigEndian.Uint64(b[indexRecordSize:]))
	}
	if start < 0 || end <= start {
		return nil, fmt.Errorf("audit: %s record %d is damaged", IndexFile, index)
	}
	line := make([]byte, end-start)
	if _, err := l.entries.ReadAt(line, start); err != nil {
		return nil, fmt.Errorf("audit: read %s: %w", EntriesFile, err)
	}
	return line[:len(line)-1], nil
}

// InclusionProof returns the RFC 6962 §2.1.1 audit path of entry index in
// the tree of the first treeSize entries, for VerifyInclusion.
func (l *Log) InclusionProof(index, treeSize uint64) ([][]byte, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if treeSize > l.tree.size || index >= treeSize {
		return nil, fmt.Errorf("%w: entry %d in a tree of size %d, log holds %d entries", ErrRange, index, treeSize, l.tree.size)
	}
	p, err := inclusionPath(l.tree.perfect, index, 0, treeSize, [][]byte{})
	if err != nil {
		return nil, fmt.Errorf("audit: inclusion proof: %w", err)
	}
	return p, nil
}

// ConsistencyProof returns the RFC 6962 §2.1.2 proof that the tree of the
// first oldSize entries is a prefix of the tree of the first newSize
// entries, for VerifyConsistency. It is empty when oldSize is 0 or equal
// to newSize.
func (l *Log) ConsistencyProof(oldSize, newSize uint64) ([][]byte, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if newSize > l.tree.size || oldSize > newSize {
		return nil, fmt.Errorf("%w: from size %d to %d, log holds %d entries", ErrRange, oldSize, newSize, l.tree.size)
	}
	if oldSize == 0 || oldSize == newSize {
		return [][]byte{}, nil
	}
	p, err := consistencyPath(l.tree.perfect, oldSize, 0, newSize, true, [][]byte{})
	if err != nil {
		return nil, fmt.Errorf("audit: consistency proof: %w", err)
	}
	return p, nil
}
