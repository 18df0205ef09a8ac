package forge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	forgeapi "github.com/driftless/driftless/forge"
	"github.com/driftless/driftless/notify"
)

// job is one event being reported.
type job struct {
	r     *Reporter
	ctx   context.Context // Run's: calls run detached so shutdown never cuts one GitHub may have carried out
	ev    notify.Event
	store *store
	log   *slog.Logger
}

func (j *job) opCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(j.ctx), callTimeout)
}

// run reports the event unless it is not for the forge or was reported
// already; what was done is recorded step by step, so a retry redoes only
// what is missing.
func (j *job) run() error {
	d := j.ev.Data
	cat := j.ev.Category()
	if (cat != notify.CatDeploy && cat != notify.CatRollback) || d.DeployID == "" || d.App == "" || d.Revision == "" {
		return nil
	}
	url := d.RepoURL
	if url == "" {
		url = j.r.opts.RepoURLs[d.Repo]
	}
	repo, ok := forgeapi.RepoFromURL(url, j.r.opts.APIURL)
	if !ok {
		j.log.Debug("forge reporter: the repo is not on the configured forge; nothing to report")
		return nil
	}
	link := j.r.statusPage(d.Repo, d.App)
	line, hasLine := commentLine(j.ev, link)
	var done progress
	if _, err := j.get(eventKey(j.ev.ID), &done); err != nil {
		return err
	}
	if !done.Status {
		id, err := j.deployment(repo)
		if err != nil {
			return err
		}
		ctx, cancel := j.opCtx()
		err = j.r.opts.Forge.SetDeploymentStatus(ctx, repo, id, statusFor(j.ev, link, j.r.opts.Scrub))
		cancel()
		if err != nil {
			return err
		}
		done.Status = true
		if err := j.put(eventKey(j.ev.ID), done); err != nil {
			return err
		}
		j.log.Info("forge reporter: deployment status set", "forge_repo", repo.String(), "deployment_id", id)
	}
	if hasLine && !done.Comment {
		if err := j.comment(repo, d.PR, line); err != nil {
			return err
		}
		done.Comment = true
		return j.put(eventKey(j.ev.ID), done)
	}
	return nil
}

// deployment returns the forge deployment of the event's deploy: recorded,
// found on the forge, or created.
func (j *job) deployment(repo forgeapi.Repo) (int64, error) {
	d := j.ev.Data
	var rec deployment
	found, err := j.get(deployKey(d.DeployID), &rec)
	if err != nil {
		return 0, err
	}
	if found && rec.Repo == repo.String() {
		return rec.ID, nil
	}
	env := environment(d)
	if j.r.finder != nil {
		ctx, cancel := j.opCtx()
		id, err := j.r.finder.FindDeployment(ctx, repo, forgeapi.DeploymentQuery{Ref: d.Revision, Environment: env, Key: "deploy_id", Value: d.DeployID})
		cancel()
		if err == nil {
			j.log.Info("forge reporter: found the deploy's deployment on the forge", "forge_repo", repo.String(), "deployment_id", id)
			return id, j.put(deployKey(d.DeployID), deployment{ID: id, Repo: repo.String()})
		}
		if !errors.Is(err, forgeapi.ErrNotFound) {
			return 0, err
		}
	}
	ctx, cancel := j.opCtx()
	id, err := j.r.opts.Forge.CreateDeployment(ctx, repo, forgeapi.Deployment{Ref: d.Revision, Environment: env,
		Description: deploymentDescription(j.ev), Payload: payload(j.ev)})
	cancel()
	if err != nil {
		return 0, err
	}
	j.log.Info("forge reporter: deployment created", "forge_repo", repo.String(), "deployment_id", id, "environment", env)
	// Recorded right away (a few tries): an unrecorded deployment is found
	// again on the forge, but only through the finder.
	for attempt := 1; ; attempt++ {
		err = j.put(deployKey(d.DeployID), deployment{ID: id, Repo: repo.String()})
		if err == nil || attempt == 3 {
			return id, err
		}
	}
}

// comment adds line to the pull request's driftless comment.
func (j *job) comment(repo forgeapi.Repo, pr int, line string) error {
	ctx, cancel := j.opCtx()
	defer cancel()
	changed := false
	_, err := j.r.opts.Forge.EditComment(ctx, repo, pr, forgeapi.CommentMarker, func(body string) (string, bool) {
		if body == "" {
			body = forgeapi.CommentMarker
		}
		var next string
		next, changed = addLine(body, line)
		return next, changed
	})
	if err != nil {
		return j.commentErr(pr, err)
	}
	if !changed {
		return nil
	}
	j.log.Info("forge reporter: deployment line added to the pull request comment", "forge_repo", repo.String(), "pr", pr)
	return nil
}

// commentErr lets a missing pull request (the commit message named one
// that does not exist) and a missing permission pass: the deployment itself
// was reported.
func (j *job) commentErr(pr int, err error) error {
	if errors.Is(err, forgeapi.ErrNotFound) {
		j.log.Warn("forge reporter: no such pull request; no comment line", "pr", pr, "err", j.r.opts.Scrub(err.Error()))
		return nil
	}
	// The deployment went through with the same token: a 403 here is a
	// missing permission on pull requests, which waiting does not fix;
	// it must not hold back the deployments of later events.
	if ae := (*forgeapi.AuthError)(nil); errors.As(err, &ae) && ae.Status == 403 {
		j.log.Error("forge reporter: the token may not comment on pull requests (pull requests and issues: write); no comment line",
			"pr", pr, "err", j.r.opts.Scrub(err.Error()))
		return nil
	}
	return fmt.Errorf("comment on pull request #%d: %w", pr, err)
}

func (j *job) get(key string, v any) (bool, error) {
	ctx, cancel := j.opCtx()
	defer cancel()
	return j.store.get(ctx, key, v)
}

func (j *job) put(key string, v any) error {
	ctx, cancel := j.opCtx()
	defer cancel()
	return j.store.put(ctx, key, v)
}
