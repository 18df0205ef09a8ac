package terraform

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/driftless/driftless/internal/testenv"
)

// parallelStack is awsStack on the local backend: the stacks share nothing
// but the applier (its plugin cache and CLI config).
var parallelStack = func() string {
	s := awsStack
	start := strings.Index(s, "  backend \"s3\" {")
	end := strings.Index(s, "  required_providers {")
	return s[:start] + s[end:]
}()

// TestParallelFirstInitsShareThePluginCache: three stacks with the AWS
// provider, on a fresh work dir and a fresh plugin cache, planned and
// applied in parallel. Concurrent `terraform init`s into one plugin cache
// used to fail one of them ("still not detected in …/plugin-cache; this is
// a bug in Terraform").
func TestParallelFirstInitsShareThePluginCache(t *testing.T) {
	testenv.Short(t)
	moto := testenv.Moto(t)
	mirror := testenv.ProviderMirror(t)
	a := newTestApplier(t, func(c *Config) { c.PluginMirror = mirror })
	files := map[string]string{}
	blocks := make([]string, 3)
	for i := range blocks {
		name := fmt.Sprintf("par%d", i)
		files["infra/"+name+"/main.tf"] = strings.Replace(parallelStack, "/driftless/test/param", "/driftless/parallel/"+name, 1)
		blocks[i] = `stack "` + name + `" {
  path = "infra/` + name + `"
  vars = { endpoint = "` + moto.Endpoint + `", value = "` + name + `" }
}`
	}
	repo := newRepo(t, files)
	ctx := context.Background()
	start := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, len(blocks))
	for i, blk := range blocks {
		spec := decodeStack(t, a, repo.Tree(), blk, nil)
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := request(fmt.Sprintf("par%d", i), "r1", spec, repo.Tree())
			p, err := a.Plan(ctx, req)
			if err != nil {
				errs[i] = fmt.Errorf("plan: %w", err)
				return
			}
			if _, err := a.Apply(ctx, req, p); err != nil {
				errs[i] = fmt.Errorf("apply: %w", err)
			}
		}()
	}
	wg.Wait()
	t.Logf("3 parallel plans and applies: %s", time.Since(start).Round(time.Millisecond))
	for i, err := range errs {
		if err != nil {
			t.Errorf("stack par%d: %v", i, err)
		}
	}
	cl := ssm.NewFromConfig(moto.AWSConfig(t))
	for i := range blocks {
		name := fmt.Sprintf("par%d", i)
		got, err := cl.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/driftless/parallel/" + name)})
		if err != nil || aws.ToString(got.Parameter.Value) != name {
			t.Errorf("parameter %s in moto: %v %v", name, got, err)
		}
	}

	// Three more stacks with the lock file the first init left: each init
	// only links the cached provider, so they take the cache lock shared
	// and run side by side.
	root, err := a.WorkDirOf("platform", "par0")
	if err != nil {
		t.Fatal(err)
	}
	lock, err := os.ReadFile(filepath.Join(root, srcDir, "infra", "par0", ".terraform.lock.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	files = map[string]string{}
	for i := 3; i < 6; i++ {
		name := fmt.Sprintf("par%d", i)
		files["infra/"+name+"/main.tf"] = strings.Replace(parallelStack, "/driftless/test/param", "/driftless/parallel/"+name, 1)
		files["infra/"+name+"/.terraform.lock.hcl"] = string(lock)
	}
	repo = newRepo(t, files)
	start = time.Now()
	errs = make([]error, 3)
	for i := range errs {
		name := fmt.Sprintf("par%d", i+3)
		spec := decodeStack(t, a, repo.Tree(), `stack "`+name+`" {
  path = "infra/`+name+`"
  vars = { endpoint = "`+moto.Endpoint+`", value = "`+name+`" }
}`, nil)
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = a.Plan(ctx, request(name, "r1", spec, repo.Tree()))
		}()
	}
	wg.Wait()
	t.Logf("3 parallel first plans with a cached lock file: %s", time.Since(start).Round(time.Millisecond))
	for i, err := range errs {
		if err != nil {
			t.Errorf("plan of par%d: %v", i+3, err)
		}
	}
	if n := a.sharedInits.Load(); n != 3 {
		t.Errorf("%d inits took the plugin cache lock shared, want 3", n)
	}
}
