package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"

	"github.com/driftless/driftless/appliers"
	"github.com/driftless/driftless/internal/config"
	"github.com/driftless/driftless/internal/redact"
	"github.com/driftless/driftless/sources"
)

// openSource opens the Git source of a configured repo in the state dir's
// Git store, as the daemon, plan and plan --ref all do.
func openSource(ctx context.Context, cfg *config.Config, rc config.RepoConfig, red *redact.Redactor, log *slog.Logger) (*sources.Repo, error) {
	return sources.Open(ctx, sources.Config{Name: rc.Name, URL: rc.URL, Branch: rc.Branch,
		Auth: sources.Auth{Token: rc.Auth.Token.Value(), Username: rc.Auth.Username, SSHKeyFile: rc.Auth.SSHKeyFile, KnownHostsFile: rc.Auth.KnownHostsFile},
		Dir:  filepath.Join(cfg.StateDir, "git", rc.Name), Redactor: red}, log)
}

// planLine is one app of plan's table.
type planLine struct {
	Repo, App, Kind string
	Error           string
	Changed         bool
	Summary         string
	Changes         []appliers.Change
	Unknown         []string // inputs known only after apply (plan --ref)
}

// printPlanLine prints one app as plan's table does: an error, no
// changes, or the summary with one line per change.
func printPlanLine(w io.Writer, l planLine) {
	switch {
	case l.Error != "":
		fmt.Fprintf(w, "%s/%s (%s): error: %s\n", l.Repo, l.App, l.Kind, l.Error)
	case !l.Changed:
		fmt.Fprintf(w, "%s/%s (%s): no changes\n", l.Repo, l.App, l.Kind)
	default:
		fmt.Fprintf(w, "%s/%s (%s): %s\n", l.Repo, l.App, l.Kind, l.Summary)
		for _, c := range l.Changes {
			fmt.Fprintf(w, "  %-8s %s\n", c.Action, c.Address)
		}
		for _, u := range l.Unknown {
			fmt.Fprintf(w, "  %s = (known after apply)\n", u)
		}
	}
}
