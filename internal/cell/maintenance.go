package cell

import (
	"context"
	"log/slog"
	"time"
)

// StatusPurger is the part of store.Statuses the purger needs.
type StatusPurger interface {
	PurgeStatuses(ctx context.Context, before time.Time) (int, error)
}

// PurgeStatuses deletes status resources requested more than ttl ago, at
// start and then every interval, until ctx is done. TAXII 2.1 §4.3 asks
// that a status be kept at least 24 hours; after that it only costs space.
func PurgeStatuses(ctx context.Context, st StatusPurger, ttl, interval time.Duration, now func() time.Time, logger *slog.Logger) {
	if now == nil {
		now = time.Now
	}
	repeat(ctx, interval, func() {
		n, err := st.PurgeStatuses(ctx, now().Add(-ttl))
		switch {
		case err != nil && ctx.Err() == nil:
			logger.Error("purge status resources", "err", err)
		case n > 0:
			logger.Info("purged status resources", "count", n)
		}
	})
}

// repeat runs fn at once and then every interval, until ctx is done.
func repeat(ctx context.Context, interval time.Duration, fn func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		fn()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
