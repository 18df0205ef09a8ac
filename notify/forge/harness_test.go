package forge

import (
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/driftless/driftless/forge/github"
	"github.com/driftless/driftless/forge/github/githubtest"
	"github.com/driftless/driftless/internal/testenv"
	"github.com/driftless/driftless/notify"
)

const (
	ghToken  = "ghp_ReporterTestToken0123456789abcdef"
	ghRepo   = "acme/infra"
	external = "https://driftless.example.com/"
	shaA     = "0123456789abcdef0123456789abcdef01234567"
	shaB     = "89abcdef0123456789abcdef0123456789abcdef"
)

type harness struct {
	t    *testing.T
	at   time.Time // the time of the events ev makes
	js   jetstream.JetStream
	gh   *githubtest.Server
	logs *testenv.LogBuffer
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	_, js := testenv.NATS(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := notify.EnsureStream(ctx, js, notify.StreamConfig{}); err != nil {
		t.Fatalf("create stream: %v", err)
	}
	return &harness{t: t, js: js, gh: githubtest.New(t, ghToken, ghRepo), logs: &testenv.LogBuffer{},
		at: time.Now().UTC().Truncate(time.Minute)}
}

// reporter builds a reporter on the real go-github client against the
// harness's GitHub; edit adjusts the options. Backoff 10 ms, AuthRetry 50 ms.
func (h *harness) reporter(edit func(*Options)) *Reporter {
	h.t.Helper()
	log := slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	client, err := github.New(github.Options{Token: ghToken, APIURL: h.gh.APIURL(), Log: log})
	if err != nil {
		h.t.Fatal(err)
	}
	opts := Options{
		Forge:       client,
		APIURL:      h.gh.APIURL(),
		ExternalURL: external,
		Backoff:     func(int) time.Duration { return 10 * time.Millisecond },
		AuthRetry:   50 * time.Millisecond,
	}
	if edit != nil {
		edit(&opts)
	}
	r, err := New(h.js, opts, log)
	if err != nil {
		h.t.Fatal(err)
	}
	r.fetchWait = 100 * time.Millisecond
	return r
}

// start runs r until stop (or the end of the test); stop waits for Run.
func (h *harness) start(r *Reporter) (stop func()) {
	h.t.Helper()
	return testenv.Run(h.t, r.Run)
}

// publish stores events; msgID, when set, replaces the event id as the
// Nats-Msg-Id (a replay of the same event).
func (h *harness) publish(evs ...notify.Event) { h.publishAs("", evs...) }

func (h *harness) publishAs(msgID string, evs ...notify.Event) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, ev := range evs {
		b, err := json.Marshal(ev)
		if err != nil {
			h.t.Fatal(err)
		}
		id := ev.ID
		if msgID != "" {
			id = msgID
		}
		if _, err := h.js.Publish(ctx, ev.NATSSubject(), b, jetstream.WithMsgID(id)); err != nil {
			h.t.Fatalf("publish %s: %v", ev.Type, err)
		}
	}
}

// drained waits until durable settled every deploy and rollback event.
func (h *harness) drained(durable string) {
	h.t.Helper()
	waitFor(h.t, "consumer "+durable+" drained", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		c, err := h.js.Consumer(ctx, notify.Stream, durable)
		if err != nil {
			return false
		}
		info, err := c.Info(ctx)
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0 && info.Delivered.Consumer > 0
	})
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ev is an event of app web of repo platform, cloned from the harness's
// GitHub, at shaA, unless d says otherwise.
func (h *harness) ev(category, action string, d notify.Data) notify.Event {
	if d.Repo == "" {
		d.Repo = "platform"
	}
	if d.App == "" {
		d.App = "web"
	}
	if d.Kind == "" {
		d.Kind = "ecs_service"
	}
	if d.Revision == "" {
		d.Revision = shaA
	}
	if d.RepoURL == "" {
		d.RepoURL = h.gh.CloneURL(ghRepo)
	}
	if d.Reason == "" {
		d.Reason = "commit"
	}
	ev := notify.New("test", category, action, d)
	ev.Time = h.at
	return ev
}

// stamp is how comment lines show the time of the harness's events.
func (h *harness) stamp() string { return h.at.Format("2006-01-02 15:04 UTC") }

func states(d githubtest.Deployment) []string {
	var out []string
	for _, s := range d.Statuses {
		out = append(out, s.State)
	}
	return out
}
