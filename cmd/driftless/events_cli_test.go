package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/driftless/driftless/internal/testenv"
	"github.com/driftless/driftless/notify"
)

// syncWriter is safe for the test to read while the command writes.
type syncWriter = testenv.LogBuffer

// TestCLIEventsFollowReconnects: when the daemon ends a follow stream (its
// lifetime is bounded), `driftless events --follow` reconnects from the
// last event and prints each event once.
func TestCLIEventsFollowReconnects(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	all := []notify.Event{
		{ID: "e1", Type: "io.driftless.deploy.started", Subject: "platform/web", Time: t0},
		{ID: "e2", Type: "io.driftless.deploy.succeeded", Subject: "platform/web", Time: t0.Add(300 * time.Millisecond)},
		{ID: "e3", Type: "io.driftless.drift.detected", Subject: "platform/web", Time: t0.Add(2 * time.Second)},
	}
	var mu sync.Mutex
	var sinces []string
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		n := calls
		sinces = append(sinces, r.URL.Query().Get("since"))
		mu.Unlock()
		since, _ := time.Parse(time.RFC3339, r.URL.Query().Get("since"))
		enc := json.NewEncoder(w)
		// Each stream sends what it has since `since`, up to n events, then
		// a heartbeat, and ends.
		sent := 0
		for _, ev := range all {
			if sent < n && !ev.Time.Before(since) {
				_ = enc.Encode(ev)
				sent++
			}
		}
		_, _ = w.Write([]byte("\n"))
	}))
	t.Cleanup(srv.Close)

	out := &syncWriter{}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- streamEvents(ctx, srv.URL, true, 0, "json", out) }()
	for strings.Count(out.String(), "\n") < len(all) && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(1500 * time.Millisecond) // one more reconnect: nothing printed twice
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var ids []string
	for _, l := range lines {
		var ev notify.Event
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		ids = append(ids, ev.ID)
	}
	if strings.Join(ids, ",") != "e1,e2,e3" {
		t.Errorf("printed %v, want e1,e2,e3 once each", ids)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(sinces) < 3 || sinces[0] != "" || sinces[1] != "2026-12-02T03:00:00Z" {
		t.Errorf("since of each reconnect = %q", sinces)
	}
}
