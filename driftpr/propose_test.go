package driftpr

import (
	"context"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/driftless/driftless/appliers"
	ecsapplier "github.com/driftless/driftless/appliers/ecs"
	lambdaapplier "github.com/driftless/driftless/appliers/lambda"
	"github.com/driftless/driftless/appliers/terraform"
	"github.com/driftless/driftless/drift"
	"github.com/driftless/driftless/forge"
	"github.com/driftless/driftless/internal/redact"
	"github.com/driftless/driftless/internal/testenv"
	"github.com/driftless/driftless/manifest"
	"github.com/driftless/driftless/sources"
)

func TestMain(m *testing.M) { os.Exit(testenv.RunMain(m)) }

// secretToken is a secret driftless knows (in its redactor).
const secretToken = "tok-SECRET-4242"

const taskDef = `{
  "family": "web",
  "containerDefinitions": [{
    "name": "web", "image": "nginx:1.25", "memory": 128,
    "environment": [{"name": "A", "value": "1"}],
    "secrets": [{"name": "DB_PASSWORD", "valueFrom": "arn:aws:ssm:us-east-1:123456789012:parameter/db-hunter2"}]
  }]
}`

// manifestHCL is the repository's deploy/apps.hcl; ROLE is replaced.
const manifestHCL = `# Apps of the platform.
ecs_service "web" {
  cluster         = "main"
  task_definition = jsondecode(file("services/web/taskdef.json"))
  images          = { web = "nginx:1.26" } # bumped by release PRs
  desired_count   = 1                        # scaled by hand at times
}

lambda_function "thumb" {
  role        = "ROLE"
  zip_dir     = "functions/thumb"
  runtime     = "nodejs20.x"
  handler     = "index.handler"
  memory_size = 256 // MiB
  timeout     = max(10, 20)
  environment = {
    LOG_LEVEL = "info"
    MODE      = "fast"
  }
}

stack "net" {
  path = "infra/net"
}
`

// fixture is a repository (a bare origin, pushed from a work clone), the
// controller's clone of it, moto with the apps deployed, and a Proposer.
type fixture struct {
	t      *testing.T
	ctx    context.Context
	bare   string
	rev    string // the tracked head the apps were deployed at
	src    *sources.Repo
	loader *manifest.Loader
	forge  *fakeForge
	p      *Proposer
	ecs    *ecs.Client
	lambda *lambda.Client
	repo   Repo
	want   string // deploy/apps.hcl as committed
}

// clock is a test clock: Sleep moves it on at once.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
	return ctx.Err()
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	m := testenv.Moto(t)
	m.Reset(t)
	cfg := m.AWSConfig(t)
	f := &fixture{t: t, ctx: ctx, forge: newFakeForge(), ecs: ecs.NewFromConfig(cfg), lambda: lambda.NewFromConfig(cfg)}
	if _, err := f.ecs.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String("main")}); err != nil {
		t.Fatal(err)
	}
	role, err := iam.NewFromConfig(cfg).CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("thumb-role"),
		AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[]}`)})
	if err != nil {
		t.Fatal(err)
	}
	w := testenv.NewGitRepo(t)
	f.want = strings.ReplaceAll(manifestHCL, "ROLE", aws.ToString(role.Role.Arn))
	w.Write("deploy/apps.hcl", f.want)
	w.Write("services/web/taskdef.json", taskDef)
	w.Write("functions/thumb/index.js", "exports.handler = async () => 'v1'\n")
	w.Write("infra/net/main.tf", "resource \"terraform_data\" \"net\" {\n  input = \"v1\"\n}\n")
	f.rev = w.Commit("apps")
	f.bare = filepath.Join(t.TempDir(), "origin.git")
	w.Git("init", "-q", "--bare", "-b", "main", f.bare)
	w.Git("remote", "add", "origin", f.bare)
	w.Git("push", "-q", "origin", "main")

	red := redact.New(secretToken)
	f.src, err = sources.Open(ctx, sources.Config{Name: "platform", URL: (&url.URL{Scheme: "file", Path: filepath.ToSlash(f.bare)}).String(),
		Branch: "main", Dir: filepath.Join(t.TempDir(), "clone"), Redactor: red}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.src.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	clk := &clock{now: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}
	log := slog.New(slog.DiscardHandler)
	cw := cloudwatch.NewFromConfig(cfg)
	f.loader = manifest.New(
		ecsapplier.New(f.ecs, cw, ecsapplier.Options{Poll: time.Second, Clock: clk.Now, Sleep: clk.Sleep}, log),
		lambdaapplier.New(f.lambda, cw, lambdaapplier.Options{Poll: time.Second, Clock: clk.Now, Sleep: clk.Sleep}, log),
		terraform.NewDecoder())
	f.repo = Repo{Name: "platform", Branch: "main", Path: "deploy", Source: f.src, Forge: forge.Repo{Owner: "acme", Name: "platform"}}
	f.p = New(Options{Loader: f.loader, Forge: f.forge, Scrub: red.String, Log: log})
	for _, app := range []string{"web", "thumb"} {
		req := f.request(app)
		a := f.loader.Applier(f.kind(app))
		plan, err := a.Plan(ctx, req)
		if err != nil {
			t.Fatalf("plan %s: %v", app, err)
		}
		if _, err := a.Apply(ctx, req, plan); err != nil {
			t.Fatalf("apply %s: %v", app, err)
		}
	}
	return f
}

func (f *fixture) kind(app string) string {
	return map[string]string{"web": "ecs_service", "thumb": "lambda_function", "net": "stack"}[app]
}

func (f *fixture) request(app string) appliers.Request {
	f.t.Helper()
	rev, err := f.src.Revision(f.ctx, f.rev)
	if err != nil {
		f.t.Fatal(err)
	}
	d, diags := f.loader.Load("platform", rev.Tree, "deploy")
	if diags.HasErrors() {
		f.t.Fatalf("load: %v", diags)
	}
	return appliers.Request{Repo: "platform", App: app, Revision: rev.SHA, Spec: d.Apps[app].Spec, Tree: rev.Tree, Observer: appliers.NopObserver{}}
}

// drift scans app as the reconciler does.
func (f *fixture) drift(app string) Drift {
	f.t.Helper()
	r, err := f.loader.Applier(f.kind(app)).(appliers.DriftDetector).Drift(f.ctx, f.request(app), nil)
	if err != nil || !r.Drifted() {
		f.t.Fatalf("drift of %s = %+v, %v", app, r, err)
	}
	return Drift{App: app, Revision: f.rev, Fingerprint: drift.Fingerprint(r.Items), Items: r.Items,
		FirstSeen: time.Date(2026, 12, 2, 6, 30, 0, 0, time.UTC)}
}

func (f *fixture) git(args ...string) string {
	f.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = f.bare
	cmd.Env = testenv.GitEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		f.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// byHandECS changes the web service outside driftless: another task
// definition (new image, a changed variable, another secret) and a scale.
func (f *fixture) byHandECS(count int32, image string) {
	f.t.Helper()
	td := &ecs.RegisterTaskDefinitionInput{Family: aws.String("web"), ContainerDefinitions: []ecstypes.ContainerDefinition{{
		Name: aws.String("web"), Image: aws.String(image), Memory: aws.Int32(128),
		Environment: []ecstypes.KeyValuePair{{Name: aws.String("A"), Value: aws.String("2")}},
		Secrets:     []ecstypes.Secret{{Name: aws.String("DB_PASSWORD"), ValueFrom: aws.String("arn:aws:ssm:us-east-1:123456789012:parameter/db-hunter3")}},
	}}}
	reg, err := f.ecs.RegisterTaskDefinition(f.ctx, td)
	if err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.ecs.UpdateService(f.ctx, &ecs.UpdateServiceInput{Cluster: aws.String("main"), Service: aws.String("web"),
		TaskDefinition: reg.TaskDefinition.TaskDefinitionArn, DesiredCount: aws.Int32(count)}); err != nil {
		f.t.Fatal(err)
	}
}

// An ECS service changed by hand becomes one pull request from
// driftless/drift/web whose commit changes only the drifted literals; the
// same drift again pushes and edits nothing; a changed drift adds one
// fast-forward commit and edits the body.
func TestProposeECS(t *testing.T) {
	f := newFixture(t)
	svc, err := f.ecs.DescribeServices(f.ctx, &ecs.DescribeServicesInput{Cluster: aws.String("main"), Services: []string{"web"}})
	if err != nil || len(svc.Services) != 1 {
		t.Fatalf("describe: %v", err)
	}
	deployed := svc.Services[0].TaskDefinition
	f.byHandECS(5, "nginx:1.99")
	d := f.drift("web")
	res, err := f.p.Propose(f.ctx, f.repo, d)
	if err != nil {
		t.Fatal(err)
	}
	if res.Action != OpenedPullRequest || !res.Pushed || !res.Ref.Created || res.Branch != "driftless/drift/web" {
		t.Fatalf("result = %+v", res)
	}
	head := f.git("rev-parse", "refs/heads/driftless/drift/web")
	if head != res.Commit || f.git("rev-parse", head+"^") != f.rev || f.git("rev-parse", "refs/heads/main") != f.rev {
		t.Fatalf("branch %s (result %s), parent %s, main %s; want a commit on %s and main unchanged", head, res.Commit, f.git("rev-parse", head+"^"), f.git("rev-parse", "main"), f.rev)
	}
	want := strings.NewReplacer(`images          = { web = "nginx:1.26" }`, `images          = { web = "nginx:1.99" }`,
		"desired_count   = 1 ", "desired_count   = 5 ").Replace(f.want)
	if got := f.git("show", head+":deploy/apps.hcl") + "\n"; got != want {
		t.Errorf("deploy/apps.hcl on the branch:\n%s\nwant:\n%s", got, want)
	}
	if files := f.git("diff", "--name-only", f.rev, head); files != "deploy/apps.hcl" {
		t.Errorf("files changed = %q", files)
	}
	if a := f.git("log", "-1", "--format=%an", head); a != "driftless" {
		t.Errorf("author = %q", a)
	}
	pr := f.forge.prs["driftless/drift/web"]
	if pr.Base != "main" || !strings.Contains(pr.Title, "platform/web") {
		t.Errorf("pull request = %+v", pr)
	}
	for _, s := range []string{Marker("platform", "web", d.Fingerprint), "| `images.web` | `task_definition.containers.web.image` | `\"nginx:1.26\"` | `\"nginx:1.99\"` |",
		"| `desired_count` | `desired_count` | `1` | `5` |", "2026-12-02T06:30:00Z", "merging it makes the manifest match what is running",
		"### Change by hand", "`task_definition.containers.web.environment.A`", "`task_definition.containers.web.secrets.DB_PASSWORD`"} {
		if !strings.Contains(pr.Body, s) {
			t.Errorf("body lacks %q:\n%s", s, pr.Body)
		}
	}
	if strings.Contains(pr.Body, "hunter") {
		t.Errorf("body shows a secret:\n%s", pr.Body)
	}

	// The same drift again: nothing pushed, nothing edited.
	calls := len(f.forge.Calls())
	again, err := f.p.Propose(f.ctx, f.repo, d)
	if err != nil || again.Action != Unchanged {
		t.Fatalf("second proposal = %+v, %v", again, err)
	}
	if now := f.git("rev-parse", "refs/heads/driftless/drift/web"); now != head || len(f.forge.Calls()) != calls {
		t.Errorf("second proposal pushed (%s → %s) or called the forge (%v)", head, now, f.forge.Calls())
	}

	// The same attributes drifting again after the drift resolved (first
	// seen later): proposed again, here with nothing new to push.
	later := d
	later.FirstSeen = later.FirstSeen.Add(time.Hour)
	res, err = f.p.Propose(f.ctx, f.repo, later)
	if err != nil || res.Action != OpenedPullRequest || res.Pushed || res.Commit != head {
		t.Fatalf("proposal of a recurring drift = %+v, %v", res, err)
	}

	// The drift changes (the task definition put back, scaled again): one
	// new fast-forward commit, the body edited.
	if _, err := f.ecs.UpdateService(f.ctx, &ecs.UpdateServiceInput{Cluster: aws.String("main"), Service: aws.String("web"),
		TaskDefinition: deployed, DesiredCount: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}
	d2 := f.drift("web")
	if d2.Fingerprint == d.Fingerprint || len(d2.Items[0].Attributes) != 1 {
		t.Fatalf("second drift %+v has the first one's fingerprint", d2)
	}
	res, err = f.p.Propose(f.ctx, f.repo, d2)
	if err != nil || res.Action != OpenedPullRequest || !res.Pushed || res.Ref.Created {
		t.Fatalf("third proposal = %+v, %v", res, err)
	}
	now := f.git("rev-parse", "refs/heads/driftless/drift/web")
	if f.git("rev-parse", now+"^") != head {
		t.Errorf("new head %s's parent is not the old head %s", now, head)
	}
	f.git("merge-base", "--is-ancestor", head, now)
	if got := f.git("show", now+":deploy/apps.hcl") + "\n"; got != strings.Replace(f.want, "desired_count   = 1 ", "desired_count   = 7 ", 1) {
		t.Errorf("deploy/apps.hcl after the second drift:\n%s", got)
	}
	if body := f.forge.prs["driftless/drift/web"].Body; !strings.Contains(body, Marker("platform", "web", d2.Fingerprint)) || !strings.Contains(body, "| `1` | `7` |") || strings.Contains(body, "nginx") {
		t.Errorf("edited body:\n%s", body)
	}

	// A drift nothing in the block expresses (an environment variable and
	// a secret of the task definition file): the branch drops the earlier
	// edits, and the body says so.
	f.byHandECS(1, "nginx:1.26")
	d3 := f.drift("web")
	res, err = f.p.Propose(f.ctx, f.repo, d3)
	if err != nil || res.Action != OpenedPullRequest || !res.Pushed || len(res.Changes) != 0 {
		t.Fatalf("fourth proposal = %+v, %v", res, err)
	}
	if got := f.git("show", res.Commit+":deploy/apps.hcl") + "\n"; got != f.want || f.git("rev-parse", res.Commit+"^") != now {
		t.Errorf("deploy/apps.hcl after a drift with nothing to rewrite:\n%s", got)
	}
	if body := f.forge.prs["driftless/drift/web"].Body; !strings.Contains(body, "Nothing in the block can be set") || strings.Contains(body, "hunter") {
		t.Errorf("body:\n%s", body)
	}
}

// A Lambda function changed by hand: literals are rewritten, an attribute
// set by a function call and a live value that is a known secret are
// listed to change by hand, and the secret is written nowhere.
func TestProposeLambda(t *testing.T) {
	f := newFixture(t)
	// Only an attribute set by an expression drifted: nothing to rewrite,
	// no branch: an issue lists it.
	if _, err := f.lambda.UpdateFunctionConfiguration(f.ctx, &lambda.UpdateFunctionConfigurationInput{
		FunctionName: aws.String("thumb"), Timeout: aws.Int32(45)}); err != nil {
		t.Fatal(err)
	}
	res, err := f.p.Propose(f.ctx, f.repo, f.drift("thumb"))
	if err != nil || res.Action != OpenedIssue {
		t.Fatalf("expression-only drift = %+v, %v", res, err)
	}
	if body := f.forge.issues[IssueMarker("platform", "thumb")].Body; !strings.Contains(body, "`configuration.timeout`: "+ReasonExpression) ||
		!strings.Contains(body, "No code change is proposed") {
		t.Errorf("issue body:\n%s", body)
	}
	if refs := f.git("for-each-ref", "--format=%(refname)"); refs != "refs/heads/main" {
		t.Errorf("refs on the origin = %q, want main only", refs)
	}

	if _, err := f.lambda.UpdateFunctionConfiguration(f.ctx, &lambda.UpdateFunctionConfigurationInput{
		FunctionName: aws.String("thumb"), MemorySize: aws.Int32(1024), Timeout: aws.Int32(45),
		Environment: &lambdatypes.Environment{Variables: map[string]string{"LOG_LEVEL": "debug", "MODE": secretToken}},
	}); err != nil {
		t.Fatal(err)
	}
	d := f.drift("thumb")
	res, err = f.p.Propose(f.ctx, f.repo, d)
	if err != nil || res.Action != OpenedPullRequest {
		t.Fatalf("result = %+v, %v", res, err)
	}
	head := f.git("rev-parse", "refs/heads/driftless/drift/thumb")
	want := strings.NewReplacer("memory_size = 256 //", "memory_size = 1024 //", `LOG_LEVEL = "info"`, `LOG_LEVEL = "debug"`).Replace(f.want)
	file := f.git("show", head+":deploy/apps.hcl") + "\n"
	if file != want {
		t.Errorf("deploy/apps.hcl on the branch:\n%s\nwant:\n%s", file, want)
	}
	body := f.forge.prs["driftless/drift/thumb"].Body
	for _, s := range []string{"`configuration.timeout` (`timeout`): " + ReasonExpression, "`configuration.environment.MODE` (`environment.MODE`): " + ReasonSecret,
		"| `memory_size` | `configuration.memory_size` | `256` | `1024` |"} {
		if !strings.Contains(body, s) {
			t.Errorf("body lacks %q:\n%s", s, body)
		}
	}
	for _, text := range []string{body, file, f.git("log", "-1", "--format=%B", head)} {
		if strings.Contains(text, secretToken) {
			t.Errorf("the secret leaked:\n%s", text)
		}
	}
}

// A stack's drift opens an issue with the plan that would revert it, and
// pushes no branch; the issue is updated, not duplicated.
func TestProposeStackOpensIssue(t *testing.T) {
	f := newFixture(t)
	d := Drift{App: "net", Revision: f.rev, FirstSeen: time.Date(2026, 12, 2, 6, 30, 0, 0, time.UTC), Items: []appliers.DriftItem{
		{Address: "terraform_data.net", Attributes: []string{"input"}, Action: "update"},
		{Address: "aws_ssm_parameter.token", Attributes: []string{"value", "tags." + secretToken}, Action: "update"},
	}}
	d.Fingerprint = drift.Fingerprint(d.Items)
	res, err := f.p.Propose(f.ctx, f.repo, d)
	if err != nil || res.Action != OpenedIssue || !res.Ref.Created {
		t.Fatalf("result = %+v, %v", res, err)
	}
	is := f.forge.issues[IssueMarker("platform", "net")]
	for _, s := range []string{"<!-- driftless:drift:platform/net -->", "No code change is proposed", "a plan, not an edit",
		"  ~ terraform_data.net\n      input\n", "  ~ aws_ssm_parameter.token\n      value\n      tags." + redact.Mask + "\n", d.Fingerprint} {
		if !strings.Contains(is.Body, s) {
			t.Errorf("issue body lacks %q:\n%s", s, is.Body)
		}
	}
	if strings.Contains(is.Body, secretToken) {
		t.Errorf("the issue shows a secret:\n%s", is.Body)
	}
	if refs := f.git("for-each-ref", "--format=%(refname)"); refs != "refs/heads/main" {
		t.Errorf("refs on the origin = %q, want main only", refs)
	}
	d.Items[0].Action = "replace"
	d.Fingerprint = drift.Fingerprint(d.Items)
	res, err = f.p.Propose(f.ctx, f.repo, d)
	if err != nil || res.Action != OpenedIssue || res.Ref.Created || len(f.forge.issues) != 1 {
		t.Fatalf("second result = %+v, %v (issues %d)", res, err, len(f.forge.issues))
	}
	if body := f.forge.issues[IssueMarker("platform", "net")].Body; !strings.Contains(body, "-/+ terraform_data.net") {
		t.Errorf("issue not updated:\n%s", body)
	}
}
