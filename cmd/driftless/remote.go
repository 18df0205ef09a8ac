package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/driftless/driftless/internal/client"
	"github.com/driftless/driftless/notify"
	"github.com/driftless/driftless/state"
)

// cmdRemote runs the commands that talk to a daemon over its HTTP API.
func cmdRemote(ctx context.Context, cmd string, args []string, stdout, stderr io.Writer) error {
	fs := newFlags(cmd, stderr)
	server := fs.String("server", envOr("DRIFTLESS_SERVER", "http://127.0.0.1:8080"), "daemon address (DRIFTLESS_SERVER)")
	out := fs.String("o", "table", "output format: table or json")
	to := fs.String("to", "", "rollback: the revision to roll back to")
	previous := fs.Bool("previous", false, "rollback: the revision applied before the current one")
	revert := fs.Bool("revert", false, "rollback: push a revert commit instead of pinning")
	planID := fs.String("plan", "", "approve: the id of the plan to approve (default: the plan the app shows now)")
	follow := fs.Bool("follow", false, "events: keep printing new events")
	since := fs.Duration("since", 0, "events: only events newer than this (e.g. 1h)")
	pr := fs.Bool("pr", false, "drift: propose the open drift of REPO/APP back as a pull request (an issue for a stack)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := checkFormat(*out); err != nil {
		return err
	}
	c := client.New(strings.TrimSuffix(*server, "/"), os.Getenv("DRIFTLESS_API_TOKEN"))
	switch cmd {
	case "apps":
		if len(pos) != 0 {
			return usagef("apps takes no arguments")
		}
		apps, err := c.Apps(ctx)
		if err != nil {
			return err
		}
		return client.PrintApps(stdout, apps, *out)
	case "events":
		if len(pos) != 0 {
			return usagef("events takes no arguments")
		}
		return streamEvents(ctx, *server, *follow, *since, *out, stdout)
	case "drift":
		if len(pos) > 1 {
			return usagef("drift takes at most one REPO/APP")
		}
		if *pr {
			return printDriftPR(ctx, c, strings.Join(pos, ""), *out, stdout)
		}
		apps, err := c.Apps(ctx)
		if err != nil {
			return err
		}
		return printDrift(stdout, apps, strings.Join(pos, ""), *out)
	}
	if len(pos) != 1 {
		return usagef("%s takes one REPO/APP argument", cmd)
	}
	repo, app, ok := strings.Cut(pos[0], "/")
	if !ok || repo == "" || app == "" || strings.Contains(app, "/") {
		return usagef("%q is not REPO/APP", pos[0])
	}
	switch cmd {
	case "history":
		h, err := c.History(ctx, repo, app)
		if err != nil {
			return err
		}
		return client.PrintHistory(stdout, h, *out)
	}
	body := map[string]any{"caller": callerName()}
	if cmd == "rollback" {
		if (*to == "") == !*previous {
			return usagef("rollback needs exactly one of --to REV and --previous")
		}
		body["to"], body["previous"], body["revert"] = *to, *previous, *revert
	}
	if *pr {
		return usagef("--pr applies to drift only")
	}
	if *planID != "" && cmd != "approve" {
		return usagef("--plan applies to approve only")
	}
	if cmd == "approve" {
		id, err := planToApprove(ctx, c, repo, app, *planID, *out, stdout, stderr)
		if err != nil {
			return err
		}
		if id != "" {
			body["plan_id"] = id
		}
	}
	st, err := c.Act(ctx, repo, app, cmd, body)
	if err != nil {
		return err
	}
	if *out == "json" {
		return client.PrintApps(stdout, []state.AppState{st}, "json")
	}
	fmt.Fprintf(stdout, "%s/%s: %s accepted (status %s)\n", repo, app, cmd, client.Clean(st.Status))
	return nil
}

// planToApprove names the plan an approval approves: the given id, or the
// app's last plan, whose id and summary are shown first (on stderr with -o
// json) so the approver sees what is applied. The server refuses the
// approval when another plan awaits approval by then.
func planToApprove(ctx context.Context, c *client.Client, repo, app, given, format string, stdout, stderr io.Writer) (string, error) {
	if given != "" {
		return given, nil
	}
	st, err := c.App(ctx, repo, app)
	if err != nil {
		return "", err
	}
	if st.LastPlan == nil || st.LastPlan.ID == "" {
		return "", nil // the server explains that nothing awaits approval
	}
	if st.Status != state.StatusAwaitingApproval {
		return st.LastPlan.ID, nil // refused by the server: nothing to show
	}
	w := stdout
	if format == "json" {
		w = stderr
	}
	fmt.Fprintf(w, "approving plan %s of %s/%s at %s: %s\n", client.Clean(st.LastPlan.ID), repo, app,
		client.Clean(client.Short(st.LastPlan.Revision)), client.Clean(dashIfEmpty(st.LastPlan.Summary)))
	return st.LastPlan.ID, nil
}

func dashIfEmpty(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// streamEvents prints the daemon's events (GET /api/v1/events, NDJSON).
// With follow it keeps going when the daemon ends a stream (it does after
// a while): it reconnects from the last event's time and skips the events
// it already printed.
func streamEvents(ctx context.Context, server string, follow bool, since time.Duration, format string, w io.Writer) error {
	var from time.Time
	if since > 0 {
		from = time.Now().Add(-since)
	}
	seen := map[string]time.Time{}
	for {
		err := streamOnce(ctx, server, follow, &from, seen, format, w)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil || !follow:
			return err
		}
		for id, t := range seen {
			if t.Before(from.Truncate(time.Second)) {
				delete(seen, id)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

// streamOnce reads one event stream from *from, printing events not in
// seen, and moves *from to the last event's time.
func streamOnce(ctx context.Context, server string, follow bool, from *time.Time, seen map[string]time.Time, format string, w io.Writer) error {
	q := url.Values{}
	if follow {
		q.Set("follow", "true")
	}
	if !from.IsZero() {
		q.Set("since", from.UTC().Format(time.RFC3339))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(server, "/")+"/api/v1/events?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("reaching the daemon: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("events: %s: %s", resp.Status, client.CleanText(strings.TrimSpace(string(b))))
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 {
			continue // a heartbeat
		}
		var ev notify.Event
		if err := json.Unmarshal(line, &ev); err != nil {
			if format == "json" {
				fmt.Fprintf(w, "%s\n", line)
			}
			continue
		}
		if _, dup := seen[ev.ID]; dup && ev.ID != "" {
			continue
		}
		if ev.ID != "" {
			seen[ev.ID] = ev.Time
		}
		if ev.Time.After(*from) {
			*from = ev.Time
		}
		if format == "json" {
			fmt.Fprintf(w, "%s\n", line)
			continue
		}
		fmt.Fprintln(w, formatEvent(ev))
	}
	if ctx.Err() != nil {
		return nil
	}
	return sc.Err()
}

// formatEvent is one human line per event, every server-provided string
// with its control characters escaped.
func formatEvent(ev notify.Event) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s  %-26s %-22s", ev.Time.Local().Format("15:04:05"), client.Clean(ev.Category()+"."+ev.Action()), client.Clean(ev.Subject))
	if ev.Data.Revision != "" {
		fmt.Fprintf(&b, " %s", client.Clean(client.Short(ev.Data.Revision)))
	}
	if ev.Data.Author != "" {
		fmt.Fprintf(&b, "  by %s", client.Clean(ev.Data.Author))
	}
	if ev.Data.Summary != "" {
		fmt.Fprintf(&b, "  %s", client.Clean(ev.Data.Summary))
	}
	if ev.Data.DurationMS > 0 {
		fmt.Fprintf(&b, "  (%s)", (time.Duration(ev.Data.DurationMS) * time.Millisecond).Round(10*time.Millisecond))
	}
	if ev.Data.Error != "" {
		fmt.Fprintf(&b, "  error: %s", client.Clean(firstLineOf(ev.Data.Error)))
	}
	return b.String()
}

func firstLineOf(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func callerName() string {
	if u := os.Getenv("USER"); u != "" {
		return "cli:" + u
	}
	return "cli"
}

// printDrift prints the open drift of every app (or of one REPO/APP, or of
// the apps of one REPO).
func printDrift(w io.Writer, apps []state.AppState, filter, format string) error {
	type row struct {
		Repo      string           `json:"repo"`
		App       string           `json:"app"`
		Kind      string           `json:"kind"`
		Status    string           `json:"status"`
		ScannedAt time.Time        `json:"drift_scanned_at"`
		Drift     *state.DriftInfo `json:"drift"`
	}
	rows := []row{}
	found := false
	for _, a := range apps {
		name := a.Repo + "/" + a.App
		if filter != "" && filter != name && filter != a.Repo {
			continue
		}
		found = true
		if a.Drift == nil && filter != name {
			continue
		}
		rows = append(rows, row{a.Repo, a.App, a.Kind, a.Status, a.DriftScannedAt, a.Drift})
	}
	if filter != "" && !found {
		return fmt.Errorf("no app %q", filter)
	}
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	if len(rows) == 0 {
		fmt.Fprintln(w, "no drift")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "APP\tFIRST SEEN\tRESOURCE\tACTION\tATTRIBUTES")
	for _, r := range rows {
		if r.Drift == nil {
			scanned := "never scanned"
			if !r.ScannedAt.IsZero() {
				scanned = "clean, scanned " + client.Age(r.ScannedAt)
			}
			fmt.Fprintf(tw, "%s/%s\t-\t%s\t\t\n", client.Clean(r.Repo), client.Clean(r.App), scanned)
			continue
		}
		for _, it := range r.Drift.Items {
			fmt.Fprintf(tw, "%s/%s\t%s\t%s\t%s\t%s\n", client.Clean(r.Repo), client.Clean(r.App), client.Age(r.Drift.FirstSeen),
				client.Clean(it.Address), client.Clean(it.Action), client.Clean(strings.Join(it.Attributes, ", ")))
		}
	}
	return tw.Flush()
}
