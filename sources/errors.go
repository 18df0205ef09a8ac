package sources

import "errors"

// ErrUnknownRevision is returned when a revision (SHA, short SHA or branch)
// is not among the commits already fetched, or a short SHA is ambiguous.
var ErrUnknownRevision = errors.New("unknown revision")

// ErrBranchNotFound is returned by Poll when the remote has no such branch
// (or no refs at all). Retrying will not help until someone pushes it.
var ErrBranchNotFound = errors.New("branch not found on remote")
