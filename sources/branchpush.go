package sources

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
)

// ErrBranchMoved: the branch a commit was pushed to moved on the remote
// between the fetch and the push, so the push was refused (it is never
// forced). Nothing was pushed; retrying commits on the new head.
var ErrBranchMoved = errors.New("branch moved on the remote while committing")

// BranchCommit is a commit to push to a side branch (a drift pull
// request's), never to the tracked branch.
type BranchCommit struct {
	// Branch is the side branch, e.g. "driftless/drift/web".
	Branch string
	// Edit is given the tracked branch's tree as fetched now and returns
	// the new contents of the files to change (repo-relative,
	// slash-separated paths of existing regular files) and the commit
	// message. An empty map, or contents equal to the branch's, commits
	// nothing.
	Edit func(tree fs.FS) (files map[string][]byte, message string, err error)
	// Skip, when set, is given the message of the side branch's head
	// commit (when the branch exists) before Edit; true commits nothing.
	Skip        func(headMessage string) bool
	AuthorName  string // default "driftless"
	AuthorEmail string // default "driftless@localhost"
}

// BranchResult is what CommitToBranch did.
type BranchResult struct {
	// Commit is the side branch's head after the call ("" when it does not
	// exist and nothing was committed); Previous is its head before ("" when
	// the branch was created).
	Commit, Previous string
	// Pushed is false when nothing was committed (Skip, or no change).
	Pushed bool
}

// CommitToBranch commits Edit's files on the side branch and pushes it with
// the repository's credentials, fast-forward only: when the branch exists
// on the remote the commit goes on top of its head, otherwise on top of
// the tracked branch's head, which it then starts from. A push the remote
// refuses because the branch moved meanwhile is ErrBranchMoved; nothing
// is ever forced. The tracked branch is never written. Like Revert, it is
// serialised with Poll and error texts never carry the credentials.
func (r *Repo) CommitToBranch(ctx context.Context, bc BranchCommit) (BranchResult, error) {
	r.pollMu.Lock()
	defer r.pollMu.Unlock()
	res, err := r.commitToBranch(ctx, bc)
	if err != nil {
		return res, fmt.Errorf("sources: commit to %s of %s: %w", bc.Branch, r.cfg.Name, err)
	}
	return res, nil
}

func (r *Repo) commitToBranch(ctx context.Context, bc BranchCommit) (BranchResult, error) {
	side := plumbing.NewBranchReferenceName(bc.Branch)
	if bc.Branch == "" || bc.Branch == r.cfg.Branch || strings.ContainsAny(bc.Branch, " ~^:?*[\\") || !side.IsBranch() {
		return BranchResult{}, fmt.Errorf("invalid side branch %q", bc.Branch)
	}
	if bc.AuthorName == "" {
		bc.AuthorName = DefaultRevertAuthorName
	}
	if bc.AuthorEmail == "" {
		bc.AuthorEmail = DefaultRevertAuthorEmail
	}
	head, err := r.sync(ctx)
	if err != nil {
		return BranchResult{}, err
	}
	prev, err := r.fetchSide(ctx, side)
	if err != nil {
		return BranchResult{}, err
	}
	var res BranchResult
	parent := head
	if !prev.IsZero() {
		res.Previous, res.Commit, parent = prev.String(), prev.String(), prev
		pc, err := object.GetCommit(r.w, prev)
		if err != nil {
			return res, fmt.Errorf("read %s: %w", prev, err)
		}
		if bc.Skip != nil && bc.Skip(pc.Message) {
			return res, nil
		}
	}
	hc, err := object.GetCommit(r.w, head)
	if err != nil {
		return res, fmt.Errorf("read %s: %w", head, err)
	}
	files, msg, err := bc.Edit(newGitTreeFS(r.store(), hc.TreeHash, hc.Author.When))
	if err != nil {
		return res, err
	}
	pc, err := object.GetCommit(r.w, parent)
	if err != nil {
		return res, fmt.Errorf("read %s: %w", parent, err)
	}
	tree := pc.TreeHash
	for _, p := range slices.Sorted(maps.Keys(files)) {
		blob, err := r.writeBlob(files[p])
		if err != nil {
			return res, err
		}
		if tree, err = r.replaceFile(tree, strings.Split(path.Clean(p), "/"), blob); err != nil {
			return res, fmt.Errorf("%s: %w", p, err)
		}
	}
	if tree == pc.TreeHash {
		return res, nil
	}
	sig := object.Signature{Name: bc.AuthorName, Email: bc.AuthorEmail, When: time.Now()}
	c := &object.Commit{Author: sig, Committer: sig, Message: msg, TreeHash: tree, ParentHashes: []plumbing.Hash{parent}}
	obj := r.w.NewEncodedObject()
	if err := c.Encode(obj); err != nil {
		return res, fmt.Errorf("encode commit: %w", err)
	}
	nh, err := r.w.SetEncodedObject(obj)
	if err != nil {
		return res, fmt.Errorf("store commit: %w", err)
	}
	if err := r.pushSide(ctx, side, prev, nh); err != nil {
		return res, err
	}
	_ = r.w.SetReference(plumbing.NewHashReference(sideRef(side), nh))
	r.log.Info("pushed a commit to a side branch", "branch", bc.Branch, "revision", nh.String(), "parent", parent.String())
	res.Commit, res.Pushed = nh.String(), true
	return res, nil
}

// sideRef is where the bare clone keeps a side branch's head, apart from
// the tracked branch's refs.
func sideRef(side plumbing.ReferenceName) plumbing.ReferenceName {
	return plumbing.ReferenceName("refs/driftless/side/" + strings.TrimPrefix(side.String(), "refs/heads/"))
}

// fetchSide fetches the side branch; the zero hash when the remote has none.
func (r *Repo) fetchSide(ctx context.Context, side plumbing.ReferenceName) (plumbing.Hash, error) {
	lctx, cancel := context.WithTimeout(ctx, defaultListTimeout)
	refs, err := r.remote.ListContext(lctx, &git.ListOptions{Auth: r.auth})
	cancel()
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("list refs of %s: %w", r.red.String(r.cfg.URL), r.red.Error(err))
	}
	var h plumbing.Hash
	for _, ref := range refs {
		if ref.Name() == side && ref.Type() == plumbing.HashReference {
			h = ref.Hash()
		}
	}
	if h.IsZero() || r.hasCommit(h) {
		return h, nil
	}
	fctx, cancel := context.WithTimeout(ctx, defaultFetchTimeout)
	defer cancel()
	err = r.remote.FetchContext(fctx, &git.FetchOptions{RemoteName: "origin", Auth: r.auth, Tags: git.NoTags, Force: true,
		RefSpecs: []config.RefSpec{config.RefSpec("+" + side.String() + ":" + sideRef(side).String())}})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return plumbing.ZeroHash, fmt.Errorf("fetch %s from %s: %w", side.Short(), r.red.String(r.cfg.URL), r.red.Error(err))
	}
	ref, err := r.w.Reference(sideRef(side))
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("read %s after fetch: %w", side.Short(), err)
	}
	return ref.Hash(), nil
}

// pushSide pushes nh to the side branch, which must still be at prev on
// the remote (absent when prev is zero): never forced.
func (r *Repo) pushSide(ctx context.Context, side plumbing.ReferenceName, prev, nh plumbing.Hash) error {
	pctx, cancel := context.WithTimeout(ctx, defaultFetchTimeout)
	defer cancel()
	opts := &git.PushOptions{RemoteName: "origin", Auth: r.auth,
		RefSpecs: []config.RefSpec{config.RefSpec(nh.String() + ":" + side.String())}}
	if !prev.IsZero() {
		opts.RequireRemoteRefs = []config.RefSpec{config.RefSpec(prev.String() + ":" + side.String())}
	}
	err := r.remote.PushContext(pctx, opts)
	if err == nil {
		return nil
	}
	pushErr := fmt.Errorf("push %s to %s on %s: %w", nh, side.Short(), r.red.String(r.cfg.URL), r.red.Error(err))
	if ctx.Err() != nil || errors.Is(err, transport.ErrAuthenticationRequired) || errors.Is(err, transport.ErrAuthorizationFailed) {
		return pushErr
	}
	now, lerr := r.fetchSideHead(ctx, side)
	switch {
	case lerr != nil:
		return pushErr
	case now == nh:
		return nil // went through; the error came after it
	case now != prev:
		return fmt.Errorf("%w: %s is at %s on the remote, the commit was made on %s; nothing was pushed (%w)",
			ErrBranchMoved, side.Short(), now, prev, pushErr)
	}
	return pushErr
}

func (r *Repo) fetchSideHead(ctx context.Context, side plumbing.ReferenceName) (plumbing.Hash, error) {
	lctx, cancel := context.WithTimeout(ctx, defaultListTimeout)
	defer cancel()
	refs, err := r.remote.ListContext(lctx, &git.ListOptions{Auth: r.auth})
	if err != nil {
		return plumbing.ZeroHash, err
	}
	for _, ref := range refs {
		if ref.Name() == side {
			return ref.Hash(), nil
		}
	}
	return plumbing.ZeroHash, nil
}

func (r *Repo) writeBlob(b []byte) (plumbing.Hash, error) {
	obj := r.w.NewEncodedObject()
	obj.SetType(plumbing.BlobObject)
	obj.SetSize(int64(len(b)))
	w, err := obj.Writer()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if _, err := w.Write(b); err != nil {
		return plumbing.ZeroHash, err
	}
	if err := w.Close(); err != nil {
		return plumbing.ZeroHash, err
	}
	return r.w.SetEncodedObject(obj)
}

// replaceFile returns the hash of tree with the regular file at segs
// pointing at blob. The file must exist (its mode is kept).
func (r *Repo) replaceFile(tree plumbing.Hash, segs []string, blob plumbing.Hash) (plumbing.Hash, error) {
	t, err := object.GetTree(r.w, tree)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("read tree %s: %w", tree, err)
	}
	entries := slices.Clone(t.Entries)
	i := slices.IndexFunc(entries, func(e object.TreeEntry) bool { return e.Name == segs[0] })
	if i < 0 {
		return plumbing.ZeroHash, fs.ErrNotExist
	}
	e := &entries[i]
	switch {
	case len(segs) == 1 && (e.Mode == filemode.Regular || e.Mode == filemode.Executable):
		e.Hash = blob
	case len(segs) > 1 && e.Mode == filemode.Dir:
		if e.Hash, err = r.replaceFile(e.Hash, segs[1:], blob); err != nil {
			return plumbing.ZeroHash, err
		}
	default:
		return plumbing.ZeroHash, fmt.Errorf("not a regular file in the tree: %w", fs.ErrInvalid)
	}
	nt := &object.Tree{Entries: entries}
	obj := r.w.NewEncodedObject()
	if err := nt.Encode(obj); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("encode tree: %w", err)
	}
	return r.w.SetEncodedObject(obj)
}

// FetchRevision is Revision, fetching the tracked branch first when rev is
// not among the commits fetched yet (a replica that does not reconcile the
// repo may not have it). Like Revert, it does not report what it fetched
// as polled: the next Poll still returns a new head with changed=true.
func (r *Repo) FetchRevision(ctx context.Context, rev string) (*Revision, error) {
	got, err := r.Revision(ctx, rev)
	if !errors.Is(err, ErrUnknownRevision) {
		return got, err
	}
	r.pollMu.Lock()
	_, err = r.sync(ctx)
	r.pollMu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("sources: fetch %s: %w", r.cfg.Name, err)
	}
	return r.Revision(ctx, rev)
}
