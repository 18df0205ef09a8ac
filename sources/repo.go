package sources

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"github.com/go-git/go-git/v5/storage/filesystem"

	"github.com/driftless/driftless/internal/redact"
)

// Default timeouts, used only when the caller's context has no deadline.
const (
	defaultListTimeout  = 30 * time.Second
	defaultFetchTimeout = 10 * time.Minute
)

// Auth holds a repository's credentials.
type Auth struct {
	Token          string // https: sent as the basic-auth password
	Username       string // https username with Token; default "x-access-token"
	SSHKeyFile     string // ssh private key (unencrypted)
	KnownHostsFile string // ssh known_hosts; required with ssh URLs
}

// Config describes one watched repository.
type Config struct {
	Name   string // repo name from the controller config
	URL    string // https://, ssh://, scp-like git@host:path, file:// or a local path
	Branch string // default "main"
	Auth   Auth
	Dir    string // where the bare clone lives (created if missing)

	// Redactor masks secrets in errors; Open adds Auth.Token and the URL's
	// password to it. Nil: Open makes one for this repository alone.
	Redactor *redact.Redactor
}

// Stats counts a Repo's remote traffic since Open.
type Stats struct {
	Polls    int64 // Poll and Pull calls
	Lists    int64 // remote ref listings (one round trip each; a Pull's is its fetch's)
	Fetches  int64 // fetches (a Pull is one, whether or not anything moved)
	Failures int64 // Polls that returned an error
}

// Repo is a watched repository backed by a bare clone on disk. Poll is
// serialised; every other method may be called concurrently with it and
// with each other.
type Repo struct {
	cfg    Config
	log    *slog.Logger
	auth   transport.AuthMethod
	red    *redact.Redactor
	ref    plumbing.ReferenceName
	remote *git.Remote
	w      *filesystem.Storage // writes (fetch, refs); used under pollMu
	lock   *dirLock            // this process's hold on the clone (see dirLock)

	pollMu sync.Mutex
	// packLimit is how many packs besides the largest trigger a merge
	// (maxSmallPacks; benchmarks change it).
	packLimit int
	unmerged  int // packs fetched since the last merge looked (under pollMu; see mergeIdle)

	mu   sync.Mutex
	head string
	objs *objStore // read handle for Revisions; replaced after a fetch

	polls, lists, fetches, failures atomic.Int64
}

// Open opens the bare repository in cfg.Dir, creating it when missing. It
// does not contact the remote; ssh credentials are read here.
func Open(ctx context.Context, cfg Config, log *slog.Logger) (*Repo, error) {
	if cfg.Branch == "" {
		cfg.Branch = "main"
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	red := cfg.Redactor
	if red == nil {
		red = redact.New()
	}
	red.Add(cfg.Auth.Token)
	if cfg.Name == "" || cfg.URL == "" || cfg.Dir == "" {
		return nil, errors.New("sources: repo config needs a name, a URL and a directory")
	}
	if !plumbing.NewBranchReferenceName(cfg.Branch).IsBranch() || strings.ContainsAny(cfg.Branch, " ~^:?*[\\") {
		return nil, fmt.Errorf("sources: repo %s: invalid branch name %q", cfg.Name, cfg.Branch)
	}
	ep, err := transport.NewEndpoint(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("sources: repo %s: bad URL %s: %w", cfg.Name, red.String(cfg.URL), red.Error(err))
	}
	red.Add(ep.Password)
	url := cfg.URL
	if ep.Protocol == "file" && !strings.HasPrefix(url, "file://") {
		abs, err := filepath.Abs(url)
		if err != nil {
			return nil, fmt.Errorf("sources: repo %s: %w", cfg.Name, err)
		}
		url = abs
	}
	auth, err := authFor(ep, cfg.Auth)
	if err != nil {
		return nil, fmt.Errorf("sources: repo %s: %w", cfg.Name, red.Error(err))
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("sources: repo %s: %w", cfg.Name, err)
	}
	if _, err := git.PlainOpen(cfg.Dir); errors.Is(err, git.ErrRepositoryNotExists) {
		if _, err := git.PlainInit(cfg.Dir, true); err != nil {
			return nil, fmt.Errorf("sources: repo %s: init %s: %w", cfg.Name, cfg.Dir, err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("sources: repo %s: open %s: %w", cfg.Name, cfg.Dir, err)
	}
	lock, err := openDirLock(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("sources: repo %s: %w", cfg.Name, err)
	}
	// What a crash during a fetch or a pack merge left behind, unless
	// another process has the clone open (its fetch may be writing them).
	var cleanErr error
	if _, err := lock.alone(func() { cleanErr = cleanPackDir(filepath.Join(cfg.Dir, "objects", "pack")) }); err != nil || cleanErr != nil {
		return nil, fmt.Errorf("sources: repo %s: %w", cfg.Name, errors.Join(err, cleanErr))
	}
	r := &Repo{
		cfg:       cfg,
		log:       log.With("repo", cfg.Name),
		auth:      auth,
		red:       red,
		ref:       plumbing.NewBranchReferenceName(cfg.Branch),
		packLimit: maxSmallPacks,
		unmerged:  1, // packs a previous run left: the first idle poll looks
		objs:      newObjStore(cfg.Dir, nil, nil),
	}
	r.objs.newest = r.store
	holdDirLock(r, lock)
	// The writing store reads pack indexes from the same cache: it loads
	// them all again after a pack merge.
	r.w = filesystem.NewStorage(idxFS{Filesystem: osfs.New(cfg.Dir), cache: r.objs.idx}, cache.NewObjectLRUDefault())
	// HEAD names the tracked branch, so `git log` in Dir shows it.
	if err := r.w.SetReference(plumbing.NewSymbolicReference(plumbing.HEAD, r.ref)); err != nil {
		return nil, fmt.Errorf("sources: repo %s: %w", cfg.Name, err)
	}
	r.remote = git.NewRemote(r.w, &config.RemoteConfig{Name: "origin", URLs: []string{url}})
	return r, nil
}

// authFor picks the transport credentials for an endpoint.
func authFor(ep *transport.Endpoint, a Auth) (transport.AuthMethod, error) {
	switch ep.Protocol {
	case "http", "https":
		if a.Token == "" {
			return nil, nil
		}
		user := a.Username
		if user == "" {
			user = "x-access-token"
		}
		return &http.BasicAuth{Username: user, Password: a.Token}, nil
	case "ssh":
		if a.SSHKeyFile == "" || a.KnownHostsFile == "" {
			return nil, errors.New("ssh URLs need ssh_key_file and known_hosts_file")
		}
		user := ep.User
		if user == "" {
			user = "git"
		}
		keys, err := ssh.NewPublicKeysFromFile(user, a.SSHKeyFile, "")
		if err != nil {
			return nil, fmt.Errorf("ssh key %s: %w", a.SSHKeyFile, err)
		}
		cb, err := ssh.NewKnownHostsCallback(a.KnownHostsFile)
		if err != nil {
			return nil, fmt.Errorf("known hosts %s: %w", a.KnownHostsFile, err)
		}
		keys.HostKeyCallback = cb
		return keys, nil
	}
	return nil, nil // file:// and local paths
}

// Head is the SHA seen by the last successful Poll, "" before the first.
func (r *Repo) Head() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.head
}

// Stats returns the counters.
func (r *Repo) Stats() Stats {
	return Stats{
		Polls:    r.polls.Load(),
		Lists:    r.lists.Load(),
		Fetches:  r.fetches.Load(),
		Failures: r.failures.Load(),
	}
}

func (r *Repo) store() *objStore {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.objs
}

// Poll checks the remote branch with one ref listing. When the branch did
// not move since the last Poll it returns the current Revision and
// changed=false without fetching. When it moved (or on the first Poll since
// Open) it fetches it if its commit is not stored yet, with full history so
// older commits stay available, and returns the new Revision with
// changed=true. Force-pushes are followed. A branch missing on the remote is
// ErrBranchNotFound. Error texts never contain the credentials.
func (r *Repo) Poll(ctx context.Context) (rev *Revision, changed bool, err error) {
	r.pollMu.Lock()
	defer r.pollMu.Unlock()
	r.polls.Add(1)
	rev, changed, err = r.poll(ctx, r.sync)
	if err != nil {
		r.failures.Add(1)
		return nil, false, fmt.Errorf("sources: poll %s: %w", r.cfg.Name, err)
	}
	return rev, changed, nil
}

// Pull is Poll for when the branch most likely moved (a push was just
// announced): the ref listing and the fetch are one session, one round trip
// fewer than Poll's listing then fetch. When the branch did not move it
// costs what Poll does: one ref listing, nothing transferred. Its results
// and errors are Poll's.
func (r *Repo) Pull(ctx context.Context) (rev *Revision, changed bool, err error) {
	r.pollMu.Lock()
	defer r.pollMu.Unlock()
	r.polls.Add(1)
	rev, changed, err = r.poll(ctx, r.pull)
	if err != nil {
		r.failures.Add(1)
		return nil, false, fmt.Errorf("sources: poll %s: %w", r.cfg.Name, err)
	}
	return rev, changed, nil
}

func (r *Repo) poll(ctx context.Context, sync func(context.Context) (plumbing.Hash, error)) (*Revision, bool, error) {
	remoteHash, err := sync(ctx)
	if err != nil {
		return nil, false, err
	}
	rev, err := r.revision(r.store(), remoteHash)
	if err != nil {
		return nil, false, err
	}
	r.mu.Lock()
	changed := r.head != rev.SHA
	r.head = rev.SHA
	r.objs.head = rev.SHA
	r.mu.Unlock()
	if changed {
		r.log.Info("new revision", "branch", r.cfg.Branch, "revision", rev.SHA, "pr", rev.PR)
	} else {
		r.log.Debug("revision unchanged", "branch", r.cfg.Branch, "revision", rev.SHA)
	}
	return rev, changed, nil
}

// sync makes the local branch ref and object store match the remote branch
// (one ref listing; a fetch only when its commit is not stored yet) and
// returns the branch's commit. It leaves r.head alone: only Poll reports
// revisions. r.pollMu must be held.
func (r *Repo) sync(ctx context.Context) (plumbing.Hash, error) {
	remoteHash, err := r.listBranch(ctx)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	local, err := r.w.Reference(r.ref)
	if err != nil && !errors.Is(err, plumbing.ErrReferenceNotFound) {
		return plumbing.ZeroHash, fmt.Errorf("read local %s: %w", r.ref, err)
	}
	if local != nil && local.Hash() == remoteHash && r.hasCommit(remoteHash) {
		r.mergeIdle()
		return remoteHash, nil
	}
	if r.hasCommit(remoteHash) {
		// A commit fetched earlier (a force-push back, say): move the ref,
		// no transfer needed.
		if err := r.w.SetReference(plumbing.NewHashReference(r.ref, remoteHash)); err != nil {
			return plumbing.ZeroHash, fmt.Errorf("update %s: %w", r.ref, err)
		}
		return remoteHash, nil
	}
	if _, err := r.fetch(ctx); err != nil {
		return plumbing.ZeroHash, err
	}
	return r.fetched(true)
}

// pull is sync in one session: a fetch of the branch, which lists the
// remote's refs and transfers only what is missing. r.pollMu must be held.
func (r *Repo) pull(ctx context.Context) (plumbing.Hash, error) {
	r.lists.Add(1) // the fetch's own ref listing
	transferred, err := r.fetch(ctx)
	if errors.Is(err, transport.ErrEmptyRemoteRepository) {
		return plumbing.ZeroHash, fmt.Errorf("%w: %q (the remote repository is empty)", ErrBranchNotFound, r.cfg.Branch)
	}
	if errors.Is(err, git.NoMatchingRefSpecError{}) {
		return plumbing.ZeroHash, fmt.Errorf("%w: %q on %s", ErrBranchNotFound, r.cfg.Branch, r.red.String(r.cfg.URL))
	}
	if err != nil {
		return plumbing.ZeroHash, err
	}
	return r.fetched(transferred)
}

// fetched returns the local branch's commit after a fetch; when objects
// were transferred, readers see the new pack from now on ("the branch"
// stays the last Poll's head). r.pollMu must be held.
func (r *Repo) fetched(transferred bool) (plumbing.Hash, error) {
	if transferred {
		r.refreshStore()
	} else {
		r.mergeIdle()
	}
	ref, err := r.w.Reference(r.ref)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("read local %s after fetch: %w", r.ref, err)
	}
	return ref.Hash(), nil // the branch may have moved again meanwhile
}

// listBranch lists the remote's refs (one round trip) and returns the
// tracked branch's hash.
func (r *Repo) listBranch(ctx context.Context) (plumbing.Hash, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultListTimeout)
		defer cancel()
	}
	r.lists.Add(1)
	refs, err := r.remote.ListContext(ctx, &git.ListOptions{Auth: r.auth})
	if errors.Is(err, transport.ErrEmptyRemoteRepository) {
		return plumbing.ZeroHash, fmt.Errorf("%w: %q (the remote repository is empty)", ErrBranchNotFound, r.cfg.Branch)
	}
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("list refs of %s: %w", r.red.String(r.cfg.URL), r.red.Error(err))
	}
	for _, ref := range refs {
		if ref.Name() == r.ref && ref.Type() == plumbing.HashReference {
			return ref.Hash(), nil
		}
	}
	return plumbing.ZeroHash, fmt.Errorf("%w: %q on %s", ErrBranchNotFound, r.cfg.Branch, r.red.String(r.cfg.URL))
}

// fetch fetches the branch (force) and reports whether objects were
// transferred (false: already up to date). Errors wrap go-git's, which
// callers decide on with errors.Is.
func (r *Repo) fetch(ctx context.Context) (transferred bool, err error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultFetchTimeout)
		defer cancel()
	}
	r.fetches.Add(1)
	spec := config.RefSpec("+" + r.ref.String() + ":" + r.ref.String())
	err = r.remote.FetchContext(ctx, &git.FetchOptions{
		RemoteName: "origin",
		RefSpecs:   []config.RefSpec{spec},
		Auth:       r.auth,
		Tags:       git.NoTags,
		Force:      true,
	})
	if errors.Is(err, git.NoErrAlreadyUpToDate) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("fetch %s from %s: %w", r.cfg.Branch, r.red.String(r.cfg.URL), r.red.Error(err))
	}
	return true, nil
}

// hasCommit reports whether the write store holds commit h.
func (r *Repo) hasCommit(h plumbing.Hash) bool {
	return r.w.HasEncodedObject(h) == nil
}
