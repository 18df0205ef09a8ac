package reconciler

import (
	"context"
	"fmt"
	"strings"

	"github.com/driftless/driftless/appliers"
	"github.com/driftless/driftless/manifest"
	"github.com/driftless/driftless/state"
)

// PlanResult is one app's plan from PlanOnce.
type PlanResult struct {
	Repo     string            `json:"repo"`
	App      string            `json:"app"`
	Kind     string            `json:"kind"`
	Revision string            `json:"revision"`
	Changed  bool              `json:"changed"`
	Summary  string            `json:"summary"`
	Changes  []appliers.Change `json:"changes"`
	Error    string            `json:"error,omitempty"`
}

// PlanOnce polls repo and plans every app (or only app, when not empty)
// against live state without applying anything or writing state. Apps that
// reference outputs read them from their dependencies' last apply.
func (c *Controller) PlanOnce(ctx context.Context, repo, app string) ([]PlanResult, error) {
	rs, ok := c.repos[repo]
	if !ok {
		return nil, fmt.Errorf("%w: repo %q", state.ErrNotFound, repo)
	}
	rev, _, err := rs.cfg.Source.Poll(ctx)
	if err != nil {
		return nil, fmt.Errorf("polling %s: %w", repo, err)
	}
	d, diags := c.opt.Loader.Load(repo, rev.Tree, rs.cfg.Path)
	if diags.HasErrors() {
		return nil, fmt.Errorf("the manifests of %s at %s are invalid:\n%s", repo, rev.Short(), strings.Join(manifest.Format(diags), "\n"))
	}
	names := d.Order
	if app != "" {
		if _, ok := d.Apps[app]; !ok {
			return nil, fmt.Errorf("%w: app %s/%s is not declared at %s", state.ErrNotFound, repo, app, rev.Short())
		}
		names = []string{app}
	}
	var out []PlanResult
	pending := map[string]bool{} // apps of this run with changes (or errors)
	for _, name := range names {
		a := d.Apps[name]
		res := PlanResult{Repo: repo, App: name, Kind: a.Kind, Revision: rev.SHA, Changes: []appliers.Change{}}
		spec, err := c.decode(ctx, rs, d, rev, a)
		if err != nil {
			// A dependency that is not applied yet (or has changes) may
			// have no outputs to decode with: the app is planned after it
			// is applied, which is a change, not an error.
			if dep := firstPending(a.DependsOn, pending); dep != "" {
				res.Changed, res.Summary = true, fmt.Sprintf("planned after %s is applied", dep)
				pending[name] = true
				out = append(out, res)
				continue
			}
		}
		if err == nil {
			var p *appliers.Plan
			p, err = c.opt.Loader.Applier(a.Kind).Plan(ctx, appliers.Request{Repo: repo, App: name, Revision: rev.SHA, Spec: spec,
				Tree: rev.Tree, Log: c.log.With("repo", repo, "app", name, "revision", rev.SHA), Observer: appliers.NopObserver{}})
			if err == nil {
				res.Changed, res.Summary = p.Changed, p.Summary
				if p.Changes != nil {
					res.Changes = p.Changes
				}
			}
		}
		if err != nil {
			res.Error = c.opt.Scrub(err.Error())
		}
		pending[name] = res.Changed || res.Error != ""
		out = append(out, res)
	}
	return out, nil
}

// firstPending returns the first of deps marked in pending, or "".
func firstPending(deps []string, pending map[string]bool) string {
	for _, d := range deps {
		if pending[d] {
			return d
		}
	}
	return ""
}
