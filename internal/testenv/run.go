package testenv

import (
	"context"
	"sync"
	"testing"
	"time"
)

// Run runs fn (a component's Run) in a goroutine until the returned stop
// is called or the test ends. stop cancels fn's context and waits up to
// 10 s for fn to return, reporting an error it returned or a fn that did
// not stop; calling it again does nothing.
func Run(t testing.TB, fn func(ctx context.Context) error) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fn(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run returned %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Errorf("Run did not return within 10s of cancel")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}
