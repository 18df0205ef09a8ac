package driftpr

import (
	"context"
	"errors"
	"strconv"
	"sync"

	"github.com/driftless/driftless/forge"
)

// fakeForge is an in-memory forge.Forge that keeps pull requests by head
// branch and issues by marker, as the GitHub implementation does, and
// counts the calls.
type fakeForge struct {
	mu     sync.Mutex
	prs    map[string]forge.PullRequest // by head
	issues map[string]forge.Issue       // by marker
	nums   map[string]int
	calls  []string
	next   int
	failPR int // the next failPR OpenPullRequest calls fail
}

func newFakeForge() *fakeForge {
	return &fakeForge{prs: map[string]forge.PullRequest{}, issues: map[string]forge.Issue{}, nums: map[string]int{}}
}

func (f *fakeForge) ref(key string) forge.Ref {
	n, ok := f.nums[key]
	if !ok {
		f.next++
		n = f.next
		f.nums[key] = n
	}
	return forge.Ref{Number: n, URL: "https://github.example/acme/platform/pull/" + strconv.Itoa(n), Created: !ok}
}

func (f *fakeForge) OpenPullRequest(_ context.Context, repo forge.Repo, pr forge.PullRequest) (forge.Ref, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "pr "+repo.String()+" "+pr.Head+"->"+pr.Base)
	if f.failPR > 0 {
		f.failPR--
		return forge.Ref{}, errors.New("502 Bad Gateway")
	}
	f.prs[pr.Head] = pr
	return f.ref("pr:" + pr.Head), nil
}

func (f *fakeForge) OpenIssue(_ context.Context, repo forge.Repo, is forge.Issue) (forge.Ref, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "issue "+repo.String()+" "+is.Marker)
	f.issues[is.Marker] = is
	return f.ref("issue:" + is.Marker), nil
}

func (f *fakeForge) PR(head string) (forge.PullRequest, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	pr, ok := f.prs[head]
	return pr, ok
}

func (f *fakeForge) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *fakeForge) EditComment(context.Context, forge.Repo, int, string, func(string) (string, bool)) (int64, error) {
	return 0, forge.ErrNotFound
}
func (f *fakeForge) FindComment(context.Context, forge.Repo, int, string) (int64, string, error) {
	return 0, "", forge.ErrNotFound
}
func (f *fakeForge) SetStatus(context.Context, forge.Repo, string, forge.CommitStatus) error {
	return nil
}
func (f *fakeForge) CreateDeployment(context.Context, forge.Repo, forge.Deployment) (int64, error) {
	return 0, nil
}
func (f *fakeForge) SetDeploymentStatus(context.Context, forge.Repo, int64, forge.DeploymentStatus) error {
	return nil
}
