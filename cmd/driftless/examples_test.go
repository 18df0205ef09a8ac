package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/driftless/driftless/internal/config"
	"github.com/driftless/driftless/internal/testenv"
)

// The examples must stay valid: examples/repo is the demo's watched repo
// and examples/driftless.hcl its controller config.

// TestExampleRepoValidates validates examples/repo as the demo uses it: as
// the root of its own Git repository. (In this source tree it sits inside
// driftless's own work tree, whose root validate would take as the root
// that manifest paths resolve against, so it is copied out first, as
// examples/demo.sh does.)
func TestExampleRepoValidates(t *testing.T) {
	src, err := filepath.Abs(filepath.Join("..", "..", "examples", "repo"))
	if err != nil {
		t.Fatal(err)
	}
	g := testenv.NewGitRepo(t)
	n := 0
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		g.Write(filepath.ToSlash(rel), string(b))
		n++
		return nil
	})
	if err != nil || n == 0 {
		t.Fatalf("copying %s: %d files, %v", src, n, err)
	}
	g.Commit("Initial platform (#1)")

	t.Chdir(g.Dir)
	code, out, errOut := runCLI(t, "validate", "deploy")
	if code != exitOK || errOut != "" {
		t.Fatalf("driftless validate examples/repo/deploy = %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	got := strings.TrimSpace(strings.TrimPrefix(out, "4 app(s) valid: "))
	apps := strings.Split(got, ", ")
	sort.Strings(apps)
	if strings.Join(apps, ",") != "app,hello,network,web" {
		t.Errorf("validate lists %q, want the 4 demo apps (app, hello, network, web)", out)
	}
	// The manifest dir as the default argument works too.
	t.Chdir(filepath.Join(g.Dir, "deploy"))
	if code, _, errOut := runCLI(t, "validate"); code != exitOK {
		t.Errorf("validate from deploy/ = %d %s", code, errOut)
	}
}

func TestExampleConfigLoads(t *testing.T) {
	path := filepath.Join("..", "..", "examples", "driftless.hcl")
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// What examples/demo.sh exports.
	env := map[string]string{
		"DEMO_STATE_DIR":      "/tmp/demo/state",
		"DEMO_LISTEN":         "127.0.0.1:18080",
		"DRIFTLESS_API_TOKEN": "demo-token-123",
		"DEMO_AWS_ENDPOINT":   "http://127.0.0.1:15000",
		"DRIFTLESS_TF_MIRROR": "/opt/terraform-mirror",
		"DEMO_REPO":           "/tmp/demo/repo",
	}
	cfg, err := config.Parse(src, path, mapEnv(env))
	if err != nil {
		t.Fatalf("examples/driftless.hcl: %v", err)
	}
	if cfg.StateDir != "/tmp/demo/state" || cfg.Listen != "127.0.0.1:18080" || cfg.APIToken.Value() != "demo-token-123" ||
		cfg.AWS.Endpoint != "http://127.0.0.1:15000" || cfg.AWS.Region != "us-east-1" ||
		cfg.Terraform.PluginMirror != "/opt/terraform-mirror" || cfg.Terraform.MaxParallel != 2 || cfg.Slack != nil {
		t.Errorf("config = %+v", cfg)
	}
	if len(cfg.Repos) != 1 {
		t.Fatalf("repos = %+v", cfg.Repos)
	}
	r := cfg.Repos[0]
	if r.Name != "platform" || r.URL != "/tmp/demo/repo" || r.Branch != "main" || r.Path != "deploy" ||
		r.Interval != 2*time.Second || r.DriftInterval != 30*time.Second {
		t.Errorf("repo = %+v", r)
	}
	// Without the demo's environment the config is refused, not half-loaded.
	if _, err := config.Parse(src, path, mapEnv(nil)); err == nil {
		t.Errorf("examples/driftless.hcl loads without DEMO_REPO and DEMO_STATE_DIR")
	}
}
