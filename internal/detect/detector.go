package detect

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultMaxLine bounds one input record; longer lines are rejected and
// counted, so that a hostile or broken producer cannot make the detector
// buffer without limit.
const DefaultMaxLine = 1 << 20

// Batch is a group of input records handed from a source to the workers.
// Done, when set, is called once every record has been processed: the NATS
// source acknowledges its messages there, the HTTP source answers there,
// the reader source takes the records' memory back for the next batches
// (nothing may refer to the records after Done).
type Batch struct {
	Records   [][]byte
	FirstLine int64 // line number of Records[0] when the source counts lines, else 0
	// TooLong counts records the source rejected for their size, before
	// this batch.
	TooLong int
	Done    func(BatchResult)
}

// BatchResult is what became of one batch.
type BatchResult struct {
	Events, Malformed, Matched int
}

// Source produces batches until its input ends (nil) or ctx is done.
type Source interface {
	Run(ctx context.Context, out chan<- Batch) error
}

// Stats counts what a detector did. All fields are totals since start.
type Stats struct {
	Records   int64 // input records (lines) read
	Events    int64 // events decoded
	Malformed int64 // records that could not be decoded (including too long)
	TooLong   int64 // records rejected for their size
	Empty     int64 // well-formed records without any observable
	Matched   int64 // events that matched at least one indicator
	Matches   int64 // (event, indicator) matches
}

// Config configures a Detector.
type Config struct {
	Format  Format
	Workers int // default GOMAXPROCS
	// MaxErrorsLogged bounds the malformed records logged one by one
	// (default 20); the rest are only counted.
	MaxErrorsLogged int
}

// Detector runs decoding and matching on parallel workers and hands
// matches to the aggregator.
type Detector struct {
	cfg Config
	ix  *Index
	agg *Aggregator
	log *slog.Logger

	records, events, malformed, tooLong, empty, matched, matches atomic.Int64
	logged                                                       atomic.Int64
}

// NewDetector returns a detector over ix reporting to agg.
func NewDetector(cfg Config, ix *Index, agg *Aggregator, logger *slog.Logger) (*Detector, error) {
	if _, err := NewDecoder(cfg.Format); err != nil {
		return nil, err
	}
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if cfg.MaxErrorsLogged <= 0 {
		cfg.MaxErrorsLogged = 20
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Detector{cfg: cfg, ix: ix, agg: agg, log: logger}, nil
}

// Stats returns the counters so far.
func (d *Detector) Stats() Stats {
	return Stats{
		Records: d.records.Load(), Events: d.events.Load(), Malformed: d.malformed.Load(),
		TooLong: d.tooLong.Load(), Empty: d.empty.Load(), Matched: d.matched.Load(), Matches: d.matches.Load(),
	}
}

// Run reads src until it ends or ctx is done, with Workers goroutines
// decoding and matching, and calls the aggregator's Tick and the index's
// Sweep every second. It returns when every batch read has been processed;
// flushing the aggregator is the caller's choice (at shutdown).
func (d *Detector) Run(ctx context.Context, src Source) error {
	batches := make(chan Batch, d.cfg.Workers*2)
	var wg sync.WaitGroup
	errc := make(chan error, d.cfg.Workers)
	for i := 0; i < d.cfg.Workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := d.work(batches); err != nil {
				errc <- err
			}
		}()
	}
	tickDone := make(chan struct{})
	tickStopped := make(chan struct{})
	go func() {
		defer close(tickStopped)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-tickDone:
				return
			case <-t.C:
				d.ix.Sweep()
				if err := d.agg.Tick(); err != nil {
					d.log.Error("emit sightings", "err", err)
				}
			}
		}
	}()
	srcErr := src.Run(ctx, batches)
	close(batches)
	wg.Wait()
	close(tickDone)
	<-tickStopped
	close(errc)
	var errs []error
	if srcErr != nil && !errors.Is(srcErr, context.Canceled) {
		errs = append(errs, srcErr)
	}
	for err := range errc {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (d *Detector) work(batches <-chan Batch) error {
	dec, err := NewDecoder(d.cfg.Format)
	if err != nil {
		return err
	}
	m := d.ix.NewMatcher()
	var res BatchResult
	var aggErr error
	emit := func(ev *Event) {
		res.Events++
		hits := m.Match(ev)
		if len(hits) == 0 {
			return
		}
		res.Matched++
		d.matches.Add(int64(len(hits)))
		for _, id := range hits {
			if err := d.agg.Add(id, ev); err != nil && aggErr == nil {
				aggErr = err
			}
		}
	}
	for b := range batches {
		res = BatchResult{}
		var empty int64
		d.records.Add(int64(len(b.Records) + b.TooLong))
		if b.TooLong > 0 {
			d.tooLong.Add(int64(b.TooLong))
			d.malformed.Add(int64(b.TooLong))
			res.Malformed += b.TooLong
		}
		for i, rec := range b.Records {
			err := dec.Decode(rec, emit)
			switch {
			case err == nil:
			case errors.Is(err, ErrEmpty):
				empty++
			default:
				res.Malformed++
				d.malformed.Add(1)
				if d.logged.Add(1) <= int64(d.cfg.MaxErrorsLogged) {
					if b.FirstLine > 0 {
						d.log.Warn("malformed event", "line", b.FirstLine+int64(i), "err", err)
					} else {
						d.log.Warn("malformed event", "err", err)
					}
				}
			}
		}
		d.events.Add(int64(res.Events))
		d.matched.Add(int64(res.Matched))
		d.empty.Add(empty)
		if b.Done != nil {
			b.Done(res)
		}
		if aggErr != nil {
			err := aggErr
			aggErr = nil
			d.log.Error("aggregate sighting", "err", err)
		}
	}
	return nil
}
