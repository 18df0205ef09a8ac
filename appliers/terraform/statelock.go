package terraform

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/driftless/driftless/appliers"
)

// LockHeldError is a Terraform command's failure to take the state lock,
// with the holder's lock info as Terraform printed it. classify wraps it in
// an appliers.TransientError; errors.As finds it. Fields Terraform did not
// print are empty (Created is zero when it could not be parsed).
type LockHeldError struct {
	Op        string    // the driftless operation that failed: "plan", "apply", …
	ID        string    // the lock ID, what ForceUnlock takes
	Path      string    // the locked state (file, or bucket/key for S3)
	Operation string    // the holder's operation, e.g. OperationTypeApply
	Who       string    // user@hostname of the holder
	Version   string    // the holder's Terraform version
	Created   time.Time // when the holder took the lock
	Info      string    // the lock's Info (Terraform sets none from the CLI)

	msg string // redacted diagnostic text
}

func (e *LockHeldError) Error() string {
	return fmt.Sprintf("terraform %s: state lock held: %s", e.Op, e.msg)
}

// StateLock reports the lock to the reconciler (appliers.LockReporter).
func (e *LockHeldError) StateLock() appliers.StateLock {
	return appliers.StateLock{ID: e.ID, Who: e.Who, Operation: e.Operation, Created: e.Created}
}

// Host returns the hostname part of Who ("" when Who has no "@").
func (e *LockHeldError) Host() string {
	if i := strings.LastIndex(e.Who, "@"); i >= 0 {
		return e.Who[i+1:]
	}
	return ""
}

// lockHeld parses Terraform's "Lock Info:" block out of a failed command's
// output (raw) into a LockHeldError; msg is the redacted diagnostic text.
func lockHeld(op, raw, msg string) *LockHeldError {
	e := &LockHeldError{Op: op, msg: msg}
	i := strings.Index(raw, "Lock Info:")
	if i < 0 {
		return e
	}
	for _, l := range strings.Split(raw[i+len("Lock Info:"):], "\n") {
		l = strings.TrimSpace(strings.TrimLeft(l, "│ \t"))
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			if l == "" {
				continue
			}
			break
		}
		v = strings.TrimSpace(v)
		switch k {
		case "ID":
			e.ID = v
		case "Path":
			e.Path = v
		case "Operation":
			e.Operation = v
		case "Who":
			e.Who = v
		case "Version":
			e.Version = v
		case "Created":
			e.Created = parseLockTime(v)
		case "Info":
			e.Info = v
			return e // the last field Terraform prints
		default:
			if e.ID != "" {
				return e
			}
		}
	}
	return e
}

// parseLockTime reads Terraform's Created: Go's time.Time.String format.
func parseLockTime(s string) time.Time {
	if i := strings.Index(s, " m=+"); i >= 0 { // monotonic clock reading
		s = s[:i]
	}
	for _, layout := range []string{"2006-01-02 15:04:05.999999999 -0700 MST", time.RFC3339Nano} {
		if t, err := time.Parse(layout, s); err == nil {
			return t
		}
	}
	return time.Time{}
}

// ForceUnlock runs `terraform force-unlock -force lockID` in the stack's
// work dir (synced and initialised as for a plan). It removes the lock
// whoever holds it: call it only for a lock known to be orphaned, such as
// one taken by a driftless process that is gone (see LockOwner). Errors are
// classified like those of other commands.
func (a *Applier) ForceUnlock(ctx context.Context, req appliers.Request, lockID string) error {
	if strings.TrimSpace(lockID) == "" {
		return appliers.Stalled(errors.New("terraform force-unlock: no lock ID"))
	}
	st, spec, unlock, err := a.lockStack(req)
	if err != nil {
		return err
	}
	defer unlock()
	log := a.logger(req)
	tf, err := a.prepare(ctx, st, req, spec, log)
	if err != nil {
		return err
	}
	if err := tf.ForceUnlock(ctx, lockID); err != nil {
		return classify("force-unlock", err, a.red)
	}
	log.Warn("terraform state lock force-unlocked", "lock_id", lockID)
	return nil
}

// Terraform gives a caller no way to put its own data into a state lock:
// the CLI has no flag for the lock's Info, and Who is always user@hostname
// of the process (os/user and os.Hostname). So driftless records, in the
// stack's work dir and before each command that takes the state lock (plan
// and apply; drift scans take none), which deploy runs it and in which
// process: LockOwner. A lock whose Who names this host and whose Created is
// at or after the recorded Started was taken by that command; if the
// recorded PID is no longer driftless's (the process died, e.g. kill -9),
// the lock is an orphan of driftless's and the reconciler may ForceUnlock it.

// lockOwnerFile is the record in the stack's work dir.
const lockOwnerFile = "lock-owner.json"

// LockOwner is what driftless records before a command that takes the state
// lock of a stack.
type LockOwner struct {
	DeployID string    `json:"deploy_id"`
	Revision string    `json:"revision"`
	Op       string    `json:"op"`   // "plan" or "apply"
	PID      int       `json:"pid"`  // the driftless process running Terraform
	Host     string    `json:"host"` // os.Hostname(), as in the lock's Who
	Started  time.Time `json:"started"`
}

// recordLockOwner writes the LockOwner record before a locking command; a
// failure is logged, not fatal (the record only helps to recognise
// orphaned locks).
func (a *Applier) recordLockOwner(st *stack, req appliers.Request, op string) {
	host, _ := os.Hostname()
	b, _ := json.Marshal(LockOwner{DeployID: req.DeployID, Revision: req.Revision, Op: op, PID: os.Getpid(), Host: host, Started: time.Now().UTC()})
	if err := writeFileAtomic(filepath.Join(st.root, lockOwnerFile), b, privateFile); err != nil {
		a.log.Warn("recording the state lock owner", "err", err)
	}
}

// LockOwner returns the last LockOwner recorded for a stack, nil when none
// was.
func (a *Applier) LockOwner(repo, app string) (*LockOwner, error) {
	root, err := a.WorkDirOf(repo, app)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(root, lockOwnerFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var o LockOwner
	if err := json.Unmarshal(b, &o); err != nil {
		return nil, fmt.Errorf("reading %s: %w", lockOwnerFile, err)
	}
	return &o, nil
}

// The reconciler finds held locks and breaks orphaned ones through these.
var (
	_ appliers.LockReporter = (*LockHeldError)(nil)
	_ appliers.LockBreaker  = (*Applier)(nil)
)
