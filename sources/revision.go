package sources

import (
	"io/fs"
	"time"

	"github.com/driftless/driftless/appliers"
)

// ErrOutsideRepo is returned (wrapped in *fs.PathError) when a path leads out
// of the repository, for instance through a symbolic link.
var ErrOutsideRepo = appliers.ErrOutsideRepo

// Revision is one commit of a watched repository.
type Revision struct {
	Repo        string    `json:"repo"`
	Branch      string    `json:"branch"`
	SHA         string    `json:"sha"`
	Author      string    `json:"author"`       // author name
	AuthorEmail string    `json:"author_email"` // author e-mail
	Time        time.Time `json:"time"`         // author time
	Message     string    `json:"message"`      // full commit message
	PR          int       `json:"pr,omitempty"` // pull request number, 0 when none
	// Reverts lists the commits this one reverts, as named by its "This
	// reverts commit <sha>." lines (full or abbreviated SHAs, in message
	// order; see RevertedCommits). Non-empty marks a rollback.
	Reverts []string `json:"reverts,omitempty"`
	// Tree reads the repository at this commit. Paths are slash-separated
	// and relative to the repository root.
	Tree fs.FS `json:"-"`
}

// Short is the first 7 characters of the SHA.
func (r *Revision) Short() string { return ShortSHA(r.SHA) }

// ShortSHA abbreviates a commit SHA to its first 7 characters.
func ShortSHA(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}
