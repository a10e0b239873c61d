package detect

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"
)

// IndicatorFeed returns the objects added to a TAXII collection after a
// point (TAXII 2.1 §3.4.2 added_after), following pagination, and the new
// point to continue from (X-TAXII-Date-Added-Last). The TAXII client is
// adapted to it in cmd/jointcell.
type IndicatorFeed interface {
	// addedAfter and last are TAXII timestamps exactly as the server wrote
	// them ("" for the beginning), so no precision is lost on the way back.
	Since(ctx context.Context, addedAfter string) (objs []json.RawMessage, last string, err error)
}

// Follower keeps an Index in step with a collection: it loads everything
// once, then polls every Interval for what was added since, so a new,
// revised or revoked indicator takes effect within about one Interval.
type Follower struct {
	Feed     IndicatorFeed
	Index    *Index
	Interval time.Duration // default 1 s
	Log      *slog.Logger

	after string
}

// Load fetches everything added so far; call it before detection starts.
func (f *Follower) Load(ctx context.Context) (UpdateResult, error) {
	return f.poll(ctx)
}

// Run polls until ctx is done. Errors are logged and retried at the next
// tick: an unreachable cell must not stop detection with the indicators
// already loaded.
func (f *Follower) Run(ctx context.Context) error {
	iv := f.Interval
	if iv <= 0 {
		iv = time.Second
	}
	t := time.NewTicker(iv)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if res, err := f.poll(ctx); err != nil {
			if ctx.Err() == nil && f.Log != nil {
				f.Log.Warn("poll indicators", "err", err)
			}
		} else if f.Log != nil && (res.Added+res.Replaced+res.Removed+res.Failed) > 0 {
			f.Log.Info("indicators updated", "added", res.Added, "replaced", res.Replaced, "removed", res.Removed, "failed", res.Failed, "active", f.Index.Len())
		}
	}
}

func (f *Follower) poll(ctx context.Context) (UpdateResult, error) {
	objs, last, err := f.Feed.Since(ctx, f.after)
	if err != nil {
		return UpdateResult{}, fmt.Errorf("detect: fetch indicators: %w", err)
	}
	// Other object types share the collection: skipped.
	kept := objs[:0:0]
	for _, raw := range objs {
		if bytes.Contains(raw, []byte(`"indicator"`)) {
			kept = append(kept, raw)
		}
	}
	res := f.Index.Update(ParseIndicators(kept))
	if last != "" {
		f.after = last
	}
	return res, nil
}
