package terraform

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/terraform-exec/tfexec"

	"github.com/driftless/driftless/appliers"
)

var _ appliers.Previewer = (*Applier)(nil)

// previewPlanFile is the saved plan of a preview, inside its work dir.
const previewPlanFile = "preview.tfplan"

// openPreview makes the stack of a preview: its own work dir (req.WorkDir),
// seeded with a copy of the deploy's local state when the stack keeps its
// state in the work dir (the local backend), and prepared (files, vars,
// init, workspace) as a deploy's would be. The deploy's work dir is only
// read. The caller must call done.
func (a *Applier) openPreview(ctx context.Context, req appliers.PreviewRequest) (st *stack, spec *Spec, tf *tfexec.Terraform, done func(), err error) {
	if a.binary == "" {
		return nil, nil, nil, nil, errDecodeOnly
	}
	if spec, err = specOf(req.Request); err != nil {
		return nil, nil, nil, nil, err
	}
	if req.WorkDir == "" || !filepath.IsAbs(req.WorkDir) {
		return nil, nil, nil, nil, appliers.Stalled(fmt.Errorf("terraform preview: work dir %q is not an absolute path", req.WorkDir))
	}
	deployRoot, err := a.WorkDirOf(req.Repo, req.App)
	if err != nil {
		return nil, nil, nil, nil, appliers.Stalled(err)
	}
	if filepath.Clean(req.WorkDir) == filepath.Clean(deployRoot) {
		return nil, nil, nil, nil, appliers.Stalled(errors.New("terraform preview: the work dir is the deploy's"))
	}
	st = a.previewStack(filepath.Clean(req.WorkDir))
	st.mu.Lock()
	st.setDir(filepath.Join(st.root, srcDir, filepath.FromSlash(spec.Path)))
	if err := a.openStack(st); err != nil {
		st.mu.Unlock()
		return nil, nil, nil, nil, err
	}
	done = func() { a.park(st); st.mu.Unlock() }
	if err := copyLocalState(deployRoot, st.root, spec.Path); err != nil {
		done()
		return nil, nil, nil, nil, fmt.Errorf("terraform preview: copying the stack's local state: %w", err)
	}
	skipNoopInit(deployRoot, st.root)
	if tf, err = a.prepare(ctx, st, req.Request, spec, a.logger(req.Request)); err != nil {
		done()
		return nil, nil, nil, nil, err
	}
	return st, spec, tf, done, nil
}

// previewStack returns the stack of a preview work dir. Preview stacks
// are kept (keyed by their own directory, never a deploy's) so that their
// Terraform handle, and the version check terraform-exec caches in it,
// survive the directory being wiped between previews.
func (a *Applier) previewStack(root string) *stack {
	a.mu.Lock()
	defer a.mu.Unlock()
	st, ok := a.stacks[root]
	if !ok {
		st = &stack{root: root}
		a.stacks[root] = st
	}
	return st
}

// skipNoopInit copies the deploy's init record into a fresh preview work
// dir when that init left no .terraform behind (no providers to install,
// no modules, the local backend): prepare then skips init while the init
// fingerprint is the same, and runs it when the pull request changed
// providers, modules or the backend. Terraform asking for init anyway is
// handled by runPlan.
func skipNoopInit(deployRoot, previewRoot string) {
	b, err := os.ReadFile(filepath.Join(deployRoot, initFile))
	if err != nil {
		return
	}
	var rec initRecord
	if json.Unmarshal(b, &rec) != nil || rec.DataDir || rec.Fingerprint == "" {
		return
	}
	if _, err := os.Stat(filepath.Join(previewRoot, initFile)); err == nil {
		return
	}
	_ = writeInIfChanged(previewRoot, initFile, b, privateFile)
}

// PreviewPlan plans the request in req.WorkDir with -lock=false: it waits
// for no deploy of the stack, takes no state lock and leaves the deploy's
// work dir alone. The plan text is Terraform's own output, redacted.
func (a *Applier) PreviewPlan(ctx context.Context, req appliers.PreviewRequest) (*appliers.PreviewPlan, error) {
	spec, err := specOf(req.Request)
	if err != nil {
		return nil, err
	}
	if len(spec.Unknown) > 0 {
		return nil, appliers.Stalled(fmt.Errorf("%w: %v", ErrUnknownInputs, spec.Unknown))
	}
	st, spec, _, done, err := a.openPreview(ctx, req)
	if err != nil {
		return nil, err
	}
	defer done()
	log := a.logger(req.Request)
	planFile := filepath.Join(st.root, previewPlanFile)
	var out strings.Builder
	start := time.Now()
	changed, err := a.runPlan(ctx, st, req.Request, spec, planOpts{out: planFile, varFiles: a.varFileArgs(st, spec), noLock: true, stdout: &out}, log)
	if err != nil {
		return nil, err
	}
	p := &appliers.PreviewPlan{Plan: appliers.Plan{Changed: changed, Summary: "no changes"}, Text: a.red.String(planText(out.String()))}
	if changed {
		sp, err := a.showPlan(ctx, st, planFile)
		if err != nil {
			return nil, classify("show", err, a.red)
		}
		p.Changes = planChanges(sp)
		p.Summary = Summary(p.Changes, outputsChanged(sp))
	}
	log.Info("terraform preview plan done", "changed", p.Changed, "summary", p.Summary, "duration_ms", time.Since(start).Milliseconds())
	return p, nil
}

// PreviewOutputs reads the stack's outputs in req.WorkDir (from the state
// the deploys keep: the remote backend, or a copy of the local state).
func (a *Applier) PreviewOutputs(ctx context.Context, req appliers.PreviewRequest) (map[string]appliers.Output, error) {
	_, _, tf, done, err := a.openPreview(ctx, req)
	if err != nil {
		return nil, err
	}
	defer done()
	return a.readOutputs(ctx, tf)
}

// planText keeps what `terraform plan` printed from the first line that
// describes the plan (the refresh lines before it are noise), trimmed.
func planText(s string) string {
	for _, start := range []string{"Terraform used the selected providers", "Terraform will perform", "No changes.", "Changes to Outputs:"} {
		if i := strings.Index(s, start); i >= 0 {
			s = s[i:]
			break
		}
	}
	return strings.TrimSpace(s)
}

// copyLocalState copies the local backend's state of a stack (the default
// workspace's terraform.tfstate and the other workspaces' under
// terraform.tfstate.d) from the deploy's work dir into a preview's. Reads
// are resolved inside the deploy's work dir (os.Root): a symbolic link
// planted there cannot make the preview read anything else. Nothing there
// is written.
func copyLocalState(deployRoot, previewRoot, stackPath string) error {
	src, err := os.OpenRoot(deployRoot)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // never deployed
	}
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenRoot(previewRoot)
	if err != nil {
		return err
	}
	defer dst.Close()
	dir := path.Join(srcDir, stackPath)
	copyFile := func(name string) error {
		fi, err := src.Lstat(name)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if !fi.Mode().IsRegular() {
			return nil
		}
		b, err := src.ReadFile(name)
		if err != nil {
			return err
		}
		return writeIn(dst, name, b, privateFile)
	}
	if err := copyFile(path.Join(dir, "terraform.tfstate")); err != nil {
		return err
	}
	wsDir := path.Join(dir, "terraform.tfstate.d")
	entries, err := fs.ReadDir(src.FS(), wsDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := copyFile(path.Join(wsDir, e.Name(), "terraform.tfstate")); err != nil {
				return err
			}
		}
	}
	return nil
}

var _ appliers.UnknownReporter = (*Spec)(nil)

// UnknownInputs names the vars (and "backend_config") whose values are not
// known yet.
func (s *Spec) UnknownInputs() []string { return s.Unknown }
