package terraform

import (
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
)

func TestInitNotNeeded(t *testing.T) {
	const data = "resource \"terraform_data\" \"r\" {\n  input = \"x\"\n}\n"
	cases := []struct {
		name  string
		files map[string]string // in infra/a
		spec  func(*Spec)
		want  bool
	}{
		{"built-in resources, variables, outputs, locals, checks", map[string]string{"main.tf": data + `
variable "v" { default = 1 }
locals { l = 2 }
output "o" { value = terraform_data.r.output }
data "terraform_remote_state" "s" {
  backend = "local"
  config  = { path = "x.tfstate" }
}
check "c" {
  assert {
    condition     = true
    error_message = "no"
  }
}
terraform {
  required_version = ">= 1.0"
}
`}, nil, true},
		{"a provider's resource", map[string]string{"main.tf": data + "resource \"aws_s3_bucket\" \"b\" {}\n"}, nil, false},
		{"a provider's data source", map[string]string{"main.tf": data + "data \"aws_caller_identity\" \"me\" {}\n"}, nil, false},
		{"a provider block", map[string]string{"main.tf": data + "provider \"aws\" {}\n"}, nil, false},
		{"a module call", map[string]string{"main.tf": data + "module \"m\" {\n  source = \"./m\"\n}\n"}, nil, false},
		{"local modules in the spec", map[string]string{"main.tf": data}, func(s *Spec) { s.Modules = []string{"infra/m"} }, false},
		{"required_providers", map[string]string{"main.tf": data + "terraform {\n  required_providers {}\n}\n"}, nil, false},
		{"a backend block", map[string]string{"main.tf": data + "terraform {\n  backend \"local\" {}\n}\n"}, nil, false},
		{"a cloud block", map[string]string{"main.tf": data + "terraform {\n  cloud {}\n}\n"}, nil, false},
		{"a provider meta-argument", map[string]string{"main.tf": "resource \"terraform_data\" \"r\" {\n  provider = terraform.other\n}\n"}, nil, false},
		{"a data source in a check", map[string]string{"main.tf": data + "check \"c\" {\n  data \"http\" \"h\" {\n    url = \"http://x\"\n  }\n}\n"}, nil, false},
		{"a provider-defined function", map[string]string{"main.tf": data + "locals {\n  a = provider::aws::arn_parse(\"x\")\n}\n"}, nil, false},
		{"an import block", map[string]string{"main.tf": data + "import {\n  to = terraform_data.r\n  id = \"x\"\n}\n"}, nil, false},
		{"a lock file", map[string]string{"main.tf": data, ".terraform.lock.hcl": "# empty\n"}, nil, false},
		{"a JSON configuration file", map[string]string{"main.tf": data, "extra.tf.json": "{}"}, nil, false},
		{"a resource type that only starts like the built-in provider", map[string]string{"main.tf": "resource \"terraformx_thing\" \"r\" {}\n"}, nil, false},
		{"backend_config", map[string]string{"main.tf": data}, func(s *Spec) { s.BackendConfig = map[string]string{"path": "x"} }, false},
		{"another workspace", map[string]string{"main.tf": data}, func(s *Spec) { s.Workspace = "staging" }, false},
		{"the default workspace", map[string]string{"main.tf": data}, func(s *Spec) { s.Workspace = DefaultWorkspace }, true},
		{"a syntax error", map[string]string{"main.tf": "resource {"}, nil, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tree := fstest.MapFS{}
			for n, src := range c.files {
				tree["infra/a/"+n] = &fstest.MapFile{Data: []byte(src)}
			}
			spec := &Spec{Path: "infra/a"}
			if c.spec != nil {
				c.spec(spec)
			}
			if got := initNotNeeded(tree, spec); got != c.want {
				t.Errorf("initNotNeeded = %v, want %v", got, c.want)
			}
		})
	}
}

// TestInitFingerprintCoversInitInputs: every input of `terraform init`
// changes the fingerprint (so init runs again); a backend change also
// changes the backend part (so it runs with -reconfigure); a change to
// resources changes neither.
func TestInitFingerprintCoversInitInputs(t *testing.T) {
	const main = `terraform {
  backend "local" {
    path = "one.tfstate"
  }
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.0"
    }
  }
}
module "m" {
  source = "../m1"
}
resource "terraform_data" "r" {
  input = "one"
}
`
	base := map[string]string{
		"infra/a/main.tf":             main,
		"infra/a/.terraform.lock.hcl": "# lock v1\n",
		"infra/m1/main.tf":            "provider \"aws\" {\n  region = \"us-east-1\"\n}\n",
	}
	type fp struct{ all, backend string }
	compute := func(files map[string]string, mut func(*Spec), binary, version string) fp {
		t.Helper()
		tree := fstest.MapFS{}
		for n, src := range files {
			tree[n] = &fstest.MapFile{Data: []byte(src)}
		}
		spec := &Spec{Path: "infra/a", Modules: []string{"infra/m1"}}
		if mut != nil {
			mut(spec)
		}
		all, backend, err := initFingerprint(tree, spec, "cli config", binary, version)
		if err != nil {
			t.Fatal(err)
		}
		return fp{all, backend}
	}
	with := func(name, from, to string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		if !strings.Contains(m[name], from) {
			t.Fatalf("%s has no %q", name, from)
		}
		m[name] = strings.Replace(m[name], from, to, 1)
		return m
	}
	ref := compute(base, nil, "/bin/terraform", "1.11.4")
	cases := []struct {
		name                   string
		got                    fp
		initAgain, reconfigure bool
	}{
		{"a resource change", compute(with("infra/a/main.tf", `input = "one"`, `input = "two"`), nil, "/bin/terraform", "1.11.4"), false, false},
		{"the backend block", compute(with("infra/a/main.tf", "one.tfstate", "two.tfstate"), nil, "/bin/terraform", "1.11.4"), true, true},
		{"backend_config", compute(base, func(s *Spec) { s.BackendConfig = map[string]string{"path": "x"} }, "/bin/terraform", "1.11.4"), true, true},
		{"a provider version constraint", compute(with("infra/a/main.tf", "~> 5.0", "~> 5.1"), nil, "/bin/terraform", "1.11.4"), true, true},
		{"a module source", compute(with("infra/a/main.tf", "../m1", "../m2"), nil, "/bin/terraform", "1.11.4"), true, false},
		{"a provider block in a module", compute(with("infra/m1/main.tf", "us-east-1", "eu-west-1"), nil, "/bin/terraform", "1.11.4"), true, false},
		{"the lock file", compute(with("infra/a/.terraform.lock.hcl", "v1", "v2"), nil, "/bin/terraform", "1.11.4"), true, false},
		{"the Terraform binary", compute(base, nil, "/opt/terraform", "1.11.4"), true, false},
		{"the Terraform version", compute(base, nil, "/bin/terraform", "1.12.0"), true, false},
	}
	for _, c := range cases {
		if got := c.got.all != ref.all; got != c.initAgain {
			t.Errorf("%s: fingerprint changed = %v, want %v", c.name, got, c.initAgain)
		}
		if got := c.got.backend != ref.backend; got != c.reconfigure {
			t.Errorf("%s: backend fingerprint changed = %v, want %v", c.name, got, c.reconfigure)
		}
	}
}

// TestInitOnlyWhenNeeded runs real Terraform: a stack of the built-in
// provider on the local backend deploys without init (plan, show, apply:
// three processes, plus the applier's one version check); a stack with a
// backend block is initialised once, then again each time its lock file,
// backend block or module sources change, and not when only its resources
// do.
func TestInitOnlyWhenNeeded(t *testing.T) {
	a := newTestApplier(t, nil)
	const backend = "terraform {\n  backend \"local\" {\n    path = \"one.tfstate\"\n  }\n}\n"
	repo := newRepo(t, map[string]string{
		"infra/b/main.tf":  benchMain,
		"infra/c/main.tf":  benchMain + backend,
		"infra/m1/main.tf": "output \"o\" {\n  value = 1\n}\n",
		"infra/m2/main.tf": "output \"o\" {\n  value = 2\n}\n",
	})
	rev := 0
	plan := func(app string) {
		t.Helper()
		rev++
		spec := decodeStack(t, a, repo.Tree(), "stack \""+app+"\" {\n  path = \"infra/"+app+"\"\n  vars = { x = \"v"+strconv.Itoa(rev)+"\" }\n}\n", nil)
		mustPlan(t, a, request(app, "r"+strconv.Itoa(rev), spec, repo.Tree()))
	}
	deploy := func(app string) {
		t.Helper()
		rev++
		spec := decodeStack(t, a, repo.Tree(), "stack \""+app+"\" {\n  path = \"infra/"+app+"\"\n  vars = { x = \"v"+strconv.Itoa(rev)+"\" }\n}\n", nil)
		req := request(app, "r"+strconv.Itoa(rev), spec, repo.Tree())
		if res := mustApply(t, a, req, mustPlan(t, a, req)); outputString(t, res.Outputs, "x") != "v"+strconv.Itoa(rev) {
			t.Errorf("output x = %s", res.Outputs["x"].Value)
		}
	}
	wantInits := func(step string, n int) {
		t.Helper()
		if a.Inits() != n {
			t.Errorf("%s: %d inits, want %d", step, a.Inits(), n)
		}
	}

	deploy("b")
	wantInits("built-in provider only", 0)
	if a.Runs() != 4 {
		t.Errorf("first deploy of a built-in-only stack: %d Terraform processes, want 4 (version, plan, show, apply)", a.Runs())
	}
	deploy("b")
	wantInits("built-in provider only, again", 0)

	deploy("c")
	wantInits("backend block", 1)
	deploy("c")
	wantInits("a resource input change", 1)
	repo.write(map[string]string{"infra/c/.terraform.lock.hcl": "# This file is maintained automatically by \"terraform init\".\n"})
	plan("c")
	wantInits("lock file added", 2)
	repo.write(map[string]string{"infra/c/main.tf": benchMain + strings.Replace(backend, "one.tfstate", "two.tfstate", 1)})
	plan("c")
	wantInits("backend block changed", 3)
	repo.write(map[string]string{"infra/c/main.tf": benchMain + backend + "module \"m\" {\n  source = \"../m1\"\n}\n"})
	plan("c")
	wantInits("module added", 4)
	repo.write(map[string]string{"infra/c/main.tf": benchMain + backend + "module \"m\" {\n  source = \"../m2\"\n}\n"})
	plan("c")
	wantInits("module source changed", 5)
	plan("c")
	wantInits("nothing changed", 5)

	// A built-in-only stack (planned, not applied: no state to migrate)
	// given a backend block.
	repo.write(map[string]string{"infra/d/main.tf": benchMain})
	plan("d")
	wantInits("another built-in-only stack", 5)
	repo.write(map[string]string{"infra/d/main.tf": benchMain + backend})
	plan("d")
	wantInits("backend block added to a built-in-only stack", 6)
}
