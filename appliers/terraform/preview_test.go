package terraform

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/driftless/driftless/appliers"
)

const previewStackTF = "variable \"x\" {}\nresource \"terraform_data\" \"d\" {\n  input = \"${var.x}-%s\"\n}\noutput \"x\" {\n  value = terraform_data.d.output\n}\n"

// snapshot hashes every file under dir (path → content hash and mode).
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		h := fi.Mode().String()
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(b)
			h += hex.EncodeToString(sum[:]) + fi.ModTime().String()
		}
		out[p] = h
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// A preview plans against the deploy's state (a copy of the local state)
// in its own work dir, while a deploy holds the stack: it waits for
// nothing, writes nothing in the deploy's work dir, and returns Terraform's
// text of the plan and no artifact.
func TestPreviewPlanLeavesDeployAlone(t *testing.T) {
	a := newTestApplier(t, nil)
	ctx := context.Background()
	repo := newRepo(t, map[string]string{"infra/web/main.tf": strings.Replace(previewStackTF, "%s", "v1", 1)})
	spec := decodeStack(t, a, repo.Tree(), stackBlock("web"), nil)
	req := request("web", "r1", spec, repo.Tree())
	mustApply(t, a, req, mustPlan(t, a, req))
	deployRoot, _ := a.WorkDirOf("platform", "web")
	before := snapshot(t, deployRoot)

	// A deploy holds the stack (its mutex) for the whole preview.
	st, _, err := a.stackFor(req, spec)
	if err != nil {
		t.Fatal(err)
	}
	st.mu.Lock()
	defer st.mu.Unlock()

	head := newRepo(t, map[string]string{"infra/web/main.tf": strings.Replace(previewStackTF, "%s", "v2", 1)})
	hspec := decodeStack(t, a, head.Tree(), stackBlock("web"), nil)
	wd := filepath.Join(t.TempDir(), "preview")
	p, err := a.PreviewPlan(ctx, appliers.PreviewRequest{WorkDir: wd, Request: request("web", "r2", hspec, head.Tree())})
	if err != nil {
		t.Fatal(err)
	}
	if !p.Changed || p.Summary != "0 to add, 1 to change, 0 to destroy" || len(p.Changes) != 1 || p.Changes[0].Address != "terraform_data.d" || p.Artifact != nil {
		t.Errorf("preview plan %+v", p.Plan)
	}
	if !strings.Contains(p.Text, `~ input  = "1-v1" -> "1-v2"`) || !strings.HasPrefix(p.Text, "Terraform used the selected providers") {
		t.Errorf("plan text:\n%s", p.Text)
	}
	after := snapshot(t, deployRoot)
	for k, v := range after {
		if before[k] != v {
			t.Errorf("the preview changed %s in the deploy's work dir", k)
		}
	}
	if len(after) != len(before) {
		t.Errorf("the deploy's work dir has %d entries, %d before", len(after), len(before))
	}
	outs, err := a.PreviewOutputs(ctx, appliers.PreviewRequest{WorkDir: wd, Request: request("web", "r1", spec, repo.Tree())})
	if err != nil || outputString(t, outs, "x") != "1-v1" {
		t.Errorf("PreviewOutputs = %v %v", outs, err)
	}
	if _, err := a.PreviewPlan(ctx, appliers.PreviewRequest{WorkDir: deployRoot, Request: req}); err == nil {
		t.Error("a preview in the deploy's work dir was accepted")
	}
}

// terraform.run_as applies to previews: Terraform runs as the user in the
// preview's work dir (handed over, then parked as root's), and preview
// code cannot read the deploy's work dir.
func TestRunAsPreview(t *testing.T) {
	uid, gid, home := tfUser(t)
	a, state, _ := runAsApplier(t, uid, gid, home)
	ctx := context.Background()
	repo := newRepo(t, map[string]string{"infra/web/main.tf": strings.Replace(previewStackTF, "%s", "v1", 1)})
	spec := decodeStack(t, a, repo.Tree(), stackBlock("web"), nil)
	req := request("web", "r1", spec, repo.Tree())
	mustApply(t, a, req, mustPlan(t, a, req))
	deployState := filepath.Join(state, "terraform", "platform", "web", srcDir, "infra", "web", "terraform.tfstate")

	previews := filepath.Join(state, "previews")
	if err := os.MkdirAll(previews, passDir); err != nil {
		t.Fatal(err)
	}
	head := newRepo(t, map[string]string{
		"infra/web/main.tf":   strings.Replace(previewStackTF, "%s", "v2", 1),
		"infra/thief/main.tf": "variable \"x\" {}\noutput \"stolen\" {\n  value = file(\"" + deployState + "\")\n}\n",
	})
	wd := filepath.Join(previews, "web")
	p, err := a.PreviewPlan(ctx, appliers.PreviewRequest{WorkDir: wd, Request: request("web", "r2", decodeStack(t, a, head.Tree(), stackBlock("web"), nil), head.Tree())})
	if err != nil || !p.Changed || !strings.Contains(p.Text, `"1-v1" -> "1-v2"`) {
		t.Fatalf("preview under run_as: %v %+v", err, p)
	}
	assertOwner(t, wd, 0, 0, privateDir)
	assertOwner(t, filepath.Join(wd, previewPlanFile), uid, gid, 0)

	_, err = a.PreviewPlan(ctx, appliers.PreviewRequest{WorkDir: filepath.Join(previews, "thief"), Request: request("thief", "r2", decodeStack(t, a, head.Tree(), stackBlock("thief"), nil), head.Tree())})
	if err == nil || !permissionDenied(err.Error()) {
		t.Errorf("a preview reading the deploy's state: %v", err)
	}
}
