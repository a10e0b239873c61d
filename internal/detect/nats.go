package detect

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// NATSSource reads events from a NATS JetStream subject through a durable
// pull consumer. Several detectors given the same stream and consumer name
// share the work: JetStream hands each message to one of them, and a
// message is acknowledged only after its events have been matched, so a
// detector that dies mid-batch loses nothing (the message is redelivered
// after the consumer's ack wait). A message may hold several JSON lines.
type NATSSource struct {
	URL      string // nats://host:port
	Subject  string
	Stream   string // created with Subject when missing
	Consumer string // durable consumer name
	MaxLine  int
	Fetch    int // messages per fetch, default 256
	Log      *slog.Logger
}

var _ Source = (*NATSSource)(nil)

// ParseNATSURL splits nats://HOST:PORT/SUBJECT.
func ParseNATSURL(s string) (server, subject string, err error) {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "nats" || u.Host == "" {
		return "", "", fmt.Errorf("detect: %q is not nats://HOST:PORT/SUBJECT", s)
	}
	subject = strings.TrimPrefix(u.Path, "/")
	if subject == "" {
		return "", "", fmt.Errorf("detect: %q names no subject", s)
	}
	return "nats://" + u.Host, subject, nil
}

// Run implements Source.
func (s *NATSSource) Run(ctx context.Context, out chan<- Batch) error {
	logger := s.Log
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	maxLine := s.MaxLine
	if maxLine <= 0 {
		maxLine = DefaultMaxLine
	}
	fetch := s.Fetch
	if fetch <= 0 {
		fetch = 256
	}
	nc, err := nats.Connect(s.URL, nats.Name("jointcell-detect"), nats.MaxReconnects(-1))
	if err != nil {
		return fmt.Errorf("detect: connect %s: %w", s.URL, err)
	}
	defer nc.Drain()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("detect: jetstream: %w", err)
	}
	if _, err := js.Stream(ctx, s.Stream); errors.Is(err, jetstream.ErrStreamNotFound) {
		_, err = js.CreateStream(ctx, jetstream.StreamConfig{Name: s.Stream, Subjects: []string{s.Subject}})
		if err != nil && !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			return fmt.Errorf("detect: create stream %s: %w", s.Stream, err)
		}
	} else if err != nil {
		return fmt.Errorf("detect: stream %s: %w", s.Stream, err)
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, s.Stream, jetstream.ConsumerConfig{
		Durable:       s.Consumer,
		FilterSubject: s.Subject,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       30 * time.Second,
		MaxAckPending: 64 * fetch,
	})
	if err != nil {
		return fmt.Errorf("detect: consumer %s: %w", s.Consumer, err)
	}
	for ctx.Err() == nil {
		mb, err := cons.Fetch(fetch, jetstream.FetchMaxWait(500*time.Millisecond))
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			logger.Warn("nats fetch", "err", err)
			time.Sleep(200 * time.Millisecond)
			continue
		}
		var msgs []jetstream.Msg
		b := Batch{}
		for m := range mb.Messages() {
			msgs = append(msgs, m)
			data := m.Data()
			if len(data) > maxLine {
				b.TooLong++
				continue
			}
			for _, rec := range bytes.Split(data, []byte{'\n'}) {
				if len(bytes.TrimSpace(rec)) > 0 {
					b.Records = append(b.Records, rec)
				}
			}
		}
		if len(msgs) == 0 {
			continue
		}
		b.Done = func(BatchResult) {
			for _, m := range msgs {
				if err := m.Ack(); err != nil {
					logger.Warn("nats ack", "err", err)
				}
			}
		}
		// Once fetched, a batch is always handed over (the workers drain
		// the channel even after ctx is done), so acks are not skipped.
		out <- b
	}
	return nil
}
