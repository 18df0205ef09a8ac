package preview

import (
	"os"
	"path/filepath"
	"strconv"
	"sync"
)

// slots hands out the work directories of previews: per repo and app, a
// few directories that are reused (so the applier keeps its Terraform
// handle for them), each held by one preview at a time and wiped before
// and after every use, so that no preview sees what another left.
type slots struct {
	mu   sync.Mutex
	free map[string][]string
	n    map[string]int
}

// take returns an empty directory path for repo/app, held until give.
func (s *slots) take(root, repo, app string) (string, error) {
	root, err := filepath.Abs(root)
	if err != nil {
		return "", err
	}
	key := repo + "/" + app
	s.mu.Lock()
	if s.free == nil {
		s.free, s.n = map[string][]string{}, map[string]int{}
	}
	var dir string
	if f := s.free[key]; len(f) > 0 {
		dir, s.free[key] = f[len(f)-1], f[:len(f)-1]
	} else {
		s.n[key]++
		dir = filepath.Join(root, repo, app, strconv.Itoa(s.n[key]))
	}
	s.mu.Unlock()
	if err := os.RemoveAll(dir); err != nil {
		return "", err
	}
	return dir, os.MkdirAll(filepath.Dir(dir), 0o711)
}

// give wipes dir and makes it available again.
func (s *slots) give(repo, app, dir string) {
	_ = os.RemoveAll(dir)
	s.mu.Lock()
	defer s.mu.Unlock()
	key := repo + "/" + app
	s.free[key] = append(s.free[key], dir)
}
