package terraform

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/driftless/driftless/appliers"
)

// Drift scans and deploys of one stack share its work directory (src/,
// .terraform, local state) and its in-process mutex. A deploy always wins:
//
//   - A drift scan starts only when the stack is idle: when a Plan, Apply,
//     Outputs or ForceUnlock runs or waits, Drift returns at once with a
//     Transient ErrDeployRunning instead of queueing behind it (a scan while
//     the state is being changed would report the apply's own changes as
//     drift anyway).
//   - A deploy arriving while a scan runs cancels the scan (Terraform gets
//     SIGINT; a `plan -lock=false` stops within a second or two) and takes
//     the stack; the scan returns a Transient ErrDriftYielded.
//
// A separate work dir copy for scans was not chosen: with the local backend
// the state lives in the work dir and a copy would read it while an apply
// rewrites it in place, and every copy would need its own init.
//
// Terraform's own state lock is not taken by a scan at all (`plan
// -lock=false`, a plan writes no state), so a scan neither waits for nor
// blocks a deploy running in another process or on another replica.

// ErrDeployRunning is wrapped by Drift's error when a deploy of the stack is
// running or waiting: the scan was not started.
var ErrDeployRunning = errors.New("a deploy of the stack is running; drift scan skipped")

// ErrDriftYielded is wrapped by Drift's error when a deploy of the stack
// arrived during the scan and the scan gave way to it.
var ErrDriftYielded = errors.New("drift scan gave way to a deploy of the stack")

// driftBusyRetry is the retry hint of a skipped or yielded drift scan.
const driftBusyRetry = 30 * time.Second

// lockForDeploy takes st.mu for a deploy, first cancelling a drift scan
// that holds it.
func (a *Applier) lockForDeploy(st *stack) {
	a.mu.Lock()
	st.waiting++
	if st.driftCancel != nil {
		st.driftCancel(ErrDriftYielded)
	}
	a.mu.Unlock()
	st.mu.Lock()
	a.mu.Lock()
	st.waiting--
	a.mu.Unlock()
}

// lockStackForDrift is lockStack for a drift scan: it never waits. The
// returned context is cancelled with ErrDriftYielded when a deploy comes.
func (a *Applier) lockStackForDrift(ctx context.Context, req appliers.Request) (context.Context, *stack, *Spec, func(), error) {
	if a.binary == "" {
		return nil, nil, nil, nil, errDecodeOnly
	}
	spec, err := specOf(req)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	st, tfDir, err := a.stackFor(req, spec)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	a.mu.Lock()
	if st.waiting > 0 || !st.mu.TryLock() {
		a.mu.Unlock()
		return nil, nil, nil, nil, appliers.Transient(fmt.Errorf("terraform drift: %w", ErrDeployRunning), driftBusyRetry)
	}
	dctx, cancel := context.WithCancelCause(ctx)
	st.driftCancel = cancel
	a.mu.Unlock()
	st.setDir(tfDir)
	unlock := func() {
		a.park(st)
		a.mu.Lock()
		st.driftCancel = nil
		a.mu.Unlock()
		cancel(nil)
		st.mu.Unlock()
	}
	if err := a.openStack(st); err != nil {
		unlock()
		return nil, nil, nil, nil, err
	}
	return dctx, st, spec, unlock, nil
}

// yielded turns the error of a scan cancelled for a deploy into a Transient
// ErrDriftYielded; other errors pass through.
func yielded(ctx context.Context, err error) error {
	if err != nil && errors.Is(context.Cause(ctx), ErrDriftYielded) {
		return appliers.Transient(fmt.Errorf("terraform drift: %w", ErrDriftYielded), driftBusyRetry)
	}
	return err
}
