package reconciler

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/driftless/driftless/appliers"
	"github.com/driftless/driftless/appliers/terraform"
	"github.com/driftless/driftless/internal/testenv"
	"github.com/driftless/driftless/manifest"
	"github.com/driftless/driftless/sources"
	"github.com/driftless/driftless/state"
)

// countingApplier is the real Terraform applier, counting Decode and Plan
// calls per app.
type countingApplier struct {
	*terraform.Applier
	mu      sync.Mutex
	decodes map[string]int
	plans   map[string]int
}

func (a *countingApplier) Decode(dc appliers.DecodeContext, body hcl.Body) (appliers.Spec, hcl.Diagnostics) {
	a.mu.Lock()
	a.decodes[dc.App]++
	a.mu.Unlock()
	return a.Applier.Decode(dc, body)
}

func (a *countingApplier) Plan(ctx context.Context, req appliers.Request) (*appliers.Plan, error) {
	a.mu.Lock()
	a.plans[req.App]++
	a.mu.Unlock()
	return a.Applier.Plan(ctx, req)
}

// reset returns the counts so far and starts new ones.
func (a *countingApplier) reset() (decodes, plans map[string]int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	decodes, plans = a.decodes, a.plans
	a.decodes, a.plans = map[string]int{}, map[string]int{}
	return decodes, plans
}

// reuseRepo is a Git repository of four terraform_data stacks: app reads
// an output of net, mod calls the local module modules/m, solo stands
// alone.
type reuseRepo struct {
	t    *testing.T
	g    *testenv.GitRepo
	tf   *countingApplier
	c    *Controller
	ev   *eventLog
	head string
}

const reuseStacks = `stack "net" {
  path = "infra/net"
}

stack "app" {
  path = "infra/app"
  vars = { subnet = stack.net.outputs.subnet }
}

stack "mod" {
  path = "infra/mod"
}

stack "solo" {
  path = "infra/solo"
}
`

func netTF(subnet string) string {
	return `resource "terraform_data" "net" {
  input = "` + subnet + `"
}

output "subnet" {
  value = terraform_data.net.output
}
`
}

const soloTF = `variable "label" {
  type    = string
  default = "x"
}

resource "terraform_data" "solo" {
  input = var.label
}
`

func moduleTF(gen string) string {
	return `resource "terraform_data" "m" {
  input = "` + gen + `"
}
`
}

func newReuseRepo(t *testing.T) *reuseRepo {
	tfBin := testenv.TerraformBinary(t)
	ctx := context.Background()
	g := testenv.NewGitRepo(t)
	g.Write("deploy/stacks.hcl", reuseStacks)
	g.Write("infra/net/main.tf", netTF("10.0.1.0/24"))
	g.Write("infra/app/main.tf", "variable \"subnet\" {\n  type = string\n}\n\nresource \"terraform_data\" \"app\" {\n  input = var.subnet\n}\n")
	g.Write("infra/mod/main.tf", "module \"m\" {\n  source = \"../../modules/m\"\n}\n")
	g.Write("modules/m/main.tf", moduleTF("gen1"))
	g.Write("infra/solo/main.tf", soloTF)
	g.Write("README.md", "v1\n")
	head := g.Commit("four stacks")

	tmp := t.TempDir()
	src, err := sources.Open(ctx, sources.Config{Name: "r", URL: g.URL(), Dir: filepath.Join(tmp, "git")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tfa, err := terraform.New(terraform.Config{Binary: tfBin, WorkDir: filepath.Join(tmp, "terraform"),
		PluginCache: filepath.Join(tmp, "plugin-cache"), BaseEnv: os.Environ()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tf := &countingApplier{Applier: tfa, decodes: map[string]int{}, plans: map[string]int{}}
	ev := &eventLog{}
	c, err := New(Options{Instance: "test", Loader: manifest.New(tf), Store: state.NewMemStore(), Events: ev, MaxParallel: 2},
		[]Repo{{Name: "r", URL: g.URL(), Path: "deploy", Interval: time.Minute, Source: src}})
	if err != nil {
		t.Fatal(err)
	}
	r := &reuseRepo{t: t, g: g, tf: tf, c: c, ev: ev, head: head}
	r.sync()
	for _, app := range []string{"net", "app", "mod", "solo"} {
		if e := ev.find("deploy.succeeded", app); e == nil {
			t.Fatalf("first sync: no deploy.succeeded of %s; events: %v", app, ev.types(0))
		}
	}
	tf.reset()
	return r
}

func (r *reuseRepo) sync() {
	r.t.Helper()
	if err := r.c.SyncOnce(context.Background(), "r"); err != nil {
		r.t.Fatalf("sync: %v", err)
	}
}

// commit commits the files written, syncs, and returns the Decode and
// Plan calls the sync made per app.
func (r *reuseRepo) commit(msg string) (decodes, plans map[string]int) {
	r.t.Helper()
	r.head = r.g.Commit(msg)
	from := r.ev.len()
	r.sync()
	for _, e := range r.ev.all()[from:] {
		if e.Category()+"."+e.Action() == "deploy.failed" {
			r.t.Fatalf("%s: deploy.failed: %v", msg, e.Data.Error)
		}
	}
	return r.tf.reset()
}

// deployed reports whether app was deployed at the head.
func (r *reuseRepo) deployed(app string) bool {
	e := r.ev.find("deploy.succeeded", app)
	return e != nil && e.Data.Revision == r.head
}

func TestReloadSkipsUnchangedApps(t *testing.T) {
	r := newReuseRepo(t)
	r.g.Write("README.md", "v2\n")
	decodes, plans := r.commit("Edit the README")
	// app references net's outputs: it is decoded with them at every pass
	// (its spec depends on values Load cannot see), but not at load.
	for _, app := range []string{"net", "mod", "solo"} {
		if decodes[app] != 0 {
			t.Errorf("%s decoded %d times for a commit that touches none of its inputs; want 0 (decodes: %v)", app, decodes[app], decodes)
		}
	}
	if decodes["app"] != 1 {
		t.Errorf("app decoded %d times; want 1 (with net's outputs, for its run)", decodes["app"])
	}
	if len(plans) != 0 {
		t.Errorf("plans for a README edit: %v; want none", plans)
	}
	for _, app := range []string{"net", "app", "mod", "solo"} {
		if st := r.c.stateView(t, app); st.Status != state.StatusSynced || st.AppliedRevision != r.head {
			t.Errorf("%s: status %s at %.7s; want synced at the head %.7s", app, st.Status, st.AppliedRevision, r.head)
		}
	}
}

func TestReloadReplansAppWhoseReferencedOutputChanged(t *testing.T) {
	r := newReuseRepo(t)
	r.g.Write("infra/net/main.tf", netTF("10.0.2.0/24"))
	decodes, plans := r.commit("Move net to another subnet")
	if decodes["net"] != 1 || plans["net"] != 1 || !r.deployed("net") {
		t.Fatalf("net: %d decodes, %d plans, deployed %v; want 1, 1, true", decodes["net"], plans["net"], r.deployed("net"))
	}
	// app's own files and block did not change: its new output is what
	// makes it plan.
	if plans["app"] != 1 || !r.deployed("app") {
		t.Fatalf("app (reads net's subnet): %d plans, deployed %v; want 1, true", plans["app"], r.deployed("app"))
	}
	if got := r.c.stateView(t, "app").LastDeploy; got == nil || got.Revision != r.head {
		t.Fatalf("app's last deploy: %+v; want one at the head", got)
	}
	for _, app := range []string{"mod", "solo"} {
		if decodes[app] != 0 || plans[app] != 0 {
			t.Errorf("%s: %d decodes, %d plans; want 0, 0", app, decodes[app], plans[app])
		}
	}
}

func TestReloadReplansAppWhoseModuleChanged(t *testing.T) {
	r := newReuseRepo(t)
	r.g.Write("modules/m/main.tf", moduleTF("gen2"))
	decodes, plans := r.commit("Change the module")
	if decodes["mod"] != 1 || plans["mod"] != 1 || !r.deployed("mod") {
		t.Fatalf("mod (calls modules/m): %d decodes, %d plans, deployed %v; want 1, 1, true", decodes["mod"], plans["mod"], r.deployed("mod"))
	}
	for _, app := range []string{"net", "solo"} {
		if decodes[app] != 0 || plans[app] != 0 {
			t.Errorf("%s: %d decodes, %d plans; want 0, 0", app, decodes[app], plans[app])
		}
	}
	if plans["app"] != 0 {
		t.Errorf("app planned %d times; want 0", plans["app"])
	}
}

func TestReloadReplansAppWhoseBlockChanged(t *testing.T) {
	r := newReuseRepo(t)
	// solo's block is the file's last: the blocks above keep their place.
	r.g.Write("deploy/stacks.hcl", reuseStacks[:len(reuseStacks)-len("}\n")]+"  vars = { label = \"y\" }\n}\n")
	decodes, plans := r.commit("Give solo a variable")
	if decodes["solo"] != 1 || plans["solo"] != 1 || !r.deployed("solo") {
		t.Fatalf("solo (block edited): %d decodes, %d plans, deployed %v; want 1, 1, true", decodes["solo"], plans["solo"], r.deployed("solo"))
	}
	for _, app := range []string{"net", "mod"} {
		if decodes[app] != 0 || plans[app] != 0 {
			t.Errorf("%s (same block, same place): %d decodes, %d plans; want 0, 0", app, decodes[app], plans[app])
		}
	}

	// The same edit of a block above the others moves them: they are
	// decoded again (and, their specs unchanged, not planned).
	r.g.Write("deploy/stacks.hcl", "# moved\n"+reuseStacks)
	decodes, plans = r.commit("A comment on top")
	for _, app := range []string{"net", "mod", "solo"} {
		if decodes[app] != 1 {
			t.Errorf("%s (block moved down a line): %d decodes; want 1", app, decodes[app])
		}
	}
	if plans["net"] != 0 || plans["mod"] != 0 {
		t.Errorf("plans after a comment: %v; want none for net and mod", plans)
	}
}

// stateView is the app's state as the API shows it.
func (c *Controller) stateView(t *testing.T, app string) state.AppState {
	t.Helper()
	st, err := c.App(context.Background(), "r", app)
	if err != nil {
		t.Fatalf("state of %s: %v", app, err)
	}
	return st
}
