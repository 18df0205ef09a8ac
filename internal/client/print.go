package client

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/driftless/driftless/state"
)

// now is the clock for ages in tables; tests replace it.
var now = time.Now

// PrintApps writes apps as "table" (APP, KIND, DESIRED, APPLIED, STATUS,
// UPDATED) or "json" (an indented JSON list of app objects, as the README's API reference).
func PrintApps(w io.Writer, apps []state.AppState, format string) error {
	switch format {
	case "json":
		if apps == nil {
			apps = []state.AppState{}
		}
		return writeJSON(w, apps)
	case "table", "":
	default:
		return badFormat(format)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "APP\tKIND\tDESIRED\tAPPLIED\tSTATUS\tUPDATED")
	for _, a := range apps {
		status := dash(a.Status)
		if a.PinnedRevision != "" && a.Status != state.StatusPinned {
			status += " (pinned " + Short(a.PinnedRevision) + ")"
		}
		fmt.Fprintf(tw, "%s/%s\t%s\t%s\t%s\t%s\t%s\n", Clean(a.Repo), Clean(a.App), Clean(dash(a.Kind)),
			Clean(dash(Short(a.DesiredRevision))), Clean(dash(Short(a.AppliedRevision))), Clean(status), Age(a.UpdatedAt))
	}
	return tw.Flush()
}

// PrintHistory writes deploy records as "table" (WHEN, REVISION, WHO,
// OUTCOME, DURATION) or "json" (an indented JSON list).
func PrintHistory(w io.Writer, h []state.DeployRecord, format string) error {
	switch format {
	case "json":
		if h == nil {
			h = []state.DeployRecord{}
		}
		return writeJSON(w, h)
	case "table", "":
	default:
		return badFormat(format)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WHEN\tREVISION\tWHO\tOUTCOME\tDURATION")
	for _, d := range h {
		when := "-"
		if !d.StartedAt.IsZero() {
			when = d.StartedAt.Local().Format("2006-01-02 15:04:05")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", when, Clean(dash(Short(d.Revision))), Clean(who(d)), Clean(outcome(d)), duration(d))
	}
	return tw.Flush()
}

func who(d state.DeployRecord) string {
	if d.Caller != "" {
		// A manual action: who asked comes first, the commit's author after.
		s := d.Caller
		if d.Author != "" {
			s += " (commit by " + d.Author + ")"
		}
		return s
	}
	s := d.Author
	if d.PR > 0 {
		pr := "PR #" + strconv.Itoa(d.PR)
		if s == "" {
			s = pr
		} else {
			s += " (" + pr + ")"
		}
	}
	return dash(s)
}

func outcome(d state.DeployRecord) string {
	o := d.Outcome
	if o == "" {
		if d.FinishedAt.IsZero() {
			o = "running"
		} else {
			o = "-"
		}
	}
	if d.Reason != "" && d.Reason != "commit" {
		o += " (" + d.Reason + ")"
	}
	return o
}

func duration(d state.DeployRecord) string {
	if d.StartedAt.IsZero() || d.FinishedAt.IsZero() || d.FinishedAt.Before(d.StartedAt) {
		return "-"
	}
	dur := d.FinishedAt.Sub(d.StartedAt)
	if dur < time.Minute {
		return dur.Round(100 * time.Millisecond).String()
	}
	return dur.Round(time.Second).String()
}

// Short abbreviates a commit SHA to 7 characters.
func Short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

// Age renders how long ago t was: "45s ago", "12m ago", "3h ago", "5d ago";
// "-" for the zero time.
func Age(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := now().Sub(t)
	switch {
	case d < 0:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d/time.Hour))
	}
	return fmt.Sprintf("%dd ago", int(d/(24*time.Hour)))
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func writeJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode JSON: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

func badFormat(f string) error {
	return fmt.Errorf("unknown output format %q (want table or json)", f)
}
