//go:build !unix

package sources

// dirLock, where flock is missing, does not know of other processes:
// alone always runs fn (a clone shared by two processes is unsupported).
type dirLock struct{}

func openDirLock(string) (*dirLock, error) { return &dirLock{}, nil }

func (l *dirLock) alone(fn func()) (bool, error) { fn(); return true, nil }

func holdDirLock(r *Repo, l *dirLock) { r.lock = l }
