package wait

import (
	"context"
	"time"
)

// Sleep waits d or until ctx ends; it returns ctx.Err() when ctx ended
// first (or had ended: a d ≤ 0 only checks ctx), nil otherwise.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
