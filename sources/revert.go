package sources

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Errors of Revert.
var (
	// ErrNotAncestor: the revision to go back to is not an ancestor of the
	// remote branch head.
	ErrNotAncestor = errors.New("revision is not an ancestor of the branch head")
	// ErrNothingToRevert: the revision is the branch head, or the head's
	// tree already equals the revision's.
	ErrNothingToRevert = errors.New("nothing to revert")
	// ErrHeadMoved: the remote branch moved between the fetch and the push,
	// so the push was refused (it is never forced). Nothing was pushed;
	// retrying reverts against the new head.
	ErrHeadMoved = errors.New("branch head moved on the remote while reverting")
)

// Default identity of revert commits.
const (
	DefaultRevertAuthorName  = "driftless"
	DefaultRevertAuthorEmail = "driftless@localhost"
)

// RevertOptions says what to revert and who signs the commit.
type RevertOptions struct {
	To          string // revert every commit after To up to the branch head (To must be an ancestor of the head)
	AuthorName  string // default "driftless"
	AuthorEmail string // default "driftless@localhost"
	Reason      string // appended to the message body, e.g. "requested by ops via driftless rollback"
}

// Revert creates one commit on top of the remote branch head whose tree is
// the tree of To, undoing every change made after To, and pushes it to the
// tracked branch with the repository's credentials, without force. To is
// resolved as by Revision after a fetch, so it may be a full or short SHA.
//
// The commit's message is
//
//	Revert to <short To>: undo <n> commit(s)
//
//	This reverts commit <sha1>.
//	This reverts commit <sha2>.
//
//	<Reason>
//
// with one "This reverts commit" line, as Git writes it, per commit reachable
// from the head but not from To, newest first. The commit is built from To's
// tree object itself, so file modes and symbolic links are kept exactly.
//
// Revert fetches first, so it works on the current remote head. It refuses a
// To not among the fetched commits (ErrUnknownRevision), one that is not an
// ancestor of the head (ErrNotAncestor), a To that is the
// head or whose tree the head already has (ErrNothingToRevert), and a push
// the remote rejects because the branch moved meanwhile (ErrHeadMoved;
// nothing pushed, nothing forced). After a successful push the local branch
// ref is the new commit; after a failed one it is unchanged. Revert does not
// report the commit as polled: the next Poll returns it with changed=true,
// without fetching. Revert is serialised with Poll. Error texts never carry
// the credentials.
func (r *Repo) Revert(ctx context.Context, opts RevertOptions) (*Revision, error) {
	r.pollMu.Lock()
	defer r.pollMu.Unlock()
	rev, err := r.revert(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("sources: revert %s to %s: %w", r.cfg.Name, r.red.String(opts.To), err)
	}
	return rev, nil
}

func (r *Repo) revert(ctx context.Context, opts RevertOptions) (*Revision, error) {
	if opts.To == "" {
		return nil, errors.New("no revision to revert to")
	}
	if opts.AuthorName == "" {
		opts.AuthorName = DefaultRevertAuthorName
	}
	if opts.AuthorEmail == "" {
		opts.AuthorEmail = DefaultRevertAuthorEmail
	}
	head, err := r.sync(ctx)
	if err != nil {
		return nil, err
	}
	o := r.store()
	to, err := r.resolve(o, opts.To)
	if err != nil {
		return nil, err
	}
	if to == head {
		return nil, fmt.Errorf("%w: %s is the head of %s", ErrNothingToRevert, to, r.cfg.Branch)
	}
	toCommit, undone, err := undoneCommits(ctx, o, head, to)
	if err != nil {
		return nil, err
	}
	if undone == nil {
		return nil, fmt.Errorf("%w: %s is not an ancestor of %s (%s)", ErrNotAncestor, to, r.cfg.Branch, head)
	}
	if undone[0].TreeHash == toCommit.TreeHash { // undone[0] is head
		return nil, fmt.Errorf("%w: the head of %s (%s) already has the tree of %s", ErrNothingToRevert, r.cfg.Branch, head, to)
	}

	now := time.Now()
	sig := object.Signature{Name: opts.AuthorName, Email: opts.AuthorEmail, When: now}
	c := &object.Commit{
		Author:       sig,
		Committer:    sig,
		Message:      revertMessage(toCommit.Hash, undone, opts.Reason),
		TreeHash:     toCommit.TreeHash,
		ParentHashes: []plumbing.Hash{head},
	}
	obj := r.w.NewEncodedObject()
	if err := c.Encode(obj); err != nil {
		return nil, fmt.Errorf("encode revert commit: %w", err)
	}
	newHash, err := r.w.SetEncodedObject(obj)
	if err != nil {
		return nil, fmt.Errorf("store revert commit: %w", err)
	}
	if err := r.push(ctx, head, newHash); err != nil {
		return nil, err
	}
	if err := r.w.SetReference(plumbing.NewHashReference(r.ref, newHash)); err != nil {
		return nil, fmt.Errorf("pushed %s but could not update local %s: %w", newHash, r.ref, err)
	}
	r.log.Info("pushed revert commit", "branch", r.cfg.Branch, "revision", newHash.String(),
		"to", to.String(), "reverted", len(undone))
	return r.revision(r.store(), newHash)
}

// undoneCommits returns To's commit and the commits reachable from head
// but not from To, newest (by committer time) first; the slice is nil when
// To is not an ancestor of head. head and to differ.
func undoneCommits(ctx context.Context, o *objStore, head, to plumbing.Hash) (*object.Commit, []*object.Commit, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	toCommit, err := object.GetCommit(o.s, to)
	if err != nil {
		return nil, nil, fmt.Errorf("read commit %s: %w", to, err)
	}
	headCommit, err := object.GetCommit(o.s, head)
	if err != nil {
		return nil, nil, fmt.Errorf("read commit %s: %w", head, err)
	}
	reachable := make(map[plumbing.Hash]bool) // from To, To included
	err = object.NewCommitPreorderIter(toCommit, nil, nil).ForEach(func(c *object.Commit) error {
		reachable[c.Hash] = true
		return ctx.Err()
	})
	if err != nil {
		return nil, nil, fmt.Errorf("walk history of %s: %w", to, err)
	}
	if reachable[head] {
		return toCommit, nil, nil // head is older than To
	}
	// Every path from head down to To leaves the commits outside To's
	// history through a commit whose parent is To itself.
	var out []*object.Commit
	ancestor := false
	err = object.NewCommitPreorderIter(headCommit, reachable, nil).ForEach(func(c *object.Commit) error {
		out = append(out, c)
		if slices.Contains(c.ParentHashes, to) {
			ancestor = true
		}
		return ctx.Err()
	})
	if err != nil {
		return nil, nil, fmt.Errorf("walk history of %s: %w", head, err)
	}
	if !ancestor {
		return toCommit, nil, nil
	}
	// The walk starts at head; keep it first, then newest first.
	slices.SortStableFunc(out[1:], func(a, b *object.Commit) int {
		return b.Committer.When.Compare(a.Committer.When)
	})
	return toCommit, out, nil
}

// revertMessage builds a revert commit's message.
func revertMessage(to plumbing.Hash, undone []*object.Commit, reason string) string {
	var b strings.Builder
	plural := "s"
	if len(undone) == 1 {
		plural = ""
	}
	fmt.Fprintf(&b, "Revert to %s: undo %d commit%s\n\n", to.String()[:7], len(undone), plural)
	for _, c := range undone {
		fmt.Fprintf(&b, "This reverts commit %s.\n", c.Hash)
	}
	if reason = strings.TrimSpace(reason); reason != "" {
		b.WriteString("\n" + reason + "\n")
	}
	return b.String()
}

// push sends commit newHash to the remote branch, provided the branch is
// still at head there; a fast-forward only, never forced.
func (r *Repo) push(ctx context.Context, head, newHash plumbing.Hash) error {
	pctx := ctx
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		pctx, cancel = context.WithTimeout(ctx, defaultFetchTimeout)
		defer cancel()
	}
	err := r.remote.PushContext(pctx, &git.PushOptions{
		RemoteName:        "origin",
		RefSpecs:          []config.RefSpec{config.RefSpec(newHash.String() + ":" + r.ref.String())},
		RequireRemoteRefs: []config.RefSpec{config.RefSpec(head.String() + ":" + r.ref.String())},
		Auth:              r.auth,
	})
	if err == nil {
		return nil
	}
	pushErr := fmt.Errorf("push %s to %s on %s: %w", newHash, r.cfg.Branch, r.red.String(r.cfg.URL), r.red.Error(err))
	if ctx.Err() != nil {
		return pushErr
	}
	// Why did it fail? Look at the remote branch now.
	now, lerr := r.listBranch(ctx)
	switch {
	case lerr != nil:
		return pushErr
	case now == newHash:
		// The update went through; the error came after it.
		r.log.Warn("push reported an error but the branch has the revert commit", "error", pushErr)
		return nil
	case now != head:
		return fmt.Errorf("%w: %s is at %s on the remote, the revert was made on %s; nothing was pushed (%w)",
			ErrHeadMoved, r.cfg.Branch, now, head, pushErr)
	}
	return pushErr
}

// revertsRe matches the line Git's `git revert` writes ("This reverts commit
// <sha>." — followed by ", reversing" for merges, or " (<subject>, <date>)."
// with revert.reference), with full or abbreviated SHAs.
var revertsRe = regexp.MustCompile(`(?m)^[ \t]*This reverts commit ([0-9a-fA-F]{4,64})(?:[.,]| \(|[ \t]*\r?$)`)

// RevertedCommits parses the "This reverts commit <sha>." lines of a commit
// message (full or abbreviated SHAs, lower-cased), in order; nil when there
// are none.
func RevertedCommits(message string) []string {
	var out []string
	for _, m := range revertsRe.FindAllStringSubmatch(message, -1) {
		out = append(out, strings.ToLower(m[1]))
	}
	return out
}
