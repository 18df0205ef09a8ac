package drift

import (
	"context"
	"testing"
	"time"

	"github.com/driftless/driftless/appliers"
	"github.com/driftless/driftless/internal/testenv"
)

func report(items ...appliers.DriftItem) *appliers.DriftReport {
	return &appliers.DriftReport{Items: items}
}

func testLifecycle(t *testing.T, store Store) {
	ctx := context.Background()
	now := time.Unix(1_700_000_000, 0)
	tr := NewTracker(store, time.Hour, func() time.Time { return now })
	a := appliers.DriftItem{Address: "aws_ssm_parameter.p", Attributes: []string{"value", "version"}, Action: "update"}
	b := appliers.DriftItem{Address: "aws_ssm_parameter.q", Attributes: []string{"value"}, Action: "update"}
	steps := []struct {
		name    string
		advance time.Duration
		r       *appliers.DriftReport
		want    Transition
	}{
		{"clean", 0, report(), None},
		{"first drift", time.Minute, report(a), Detected},
		{"same drift again", time.Minute, report(a), None},
		{"same drift, items reordered attrs", time.Minute, report(appliers.DriftItem{Address: a.Address, Attributes: []string{"version", "value"}, Action: "update"}), None},
		{"different drift", time.Minute, report(a, b), Changed},
		{"still open after the reminder", time.Hour, report(b, a), Reminder},
		{"not again right after", time.Minute, report(a, b), None},
		{"gone", time.Minute, report(), Resolved},
		{"still clean", time.Minute, nil, None},
		{"back again", time.Minute, report(b), Detected},
	}
	var first time.Time
	for _, s := range steps {
		now = now.Add(s.advance)
		got, st, err := tr.Observe(ctx, "r", "app", s.r)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got != s.want {
			t.Fatalf("%s: transition %q, want %q", s.name, got, s.want)
		}
		if s.want == Detected {
			first = now.UTC()
		}
		if st != nil && !st.FirstSeen.Equal(first) {
			t.Errorf("%s: first seen %v, want %v", s.name, st.FirstSeen, first)
		}
	}
}

func TestLifecycleMem(t *testing.T) { testLifecycle(t, NewMemStore()) }

func TestLifecycleKV(t *testing.T) {
	_, js := testenv.NATS(t)
	s, err := OpenKVStore(context.Background(), js, 1)
	if err != nil {
		t.Fatal(err)
	}
	testLifecycle(t, s)
}

func TestFingerprintIgnoresOrder(t *testing.T) {
	x := []appliers.DriftItem{{Address: "b", Attributes: []string{"y", "x"}}, {Address: "a"}}
	y := []appliers.DriftItem{{Address: "a"}, {Address: "b", Attributes: []string{"x", "y"}}}
	if Fingerprint(x) != Fingerprint(y) {
		t.Error("order changed the fingerprint")
	}
	if Fingerprint(x) == Fingerprint(x[:1]) {
		t.Error("different content, same fingerprint")
	}
}
