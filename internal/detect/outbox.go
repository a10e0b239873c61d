package detect

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// Poster sends STIX objects to a TAXII collection (TAXII 2.1 §5.4 Add
// Objects) and returns once the server has accepted them. The TAXII client
// is adapted to it in cmd/jointcell.
type Poster interface {
	Post(ctx context.Context, objs []json.RawMessage) error
}

// OutboxConfig configures an Outbox.
type OutboxConfig struct {
	// Batch is the most objects sent in one request (default 500).
	Batch int
	// MaxPending bounds the objects held while the cell is unreachable
	// (default 100000); Emit blocks beyond it, so detection slows down
	// rather than dropping sightings or growing without bound.
	MaxPending int
	// Spool, when set, is a file that mirrors the pending objects so a
	// restart loses nothing; it is read back by NewOutbox.
	Spool string
	// MinBackoff and MaxBackoff bound the wait between failed attempts
	// (defaults 500 ms and 30 s).
	MinBackoff, MaxBackoff time.Duration
}

// Outbox queues sightings (each with the objects it references, kept
// together so a batch never holds a sighting without its evidence) and
// posts them in batches, retrying with exponential backoff until the cell
// accepts them.
type Outbox struct {
	cfg  OutboxConfig
	post Poster
	log  *slog.Logger

	mu      sync.Mutex
	cond    *sync.Cond
	queue   [][]json.RawMessage // groups
	pending int                 // objects in queue
	closed  bool
	spool   *os.File
	posted  int64
	wake    chan struct{}
}

// NewOutbox returns an outbox posting through p, loading the spool file
// when there is one.
func NewOutbox(cfg OutboxConfig, p Poster, logger *slog.Logger) (*Outbox, error) {
	if cfg.Batch <= 0 {
		cfg.Batch = 500
	}
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = 100000
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 500 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 30 * time.Second
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	o := &Outbox{cfg: cfg, post: p, log: logger, wake: make(chan struct{}, 1)}
	o.cond = sync.NewCond(&o.mu)
	if cfg.Spool != "" {
		if err := o.loadSpool(); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// loadSpool reads the groups a previous run left. Each line of the spool is
// one group as a JSON array; a torn last line (a crash mid-write) is
// ignored.
func (o *Outbox) loadSpool() error {
	f, err := os.OpenFile(o.cfg.Spool, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("detect: open spool: %w", err)
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 256<<20)
	for sc.Scan() {
		var g []json.RawMessage
		if err := json.Unmarshal(sc.Bytes(), &g); err != nil || len(g) == 0 {
			continue
		}
		o.queue = append(o.queue, g)
		o.pending += len(g)
	}
	if err := sc.Err(); err != nil {
		f.Close()
		return fmt.Errorf("detect: read spool: %w", err)
	}
	o.spool = f
	if len(o.queue) > 0 {
		o.log.Info("spooled sightings reloaded", "objects", o.pending)
		// Rewrite so that a torn line is gone before appending.
		if err := o.rewriteSpoolLocked(); err != nil {
			return err
		}
	}
	return nil
}

// Pending returns the number of objects not yet accepted by the cell.
func (o *Outbox) Pending() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.pending
}

// Posted returns the number of objects the cell accepted.
func (o *Outbox) Posted() int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.posted
}

// Emit queues one group; it is the Aggregator's Emit. It blocks while the
// outbox is full.
func (o *Outbox) Emit(objs []json.RawMessage) error {
	o.mu.Lock()
	for o.pending+len(objs) > o.cfg.MaxPending && o.pending > 0 && !o.closed {
		o.cond.Wait()
	}
	if o.spool != nil {
		b, err := json.Marshal(objs)
		if err == nil {
			b = append(b, '\n')
			_, err = o.spool.Write(b)
		}
		if err != nil {
			o.mu.Unlock()
			return fmt.Errorf("detect: spool sighting: %w", err)
		}
	} else if o.closed {
		o.mu.Unlock()
		return errors.New("detect: outbox closed without a spool; sighting dropped")
	}
	o.queue = append(o.queue, objs)
	o.pending += len(objs)
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
	return nil
}

// Run posts queued groups until ctx is done. On failure it waits with
// exponential backoff and retries the same batch: nothing is dropped.
func (o *Outbox) Run(ctx context.Context) error {
	backoff := o.cfg.MinBackoff
	for {
		batch, groups := o.next()
		if len(batch) == 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-o.wake:
			case <-time.After(time.Second):
			}
			continue
		}
		err := o.post.Post(ctx, batch)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			o.log.Warn("post sightings failed; will retry", "objects", len(batch), "retry_in", backoff, "err", err)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, o.cfg.MaxBackoff)
			continue
		}
		backoff = o.cfg.MinBackoff
		if err := o.done(groups, len(batch)); err != nil {
			o.log.Error("spool", "err", err)
		}
	}
}

// Drain posts what is queued, trying until ctx is done; what is left stays
// in the spool (if any) for the next run.
func (o *Outbox) Drain(ctx context.Context) error {
	backoff := o.cfg.MinBackoff
	for {
		batch, groups := o.next()
		if len(batch) == 0 {
			return nil
		}
		if err := o.post.Post(ctx, batch); err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("detect: %d sighting objects not delivered: %w", o.Pending(), err)
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("detect: %d sighting objects not delivered: %w", o.Pending(), err)
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, o.cfg.MaxBackoff)
			continue
		}
		if err := o.done(groups, len(batch)); err != nil {
			return err
		}
	}
}

// Close stops accepting groups and closes the spool.
func (o *Outbox) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.closed = true
	o.cond.Broadcast()
	if o.spool != nil {
		err := o.spool.Close()
		o.spool = nil
		return err
	}
	return nil
}

// next returns the first groups up to Batch objects (at least one group).
func (o *Outbox) next() ([]json.RawMessage, int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	var batch []json.RawMessage
	n := 0
	for n < len(o.queue) && (n == 0 || len(batch)+len(o.queue[n]) <= o.cfg.Batch) {
		batch = append(batch, o.queue[n]...)
		n++
	}
	return batch, n
}

func (o *Outbox) done(groups, objects int) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.queue = o.queue[groups:]
	o.pending -= objects
	o.posted += int64(objects)
	o.cond.Broadcast()
	if o.spool == nil {
		return nil
	}
	return o.rewriteSpoolLocked()
}

// rewriteSpoolLocked makes the spool hold exactly the queue. The queue is
// bounded by MaxPending, so this costs at most that much I/O per batch.
func (o *Outbox) rewriteSpoolLocked() error {
	tmp := o.cfg.Spool + ".tmp"
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("detect: rewrite spool: %w", err)
	}
	w := bufio.NewWriter(f)
	for _, g := range o.queue {
		b, err := json.Marshal(g)
		if err != nil {
			f.Close()
			return fmt.Errorf("detect: rewrite spool: %w", err)
		}
		w.Write(b)
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("detect: rewrite spool: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("detect: rewrite spool: %w", err)
	}
	if err := os.Rename(tmp, o.cfg.Spool); err != nil {
		f.Close()
		return fmt.Errorf("detect: rewrite spool: %w", err)
	}
	if o.spool != nil {
		o.spool.Close()
	}
	o.spool = f
	return nil
}
