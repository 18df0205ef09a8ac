package forge

import (
	"context"
	"errors"
)

// Repo is a repository on the forge.
type Repo struct {
	Owner string `json:"owner"`
	Name  string `json:"name"`
}

func (r Repo) String() string { return r.Owner + "/" + r.Name }

// Status states of a commit status.
const (
	StatusPending = "pending"
	StatusSuccess = "success"
	StatusFailure = "failure"
	StatusError   = "error"
)

// CommitStatus is one commit status (GitHub: POST /repos/{o}/{r}/statuses/{sha}).
type CommitStatus struct {
	State       string // StatusPending, StatusSuccess, StatusFailure, StatusError
	Context     string // e.g. "driftless/plan"
	Description string // at most 140 characters; longer is cut
	TargetURL   string // optional link
}

// Deployment states of a deployment status.
const (
	DeployInProgress = "in_progress"
	DeploySuccess    = "success"
	DeployFailure    = "failure"
	DeployError      = "error"
	DeployInactive   = "inactive"
)

// Deployment is a deployment of a commit to an environment.
type Deployment struct {
	Ref         string // the commit SHA
	Environment string // "REPO/APP"
	Description string
	// Payload is stored with the deployment (deploy id, app, kind).
	Payload map[string]string
}

// DeploymentStatus is one status of a deployment.
type DeploymentStatus struct {
	State          string // DeployInProgress, DeploySuccess, DeployFailure, ...
	Description    string
	EnvironmentURL string // the app's status page
	LogURL         string
}

// PullRequest is a pull request to open, or to update when one from Head
// is open already.
type PullRequest struct {
	Head  string // branch in the same repository
	Base  string // branch to merge into
	Title string
	Body  string
}

// Issue is an issue to open, or to update when an open one carries Marker
// in its body.
type Issue struct {
	Marker string // an HTML comment such as <!-- driftless:drift:repo/app -->
	Title  string
	Body   string // must contain Marker
}

// Ref is what Open* return: the number and the web URL.
type Ref struct {
	Number int    `json:"number"`
	URL    string `json:"url"`
	// Created is false when an existing pull request or issue was updated.
	Created bool `json:"created"`
}

// Forge is the API driftless uses. Every method is safe for concurrent use.
type Forge interface {
	// EditComment rewrites the one comment on issue or pull request
	// number whose body contains marker: edit gets its body ("" when there
	// is none) and returns the new one, which must contain marker, and
	// whether to write it. The comment is created when there is none and
	// edited in place otherwise, after one lookup. It returns the
	// comment's id (0 when there is none and nothing was written).
	EditComment(ctx context.Context, repo Repo, number int, marker string, edit func(old string) (body string, write bool)) (int64, error)
	// FindComment returns the id and body of that comment, or ErrNotFound.
	FindComment(ctx context.Context, repo Repo, number int, marker string) (int64, string, error)
	// SetStatus sets a commit status on sha.
	SetStatus(ctx context.Context, repo Repo, sha string, s CommitStatus) error
	// CreateDeployment creates a deployment and returns its id.
	CreateDeployment(ctx context.Context, repo Repo, d Deployment) (int64, error)
	// SetDeploymentStatus adds a status to deployment id.
	SetDeploymentStatus(ctx context.Context, repo Repo, id int64, s DeploymentStatus) error
	// OpenPullRequest opens a pull request from pr.Head, or edits the title
	// and body of the open one from that branch.
	OpenPullRequest(ctx context.Context, repo Repo, pr PullRequest) (Ref, error)
	// OpenIssue opens an issue, or edits the open one whose body carries
	// is.Marker.
	OpenIssue(ctx context.Context, repo Repo, is Issue) (Ref, error)
}

// ErrNotFound is returned (wrapped) when the thing asked for does not exist.
var ErrNotFound = errors.New("not found on the forge")
