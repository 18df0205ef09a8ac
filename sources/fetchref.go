package sources

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
)

// pullRefRe matches the head ref of a pull request (GitHub refs/pull/N/head,
// GitLab refs/merge-requests/N/head).
var pullRefRe = regexp.MustCompile(`^refs/(pull|merge-requests)/[1-9][0-9]{0,9}/head$`)

// PullRef is the Git ref of pull request number's head on GitHub.
func PullRef(number int) string { return fmt.Sprintf("refs/pull/%d/head", number) }

// FetchRef fetches ref from the remote into the Git store and returns its
// Revision. ref is a pull request head (refs/pull/N/head), a branch name
// (or refs/heads/NAME), or a commit SHA (full; a commit not stored yet is
// looked for among the remote's branches and pull request heads). The
// tracked branch is only ever read as the last Poll saw it (poll first);
// other refs are
// stored under their own names (refs/pull/N/head, refs/heads/NAME), never
// over the tracked branch. The fetch uses the repository's credentials and
// timeout, like a Poll, and is serialised with Poll.
func (r *Repo) FetchRef(ctx context.Context, ref string) (*Revision, error) {
	rev, err := r.fetchRef(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("sources: fetch %s of %s: %w", ref, r.cfg.Name, err)
	}
	return rev, nil
}

func (r *Repo) fetchRef(ctx context.Context, ref string) (*Revision, error) {
	name, err := r.refName(ref)
	if err != nil {
		return nil, err
	}
	if name == "" { // a SHA
		lref := strings.ToLower(ref)
		h := plumbing.NewHash(lref)
		r.pollMu.Lock() // the writing store is used under pollMu only
		have := r.hasCommit(h)
		r.pollMu.Unlock()
		if !have {
			if err := r.fetchSpecs(ctx, "+refs/heads/*:refs/remotes/origin/*", "+refs/pull/*/head:refs/pull/*/head"); err != nil {
				return nil, err
			}
		}
		return r.revision(r.store(), h)
	}
	if name == r.ref {
		// The tracked branch: as the last Poll saw it (a fetch here would
		// move it under the reconciler's feet).
		if r.Head() == "" {
			return nil, fmt.Errorf("%w: branch %s was not polled yet", ErrUnknownRevision, r.cfg.Branch)
		}
		return r.Revision(ctx, r.cfg.Branch)
	}
	if err := r.fetchSpecs(ctx, "+"+name.String()+":"+name.String()); err != nil {
		return nil, err
	}
	r.pollMu.Lock()
	got, err := r.w.Reference(name)
	r.pollMu.Unlock()
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return nil, fmt.Errorf("%w: %s", ErrUnknownRevision, name)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return r.revision(r.store(), got.Hash())
}

// refName checks ref and returns its full name, or "" for a full SHA.
func (r *Repo) refName(ref string) (plumbing.ReferenceName, error) {
	if len(ref) == 40 && isHex(strings.ToLower(ref)) {
		return "", nil
	}
	if pullRefRe.MatchString(ref) {
		return plumbing.ReferenceName(ref), nil
	}
	branch := strings.TrimPrefix(ref, "refs/heads/")
	name := plumbing.NewBranchReferenceName(branch)
	if branch == "" || strings.HasPrefix(branch, "-") || strings.HasPrefix(branch, "refs/") || strings.Contains(branch, "..") ||
		strings.ContainsAny(branch, " ~^:?*[\\\x00") || name.Validate() != nil {
		return "", fmt.Errorf("%w: %q is not a branch, a pull request head (refs/pull/N/head) or a full SHA", ErrUnknownRevision, ref)
	}
	return name, nil
}

// fetchSpecs fetches refspecs (force) and makes the new objects readable.
func (r *Repo) fetchSpecs(ctx context.Context, specs ...string) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultFetchTimeout)
		defer cancel()
	}
	rs := make([]config.RefSpec, len(specs))
	for i, s := range specs {
		rs[i] = config.RefSpec(s)
		if err := rs[i].Validate(); err != nil {
			return fmt.Errorf("refspec %s: %w", s, err)
		}
	}
	r.pollMu.Lock()
	defer r.pollMu.Unlock()
	r.fetches.Add(1)
	err := r.remote.FetchContext(ctx, &git.FetchOptions{RemoteName: "origin", RefSpecs: rs, Auth: r.auth, Tags: git.NoTags, Force: true})
	if errors.Is(err, git.NoErrAlreadyUpToDate) {
		return nil
	}
	var noMatch git.NoMatchingRefSpecError
	if errors.As(err, &noMatch) {
		return fmt.Errorf("%w: no such ref on %s", ErrUnknownRevision, r.red.String(r.cfg.URL))
	}
	if err != nil {
		return fmt.Errorf("fetch from %s: %w", r.red.String(r.cfg.URL), r.red.Error(err))
	}
	r.refreshStore() // sees the new pack
	return nil
}
