package forge

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	forgeapi "github.com/driftless/driftless/forge"
	"github.com/driftless/driftless/notify"
	"github.com/driftless/driftless/state"
)

// DeploymentsHeading starts the section of the pull request comment that
// lists the merged commit's deployments.
const DeploymentsHeading = "### Deployments"

// statusPage is the app's status page on the daemon, or "".
func (r *Reporter) statusPage(repo, app string) string {
	if r.opts.ExternalURL == "" {
		return ""
	}
	return strings.TrimRight(r.opts.ExternalURL, "/") + "/apps/" + url.PathEscape(repo) + "/" + url.PathEscape(app)
}

// environment is the forge environment of an app: REPO/APP.
func environment(d notify.Data) string { return d.Repo + "/" + d.App }

func payload(ev notify.Event) map[string]string {
	d := ev.Data
	p := map[string]string{"deploy_id": d.DeployID, "repo": d.Repo, "app": d.App, "kind": d.Kind, "reason": d.Reason}
	if ev.Category() == notify.CatRollback {
		p["rollback"] = "true"
	}
	return p
}

func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// why is the reason of a deploy in words, or "" for a plain commit.
func why(reason string) string {
	switch reason {
	case state.ReasonManual:
		return " (manual)"
	case state.ReasonRetry:
		return " (retry)"
	case state.ReasonDrift:
		return " (drift correction)"
	case state.ReasonApproved:
		return " (approved)"
	case state.ReasonRevert:
		return " (revert commit)"
	}
	return ""
}

// deploymentDescription describes a deployment when it is created.
func deploymentDescription(ev notify.Event) string {
	d := ev.Data
	if ev.Category() == notify.CatRollback && d.Reason != state.ReasonAutomatic {
		return fmt.Sprintf("driftless rollback of %s to %s%s", d.App, short(d.Revision), why(d.Reason))
	}
	return fmt.Sprintf("driftless deploy of %s (%s) at %s%s", d.App, d.Kind, short(d.Revision), why(d.Reason))
}

// statusFor is the deployment status an event sets.
func statusFor(ev notify.Event, link string, scrub func(string) string) forgeapi.DeploymentStatus {
	d := ev.Data
	auto := d.Reason == state.ReasonAutomatic
	st := forgeapi.DeploymentStatus{EnvironmentURL: link, LogURL: link}
	errText := scrub(firstLine(d.Error))
	switch ev.Category() + "." + ev.Action() {
	case "deploy.started":
		st.State, st.Description = forgeapi.DeployInProgress, fmt.Sprintf("Deploying %s at %s%s", d.App, short(d.Revision), why(d.Reason))
	case "deploy.succeeded":
		st.State, st.Description = forgeapi.DeploySuccess, fmt.Sprintf("Deployed %s at %s%s", d.App, short(d.Revision), took(d.DurationMS))
	case "deploy.failed":
		st.State, st.Description = forgeapi.DeployFailure, "Deploy failed: "+errText
	case "rollback.started":
		st.State, st.Description = forgeapi.DeployInProgress, fmt.Sprintf("Rolling back %s to %s%s", d.App, short(d.Revision), why(d.Reason))
		if auto {
			st.Description = "The rollout failed; rolling back automatically: " + errText
		}
	case "rollback.succeeded":
		st.State, st.Description = forgeapi.DeploySuccess, fmt.Sprintf("Rolled back %s to %s%s", d.App, short(d.Revision), took(d.DurationMS))
		if auto {
			st.State, st.Description = forgeapi.DeployFailure, "The rollout failed and was rolled back automatically"
		}
	default: // rollback.failed
		st.State, st.Description = forgeapi.DeployFailure, "Rollback failed: "+errText
	}
	return st
}

func took(ms int64) string {
	if ms <= 0 {
		return ""
	}
	return " in " + (time.Duration(ms) * time.Millisecond).Round(100*time.Millisecond).String()
}

// commentLine is the pull request comment line of a finished deploy or
// rollback; ok is false for other events and when no pull request is known.
func commentLine(ev notify.Event, link string) (string, bool) {
	d := ev.Data
	if d.PR <= 0 || (ev.Action() != notify.ActSucceeded && ev.Action() != notify.ActFailed) {
		return "", false
	}
	app := "`" + d.App + "`"
	if link != "" {
		app = "[" + app + "](" + link + ")"
	}
	if d.Kind != "" {
		app += " (" + d.Kind + ")"
	}
	at := ev.Time.UTC().Format("2006-01-02 15:04 UTC")
	rev := short(d.Revision)
	auto := d.Reason == state.ReasonAutomatic
	var what string
	switch ev.Category() + "." + ev.Action() {
	case "deploy.succeeded":
		what = fmt.Sprintf("✅ %s deployed %s at %s", app, rev, at)
	case "deploy.failed":
		what = fmt.Sprintf("❌ %s failed to deploy %s at %s", app, rev, at)
	case "rollback.succeeded":
		what = fmt.Sprintf("↩️ %s rolled back to %s at %s", app, rev, at)
		if auto {
			what = fmt.Sprintf("↩️ %s rolled back automatically after a failed rollout of %s at %s", app, rev, at)
		}
	default:
		what = fmt.Sprintf("❌ %s rollback to %s failed at %s", app, rev, at)
		if auto {
			what = fmt.Sprintf("❌ %s automatic rollback of %s failed at %s", app, rev, at)
		}
	}
	return fmt.Sprintf("- %s — deploy `%s`", what, d.DeployID), true
}

// addLine adds line at the end of the comment's Deployments section,
// creating the section at the end when there is none; the rest of body is
// kept. changed is false when the line is there already.
func addLine(body, line string) (string, bool) {
	if strings.Contains(body, line) {
		return body, false
	}
	head := "\n" + DeploymentsHeading + "\n"
	i := strings.Index("\n"+body+"\n", head)
	if i < 0 {
		return strings.TrimRight(body, "\n") + "\n\n" + DeploymentsHeading + "\n" + line + "\n", true
	}
	if !strings.HasSuffix(body, "\n") {
		body += "\n" // so that the heading's line ends
	}
	start := i + len(head) - 1 // just after the heading's newline
	rest := body[start:]
	end := len(rest)
	for off := 0; off < len(rest); {
		if strings.HasPrefix(rest[off:], "#") {
			end = off
			break
		}
		nl := strings.IndexByte(rest[off:], '\n')
		if nl < 0 {
			break
		}
		off += nl + 1
	}
	section := strings.TrimRight(rest[:end], "\n")
	if section != "" {
		section += "\n"
	}
	out := body[:start] + section + line + "\n"
	if end < len(rest) {
		out += "\n" + rest[end:]
	}
	return out, true
}
