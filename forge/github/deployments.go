package github

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	gh "github.com/google/go-github/v89/github"

	"github.com/driftless/driftless/forge"
)

// CreateDeployment creates a deployment of d.Ref to d.Environment. It
// never merges the default branch into the ref (auto_merge false) and
// requires no commit status contexts, so driftless's own statuses on the
// commit (driftless/plan) never block it.
func (c *Client) CreateDeployment(ctx context.Context, repo forge.Repo, d forge.Deployment) (int64, error) {
	if d.Ref == "" || d.Environment == "" {
		return 0, errors.New("github: create deployment: ref and environment are required")
	}
	req := gh.DeploymentRequest{
		Ref:                   d.Ref,
		Environment:           &d.Environment,
		Description:           optional(cutLine(d.Description, MaxDescription)),
		AutoMerge:             ptr(false),
		RequiredContexts:      []string{},
		TransientEnvironment:  ptr(false),
		ProductionEnvironment: ptr(true),
	}
	if len(d.Payload) > 0 {
		req.Payload = d.Payload
	}
	dep, _, err := c.gh.Repositories.CreateDeployment(ctx, repo.Owner, repo.Name, req)
	if err != nil {
		err = c.fail(fmt.Sprintf("create deployment of %s to %s on %s", short(d.Ref), d.Environment, repo), err)
		if ce := (*forge.ConflictError)(nil); errors.As(err, &ce) {
			return 0, fmt.Errorf("%w (GitHub refused the deployment: a merge conflict, an auto-merge of the default branch or required status checks)", err)
		}
		return 0, err
	}
	c.log.Debug("github: deployment created", "repo", repo.String(), "environment", d.Environment, "deployment_id", dep.GetID())
	return dep.GetID(), nil
}

// SetDeploymentStatus adds a status to deployment id; a success makes the
// environment's earlier deployments inactive (auto_inactive).
func (c *Client) SetDeploymentStatus(ctx context.Context, repo forge.Repo, id int64, s forge.DeploymentStatus) error {
	req := gh.DeploymentStatusRequest{
		State:          s.State,
		Description:    optional(cutLine(s.Description, MaxDescription)),
		EnvironmentURL: optional(s.EnvironmentURL),
		LogURL:         optional(s.LogURL),
		AutoInactive:   ptr(true),
	}
	if _, _, err := c.gh.Repositories.CreateDeploymentStatus(ctx, repo.Owner, repo.Name, id, req); err != nil {
		return c.fail(fmt.Sprintf("set status %s of deployment %d on %s", s.State, id, repo), err)
	}
	return nil
}

// FindDeployment returns the newest deployment of q.Ref to q.Environment
// whose payload holds q.Key = q.Value, or an error wrapping
// forge.ErrNotFound.
func (c *Client) FindDeployment(ctx context.Context, repo forge.Repo, q forge.DeploymentQuery) (int64, error) {
	opts := &gh.DeploymentsListOptions{SHA: q.Ref, Environment: q.Environment, ListOptions: gh.ListOptions{PerPage: perPage}}
	for range maxPages {
		page, resp, err := c.gh.Repositories.ListDeployments(ctx, repo.Owner, repo.Name, opts)
		if err != nil {
			return 0, c.fail(fmt.Sprintf("list deployments of %s to %s on %s", short(q.Ref), q.Environment, repo), err)
		}
		for _, d := range page {
			if payloadValue(d.Payload, q.Key) == q.Value {
				return d.GetID(), nil
			}
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	return 0, fmt.Errorf("github: deployment of %s to %s with %s %s on %s: %w", short(q.Ref), q.Environment, q.Key, q.Value, repo, forge.ErrNotFound)
}

// payloadValue reads key from a deployment's payload: a JSON object, or
// (as GitHub returns a payload that was sent as a string) a string
// holding one.
func payloadValue(raw json.RawMessage, key string) string {
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		var s string
		if json.Unmarshal(raw, &s) != nil || json.Unmarshal([]byte(s), &m) != nil {
			return ""
		}
	}
	v, _ := m[key].(string)
	return v
}
