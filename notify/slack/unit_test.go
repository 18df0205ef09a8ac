package slack

import (
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/driftless/driftless/notify"
)

func TestSlackRouteDedupesChannels(t *testing.T) {
	s, err := New(fakeJS{}, Options{Token: "xoxb-t", Routes: []Route{
		{Events: []string{"deploy.*"}, Channel: "#a"},
		{Events: []string{"*"}, Channel: "#a"},
		{Events: []string{"*.failed", "drift.*"}, Channel: "#b"},
	}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]string{
		"deploy.failed":  "#a,#b",
		"deploy.started": "#a",
		"drift.resolved": "#a,#b",
	}
	for typ, want := range tests {
		c, a, _ := strings.Cut(typ, ".")
		got := strings.Join(s.route(notify.New("i", c, a, notify.Data{Repo: "r"})), ",")
		if got != want {
			t.Errorf("route(%s) = %s, want %s", typ, got, want)
		}
	}
}

// fakeJS satisfies the constructor; these unit tests never reach JetStream.
type fakeJS struct{ jetstream.JetStream }

func TestNewSlackValidates(t *testing.T) {
	ok := []Route{{Events: []string{"*"}, Channel: "#x"}}
	tests := []struct {
		name string
		js   jetstream.JetStream
		opts Options
		want string
	}{
		{"no js", nil, Options{Token: "xoxb-1", Routes: ok}, "no JetStream"},
		{"no token", fakeJS{}, Options{Token: "  ", Routes: ok}, "token is empty"},
		{"no channel", fakeJS{}, Options{Token: "xoxb-1", Routes: []Route{{Events: []string{"*"}}}}, "channel is empty"},
		{"no events", fakeJS{}, Options{Token: "xoxb-1", Routes: []Route{{Channel: "#x"}}}, "no event patterns"},
		{"bad pattern", fakeJS{}, Options{Token: "xoxb-1", Routes: []Route{{Events: []string{"a.b.c"}, Channel: "#x"}}}, "invalid event pattern"},
		{"valid", fakeJS{}, Options{Token: "xoxb-1", Routes: ok, APIURL: "http://x/api"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(tt.js, tt.opts, nil, nil)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if s.opts.Durable != DefaultDurable || s.opts.Bucket != DefaultBucket || s.opts.APIURL != "http://x/api/" {
					t.Errorf("defaults not applied: %+v", s.opts)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			if strings.Contains(err.Error(), tt.opts.Token) && strings.TrimSpace(tt.opts.Token) != "" {
				t.Errorf("token in error %q", err)
			}
		})
	}
}

func TestDeployRankAndMerge(t *testing.T) {
	order := []string{"plan.ready", "plan.awaiting_approval", "deploy.started", "deploy.succeeded", "rollback.started", "rollback.failed"}
	for i := 1; i < len(order); i++ {
		if deployRank(order[i-1]) >= deployRank(order[i]) {
			t.Errorf("rank(%s) >= rank(%s)", order[i-1], order[i])
		}
	}
	old := notify.Data{Repo: "r", App: "a", Author: "alice", PR: 4, Revision: "abc", Error: "old error", DurationMS: 5}
	got := mergeData(old, notify.Data{DeployID: "d", DurationMS: 9})
	if got.Author != "alice" || got.PR != 4 || got.Revision != "abc" || got.DeployID != "d" {
		t.Errorf("merge lost fields: %+v", got)
	}
	if got.Error != "" || got.DurationMS != 9 {
		t.Errorf("outcome fields must come from the newer event: %+v", got)
	}
}

func TestDriftFingerprint(t *testing.T) {
	a := notify.Data{Drift: []notify.DriftItem{{Address: "x", Attributes: []string{"tags"}}}}
	b := notify.Data{Drift: []notify.DriftItem{{Address: "x", Attributes: []string{"tags", "acl"}}}}
	if driftFingerprint(a) == driftFingerprint(b) || driftFingerprint(a) != driftFingerprint(a) {
		t.Error("content hash does not tell drifts apart")
	}
	a.Extra = map[string]string{"fingerprint": "fp"}
	if driftFingerprint(a) != "fp" {
		t.Error("producer fingerprint ignored")
	}
}
