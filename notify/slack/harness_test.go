package slack

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/slack-go/slack/slacktest"

	"github.com/driftless/driftless/internal/metrics"
	"github.com/driftless/driftless/internal/testenv"
	"github.com/driftless/driftless/notify"
)

const slackTestToken = "xoxb-1234-driftless-test-token-XYZ"

// slackReq is one request that reached the fake Slack, accepted or not.
type slackReq struct {
	Method   string // chat.postMessage or chat.update
	Channel  string // as sent
	TS       string // chat.update: the edited message; chat.postMessage: assigned (accepted only)
	ThreadTS string
	Text     string
	Blocks   string // JSON
	Form     url.Values
	Accepted bool
}

// slackFault is an injected answer: an HTTP status (with Retry-After) or a
// Slack error code.
type slackFault struct {
	Status     int
	RetryAfter string
	Code       string
}

// slackRecorder serves chat.postMessage and chat.update on a slacktest
// server and records what arrived (r.PostForm), as TESTING.md describes.
type slackRecorder struct {
	mu       sync.Mutex
	reqs     []slackReq
	seq      int
	channels map[string]string                   // name or id → id
	posted   map[string]bool                     // channel id + ts of accepted posts
	fault    func(n int, r slackReq) *slackFault // n: 1-based request number
	delay    time.Duration
}

func newSlackRecorder() *slackRecorder {
	r := &slackRecorder{channels: map[string]string{}, posted: map[string]bool{}}
	for _, name := range []string{"deploys", "infra-drift", "alerts"} {
		id := "C" + strings.ToUpper(strings.ReplaceAll(name, "-", ""))
		r.channels["#"+name] = id
		r.channels[id] = id
	}
	return r
}

func (rec *slackRecorder) handler(method string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if rec.delay > 0 {
			time.Sleep(rec.delay)
		}
		req := slackReq{
			Method: method, Channel: r.PostForm.Get("channel"), ThreadTS: r.PostForm.Get("thread_ts"),
			Text: r.PostForm.Get("text"), Blocks: r.PostForm.Get("blocks"), Form: r.PostForm,
		}
		if method == "chat.update" {
			req.TS = r.PostForm.Get("ts")
		}
		rec.mu.Lock()
		defer rec.mu.Unlock()
		n := len(rec.reqs) + 1
		reply := func(v any) {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(v)
		}
		if rec.fault != nil {
			if f := rec.fault(n, req); f != nil {
				rec.reqs = append(rec.reqs, req)
				if f.Status != 0 {
					if f.RetryAfter != "" {
						w.Header().Set("Retry-After", f.RetryAfter)
					}
					w.WriteHeader(f.Status)
					return
				}
				reply(map[string]any{"ok": false, "error": f.Code})
				return
			}
		}
		id, ok := rec.channels[req.Channel]
		if !ok {
			rec.reqs = append(rec.reqs, req)
			reply(map[string]any{"ok": false, "error": "channel_not_found"})
			return
		}
		if method == "chat.update" {
			if req.Channel != id || !rec.posted[id+"/"+req.TS] { // chat.update wants the channel id
				rec.reqs = append(rec.reqs, req)
				reply(map[string]any{"ok": false, "error": "message_not_found"})
				return
			}
		} else {
			rec.seq++
			req.TS = fmt.Sprintf("1700000000.%06d", rec.seq)
			rec.posted[id+"/"+req.TS] = true
		}
		req.Accepted = true
		rec.reqs = append(rec.reqs, req)
		reply(map[string]any{"ok": true, "channel": id, "ts": req.TS, "text": req.Text})
	}
}

func (rec *slackRecorder) all() []slackReq {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]slackReq(nil), rec.reqs...)
}

// accepted returns the accepted requests of method ("" for any).
func (rec *slackRecorder) accepted(method string) []slackReq {
	var out []slackReq
	for _, r := range rec.all() {
		if r.Accepted && (method == "" || r.Method == method) {
			out = append(out, r)
		}
	}
	return out
}

// roots and replies split accepted posts by thread_ts.
func (rec *slackRecorder) roots() []slackReq {
	var out []slackReq
	for _, r := range rec.accepted("chat.postMessage") {
		if r.ThreadTS == "" {
			out = append(out, r)
		}
	}
	return out
}

func (rec *slackRecorder) replies() []slackReq {
	var out []slackReq
	for _, r := range rec.accepted("chat.postMessage") {
		if r.ThreadTS != "" {
			out = append(out, r)
		}
	}
	return out
}

type slackHarness struct {
	t    *testing.T
	js   jetstream.JetStream
	rec  *slackRecorder
	api  string
	logs *testenv.LogBuffer
	m    *metrics.Metrics
}

func newSlackHarness(t *testing.T) *slackHarness {
	t.Helper()
	_, js := testenv.NATS(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := notify.EnsureStream(ctx, js, notify.StreamConfig{}); err != nil {
		t.Fatalf("create stream: %v", err)
	}
	rec := newSlackRecorder()
	srv := slacktest.NewTestServer(func(c slacktest.Customize) {
		c.Handle("/chat.postMessage", rec.handler("chat.postMessage"))
		c.Handle("/chat.update", rec.handler("chat.update"))
	})
	srv.Start()
	t.Cleanup(srv.Stop)
	return &slackHarness{
		t: t, js: js, rec: rec, api: srv.GetAPIURL(), logs: &testenv.LogBuffer{},
		m: metrics.New(prometheus.NewRegistry()),
	}
}

// slackRoutes: deploys, rollbacks, plans and sources to #deploys; drift to #infra-drift.
var slackRoutes = []Route{
	{Events: []string{"deploy.*", "rollback.*", "plan.*", "source.*"}, Channel: "#deploys"},
	{Events: []string{"drift.*"}, Channel: "#infra-drift"},
}

// notifier builds a Slack notifier on the harness; edit adjusts the options.
// Backoff is 10 ms and AuthRetry 50 ms; pulls last 100 ms.
func (h *slackHarness) notifier(edit func(*Options)) *Notifier {
	h.t.Helper()
	opts := Options{
		Token:     slackTestToken,
		APIURL:    h.api,
		Routes:    slackRoutes,
		Backoff:   func(int) time.Duration { return 10 * time.Millisecond },
		AuthRetry: 50 * time.Millisecond,
	}
	if edit != nil {
		edit(&opts)
	}
	log := slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, err := New(h.js, opts, h.m, log)
	if err != nil {
		h.t.Fatalf("NewSlack: %v", err)
	}
	s.fetchWait = 100 * time.Millisecond
	return s
}

// start runs s until the returned stop is called (or the test ends); stop
// waits for Run to return and checks it returned nil.
func (h *slackHarness) start(s *Notifier) (stop func()) {
	h.t.Helper()
	return testenv.Run(h.t, s.Run)
}

func (h *slackHarness) publish(evs ...notify.Event) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, ev := range evs {
		b, err := json.Marshal(ev)
		if err != nil {
			h.t.Fatal(err)
		}
		if _, err := h.js.Publish(ctx, ev.NATSSubject(), b, jetstream.WithMsgID(ev.ID)); err != nil {
			h.t.Fatalf("publish %s: %v", ev.Type, err)
		}
	}
}

// drained waits until the durable consumer has settled (acked or
// terminated) every message in the stream.
func (h *slackHarness) drained(durable string) *jetstream.ConsumerInfo {
	h.t.Helper()
	var info *jetstream.ConsumerInfo
	slackWaitFor(h.t, "consumer "+durable+" drained", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		st, err := h.js.Stream(ctx, notify.Stream)
		if err != nil {
			return false
		}
		last := st.CachedInfo().State.LastSeq
		c, err := h.js.Consumer(ctx, notify.Stream, durable)
		if err != nil {
			return false
		}
		info, err = c.Info(ctx)
		return err == nil && info.AckFloor.Stream >= last && info.NumPending == 0 && info.NumAckPending == 0
	})
	return info
}

func slackWaitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	// Generous: under a loaded CI machine a redelivery after a timed-out
	// KV call waits for the notifier's backoff.
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func slackEv(category, action string, d notify.Data) notify.Event {
	if d.Repo == "" {
		d.Repo = "platform"
	}
	if d.App == "" && category != notify.CatSource {
		d.App = "web"
	}
	return notify.New("test", category, action, d)
}

// slackBlockText flattens a request's blocks JSON to the texts it carries.
func slackBlockText(t *testing.T, r slackReq) string {
	t.Helper()
	var blocks any
	if err := json.Unmarshal([]byte(r.Blocks), &blocks); err != nil {
		t.Fatalf("blocks of %s are not JSON: %v\n%s", r.Method, err, r.Blocks)
	}
	var b strings.Builder
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if s, ok := x["text"].(string); ok {
				b.WriteString(s + "\n")
			}
			for _, vv := range x {
				walk(vv)
			}
		case []any:
			for _, vv := range x {
				walk(vv)
			}
		}
	}
	walk(blocks)
	return b.String()
}

func slackMetric(m *metrics.Metrics, result string) float64 {
	return testutil.ToFloat64(m.SlackPosts.WithLabelValues(result))
}
