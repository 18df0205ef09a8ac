package github

import (
	"context"
	"errors"
	"fmt"
	"strings"

	gh "github.com/google/go-github/v89/github"

	"github.com/driftless/driftless/forge"
)

const perPage = 100

// maxPages bounds a listing (10,000 items at 100 a page).
const maxPages = 100

// FindComment returns the first comment on issue or pull request number
// whose body holds marker, or an error wrapping forge.ErrNotFound.
func (c *Client) FindComment(ctx context.Context, repo forge.Repo, number int, marker string) (int64, string, error) {
	if marker == "" {
		return 0, "", errors.New("github: find comment: empty marker")
	}
	opts := &gh.IssueListCommentsOptions{ListOptions: gh.ListOptions{PerPage: perPage}}
	for range maxPages {
		page, resp, err := c.gh.Issues.ListComments(ctx, repo.Owner, repo.Name, number, opts)
		if err != nil {
			return 0, "", c.fail(fmt.Sprintf("list comments of #%d on %s", number, repo), err)
		}
		for _, cm := range page {
			if strings.Contains(cm.GetBody(), marker) {
				return cm.GetID(), cm.GetBody(), nil
			}
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	return 0, "", fmt.Errorf("github: comment with %s on #%d of %s: %w", marker, number, repo, forge.ErrNotFound)
}

// UpsertComment makes the comment holding marker read body: edited in
// place, or created.
func (c *Client) UpsertComment(ctx context.Context, repo forge.Repo, number int, marker, body string) (int64, error) {
	return c.EditComment(ctx, repo, number, marker, func(string) (string, bool) { return body, true })
}

// EditComment rewrites the comment holding marker with edit (see
// forge.Forge), after one lookup.
func (c *Client) EditComment(ctx context.Context, repo forge.Repo, number int, marker string, edit func(old string) (string, bool)) (int64, error) {
	id, old, err := c.FindComment(ctx, repo, number, marker)
	notFound := errors.Is(err, forge.ErrNotFound)
	if err != nil && !notFound {
		return 0, err
	}
	body, write := edit(old)
	if !write {
		return id, nil
	}
	if !strings.Contains(body, marker) {
		return 0, errors.New("github: edit comment: the body does not contain the marker")
	}
	body = cutBody(body)
	switch {
	case notFound:
		cm, _, err := c.gh.Issues.CreateComment(ctx, repo.Owner, repo.Name, number, &gh.IssueComment{Body: &body})
		if err != nil {
			return 0, c.fail(fmt.Sprintf("create comment on #%d of %s", number, repo), err)
		}
		c.log.Debug("github: comment created", "repo", repo.String(), "number", number, "comment_id", cm.GetID())
		return cm.GetID(), nil
	case old == body:
		return id, nil
	}
	if _, _, err := c.gh.Issues.EditComment(ctx, repo.Owner, repo.Name, id, &gh.IssueComment{Body: &body}); err != nil {
		return 0, c.fail(fmt.Sprintf("edit comment %d on %s", id, repo), err)
	}
	c.log.Debug("github: comment edited", "repo", repo.String(), "number", number, "comment_id", id)
	return id, nil
}

// SetStatus sets a commit status on sha.
func (c *Client) SetStatus(ctx context.Context, repo forge.Repo, sha string, s forge.CommitStatus) error {
	st := gh.RepoStatus{State: ptr(s.State), Context: optional(s.Context),
		Description: optional(cutLine(s.Description, MaxDescription)), TargetURL: optional(s.TargetURL)}
	if _, _, err := c.gh.Repositories.CreateStatus(ctx, repo.Owner, repo.Name, sha, st); err != nil {
		return c.fail(fmt.Sprintf("set status %s on %s of %s", s.Context, short(sha), repo), err)
	}
	return nil
}

func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}
