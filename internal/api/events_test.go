package api

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/driftless/driftless/internal/config"
	"github.com/driftless/driftless/notify"
)

// blockingEvents sends one event, then, with follow, waits for ctx; it
// counts the streams open at once.
type blockingEvents struct{ open, max atomic.Int32 }

func (b *blockingEvents) source(ctx context.Context, _ time.Time, follow bool, fn func(notify.Event) error) error {
	n := b.open.Add(1)
	defer b.open.Add(-1)
	for m := b.max.Load(); n > m && !b.max.CompareAndSwap(m, n); m = b.max.Load() {
	}
	if err := fn(notify.Event{ID: "e1", Type: "io.driftless.deploy.succeeded", Subject: "platform/web"}); err != nil {
		return err
	}
	if follow {
		<-ctx.Done()
	}
	return nil
}

func newEventsServer(t *testing.T, src *blockingEvents, tune func(*Server)) *httptest.Server {
	t.Helper()
	s := New(&fakeController{ready: true}, nil, config.Secret(testToken), nil, nil)
	s.SetEvents(src.source)
	if tune != nil {
		tune(s)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return srv
}

// openFollow starts a follow stream and reads its first event.
func openFollow(t *testing.T, ctx context.Context, base string) *http.Response {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/events?follow=true", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK {
		return res
	}
	line, err := bufio.NewReader(res.Body).ReadString('\n')
	if err != nil || !strings.Contains(line, `"e1"`) {
		t.Fatalf("first line %q, %v", line, err)
	}
	return res
}

func TestEventFollowersCapped(t *testing.T) {
	src := &blockingEvents{}
	srv := newEventsServer(t, src, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var cancels []context.CancelFunc
	for range MaxFollowers {
		c, cf := context.WithCancel(ctx)
		cancels = append(cancels, cf)
		res := openFollow(t, c, srv.URL)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("follower %d refused: %d", len(cancels), res.StatusCode)
		}
		defer res.Body.Close()
	}
	res := openFollow(t, ctx, srv.URL)
	var e struct{ Error string }
	_ = json.NewDecoder(res.Body).Decode(&e)
	res.Body.Close()
	if res.StatusCode != http.StatusTooManyRequests || !strings.Contains(e.Error, "too many event streams") ||
		res.Header.Get("Content-Type") != "application/json" || res.Header.Get("Retry-After") == "" {
		t.Fatalf("follower %d = %d %q %v, want 429 with a JSON error", MaxFollowers+1, res.StatusCode, e.Error, res.Header)
	}
	// A one-shot listing is not a follower.
	if r, err := http.Get(srv.URL + "/api/v1/events"); err != nil || r.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/v1/events with every follower slot taken = %v %v", r, err)
	} else {
		r.Body.Close()
	}
	// A follower that leaves frees its slot.
	cancels[0]()
	deadline := time.Now().Add(5 * time.Second)
	for {
		res := openFollow(t, ctx, srv.URL)
		res.Body.Close()
		if res.StatusCode == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no slot freed after a follower left: %d", res.StatusCode)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if m := src.max.Load(); m > MaxFollowers+1 { // +1: the one-shot listing
		t.Errorf("%d streams were open at once", m)
	}
}

func TestEventFollowEnds(t *testing.T) {
	src := &blockingEvents{}
	srv := newEventsServer(t, src, func(s *Server) { s.followLife, s.followBeat = 300*time.Millisecond, 50*time.Millisecond })
	start := time.Now()
	res := openFollow(t, context.Background(), srv.URL)
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	empty := 0
	for sc.Scan() {
		if sc.Text() == "" {
			empty++
		} else {
			t.Errorf("unexpected line %q", sc.Text())
		}
	}
	if d := time.Since(start); d > 5*time.Second || d < 250*time.Millisecond {
		t.Errorf("the stream lasted %s, want about 300ms", d)
	}
	if empty == 0 {
		t.Errorf("no heartbeat line on an idle stream")
	}
	deadline := time.Now().Add(5 * time.Second)
	for src.open.Load() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := src.open.Load(); n != 0 {
		t.Errorf("%d event sources still open after the stream ended", n)
	}
}
