package preview

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"

	"github.com/driftless/driftless/forge"
	"github.com/driftless/driftless/notify"
	"github.com/driftless/driftless/sources"
)

// StatusContext is the commit status previews set on the head SHA.
const StatusContext = "driftless/plan"

// Emitter publishes events (the daemon's publisher).
type Emitter interface {
	Emit(ctx context.Context, category, action string, d notify.Data) notify.Event
}

// RepoOptions enable previews for one repository.
type RepoOptions struct {
	Repo       Repo
	Forge      forge.Repo // where comments and statuses go
	AllowForks bool
	// MaxParallel bounds the plans the repo's previews run at once
	// (config.DefaultPreviewParallel when 0).
	MaxParallel int
}

// Options configure a Runner.
type Options struct {
	Planner *Planner
	Forge   forge.Forge
	Events  Emitter // optional
	Repos   []RepoOptions
	Log     *slog.Logger
}

// Request is one pull request event.
type Request struct {
	Repo    string // repo name from the controller config
	Number  int
	Action  string // opened, synchronize, reopened, closed (others are ignored)
	HeadSHA string
	HeadRef string // the pull request's branch
	BaseRef string // the branch it merges into
	Fork    bool   // the head lives in another repository
	URL     string // the pull request's web page
}

// Runner runs previews for pull request events: at most one per pull
// request (a newer head cancels the older one's preview), each repo's plans
// bounded by its MaxParallel.
type Runner struct {
	opt   Options
	log   *slog.Logger
	repos map[string]*repoRunner
	ctx   context.Context
	stop  context.CancelFunc
	wg    sync.WaitGroup

	mu   sync.Mutex
	jobs map[string]*job // by repo#number
}

type repoRunner struct {
	RepoOptions
	sem chan struct{}
}

type job struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// New checks opt and returns a Runner; it starts nothing until Handle.
func New(opt Options) (*Runner, error) {
	if opt.Planner == nil || opt.Planner.Loader == nil || opt.Planner.WorkDir == "" {
		return nil, errors.New("preview: a Planner with a Loader and a WorkDir is required")
	}
	if opt.Forge == nil {
		return nil, errors.New("preview: a Forge is required")
	}
	log := opt.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Runner{opt: opt, log: log, repos: map[string]*repoRunner{}, jobs: map[string]*job{}}
	for _, ro := range opt.Repos {
		if ro.Repo.Name == "" || ro.Repo.Source == nil || ro.Forge.Owner == "" || ro.Forge.Name == "" {
			return nil, fmt.Errorf("preview: repo %q needs a name, a source and a forge repository", ro.Repo.Name)
		}
		if ro.Repo.Branch == "" {
			ro.Repo.Branch = "main"
		}
		n := ro.MaxParallel
		if n <= 0 {
			n = 2
		}
		r.repos[ro.Repo.Name] = &repoRunner{RepoOptions: ro, sem: make(chan struct{}, n)}
	}
	r.ctx, r.stop = context.WithCancel(context.Background())
	return r, nil
}

// Run returns when ctx ends, after Close.
func (r *Runner) Run(ctx context.Context) error {
	select {
	case <-ctx.Done():
	case <-r.ctx.Done():
	}
	r.Close()
	return nil
}

// Close cancels the previews running and waits for them.
func (r *Runner) Close() {
	r.stop()
	r.wg.Wait()
}

// Handle takes a pull request event without blocking. It returns false
// when previews are not enabled for the repo or the pull request does not
// merge into its tracked branch (nothing is done). opened, synchronize and
// reopened start a preview of HeadSHA (cancelling the one of an older head
// of the same pull request); closed cancels it.
func (r *Runner) Handle(req Request) bool {
	rr, ok := r.repos[req.Repo]
	if !ok || req.Number <= 0 || strings.TrimPrefix(req.BaseRef, "refs/heads/") != rr.Repo.Branch {
		return false
	}
	if r.ctx.Err() != nil {
		return true
	}
	switch req.Action {
	case "opened", "synchronize", "reopened", "closed":
	default:
		return true
	}
	key := req.Repo + "#" + strconv.Itoa(req.Number)
	r.mu.Lock()
	defer r.mu.Unlock()
	prev := r.jobs[key]
	if prev != nil {
		prev.cancel()
	}
	if req.Action == "closed" {
		delete(r.jobs, key)
		return true
	}
	ctx, cancel := context.WithCancel(r.ctx)
	j := &job{cancel: cancel, done: make(chan struct{})}
	r.jobs[key] = j
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer close(j.done)
		defer cancel()
		if prev != nil {
			<-prev.done // the older preview posts nothing after this one starts
		}
		if ctx.Err() != nil {
			return
		}
		r.run(ctx, rr, req)
		r.mu.Lock()
		if r.jobs[key] == j {
			delete(r.jobs, key)
		}
		r.mu.Unlock()
	}()
	return true
}

// run makes one preview and reports it.
func (r *Runner) run(ctx context.Context, rr *repoRunner, req Request) {
	log := r.log.With("repo", req.Repo, "pr", req.Number, "revision", req.HeadSHA)
	rep := &reporter{f: r.opt.Forge, repo: rr.Forge, req: req, log: log}
	if req.Fork && !rr.AllowForks {
		res := &Result{Repo: req.Repo, PR: req.Number, Ref: sources.PullRef(req.Number), Revision: req.HeadSHA,
			Refused: "Pull requests from forks are not planned for this repo: planning runs the pull request's Terraform code on the controller (`pull_requests { allow_forks = false }`)."}
		rep.comment(ctx, Render(res))
		rep.status(ctx, forge.StatusError, "not planned: pull requests from forks are not planned (allow_forks = false)")
		log.Info("fork pull request not planned")
		return
	}
	rep.status(ctx, forge.StatusPending, "planning "+sources.ShortSHA(req.HeadSHA))
	res, err := r.opt.Planner.Preview(ctx, Input{Repo: rr.Repo, Ref: sources.PullRef(req.Number), PR: req.Number, Sem: rr.sem})
	if ctx.Err() != nil {
		log.Info("preview cancelled: a newer head or the pull request was closed")
		return
	}
	if err == nil && res.Revision != req.HeadSHA && req.HeadSHA != "" {
		log.Info("the pull request moved on while fetching; previewed its newer head", "previewed", res.Revision)
	}
	rep.comment(ctx, Render(res))
	data := notify.Data{Repo: req.Repo, PR: req.Number, Revision: res.Revision, Summary: summary(res),
		Extra: map[string]string{"changed_apps": strings.Join(res.ChangedApps(), ","), "url": req.URL, "base": res.Base}}
	// The final status comes last: whoever sees it sees the comment and
	// the event too.
	if res.Failed() {
		data.Error, data.Diagnostics = failure(res), res.Diagnostics
		r.emit(ctx, notify.ActFailed, data)
		rep.status(ctx, forge.StatusFailure, summary(res))
		log.Warn("preview failed", "error", data.Error)
		return
	}
	r.emit(ctx, notify.ActReady, data)
	rep.status(ctx, forge.StatusSuccess, summary(res))
	log.Info("preview posted", "summary", data.Summary)
}

func (r *Runner) emit(ctx context.Context, action string, d notify.Data) {
	if r.opt.Events != nil {
		r.opt.Events.Emit(ctx, notify.CatPreview, action, d)
	}
}

// summary is the one line of a preview: the status description and the
// events' summary.
func summary(res *Result) string {
	switch {
	case len(res.Diagnostics) > 0:
		return "the manifests are invalid"
	case res.Error != "":
		return "the preview failed"
	}
	var parts []string
	failed := 0
	for _, a := range res.Apps {
		if a.Error != "" {
			failed++
			continue
		}
		if a.Changed {
			parts = append(parts, a.App+": "+a.Summary)
		}
	}
	s := "no changes"
	if len(parts) > 0 {
		s = strings.Join(parts, "; ")
	}
	if failed > 0 {
		s = fmt.Sprintf("%d app%s failed to plan; %s", failed, plural(failed), s)
	}
	return s
}

// failure is the error text of a failed preview.
func failure(res *Result) string {
	if res.Error != "" {
		return res.Error
	}
	var errs []string
	for _, a := range res.Apps {
		if a.Error != "" {
			errs = append(errs, a.App+": "+a.Error)
		}
	}
	return strings.Join(errs, "; ")
}

// reporter posts to the pull request; forge errors are logged (a preview
// is advice, the deploy does not depend on it).
type reporter struct {
	f    forge.Forge
	repo forge.Repo
	req  Request
	log  *slog.Logger
}

func (p *reporter) status(ctx context.Context, state, desc string) {
	if len(desc) > 140 {
		desc = desc[:137] + "..."
	}
	if p.req.HeadSHA == "" {
		return
	}
	err := p.f.SetStatus(ctx, p.repo, p.req.HeadSHA, forge.CommitStatus{State: state, Context: StatusContext, Description: desc, TargetURL: p.req.URL})
	if err != nil {
		p.log.Warn("setting the commit status", "state", state, "error", err)
	}
}

// comment writes body as the pull request's comment, keeping the
// deployments section of the one there.
func (p *reporter) comment(ctx context.Context, body string) {
	if _, err := p.f.EditComment(ctx, p.repo, p.req.Number, forge.CommentMarker, func(old string) (string, bool) {
		return Merge(old, body), true
	}); err != nil {
		p.log.Warn("writing the pull request comment", "error", err)
	}
}
