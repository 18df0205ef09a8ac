package forge

import (
	"testing"
	"time"

	"github.com/driftless/driftless/notify"
)

func TestAddLine(t *testing.T) {
	const h = DeploymentsHeading
	cases := []struct{ name, body, want string }{
		{"no section", "M\n## plan\nx\n", "M\n## plan\nx\n\n" + h + "\n- L\n"},
		{"marker only", "M", "M\n\n" + h + "\n- L\n"},
		{"section last", "M\n" + h + "\n- a\n", "M\n" + h + "\n- a\n- L\n"},
		{"section without newline", "M\n" + h + "\n- a", "M\n" + h + "\n- a\n- L\n"},
		{"section in the middle", "M\n" + h + "\n- a\n\n## later\nz\n", "M\n" + h + "\n- a\n- L\n\n## later\nz\n"},
		{"heading alone at the end", "M\n" + h, "M\n" + h + "\n- L\n"},
		{"already there", "M\n" + h + "\n- L\n", "M\n" + h + "\n- L\n"},
	}
	for _, c := range cases {
		got, changed := addLine(c.body, "- L")
		if got != c.want || changed != (c.body != c.want) {
			t.Errorf("%s: addLine(%q) = %q, %v; want %q", c.name, c.body, got, changed, c.want)
		}
	}
}

func TestCommentLineOnlyForFinishedDeploysWithPR(t *testing.T) {
	at := time.Date(2026, 12, 2, 12, 3, 0, 0, time.UTC)
	mk := func(cat, act string, pr int) notify.Event {
		ev := notify.New("t", cat, act, notify.Data{Repo: "p", App: "web", Kind: "ecs_service", Revision: shaA, DeployID: "d1", PR: pr, Reason: "rollback"})
		ev.Time = at
		return ev
	}
	for _, c := range []struct {
		ev   notify.Event
		want string
	}{
		{mk(notify.CatDeploy, notify.ActStarted, 2), ""},
		{mk(notify.CatDeploy, notify.ActSucceeded, 0), ""},
		{mk(notify.CatRollback, notify.ActSucceeded, 2), "- ↩️ `web` (ecs_service) rolled back to 0123456 at 2026-12-02 12:03 UTC — deploy `d1`"},
		{mk(notify.CatRollback, notify.ActFailed, 2), "- ❌ `web` (ecs_service) rollback to 0123456 failed at 2026-12-02 12:03 UTC — deploy `d1`"},
	} {
		got, ok := commentLine(c.ev, "")
		if got != c.want || ok != (c.want != "") {
			t.Errorf("%s pr %d: %q, %v; want %q", c.ev.Type, c.ev.Data.PR, got, ok, c.want)
		}
	}
	st := statusFor(mk(notify.CatRollback, notify.ActStarted, 0), "", func(s string) string { return s })
	if st.State != "in_progress" || st.Description != "Rolling back web to 0123456" {
		t.Errorf("rollback.started status = %+v", st)
	}
}
