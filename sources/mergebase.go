package sources

import (
	"context"
	"fmt"
)

// MergeBase returns the best common ancestor of commits a and b (both
// stored; resolved as by Revision): where a pull request's branch left
// the tracked branch. ErrUnknownRevision when they share no history.
func (r *Repo) MergeBase(ctx context.Context, a, b string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	o := r.store()
	ca, err := r.commitOf(o, a)
	if err != nil {
		return "", err
	}
	cb, err := r.commitOf(o, b)
	if err != nil {
		return "", err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	bases, err := ca.MergeBase(cb)
	if err != nil {
		return "", fmt.Errorf("merge base of %s and %s: %w", a, b, err)
	}
	if len(bases) == 0 {
		return "", fmt.Errorf("%w: %s and %s share no history", ErrUnknownRevision, a, b)
	}
	return bases[0].Hash.String(), nil
}
