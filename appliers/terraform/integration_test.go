package terraform

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/driftless/driftless/appliers"
)

const appMain = `variable "x" {
  type = string
}
variable "secret" {
  type      = string
  sensitive = true
  default   = "pa55w0rd-canary"
}
module "m" {
  source = "../modules/m"
  x      = var.x
}
output "x" {
  value = module.m.out
}
output "secret" {
  value     = var.secret
  sensitive = true
}
`

const moduleMain = `variable "x" {
  type = string
}
resource "terraform_data" "r" {
  input = var.x
}
output "out" {
  value = terraform_data.r.output
}
`

const lifecycleBlock = `stack "app" {
  path      = "infra/app"
  vars      = { x = "one" }
  var_files = ["infra/app/common.tfvars"]
}`

func TestStackLifecycle(t *testing.T) {
	a := newTestApplier(t, nil)
	repo := newRepo(t, map[string]string{
		"infra/app/main.tf":       appMain,
		"infra/app/extra.tf":      "output \"extra\" {\n  value = \"e\"\n}\n",
		"infra/app/common.tfvars": "secret = \"pa55w0rd-canary\"\n",
		"infra/modules/m/main.tf": moduleMain,
	})
	spec := decodeStack(t, a, repo.Tree(), lifecycleBlock, nil)
	if !slices.Contains(spec.Inputs(), "infra/modules/m") {
		t.Fatalf("Inputs() = %v, want the local module", spec.Inputs())
	}

	// 1. First deploy: init, plan, apply.
	req := request("app", "rev1", spec, repo.Tree())
	p := mustPlan(t, a, req)
	if !p.Changed || !containsChange(p.Changes, "module.m.terraform_data.r", "create") || p.Summary != "1 to add, 0 to change, 0 to destroy" {
		t.Fatalf("first plan: %+v", p)
	}
	if len(p.ID) != 64 {
		t.Errorf("plan ID %q", p.ID)
	}
	res := mustApply(t, a, req, p)
	if got := outputString(t, res.Outputs, "x"); got != "one" {
		t.Errorf("output x = %q", got)
	}
	if o := res.Outputs["secret"]; !o.Sensitive || string(o.Value) != `"pa55w0rd-canary"` {
		t.Errorf("sensitive output = %+v", o)
	}
	if !containsChange(res.Changes, "module.m.terraform_data.r", "create") {
		t.Errorf("result changes = %v", res.Changes)
	}
	if steps := req.Observer.(*stepRecorder).steps; len(steps) == 0 {
		t.Errorf("no apply steps observed")
	}
	mustNotContain(t, "plan", p.Summary+p.ID+strings.Join(changeStrings(p.Changes), ","), "pa55w0rd-canary")
	if a.Inits() != 1 {
		t.Errorf("inits after first deploy = %d, want 1", a.Inits())
	}
	root, _ := a.WorkDirOf("platform", "app")
	if m, _ := filepath.Glob(filepath.Join(root, "plan-*.tfplan")); len(m) != 0 {
		t.Errorf("plan files left after apply: %v", m)
	}

	// 2. Nothing changed: no-op plan, no init.
	req = request("app", "rev2", spec, repo.Tree())
	p = mustPlan(t, a, req)
	if p.Changed || len(p.Changes) != 0 || p.Summary != "no changes" {
		t.Fatalf("second plan should be a no-op: %+v", p)
	}
	p2 := mustPlan(t, a, req)
	if p2.ID != p.ID {
		t.Errorf("same revision and state gave different plan IDs")
	}

	// 3. A var changes: update.
	spec3 := decodeStack(t, a, repo.Tree(), strings.Replace(lifecycleBlock, `"one"`, `"two"`, 1), nil)
	req = request("app", "rev3", spec3, repo.Tree())
	p = mustPlan(t, a, req)
	if !p.Changed || !containsChange(p.Changes, "module.m.terraform_data.r", "update") || p.Summary != "0 to add, 1 to change, 0 to destroy" {
		t.Fatalf("var change plan: %+v", p)
	}
	res = mustApply(t, a, req, p)
	if got := outputString(t, res.Outputs, "x"); got != "two" {
		t.Errorf("output x = %q after update", got)
	}
	outs, err := a.Outputs(context.Background(), req)
	if err != nil {
		t.Fatalf("Outputs: %v", err)
	}
	if got := outputString(t, outs, "x"); got != "two" || string(outs["secret"].Value) != `"pa55w0rd-canary"` {
		t.Errorf("Outputs() = %v", outs)
	}

	// 4. A file disappears from the repo: the work dir loses it too.
	repo.remove("infra/app/extra.tf")
	req = request("app", "rev4", spec3, repo.Tree())
	p = mustPlan(t, a, req)
	if _, err := os.Stat(filepath.Join(root, srcDir, "infra/app/extra.tf")); !os.IsNotExist(err) {
		t.Errorf("extra.tf still in the work dir: %v", err)
	}
	if !p.Changed || len(p.Changes) != 0 || p.Summary != "outputs changed" {
		t.Fatalf("plan after removing an output: %+v", p)
	}
	res = mustApply(t, a, req, p)
	if _, ok := res.Outputs["extra"]; ok {
		t.Errorf("removed output still reported")
	}

	// 5. The local module changes: planned as an update.
	repo.write(map[string]string{"infra/modules/m/main.tf": strings.Replace(moduleMain, "input = var.x", `input = "${var.x}-v2"`, 1)})
	req = request("app", "rev5", spec3, repo.Tree())
	p = mustPlan(t, a, req)
	if !containsChange(p.Changes, "module.m.terraform_data.r", "update") {
		t.Fatalf("module change not planned: %+v", p)
	}

	// 6. A stale plan: another plan is applied first.
	stale := p
	p = mustPlan(t, a, req)
	mustApply(t, a, req, p)
	_, err = a.Apply(context.Background(), req, stale)
	if !errors.Is(err, ErrStalePlan) {
		t.Fatalf("applying a stale plan: %v, want ErrStalePlan", err)
	}
	if ok, _ := appliers.IsTransient(err); !ok {
		t.Errorf("stale plan error is not transient: %v", err)
	}

	// 7. The plan file is gone (restart): Apply plans again and goes on
	// only when the plan ID is unchanged.
	spec7 := decodeStack(t, a, repo.Tree(), strings.Replace(lifecycleBlock, `"one"`, `"three"`, 1), nil)
	req = request("app", "rev7", spec7, repo.Tree())
	p = mustPlan(t, a, req)
	p.Artifact = nil
	res = mustApply(t, a, req, p)
	if got := outputString(t, res.Outputs, "x"); got != "three-v2" {
		t.Errorf("output x = %q after re-planned apply", got)
	}
	spec8 := decodeStack(t, a, repo.Tree(), strings.Replace(lifecycleBlock, `"one"`, `"four"`, 1), nil)
	req = request("app", "rev8", spec8, repo.Tree())
	p = mustPlan(t, a, req)
	p.Artifact = nil
	p.ID = "0000" // approved plan was another one
	if _, err := a.Apply(context.Background(), req, p); !errors.Is(err, ErrStalePlan) {
		t.Errorf("apply with a different plan ID: %v, want ErrStalePlan", err)
	}

	if a.Inits() != 1 {
		t.Errorf("inits = %d over the whole lifecycle, want 1 (no init per deploy)", a.Inits())
	}

	// 8. A module block change needs init again.
	repo.write(map[string]string{"infra/app/main.tf": strings.Replace(appMain, "x      = var.x", "x      = \"${var.x}!\"", 1)})
	p = mustPlan(t, a, request("app", "rev9", spec8, repo.Tree()))
	if a.Inits() != 2 || !p.Changed {
		t.Errorf("after a module block change: inits = %d (want 2), plan %+v", a.Inits(), p)
	}
}

func changeStrings(cs []appliers.Change) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Address+" "+c.Action)
	}
	return out
}

func TestPlanErrors(t *testing.T) {
	a := newTestApplier(t, nil)
	repo := newRepo(t, map[string]string{
		"bad/main.tf":     "resource \"terraform_data\" \"r\" {\n  input = terraform_data.nope.id\n}\n",
		"novar/main.tf":   "variable \"need\" {\n  type = string\n}\n",
		"unknown/main.tf": "resource \"terraform_data\" \"r\" {}\n",
	})
	for _, tt := range []struct{ dir, want string }{
		{"bad", "Reference to undeclared resource"},
		{"novar", "No value for required variable"},
	} {
		spec := decodeStack(t, a, repo.Tree(), `stack "`+tt.dir+`" { path = "`+tt.dir+`" }`, nil)
		_, err := a.Plan(context.Background(), request(tt.dir, "r1", spec, repo.Tree()))
		if !appliers.IsStalled(err) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want Stalled with %q", tt.dir, err, tt.want)
		}
	}
	spec := decodeStack(t, a, repo.Tree(), `stack "unknown" { path = "unknown" }`, nil)
	spec.Unknown = []string{"vars.x"}
	_, err := a.Plan(context.Background(), request("unknown", "r1", spec, repo.Tree()))
	if ok, _ := appliers.IsTransient(err); !ok || !errors.Is(err, ErrUnknownInputs) {
		t.Errorf("unknown inputs: err = %v", err)
	}
}

func TestWorkspace(t *testing.T) {
	a := newTestApplier(t, nil)
	repo := newRepo(t, map[string]string{"ws/main.tf": "resource \"terraform_data\" \"r\" {\n  input = terraform.workspace\n}\noutput \"ws\" {\n  value = terraform_data.r.output\n}\n"})
	spec := decodeStack(t, a, repo.Tree(), "stack \"ws\" {\n  path = \"ws\"\n  workspace = \"staging\"\n}\n", nil)
	req := request("ws", "r1", spec, repo.Tree())
	res := mustApply(t, a, req, mustPlan(t, a, req))
	if got := outputString(t, res.Outputs, "ws"); got != "staging" {
		t.Errorf("workspace output = %q", got)
	}
	if p := mustPlan(t, a, request("ws", "r2", spec, repo.Tree())); p.Changed {
		t.Errorf("second plan in workspace changed: %+v", p)
	}
}

func TestEnvDoesNotLeak(t *testing.T) {
	t.Setenv("DRIFTLESS_API_TOKEN", "leak-canary-api-1234")
	t.Setenv("SLACK_BOT_TOKEN", "xoxb-leak-canary")
	t.Setenv("GIT_TOKEN", "ghp_leak_canary")
	t.Setenv("TF_VAR_smuggled", "leak-canary-tfvar")
	t.Setenv("AWS_PROFILE", "allowed-profile")
	a := newTestApplier(t, func(c *Config) {
		c.Env = map[string]string{"TF_REGISTRY_CLIENT_TIMEOUT": "17"}
		c.AWSRegion = "eu-central-1"
		c.AWSEndpoint = "http://127.0.0.1:9"
	})
	repo := newRepo(t, map[string]string{"envdump/main.tf": `resource "terraform_data" "env" {
  provisioner "local-exec" {
    command = "env > ${path.module}/env.txt"
  }
}
`})
	spec := decodeStack(t, a, repo.Tree(), `stack "envdump" { path = "envdump" }`, nil)
	req := request("envdump", "r1", spec, repo.Tree())
	mustApply(t, a, req, mustPlan(t, a, req))
	root, _ := a.WorkDirOf("platform", "envdump")
	b, err := os.ReadFile(filepath.Join(root, srcDir, "envdump", "env.txt"))
	if err != nil {
		t.Fatal(err)
	}
	env := string(b)
	mustNotContain(t, "terraform's environment", env, "leak-canary", "xoxb", "ghp_", "DRIFTLESS_API_TOKEN", "SLACK_BOT_TOKEN", "GIT_TOKEN")
	for _, want := range []string{
		"TF_IN_AUTOMATION=1", "AWS_PROFILE=allowed-profile", "AWS_REGION=eu-central-1", "AWS_DEFAULT_REGION=eu-central-1",
		"AWS_ENDPOINT_URL=http://127.0.0.1:9", "TF_REGISTRY_CLIENT_TIMEOUT=17", "TF_CLI_CONFIG_FILE=" + a.cliPath, "PATH=",
	} {
		if !strings.Contains(env, want) {
			t.Errorf("terraform's environment lacks %q:\n%s", want, env)
		}
	}
}

func TestCancelApply(t *testing.T) {
	a := newTestApplier(t, func(c *Config) { c.WaitDelay = 20 * time.Second })
	repo := newRepo(t, map[string]string{"slow/main.tf": `variable "n" {
  default = "1"
}
resource "terraform_data" "slow" {
  input = var.n
  provisioner "local-exec" {
    command = "touch ${path.module}/started; sleep 30"
  }
}
`})
	spec := decodeStack(t, a, repo.Tree(), `stack "slow" { path = "slow" }`, nil)
	req := request("slow", "r1", spec, repo.Tree())
	p := mustPlan(t, a, req)
	root, _ := a.WorkDirOf("platform", "slow")
	started := filepath.Join(root, srcDir, "slow", "started")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := a.Apply(ctx, req, p)
		done <- err
	}()
	deadline := time.Now().Add(20 * time.Second)
	for !fileExists(started) {
		if time.Now().After(deadline) {
			t.Fatal("the provisioner never started")
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancelled := time.Now()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled apply returned %v, want context.Canceled", err)
		}
		t.Logf("apply returned %v after cancel", time.Since(cancelled))
	case <-time.After(15 * time.Second):
		t.Fatal("apply did not return within 15s of cancellation")
	}
	// The state lock was released: the next plan works.
	spec2 := decodeStack(t, a, repo.Tree(), "stack \"slow\" {\n  path = \"slow\"\n  vars = { n = \"2\" }\n}\n", nil)
	if _, err := a.Plan(context.Background(), request("slow", "r2", spec2, repo.Tree())); err != nil {
		t.Fatalf("plan after a cancelled apply: %v", err)
	}
	if fileExists(filepath.Join(root, srcDir, "slow", ".terraform.tfstate.lock.info")) {
		t.Errorf("local state lock info left behind")
	}
}

func TestConcurrentStacks(t *testing.T) {
	a := newTestApplier(t, nil)
	files := map[string]string{}
	for _, s := range []string{"s1", "s2", "s3"} {
		// A backend block: each stack needs its init.
		files["stacks/"+s+"/main.tf"] = benchMain + "terraform {\n  backend \"local\" {}\n}\n"
	}
	repo := newRepo(t, files)
	errs := make(chan error, 3)
	for _, s := range []string{"s1", "s2", "s3"} {
		spec := decodeStack(t, a, repo.Tree(), "stack \""+s+"\" {\n  path = \"stacks/"+s+"\"\n  vars = { x = \""+s+"\" }\n}\n", nil)
		go func() {
			req := request(s, "r1", spec, repo.Tree())
			p, err := a.Plan(context.Background(), req)
			if err == nil {
				var res *appliers.Result
				res, err = a.Apply(context.Background(), req, p)
				if err == nil && string(res.Outputs["x"].Value) != `"`+s+`"` {
					err = errors.New(s + ": wrong output " + string(res.Outputs["x"].Value))
				}
			}
			errs <- err
		}()
	}
	for range 3 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if a.Inits() != 3 {
		t.Errorf("inits = %d, want one per stack", a.Inits())
	}
}
