package detect

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
)

// ReaderSource reads records from a stream (a file, stdin): one JSON value
// a line, or, with JoinLines, JSON values spread over several lines (a
// pretty-printed STIX bundle). Lines longer than MaxLine are skipped and
// counted, never buffered whole.
type ReaderSource struct {
	R         io.Reader
	MaxLine   int // default DefaultMaxLine
	BatchSize int // default 256
	// JoinLines accumulates lines until the JSON value they hold is
	// complete (bracket depth back to zero outside strings).
	JoinLines bool
}

var _ Source = (*ReaderSource)(nil)

// Run implements Source.
func (s *ReaderSource) Run(ctx context.Context, out chan<- Batch) error {
	maxLine := s.MaxLine
	if maxLine <= 0 {
		maxLine = DefaultMaxLine
	}
	size := s.BatchSize
	if size <= 0 {
		size = 256
	}
	br := bufio.NewReaderSize(s.R, 64<<10)
	// The memory of a batch (its records' bytes and slice) comes back
	// through Done once the workers are through with it, and is reused:
	// the records are most of what the detector allocates.
	type mem struct {
		arena []byte
		recs  [][]byte
	}
	free := make(chan mem, 32)
	var (
		line    int64
		b       = Batch{FirstLine: 1}
		arena   []byte
		pending []byte // JoinLines: the value being accumulated
		depth   jsonDepth
		start   int64
	)
	flush := func() error {
		if len(b.Records) == 0 && b.TooLong == 0 {
			return nil
		}
		m := mem{arena: arena[:0], recs: b.Records[:0]}
		b.Done = func(BatchResult) {
			select {
			case free <- m:
			default:
			}
		}
		select {
		case out <- b:
		case <-ctx.Done():
			return ctx.Err()
		}
		b = Batch{FirstLine: line + 1}
		select {
		case m := <-free:
			arena, b.Records = m.arena, m.recs
		default:
			arena = make([]byte, 0, len(arena))
		}
		return nil
	}
	add := func(rec []byte, at int64) {
		if len(b.Records) == 0 {
			b.FirstLine = at
		} else if b.FirstLine+int64(len(b.Records)) != at {
			// Keep line numbers exact: a batch holds consecutive lines.
			_ = flush()
			b.FirstLine = at
		}
		off := len(arena)
		arena = append(arena, rec...)
		b.Records = append(b.Records, arena[off:len(arena):len(arena)])
	}
	for {
		raw, tooLong, err := readLine(br, maxLine)
		if len(raw) > 0 || tooLong || err == nil {
			line++
		}
		switch {
		case tooLong:
			b.TooLong++
			pending, depth = pending[:0], jsonDepth{}
		case s.JoinLines:
			if len(pending) == 0 {
				t := bytes.TrimSpace(raw)
				if len(t) == 0 {
					break
				}
				start = line
			}
			pending = append(pending, raw...)
			pending = append(pending, '\n')
			depth.feed(raw)
			if len(pending) > maxLine {
				b.TooLong++
				pending, depth = pending[:0], jsonDepth{}
			} else if depth.complete() {
				add(pending, start)
				pending, depth = pending[:0], jsonDepth{}
			}
		default:
			if len(bytes.TrimSpace(raw)) > 0 {
				add(raw, line)
			}
		}
		if len(b.Records) >= size {
			if ferr := flush(); ferr != nil {
				return ferr
			}
		}
		if err == io.EOF {
			if len(bytes.TrimSpace(pending)) > 0 {
				add(pending, start) // incomplete: the decoder reports it
			}
			return flush()
		}
		if err != nil {
			_ = flush()
			return fmt.Errorf("detect: read events: %w", err)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

// readLine returns the next line without its newline. A line longer than
// max is consumed to its end and reported as tooLong with no data.
func readLine(br *bufio.Reader, max int) (line []byte, tooLong bool, err error) {
	var buf []byte
	for {
		frag, err := br.ReadSlice('\n')
		if len(buf)+len(frag) > max+1 { // +1 for the newline itself
			tooLong = true
			buf = nil
		}
		if !tooLong {
			if err == nil && buf == nil {
				return bytes.TrimRight(frag, "\r\n"), false, nil
			}
			buf = append(buf, frag...)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil && len(buf) == 0 && !tooLong {
			return nil, false, err
		}
		return bytes.TrimRight(buf, "\r\n"), tooLong, err
	}
}

// jsonDepth tracks bracket depth across lines, outside strings.
type jsonDepth struct {
	depth    int
	inString bool
	escaped  bool
	seen     bool
}

func (d *jsonDepth) feed(b []byte) {
	for _, c := range b {
		if d.inString {
			switch {
			case d.escaped:
				d.escaped = false
			case c == '\\':
				d.escaped = true
			case c == '"':
				d.inString = false
			}
			continue
		}
		switch c {
		case '"':
			d.inString = true
		case '{', '[':
			d.depth++
			d.seen = true
		case '}', ']':
			d.depth--
		}
	}
}

func (d *jsonDepth) complete() bool { return d.seen && d.depth <= 0 && !d.inString }

// HTTPSource accepts JSON lines POSTed to /events. Each request is read
// line by line with the same bound as files: a line over MaxLine answers
// 413 (nothing of that request is processed), a body over MaxBody too. The
// response, sent once the request's events have been matched, is
// {"events": n, "malformed": m, "matched": k}.
type HTTPSource struct {
	MaxLine int   // default DefaultMaxLine
	MaxBody int64 // default 64 MiB
	Log     *slog.Logger

	// mu guards out: handlers send under the read lock, Run clears out
	// under the write lock, so no send can race the channel's close.
	mu  sync.RWMutex
	out chan<- Batch
	ctx context.Context
	// ready is closed once Run has started, so requests arriving first
	// wait instead of failing.
	ready chan struct{}
	once  sync.Once
}

var (
	_ Source       = (*HTTPSource)(nil)
	_ http.Handler = (*HTTPSource)(nil)
)

func (s *HTTPSource) init() {
	s.once.Do(func() { s.ready = make(chan struct{}) })
}

// Run implements Source: it hands batches from requests to the workers
// until ctx is done. The caller serves s (an http.Handler) on its listener.
func (s *HTTPSource) Run(ctx context.Context, out chan<- Batch) error {
	s.init()
	s.mu.Lock()
	s.out, s.ctx = out, ctx
	s.mu.Unlock()
	close(s.ready)
	<-ctx.Done()
	s.mu.Lock()
	s.out = nil
	s.mu.Unlock()
	return nil
}

// ServeHTTP implements http.Handler for POST /events.
func (s *HTTPSource) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.init()
	if r.URL.Path != "/events" {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	maxLine := s.MaxLine
	if maxLine <= 0 {
		maxLine = DefaultMaxLine
	}
	maxBody := s.MaxBody
	if maxBody <= 0 {
		maxBody = 64 << 20
	}
	if r.ContentLength > maxBody {
		http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
		return
	}
	body := http.MaxBytesReader(w, r.Body, maxBody)
	br := bufio.NewReaderSize(body, 64<<10)
	var recs [][]byte
	for {
		raw, tooLong, err := readLine(br, maxLine)
		if tooLong {
			http.Error(w, fmt.Sprintf("line %d longer than %d bytes", len(recs)+1, maxLine), http.StatusRequestEntityTooLarge)
			return
		}
		if len(bytes.TrimSpace(raw)) > 0 {
			recs = append(recs, bytes.Clone(raw))
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
				return
			}
			http.Error(w, "read body: "+err.Error(), http.StatusBadRequest)
			return
		}
	}
	select {
	case <-s.ready:
	case <-r.Context().Done():
		return
	}
	done := make(chan BatchResult, 1)
	b := Batch{Records: recs, FirstLine: 1, Done: func(res BatchResult) { done <- res }}
	s.mu.RLock()
	if s.out == nil {
		s.mu.RUnlock()
		http.Error(w, "detector stopping", http.StatusServiceUnavailable)
		return
	}
	select {
	case s.out <- b:
	case <-s.ctx.Done():
		s.mu.RUnlock()
		http.Error(w, "detector stopping", http.StatusServiceUnavailable)
		return
	}
	s.mu.RUnlock()
	res := <-done
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]int{"events": res.Events, "malformed": res.Malformed, "matched": res.Matched})
}
