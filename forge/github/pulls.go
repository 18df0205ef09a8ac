package github

import (
	"context"
	"errors"
	"fmt"
	"strings"

	gh "github.com/google/go-github/v89/github"

	"github.com/driftless/driftless/forge"
)

// IssueLabel is the label of the issues driftless opens; OpenIssue looks
// for the one to edit among the open issues carrying it.
const IssueLabel = "driftless"

// OpenPullRequest edits the open pull request from pr.Head (same
// repository), or opens one.
func (c *Client) OpenPullRequest(ctx context.Context, repo forge.Repo, pr forge.PullRequest) (forge.Ref, error) {
	if pr.Head == "" || pr.Base == "" || strings.TrimSpace(pr.Title) == "" {
		return forge.Ref{}, errors.New("github: open pull request: head, base and title are required")
	}
	body := cutBody(pr.Body)
	what := fmt.Sprintf("pull request from %s on %s", pr.Head, repo)
	open, _, err := c.gh.PullRequests.List(ctx, repo.Owner, repo.Name, &gh.PullRequestListOptions{
		State: "open", Head: repo.Owner + ":" + pr.Head, ListOptions: gh.ListOptions{PerPage: perPage}})
	if err != nil {
		return forge.Ref{}, c.fail("list open "+what, err)
	}
	if len(open) > 0 {
		n := open[0].GetNumber()
		got, _, err := c.gh.PullRequests.Edit(ctx, repo.Owner, repo.Name, n, &gh.PullRequest{Title: &pr.Title, Body: &body})
		if err != nil {
			return forge.Ref{}, c.fail(fmt.Sprintf("edit pull request #%d on %s", n, repo), err)
		}
		c.log.Debug("github: pull request edited", "repo", repo.String(), "number", n)
		return forge.Ref{Number: n, URL: got.GetHTMLURL()}, nil
	}
	got, _, err := c.gh.PullRequests.Create(ctx, repo.Owner, repo.Name, &gh.NewPullRequest{
		Title: &pr.Title, Head: &pr.Head, Base: &pr.Base, Body: &body})
	if err != nil {
		return forge.Ref{}, c.fail("create "+what, err)
	}
	c.log.Debug("github: pull request created", "repo", repo.String(), "number", got.GetNumber())
	return forge.Ref{Number: got.GetNumber(), URL: got.GetHTMLURL(), Created: true}, nil
}

// OpenIssue edits the open issue labelled IssueLabel whose body holds
// is.Marker, or opens one with that label.
func (c *Client) OpenIssue(ctx context.Context, repo forge.Repo, is forge.Issue) (forge.Ref, error) {
	if is.Marker == "" || !strings.Contains(is.Body, is.Marker) || strings.TrimSpace(is.Title) == "" {
		return forge.Ref{}, errors.New("github: open issue: a title and a body holding the marker are required")
	}
	body := cutBody(is.Body)
	found, err := c.findIssue(ctx, repo, is.Marker)
	if err != nil {
		return forge.Ref{}, err
	}
	if found != nil {
		n := found.GetNumber()
		got, _, err := c.gh.Issues.Edit(ctx, repo.Owner, repo.Name, n, &gh.IssueRequest{Title: &is.Title, Body: &body})
		if err != nil {
			return forge.Ref{}, c.fail(fmt.Sprintf("edit issue #%d on %s", n, repo), err)
		}
		c.log.Debug("github: issue edited", "repo", repo.String(), "number", n)
		return forge.Ref{Number: n, URL: got.GetHTMLURL()}, nil
	}
	got, _, err := c.gh.Issues.Create(ctx, repo.Owner, repo.Name, &gh.IssueRequest{
		Title: &is.Title, Body: &body, Labels: &[]string{IssueLabel}})
	if err != nil {
		return forge.Ref{}, c.fail("create issue on "+repo.String(), err)
	}
	c.log.Debug("github: issue created", "repo", repo.String(), "number", got.GetNumber())
	return forge.Ref{Number: got.GetNumber(), URL: got.GetHTMLURL(), Created: true}, nil
}

// findIssue pages through the open issues labelled IssueLabel (pull
// requests, which the endpoint lists too, are skipped).
func (c *Client) findIssue(ctx context.Context, repo forge.Repo, marker string) (*gh.Issue, error) {
	opts := &gh.IssueListByRepoOptions{State: "open", Labels: []string{IssueLabel},
		ListOptions: gh.ListOptions{PerPage: perPage}}
	for range maxPages {
		page, resp, err := c.gh.Issues.ListByRepo(ctx, repo.Owner, repo.Name, opts)
		if err != nil {
			return nil, c.fail("list open issues of "+repo.String(), err)
		}
		for _, is := range page {
			if !is.IsPullRequest() && strings.Contains(is.GetBody(), marker) {
				return is, nil
			}
		}
		switch {
		case resp.NextPage != 0:
			opts.ListOptions.Page = resp.NextPage
		case resp.NextPageToken != "":
			opts.ListCursorOptions.Page = resp.NextPageToken
		case resp.After != "":
			opts.After = resp.After
		case resp.Cursor != "":
			opts.Cursor = resp.Cursor
		default:
			return nil, nil
		}
	}
	return nil, nil
}
