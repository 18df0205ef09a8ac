package preview

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/driftless/driftless/forge"
	"github.com/driftless/driftless/manifest"
	"github.com/driftless/driftless/sources"
)

// blockingSource is a Source whose FetchRef blocks until released or
// cancelled: a unit test of the runner's scheduling, not of Git.
type blockingSource struct {
	mu      sync.Mutex
	calls   int
	started chan int // the call number, when FetchRef starts
	release chan struct{}
}

func (s *blockingSource) Revision(context.Context, string) (*sources.Revision, error) {
	return &sources.Revision{SHA: "base"}, nil
}

func (s *blockingSource) FetchRef(ctx context.Context, _ string) (*sources.Revision, error) {
	s.mu.Lock()
	s.calls++
	n := s.calls
	s.mu.Unlock()
	s.started <- n
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-s.release:
		return nil, errors.New("no such head")
	}
}

func (s *blockingSource) ChangedPaths(context.Context, string, string) ([]string, error) {
	return nil, nil
}

func TestRunnerCancelsOlderHead(t *testing.T) {
	src := &blockingSource{started: make(chan int, 4), release: make(chan struct{})}
	f := newFakeForge()
	r, err := New(Options{Planner: &Planner{Loader: manifest.New(), WorkDir: t.TempDir()}, Forge: f,
		Repos: []RepoOptions{{Repo: Repo{Name: "infra", Branch: "main", Source: src}, Forge: forge.Repo{Owner: "acme", Name: "infra"}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	req := Request{Repo: "infra", Number: 3, Action: "opened", HeadSHA: "sha1", BaseRef: "main"}
	for _, bad := range []Request{{Repo: "other", Number: 3, Action: "opened", BaseRef: "main"}, {Repo: "infra", Number: 3, Action: "opened", BaseRef: "dev"}} {
		if r.Handle(bad) {
			t.Errorf("Handle(%+v) = true", bad)
		}
	}
	if !r.Handle(req) {
		t.Fatal("Handle refused")
	}
	<-src.started
	req.Action, req.HeadSHA = "synchronize", "sha2"
	r.Handle(req)
	<-src.started // the second starts only once the first is cancelled
	close(src.release)
	st := f.waitFinal(t, "sha2", 10*time.Second)
	if st.State != forge.StatusFailure {
		t.Errorf("sha2 final status %+v", st)
	}
	if got := f.states("sha1"); len(got) != 1 || got[0] != forge.StatusPending {
		t.Errorf("sha1 statuses %v: want only pending (cancelled)", got)
	}
	mustContain(t, f.comment(t, 3), "The preview failed", "no such head")
	if n := f.upsertCount(); n != 1 {
		t.Errorf("%d upserts, want 1", n)
	}

	// closed cancels a preview in flight: nothing more is posted.
	src.release = make(chan struct{})
	req.Action, req.HeadSHA = "synchronize", "sha3"
	r.Handle(req)
	<-src.started
	req.Action = "closed"
	r.Handle(req)
	r.Close()
	if got := f.states("sha3"); len(got) != 1 {
		t.Errorf("sha3 statuses %v: want only pending", got)
	}
	if n := f.upsertCount(); n != 1 {
		t.Errorf("%d upserts after closed, want 1", n)
	}
}

func (s *blockingSource) MergeBase(context.Context, string, string) (string, error) {
	return "base", nil
}
