package reconciler

import (
	"context"
	"fmt"
	"os"
	"os/user"
	"slices"
	"time"

	"github.com/driftless/driftless/appliers"
	"github.com/driftless/driftless/notify"
)

// lockOwner is user@host of this process, as Terraform records the holder
// of a state lock it takes.
func lockOwner() string {
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	host, _ := os.Hostname()
	return name + "@" + host
}

// breakOrphanLock releases the state lock of a plan that failed on it,
// when the lock is an orphan of this app's own interrupted deploy: taken by
// a driftless process (the same user@host) while that deploy ran, and that
// process is gone (its replica presence expired). A lock anyone else holds
// — a person's terraform apply, another tool, a live replica — is never
// broken. It reports whether the lock was released.
func (r *appRun) breakOrphanLock(ctx context.Context, err error) bool {
	lock, held := appliers.HeldLock(err)
	if !held || lock.ID == "" {
		return false
	}
	dep := r.rec.st.LastDeploy
	if dep == nil || dep.Outcome != "interrupted" || dep.Who == "" || lock.Who != dep.Who ||
		lock.Created.Before(dep.StartedAt.Add(-time.Minute)) || lock.Created.After(dep.FinishedAt) {
		r.log.Warn("the state is locked by someone else; waiting for them", "lock_id", lock.ID, "lock_who", lock.Who,
			"lock_created", lock.Created, "lock_operation", lock.Operation)
		return false
	}
	if dep.Holder == r.c.holder || r.c.alive(ctx, dep.Holder) {
		return false
	}
	lb, ok := r.c.opt.Loader.Applier(r.app.Kind).(appliers.LockBreaker)
	if !ok {
		return false
	}
	if err := lb.ForceUnlock(ctx, r.req, lock.ID); err != nil {
		r.log.Error("force-unlocking an orphaned state lock", "lock_id", lock.ID, "error", r.c.opt.Scrub(err.Error()))
		return false
	}
	r.log.Warn("force-unlocked the state lock left by an interrupted deploy", "lock_id", lock.ID, "lock_who", lock.Who,
		"lock_created", lock.Created, "interrupted_deploy", dep.ID, "interrupted_holder", dep.Holder)
	d := r.data(r.req.DeployID)
	d.Summary = fmt.Sprintf("state lock %s, taken by %s at %s during deploy %s of replica %q (gone), force-unlocked",
		lock.ID, lock.Who, lock.Created.UTC().Format(time.RFC3339), dep.ID, dep.Replica)
	d.Extra = map[string]string{"lock_id": lock.ID, "lock_who": lock.Who, "lock_created": lock.Created.UTC().Format(time.RFC3339),
		"lock_operation": lock.Operation, "interrupted_deploy_id": dep.ID, "interrupted_holder": dep.Holder}
	r.rec.emit(ctx, notify.CatLock, notify.ActForceUnlocked, d)
	return true
}

// alive reports whether the process holder still has its replica presence
// lease. Without leases (a single process), no other process is alive.
func (c *Controller) alive(ctx context.Context, holder string) bool {
	kl, ok := c.opt.Leases.(keyLister)
	if !ok || holder == "" {
		return false
	}
	key := replicaLeaseKey(holder)
	keys, err := kl.Keys(ctx, key)
	return err != nil || slices.Contains(keys, key) // unsure: treat as alive
}
