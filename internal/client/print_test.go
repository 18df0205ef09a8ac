package client

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/driftless/driftless/appliers"
	"github.com/driftless/driftless/state"
)

var fixedNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func withClock(t *testing.T) {
	t.Helper()
	old := now
	now = func() time.Time { return fixedNow }
	t.Cleanup(func() { now = old })
}

var sampleApps = []state.AppState{
	{Repo: "platform", App: "network", Kind: "stack", Status: state.StatusSynced,
		DesiredRevision: "0123456789abcdef0123", AppliedRevision: "0123456789abcdef0123", UpdatedAt: fixedNow.Add(-90 * time.Second)},
	{Repo: "platform", App: "web", Kind: "ecs_service", Status: state.StatusProgressing,
		DesiredRevision: "fedcba9876543210", AppliedRevision: "0123456789abcdef", PinnedRevision: "0123456789abcdef",
		UpdatedAt: fixedNow.Add(-3 * time.Hour)},
	{Repo: "apps", App: "thumbnailer", Kind: "lambda_function", Status: state.StatusAwaitingApproval,
		DesiredRevision: "aaaaaaa1", LastError: "boom", UpdatedAt: fixedNow.Add(-72 * time.Hour),
		LastPlan: &state.PlanRecord{Revision: "aaaaaaa1", ID: "p1", Changed: true, Changes: []appliers.Change{{Address: "fn", Action: "update"}}}},
	{Repo: "apps", App: "new", Status: state.StatusOutOfSync},
}

// table splits tabwriter output into rows of fields (no field has spaces,
// except the ones tested by index below).
func table(out string) [][]string {
	var rows [][]string
	for _, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		rows = append(rows, strings.Fields(l))
	}
	return rows
}

func TestPrintAppsTable(t *testing.T) {
	withClock(t)
	var buf bytes.Buffer
	if err := PrintApps(&buf, sampleApps, "table"); err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"APP", "KIND", "DESIRED", "APPLIED", "STATUS", "UPDATED"},
		{"platform/network", "stack", "0123456", "0123456", "synced", "1m", "ago"},
		{"platform/web", "ecs_service", "fedcba9", "0123456", "progressing", "(pinned", "0123456)", "3h", "ago"},
		{"apps/thumbnailer", "lambda_function", "aaaaaaa", "-", "awaiting-approval", "3d", "ago"},
		{"apps/new", "-", "-", "-", "out-of-sync", "-"},
	}
	if got := table(buf.String()); !reflect.DeepEqual(got, want) {
		t.Fatalf("table:\n%s\ngot  %q\nwant %q", buf.String(), got, want)
	}
	// Columns are aligned: every row's STATUS starts at the header's offset.
	lines := strings.Split(buf.String(), "\n")
	col := strings.Index(lines[0], "STATUS")
	for _, l := range lines[1:5] {
		if len(l) <= col || l[col-1] != ' ' || l[col] == ' ' {
			t.Errorf("misaligned row %q (STATUS at %d)", l, col)
		}
	}
}

func TestPrintAppsJSONRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	if err := PrintApps(&buf, sampleApps, "json"); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(buf.String(), "[\n  {\n    \"repo\": \"platform\"") {
		t.Errorf("not an indented list:\n%s", buf.String()[:60])
	}
	var got []state.AppState
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, sampleApps) {
		t.Fatalf("round trip:\ngot  %+v\nwant %+v", got, sampleApps)
	}
	var objs []map[string]any
	_ = json.Unmarshal(buf.Bytes(), &objs)
	for _, k := range []string{"repo", "app", "kind", "status", "desired_revision", "applied_revision", "pinned_revision", "suspended", "last_error", "updated_at"} {
		if _, ok := objs[0][k]; !ok {
			t.Errorf("app object lacks %q", k)
		}
	}

	buf.Reset()
	if err := PrintApps(&buf, nil, "json"); err != nil || strings.TrimSpace(buf.String()) != "[]" {
		t.Fatalf("empty list = %q, %v", buf.String(), err)
	}
}

func TestPrintHistoryTable(t *testing.T) {
	start := time.Date(2025, 5, 31, 10, 0, 0, 0, time.Local)
	h := []state.DeployRecord{
		{Revision: "0123456789abcdef", Author: "alice", PR: 12, Outcome: "succeeded", StartedAt: start, FinishedAt: start.Add(83*time.Second + 400*time.Millisecond)},
		{Revision: "fedcba9876543210", Author: "bob", Outcome: "failed", Reason: "rollback", StartedAt: start.Add(time.Hour), FinishedAt: start.Add(time.Hour + 2500*time.Millisecond)},
		{Revision: "aaaaaaaaaaaa", PR: 3, StartedAt: start.Add(2 * time.Hour)},
		{Revision: "bbbbbbbbbbbb", Reason: "commit", Outcome: "interrupted", StartedAt: start.Add(3 * time.Hour)},
	}
	var buf bytes.Buffer
	if err := PrintHistory(&buf, h, "table"); err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"WHEN", "REVISION", "WHO", "OUTCOME", "DURATION"},
		{"2025-05-31", "10:00:00", "0123456", "alice", "(PR", "#12)", "succeeded", "1m23s"},
		{"2025-05-31", "11:00:00", "fedcba9", "bob", "failed", "(rollback)", "2.5s"},
		{"2025-05-31", "12:00:00", "aaaaaaa", "PR", "#3", "running", "-"},
		{"2025-05-31", "13:00:00", "bbbbbbb", "-", "interrupted", "-"},
	}
	if got := table(buf.String()); !reflect.DeepEqual(got, want) {
		t.Fatalf("table:\n%s\ngot  %q\nwant %q", buf.String(), got, want)
	}

	buf.Reset()
	if err := PrintHistory(&buf, h, "json"); err != nil {
		t.Fatal(err)
	}
	var back []state.DeployRecord
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil || len(back) != 4 || back[0].PR != 12 || !back[1].FinishedAt.Equal(h[1].FinishedAt) {
		t.Fatalf("json round trip: %v %+v", err, back)
	}
}

func TestUnknownFormat(t *testing.T) {
	var buf bytes.Buffer
	if err := PrintApps(&buf, nil, "yaml"); err == nil || !strings.Contains(err.Error(), `unknown output format "yaml"`) {
		t.Errorf("PrintApps yaml: %v", err)
	}
	if err := PrintHistory(&buf, nil, "xml"); err == nil {
		t.Error("PrintHistory xml succeeded")
	}
	if buf.Len() != 0 {
		t.Errorf("wrote %q on error", buf.String())
	}
}

func TestAge(t *testing.T) {
	withClock(t)
	cases := []struct {
		ago  time.Duration
		want string
	}{
		{5 * time.Second, "5s ago"}, {59 * time.Minute, "59m ago"}, {47 * time.Hour, "47h ago"},
		{49 * time.Hour, "2d ago"}, {-time.Minute, "just now"},
	}
	for _, c := range cases {
		if got := Age(fixedNow.Add(-c.ago)); got != c.want {
			t.Errorf("Age(-%s) = %q, want %q", c.ago, got, c.want)
		}
	}
	if Age(time.Time{}) != "-" {
		t.Error("zero time")
	}
}
