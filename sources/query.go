package sources

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// revision builds the Revision of commit h from store o.
func (r *Repo) revision(o *objStore, h plumbing.Hash) (*Revision, error) {
	c, err := o.commit(h)
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		return nil, fmt.Errorf("%w: %s", ErrUnknownRevision, h)
	}
	if err != nil {
		return nil, fmt.Errorf("read commit %s: %w", h, err)
	}
	return &Revision{
		Repo:        r.cfg.Name,
		Branch:      r.cfg.Branch,
		SHA:         c.Hash.String(),
		Author:      c.Author.Name,
		AuthorEmail: c.Author.Email,
		Time:        c.Author.When,
		Message:     c.Message,
		PR:          ParsePR(c.Message),
		Reverts:     RevertedCommits(c.Message),
		Tree:        newGitTreeFS(o, c.TreeHash, c.Author.When),
	}, nil
}

// Revision returns a commit already fetched, named by its full SHA, a unique
// SHA prefix of at least 4 hex digits, or a branch name (the tracked branch
// as last fetched). Anything else is ErrUnknownRevision.
func (r *Repo) Revision(ctx context.Context, rev string) (*Revision, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	o := r.store()
	h, err := r.resolve(o, rev)
	if err != nil {
		return nil, err
	}
	return r.revision(o, h)
}

func isHex(s string) bool {
	for _, c := range s {
		if !strings.ContainsRune("0123456789abcdef", c) {
			return false
		}
	}
	return true
}

// resolve turns a revision string into a commit hash known to o.
func (r *Repo) resolve(o *objStore, rev string) (plumbing.Hash, error) {
	lrev := strings.ToLower(rev)
	if len(lrev) == 40 && isHex(lrev) {
		h := plumbing.NewHash(lrev)
		if !o.isCommit(h) {
			return plumbing.ZeroHash, fmt.Errorf("%w: %s", ErrUnknownRevision, rev)
		}
		return h, nil
	}
	if rev == r.cfg.Branch {
		// The in-memory head: Poll may be rewriting the ref file right now.
		r.mu.Lock()
		head := o.head
		r.mu.Unlock()
		if head != "" {
			return plumbing.NewHash(head), nil
		}
	}
	if rev != "" && !strings.HasPrefix(rev, "-") {
		if h, ok := o.branch(rev); ok {
			return h, nil
		}
	}
	if len(lrev) < 4 || len(lrev) > 40 || !isHex(lrev) {
		return plumbing.ZeroHash, fmt.Errorf("%w: %q", ErrUnknownRevision, rev)
	}
	matches, err := o.commitsWithPrefix(lrev)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("resolve %q: %w", rev, err)
	}
	switch len(matches) {
	case 0:
		return plumbing.ZeroHash, fmt.Errorf("%w: %q", ErrUnknownRevision, rev)
	case 1:
		return matches[0], nil
	}
	return plumbing.ZeroHash, fmt.Errorf("%w: short SHA %q is ambiguous (%d commits)", ErrUnknownRevision, rev, len(matches))
}

// branch returns the stored head of a branch.
func (o *objStore) branch(name string) (plumbing.Hash, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	ref, err := o.s.Reference(plumbing.NewBranchReferenceName(name))
	if err != nil || ref.Type() != plumbing.HashReference {
		return plumbing.ZeroHash, false
	}
	return ref.Hash(), true
}

func (o *objStore) isCommit(h plumbing.Hash) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	_, err := o.s.EncodedObject(plumbing.CommitObject, h)
	return err == nil
}

// commitsWithPrefix returns the commits whose hex SHA starts with prefix.
func (o *objStore) commitsWithPrefix(prefix string) ([]plumbing.Hash, error) {
	b, err := hex.DecodeString(prefix[:len(prefix)/2*2])
	if err != nil {
		return nil, err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	hs, err := o.s.HashesWithPrefix(b)
	if err != nil {
		return nil, err
	}
	var out []plumbing.Hash
	for _, h := range hs {
		if !strings.HasPrefix(h.String(), prefix) {
			continue
		}
		if _, err := o.s.EncodedObject(plumbing.CommitObject, h); err == nil {
			out = append(out, h)
		}
	}
	return out, nil
}

// commitOf reads a commit that must be stored; missing is ErrUnknownRevision.
func (r *Repo) commitOf(o *objStore, rev string) (*object.Commit, error) {
	h, err := r.resolve(o, rev)
	if err != nil {
		return nil, err
	}
	c, err := o.commit(h)
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		return nil, fmt.Errorf("%w: %s", ErrUnknownRevision, rev)
	}
	if err != nil {
		return nil, fmt.Errorf("read commit %s: %w", rev, err)
	}
	return c, nil
}

// ChangedPaths returns the files that differ between the trees of commits
// from and to (added, modified, deleted; both the old and the new path of a
// rename), sorted. Revisions are resolved as by Revision.
func (r *Repo) ChangedPaths(ctx context.Context, from, to string) ([]string, error) {
	o := r.store()
	a, err := r.commitOf(o, from)
	if err != nil {
		return nil, err
	}
	b, err := r.commitOf(o, to)
	if err != nil {
		return nil, err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	key := [2]plumbing.Hash{a.TreeHash, b.TreeHash}
	if out, ok := o.diffs[key]; ok {
		return slices.Clone(out), nil
	}
	var out []string
	if err := o.diffTrees(ctx, "", a.TreeHash, b.TreeHash, &out); err != nil {
		return nil, fmt.Errorf("diff %s..%s: %w", from, to, err)
	}
	slices.Sort(out)
	out = slices.Compact(out)
	if len(o.diffs) >= maxCachedDiffs {
		clear(o.diffs)
	}
	o.diffs[key] = out
	return slices.Clone(out), nil
}

// diffTrees appends to out the paths of the files (blobs, symlinks,
// submodules) that differ between trees a and b under dir: added, removed,
// or with another content or mode. Subtrees with the same hash are skipped
// without being read, and trees are read through the decoded-tree cache, so
// a commit that touches one stack of a hundred reads a handful of trees.
// A zero hash is an absent tree. o.mu must be held.
func (o *objStore) diffTrees(ctx context.Context, dir string, a, b plumbing.Hash, out *[]string) error {
	if a == b {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	entries := func(h plumbing.Hash) ([]object.TreeEntry, error) {
		if h.IsZero() {
			return nil, nil
		}
		e, err := o.tree(h)
		if err != nil {
			return nil, fmt.Errorf("read tree %s: %w", h, err)
		}
		return e, nil
	}
	ea, err := entries(a)
	if err != nil {
		return err
	}
	eb, err := entries(b)
	if err != nil {
		return err
	}
	type pair struct{ a, b *object.TreeEntry }
	byName := make(map[string]*pair, max(len(ea), len(eb)))
	for i := range ea {
		byName[ea[i].Name] = &pair{a: &ea[i]}
	}
	for i := range eb {
		if p, ok := byName[eb[i].Name]; ok {
			p.b = &eb[i]
		} else {
			byName[eb[i].Name] = &pair{b: &eb[i]}
		}
	}
	for name, p := range byName {
		path := name
		if dir != "" {
			path = dir + "/" + name
		}
		if p.a != nil && p.b != nil && p.a.Hash == p.b.Hash && p.a.Mode == p.b.Mode {
			continue
		}
		// Each side is a subtree (walked) or a file (listed); a file
		// replaced by a directory is both.
		var subA, subB plumbing.Hash
		file := false
		for _, e := range []*object.TreeEntry{p.a, p.b} {
			switch {
			case e == nil:
			case e.Mode == filemode.Dir && e == p.a:
				subA = e.Hash
			case e.Mode == filemode.Dir:
				subB = e.Hash
			default:
				file = true
			}
		}
		if file {
			*out = append(*out, path)
		}
		if !subA.IsZero() || !subB.IsZero() {
			if err := o.diffTrees(ctx, path, subA, subB, out); err != nil {
				return err
			}
		}
	}
	return nil
}

// IsAncestor reports whether commit a is commit b or one of its ancestors.
func (r *Repo) IsAncestor(ctx context.Context, a, b string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	o := r.store()
	ca, err := r.commitOf(o, a)
	if err != nil {
		return false, err
	}
	cb, err := r.commitOf(o, b)
	if err != nil {
		return false, err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	ok, err := ca.IsAncestor(cb)
	if err != nil {
		return false, fmt.Errorf("walk history of %s: %w", b, err)
	}
	return ok, nil
}
