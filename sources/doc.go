// Package sources turns a watched Git repository into Revisions.
//
// A Repo keeps a bare clone under the controller's state directory. Poll
// first lists the remote's refs (one round trip); only when the tracked
// branch moved does it fetch. A Revision carries the commit's metadata (SHA,
// author, time, message, the pull-request number parsed from merge and
// squash messages) and a read-only view of the tree at that commit, as an
// fs.FS rooted at the repository root that follows symbolic links inside the
// repository and refuses ones that lead out (ErrOutsideRepo).
//
// Errors: a branch missing on the remote is ErrBranchNotFound; a revision
// not among the fetched commits is ErrUnknownRevision. Error texts never
// carry credentials (tokens and URL userinfo are redacted). A Repo and its
// Revisions' Trees are safe for concurrent use: Trees read go-git's object
// store through a mutex-guarded handle of their own, so a fetch never
// disturbs a plan reading an older Revision.
//
// Storage: every fetch that transfers objects adds a pack to the bare
// clone. Past 16 packs besides the largest (the initial clone), the next
// poll that finds the branch unchanged merges the small ones into one
// (their objects copied as listed in their indexes, no history walk): a
// merge rewrites those objects, which a commit just fetched should not
// wait for, so a fetch merges itself only past 64. The merged pack is
// written and synced before the merged packs are deleted; packs kept grow
// geometrically, so an object is rewritten a few times in all. An older
// Revision whose packs were merged away reads from the newest store
// instead. A failed merge is logged and changes nothing; Open removes what
// an interrupted one left. Merging and that clean-up delete files, so they
// wait until no other process has the clone open (driftless.lock in it: a
// shared flock per Repo).
//
// Revert (`driftless rollback --revert`) writes one commit on top of the
// remote branch head whose tree is an earlier commit's tree, with a "This
// reverts commit <sha>." line per undone commit, and pushes it without
// force (ErrNotAncestor, ErrNothingToRevert, ErrHeadMoved). Every Revision
// carries the commits its message reverts (Reverts, from RevertedCommits),
// so revert commits — ours or made by hand — are recognised as rollbacks.
//
// LocalTree gives the same view of a directory on disk, for `driftless
// validate`. VerifyGitHubSignature checks push webhooks.
package sources
