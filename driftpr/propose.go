package driftpr

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/driftless/driftless/appliers"
	"github.com/driftless/driftless/forge"
	"github.com/driftless/driftless/manifest"
	"github.com/driftless/driftless/sources"
)

// Source is the watched repository: the reconciler's sources.Repo.
type Source interface {
	FetchRevision(ctx context.Context, rev string) (*sources.Revision, error)
	CommitToBranch(ctx context.Context, bc sources.BranchCommit) (sources.BranchResult, error)
}

// Ledger remembers the last drift proposed per app (its fingerprint and
// when it was first seen), so the same drift is proposed once even when the push went through and the
// forge call did not (a retry then opens the pull request without a new
// commit). Optional: without one, a branch whose head already carries the
// fingerprint is taken as proposed.
type Ledger interface {
	// Proposed returns the drift key last recorded for repo/app, "" if none.
	Proposed(ctx context.Context, repo, app string) (string, error)
	Record(ctx context.Context, repo, app, key string) error
}

// Options configure a Proposer.
type Options struct {
	Loader *manifest.Loader
	Forge  forge.Forge
	Ledger Ledger              // optional
	Scrub  func(string) string // masks secrets in every text sent (redact.Redactor.String)
	Log    *slog.Logger
}

// Repo is one watched repository.
type Repo struct {
	Name   string     // repo name in the controller config
	Branch string     // the tracked branch: the pull request's base
	Path   string     // the manifest directory
	Source Source     // the repository
	Forge  forge.Repo // the repository on the forge
}

// Drift is one drift of one app, as the drift scan recorded it
// (state.DriftInfo, the drift.detected event).
type Drift struct {
	App         string
	Revision    string // the revision the app was applied at when the drift was seen
	Fingerprint string
	Items       []appliers.DriftItem
	FirstSeen   time.Time
	// Values is a hash of the live values read for the drift (empty
	// before they are read, and for a stack): the same attributes moving
	// again to other values keep the fingerprint but change the proposal.
	Values string
}

// key identifies one drift: its fingerprint names what moved; the time it
// was first seen tells it from the same attributes drifting again after
// the first drift resolved.
func (d Drift) key() string {
	k := d.Fingerprint + " " + d.FirstSeen.UTC().Format(time.RFC3339)
	if d.Values != "" {
		k += " " + d.Values
	}
	return k
}

// valuesHash is a short hash of live values, by path.
func valuesHash(live []appliers.LiveValue) string {
	lines := make([]string, 0, len(live))
	for _, lv := range live {
		v := "null"
		if !lv.Value.IsNull() && lv.Value.IsWhollyKnown() {
			if b, err := ctyjson.Marshal(lv.Value, lv.Value.Type()); err == nil {
				v = string(b)
			}
		}
		lines = append(lines, lv.Path+"="+v)
	}
	sort.Strings(lines)
	sum := sha256.Sum256([]byte(strings.Join(lines, "\n")))
	return hex.EncodeToString(sum[:6])
}

// What Propose did.
const (
	OpenedPullRequest = "pull_request" // a commit pushed (or none needed) and the pull request opened or updated
	OpenedIssue       = "issue"        // a stack's drift, or nothing the block can express: an issue opened or updated
	Unchanged         = "unchanged"    // this fingerprint was proposed already: nothing pushed, nothing edited
)

// Result is the outcome of Propose.
type Result struct {
	Action  string    `json:"action"` // OpenedPullRequest, OpenedIssue, Unchanged
	Ref     forge.Ref `json:"ref"`
	Branch  string    `json:"branch,omitempty"`
	Commit  string    `json:"commit,omitempty"`  // the branch head after Propose
	Pushed  bool      `json:"pushed"`            // a new commit was pushed
	Changes []Change  `json:"changes,omitempty"` // attributes set to live values
	ByHand  []ByHand  `json:"by_hand,omitempty"`
}

// Errors that retrying cannot fix (decided with errors.Is).
var (
	// ErrNoDrift: a drift without items or fingerprint.
	ErrNoDrift = errors.New("no drift to propose")
	// ErrNoApp: the app is not declared (any more), or the manifests that
	// declare it are invalid.
	ErrNoApp = errors.New("the app is not declared by valid manifests")
)

// Proposer turns drifts into pull requests and issues.
type Proposer struct{ opt Options }

// New returns a Proposer.
func New(o Options) *Proposer {
	if o.Scrub == nil {
		o.Scrub = func(s string) string { return s }
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return &Proposer{opt: o}
}

// Propose proposes d back as code. For an app whose applier reads live
// values (ECS services, Lambda functions) it rewrites the app's block on
// the branch driftless/drift/APP and opens (or updates) the pull request
// into r.Branch; a stack's drift, or one nothing in the block can express,
// opens (or updates) an issue instead. The same fingerprint again does
// nothing; a new one adds a fast-forward commit and edits the body.
func (p *Proposer) Propose(ctx context.Context, r Repo, d Drift) (*Result, error) {
	if len(d.Items) == 0 || d.Fingerprint == "" {
		return nil, fmt.Errorf("driftpr: %s/%s: %w", r.Name, d.App, ErrNoDrift)
	}
	res, err := p.propose(ctx, r, d)
	if err != nil {
		return nil, &scrubbed{msg: fmt.Sprintf("driftpr: %s/%s: %s", r.Name, d.App, p.opt.Scrub(err.Error())), err: err}
	}
	return res, nil
}

// scrubbed is an error whose text has its secrets masked; errors.Is and
// errors.As still see the cause.
type scrubbed struct {
	msg string
	err error
}

func (e *scrubbed) Error() string { return e.msg }
func (e *scrubbed) Unwrap() error { return e.err }

func (p *Proposer) propose(ctx context.Context, r Repo, d Drift) (*Result, error) {
	log := p.opt.Log.With("repo", r.Name, "app", d.App, "fingerprint", d.Fingerprint)
	done := ""
	if p.opt.Ledger != nil {
		var err error
		if done, err = p.opt.Ledger.Proposed(ctx, r.Name, d.App); err != nil {
			return nil, fmt.Errorf("reading the drift ledger: %w", err)
		}
		if done == d.key() { // a stack's drift, proposed already
			return &Result{Action: Unchanged, Branch: BranchFor(d.App)}, nil
		}
	}
	rev, err := r.Source.FetchRevision(ctx, d.Revision)
	if err != nil {
		return nil, err
	}
	desired, diags := p.opt.Loader.Load(r.Name, rev.Tree, r.Path)
	if diags.HasErrors() {
		return nil, fmt.Errorf("%w: the manifests at %s are invalid: %s", ErrNoApp, rev.Short(), strings.Join(manifest.Format(diags), "; "))
	}
	app := desired.Apps[d.App]
	if app == nil {
		return nil, fmt.Errorf("%w: no app %q at %s", ErrNoApp, d.App, rev.Short())
	}
	pg := page{Repo: r.Name, App: d.App, Kind: app.Kind, File: app.File, Drift: d, Edit: &Edit{}, scrub: p.opt.Scrub}
	lr, ok := p.opt.Loader.Applier(app.Kind).(appliers.LiveReader)
	if !ok {
		return p.issue(ctx, r, pg, log)
	}
	spec, err := p.decode(ctx, r, rev, desired, app)
	if err != nil {
		return nil, err
	}
	var paths []string
	for _, it := range d.Items {
		paths = append(paths, it.Attributes...)
	}
	live, err := lr.Live(ctx, appliers.Request{Repo: r.Name, App: d.App, Revision: rev.SHA, Spec: spec, Tree: rev.Tree,
		Log: log, Observer: appliers.NopObserver{}}, paths)
	if err != nil {
		return nil, fmt.Errorf("reading live values: %w", err)
	}
	pg.Drift.Values = valuesHash(live)
	if done != "" && done == pg.Drift.key() { // these live values were proposed already
		return &Result{Action: Unchanged, Branch: BranchFor(d.App)}, nil
	}
	return p.pullRequest(ctx, r, pg, live, log)
}

// pullRequest commits the edit on the drift branch and opens the pull
// request; an issue when nothing in the block can be rewritten.
func (p *Proposer) pullRequest(ctx context.Context, r Repo, pg page, live []appliers.LiveValue, log *slog.Logger) (*Result, error) {
	d := pg.Drift
	branch := BranchFor(d.App)
	live, secret := p.withoutSecrets(live)
	edited := false
	br, err := r.Source.CommitToBranch(ctx, sources.BranchCommit{
		Branch: branch,
		Skip: func(head string) bool {
			return p.opt.Ledger == nil && strings.Contains(head, trailer(r.Name, d))
		},
		Edit: func(tree fs.FS) (map[string][]byte, string, error) {
			edited = true
			// The block as it is on the tracked branch now (it may have
			// moved since the drift was seen).
			desired, diags := p.opt.Loader.Load(r.Name, tree, r.Path)
			if diags.HasErrors() {
				return nil, "", fmt.Errorf("%w: the manifests of %s are invalid: %s", ErrNoApp, r.Branch, strings.Join(manifest.Format(diags), "; "))
			}
			app := desired.Apps[d.App]
			if app == nil || app.Kind != pg.Kind {
				return nil, "", fmt.Errorf("%w: %s %q is no longer declared on %s", ErrNoApp, pg.Kind, d.App, r.Branch)
			}
			src, err := fs.ReadFile(tree, app.File)
			if err != nil {
				return nil, "", err
			}
			e, err := EditBlock(src, app.File, app.Kind, d.App, live)
			if err != nil {
				return nil, "", err
			}
			e.ByHand = append(e.ByHand, secret...)
			pg.File, pg.Edit = app.File, e
			// Always the tracked branch's file with this drift's edits:
			// with none, an existing branch drops an earlier drift's
			// (and a new one gets no commit).
			return map[string][]byte{app.File: e.Src}, pg.commitMessage(), nil
		},
	})
	if err != nil {
		return nil, err
	}
	res := &Result{Branch: branch, Commit: br.Commit, Pushed: br.Pushed, Changes: pg.Edit.Changes, ByHand: pg.byHand()}
	switch {
	case !edited:
		res.Action = Unchanged // the branch head proposes this fingerprint already
		return res, nil
	case br.Commit == "":
		// Nothing the block can express, and no branch from an earlier
		// drift: there is no diff to propose, so say it in an issue.
		return p.issue(ctx, r, pg, log)
	}
	ref, err := p.opt.Forge.OpenPullRequest(ctx, r.Forge, forge.PullRequest{Head: branch, Base: r.Branch, Title: pg.title(), Body: pg.prBody()})
	if err != nil {
		return nil, fmt.Errorf("opening the pull request from %s: %w", branch, err)
	}
	res.Action, res.Ref = OpenedPullRequest, ref
	if err := p.record(ctx, r, d); err != nil {
		return nil, err
	}
	log.Info("drift proposed as a pull request", "branch", branch, "commit", br.Commit, "pushed", br.Pushed,
		"pull_request", ref.Number, "changed", len(res.Changes), "by_hand", len(res.ByHand))
	return res, nil
}

// issue opens or updates the app's drift issue.
func (p *Proposer) issue(ctx context.Context, r Repo, pg page, log *slog.Logger) (*Result, error) {
	body := pg.issueBody()
	ref, err := p.opt.Forge.OpenIssue(ctx, r.Forge, forge.Issue{Marker: IssueMarker(r.Name, pg.App),
		Title: fmt.Sprintf("driftless: %s/%s drifted", r.Name, pg.App), Body: body})
	if err != nil {
		return nil, fmt.Errorf("opening the drift issue: %w", err)
	}
	if err := p.record(ctx, r, pg.Drift); err != nil {
		return nil, err
	}
	log.Info("drift reported as an issue", "issue", ref.Number)
	return &Result{Action: OpenedIssue, Ref: ref, ByHand: pg.byHand()}, nil
}

// withoutSecrets leaves out the live values that hold a secret driftless
// knows (its redactor masks them): they are never written to the
// repository.
func (p *Proposer) withoutSecrets(live []appliers.LiveValue) (safe []appliers.LiveValue, secret []ByHand) {
	for _, lv := range live {
		if lv.Value.Type() == cty.String && lv.Value.IsKnown() && !lv.Value.IsNull() && p.opt.Scrub(lv.Value.AsString()) != lv.Value.AsString() {
			secret = append(secret, ByHand{Path: lv.Path, Attribute: lv.Attribute, Reason: ReasonSecret})
			continue
		}
		safe = append(safe, lv)
	}
	return safe, secret
}

func (p *Proposer) record(ctx context.Context, r Repo, d Drift) error {
	if p.opt.Ledger == nil {
		return nil
	}
	if err := p.opt.Ledger.Record(ctx, r.Name, d.App, d.key()); err != nil {
		return fmt.Errorf("recording the proposal: %w", err)
	}
	return nil
}

// decode returns the app's spec, decoding it again with the outputs of the
// apps it references read from their appliers.
func (p *Proposer) decode(ctx context.Context, r Repo, rev *sources.Revision, d *manifest.Desired, app *manifest.App) (appliers.Spec, error) {
	outs := map[string]map[string]cty.Value{}
	for _, ref := range app.Refs {
		dep := d.Apps[ref]
		op, ok := p.opt.Loader.Applier(dep.Kind).(appliers.Outputter)
		if !ok {
			return nil, fmt.Errorf("%s apps have no outputs", dep.Kind)
		}
		o, err := op.Outputs(ctx, appliers.Request{Repo: r.Name, App: ref, Revision: rev.SHA, Spec: dep.Spec, Tree: rev.Tree,
			Log: p.opt.Log, Observer: appliers.NopObserver{}})
		if err != nil {
			return nil, fmt.Errorf("reading the outputs of %q: %w", ref, err)
		}
		if outs[ref], err = manifest.OutputValues(o); err != nil {
			return nil, fmt.Errorf("outputs of %q: %w", ref, err)
		}
	}
	spec, diags := p.opt.Loader.Decode(r.Name, rev.Tree, d, app, outs)
	if diags.HasErrors() {
		return nil, fmt.Errorf("decoding %s: %s", app.Name, strings.Join(manifest.Format(diags), "; "))
	}
	return spec, nil
}
