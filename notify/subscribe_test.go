package notify_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/driftless/driftless/internal/testenv"
	"github.com/driftless/driftless/notify"
)

func TestFollow(t *testing.T) {
	ctx := pubCtx(t)
	_, js := testenv.NATS(t)

	// No stream yet: an error, not a hang.
	if err := notify.Follow(ctx, js, notify.FollowOptions{}, func(notify.Event) error { return nil }); err == nil {
		t.Fatal("Follow without the stream succeeded")
	}
	pubStream(t, ctx, js)
	collect := func(opts notify.FollowOptions) []string {
		t.Helper()
		var got []string
		if err := notify.Follow(ctx, js, opts, func(ev notify.Event) error {
			got = append(got, ev.Type+" "+ev.Data.Repo)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return got
	}
	// Empty stream, no follow: returns at once with nothing.
	if got := collect(notify.FollowOptions{}); len(got) != 0 {
		t.Fatalf("empty stream gave %v", got)
	}

	p := notify.NewPublisher(js, "r", nil, nil)
	p.Emit(ctx, notify.CatSource, notify.ActUpdated, notify.Data{Repo: "a"})
	p.Emit(ctx, notify.CatDeploy, notify.ActStarted, notify.Data{Repo: "a", App: "web"})
	time.Sleep(20 * time.Millisecond) // so that Since falls between events
	since := time.Now()
	time.Sleep(20 * time.Millisecond)
	p.Emit(ctx, notify.CatDeploy, notify.ActSucceeded, notify.Data{Repo: "b", App: "web"})

	tests := []struct {
		name string
		opts notify.FollowOptions
		want []string
	}{
		{"all", notify.FollowOptions{}, []string{"io.driftless.source.updated a", "io.driftless.deploy.started a", "io.driftless.deploy.succeeded b"}},
		{"subjects", notify.FollowOptions{Subjects: []string{"driftless.deploy.>"}}, []string{"io.driftless.deploy.started a", "io.driftless.deploy.succeeded b"}},
		{"since", notify.FollowOptions{Since: since}, []string{"io.driftless.deploy.succeeded b"}},
		{"no match", notify.FollowOptions{Subjects: []string{"driftless.drift.>"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := collect(tt.opts); !slices.Equal(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}

	// An error from fn stops Follow and is returned.
	stop := errors.New("stop")
	if err := notify.Follow(ctx, js, notify.FollowOptions{}, func(notify.Event) error { return stop }); !errors.Is(err, stop) {
		t.Fatalf("Follow = %v, want fn's error", err)
	}

	// With Follow it delivers what is there, then new events, until ctx ends.
	fctx, cancel := context.WithCancel(ctx)
	got := make(chan string, 10)
	done := make(chan error, 1)
	go func() {
		done <- notify.Follow(fctx, js, notify.FollowOptions{Follow: true, Subjects: []string{"driftless.drift.>"}}, func(ev notify.Event) error {
			got <- ev.Data.App
			return nil
		})
	}()
	p.Emit(ctx, notify.CatDrift, notify.ActDetected, notify.Data{Repo: "a", App: "x"})
	p.Emit(ctx, notify.CatDrift, notify.ActResolved, notify.Data{Repo: "a", App: "y"})
	for _, want := range []string{"x", "y"} {
		select {
		case app := <-got:
			if app != want {
				t.Fatalf("followed %q, want %q", app, want)
			}
		case <-ctx.Done():
			t.Fatal("timed out following")
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Follow after cancel = %v, want nil", err)
	}
}
