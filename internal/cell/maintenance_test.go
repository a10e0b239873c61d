package cell

import (
	"context"
	"sync"
	"testing"
	"time"
)

type fakePurger struct {
	mu      sync.Mutex
	cutoffs []time.Time
}

func (f *fakePurger) PurgeStatuses(_ context.Context, before time.Time) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cutoffs = append(f.cutoffs, before)
	return 1, nil
}

func (f *fakePurger) calls() []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Time(nil), f.cutoffs...)
}

func TestPurgeStatuses(t *testing.T) {
	now := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	f := &fakePurger{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		PurgeStatuses(ctx, f, 24*time.Hour, 5*time.Millisecond, func() time.Time { return now }, discard())
		close(done)
	}()
	for len(f.calls()) < 3 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
	for _, c := range f.calls() {
		if !c.Equal(now.Add(-24 * time.Hour)) {
			t.Errorf("cut-off %v, want 24 h before now", c)
		}
	}
}
