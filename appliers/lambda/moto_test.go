package lambda

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/driftless/driftless/appliers"
	"github.com/driftless/driftless/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.RunMain(m)) }

// countingAPI counts the calls made through it, write calls separately.
type countingAPI struct {
	API
	mu     sync.Mutex
	writes map[string]int
	reads  int
}

func (c *countingAPI) write(op string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes[op]++
}

func (c *countingAPI) read() { c.mu.Lock(); c.reads++; c.mu.Unlock() }

// reset returns the write calls so far and forgets them.
func (c *countingAPI) reset() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := c.writes
	c.writes, c.reads = map[string]int{}, 0
	return w
}

func (c *countingAPI) GetFunction(ctx context.Context, in *lambda.GetFunctionInput, o ...func(*lambda.Options)) (*lambda.GetFunctionOutput, error) {
	c.read()
	return c.API.GetFunction(ctx, in, o...)
}
func (c *countingAPI) GetAlias(ctx context.Context, in *lambda.GetAliasInput, o ...func(*lambda.Options)) (*lambda.GetAliasOutput, error) {
	c.read()
	return c.API.GetAlias(ctx, in, o...)
}
func (c *countingAPI) CreateFunction(ctx context.Context, in *lambda.CreateFunctionInput, o ...func(*lambda.Options)) (*lambda.CreateFunctionOutput, error) {
	c.write("CreateFunction")
	return c.API.CreateFunction(ctx, in, o...)
}
func (c *countingAPI) UpdateFunctionCode(ctx context.Context, in *lambda.UpdateFunctionCodeInput, o ...func(*lambda.Options)) (*lambda.UpdateFunctionCodeOutput, error) {
	c.write("UpdateFunctionCode")
	return c.API.UpdateFunctionCode(ctx, in, o...)
}
func (c *countingAPI) UpdateFunctionConfiguration(ctx context.Context, in *lambda.UpdateFunctionConfigurationInput, o ...func(*lambda.Options)) (*lambda.UpdateFunctionConfigurationOutput, error) {
	c.write("UpdateFunctionConfiguration")
	return c.API.UpdateFunctionConfiguration(ctx, in, o...)
}
func (c *countingAPI) TagResource(ctx context.Context, in *lambda.TagResourceInput, o ...func(*lambda.Options)) (*lambda.TagResourceOutput, error) {
	c.write("TagResource")
	return c.API.TagResource(ctx, in, o...)
}
func (c *countingAPI) PublishVersion(ctx context.Context, in *lambda.PublishVersionInput, o ...func(*lambda.Options)) (*lambda.PublishVersionOutput, error) {
	c.write("PublishVersion")
	return c.API.PublishVersion(ctx, in, o...)
}
func (c *countingAPI) CreateAlias(ctx context.Context, in *lambda.CreateAliasInput, o ...func(*lambda.Options)) (*lambda.CreateAliasOutput, error) {
	c.write("CreateAlias")
	return c.API.CreateAlias(ctx, in, o...)
}
func (c *countingAPI) UpdateAlias(ctx context.Context, in *lambda.UpdateAliasInput, o ...func(*lambda.Options)) (*lambda.UpdateAliasOutput, error) {
	c.write("UpdateAlias")
	return c.API.UpdateAlias(ctx, in, o...)
}

// recorder is an Observer that records what it is told and can run a hook
// on each step.
type recorder struct {
	mu       sync.Mutex
	steps    []string
	started  []string
	done     []error
	doneSeen bool
	onStep   func(msg string)
}

func (r *recorder) Step(msg string) {
	r.mu.Lock()
	r.steps = append(r.steps, msg)
	hook := r.onStep
	r.mu.Unlock()
	if hook != nil {
		hook(msg)
	}
}
func (r *recorder) RollbackStarted(reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.started = append(r.started, reason)
}
func (r *recorder) RollbackDone(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.done = append(r.done, err)
	r.doneSeen = true
}

// fakeClock advances only when Sleep is called, so step intervals pass at once.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
	return nil
}

// motoEnv is one test's view of the shared moto.
type motoEnv struct {
	t       *testing.T
	ctx     context.Context
	cfg     aws.Config
	lambda  *lambda.Client
	cw      *cloudwatch.Client
	api     *countingAPI
	applier *Applier
	role    string
	repo    string // a directory on disk, the "repository"
}

func newMotoEnv(t *testing.T) *motoEnv {
	t.Helper()
	m := testenv.Moto(t)
	m.Reset(t)
	cfg := m.AWSConfig(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	role, err := iam.NewFromConfig(cfg).CreateRole(ctx, &iam.CreateRoleInput{
		RoleName:                 aws.String("thumb-role"),
		AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`),
	})
	if err != nil {
		t.Fatalf("create role: %v", err)
	}
	e := &motoEnv{t: t, ctx: ctx, cfg: cfg, lambda: lambda.NewFromConfig(cfg), cw: cloudwatch.NewFromConfig(cfg),
		role: aws.ToString(role.Role.Arn), repo: t.TempDir()}
	e.api = &countingAPI{API: e.lambda, writes: map[string]int{}}
	clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.applier = New(e.api, e.cw, Options{Poll: 10 * time.Second, Clock: clock.Now, Sleep: clock.Sleep}, log)
	return e
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func (e *motoEnv) write(files map[string]string) { e.t.Helper(); writeFiles(e.t, e.repo, files) }

// spec decodes a block whose role is the test's role ("ROLE" in src).
func (e *motoEnv) spec(src string) *Spec {
	e.t.Helper()
	s, diags := decodeIn(e.t, os.DirFS(e.repo), strings.ReplaceAll(src, "ROLE", e.role))
	if diags.HasErrors() {
		e.t.Fatalf("decode: %v", diags)
	}
	return s
}

func (e *motoEnv) request(s *Spec, obs appliers.Observer) appliers.Request {
	return appliers.Request{Repo: "platform", App: "thumb", Revision: "abc123", Spec: s, Tree: os.DirFS(e.repo), DeployID: "d1", Observer: obs}
}

func (e *motoEnv) plan(s *Spec) *appliers.Plan {
	e.t.Helper()
	p, err := e.applier.Plan(e.ctx, e.request(s, nil))
	if err != nil {
		e.t.Fatalf("plan: %v", err)
	}
	e.t.Logf("plan: changed=%v %s %v", p.Changed, p.Summary, p.Changes)
	return p
}

// reconcile plans and applies, like the reconciler does.
func (e *motoEnv) reconcile(s *Spec, obs appliers.Observer) (*appliers.Plan, error) {
	e.t.Helper()
	if obs == nil {
		obs = &recorder{}
	}
	req := e.request(s, obs)
	p, err := e.applier.Plan(e.ctx, req)
	if err != nil {
		e.t.Fatalf("plan: %v", err)
	}
	e.t.Logf("plan: changed=%v %s %v", p.Changed, p.Summary, p.Changes)
	_, err = e.applier.Apply(e.ctx, req, p)
	return p, err
}

func (e *motoEnv) mustReconcile(s *Spec, obs appliers.Observer) *appliers.Plan {
	e.t.Helper()
	p, err := e.reconcile(s, obs)
	if err != nil {
		e.t.Fatalf("apply: %v", err)
	}
	return p
}

// alias returns the alias's version and routing weights.
func (e *motoEnv) alias(fn, name string) (string, map[string]float64) {
	e.t.Helper()
	a, err := e.lambda.GetAlias(e.ctx, &lambda.GetAliasInput{FunctionName: aws.String(fn), Name: aws.String(name)})
	if err != nil {
		e.t.Fatalf("get alias: %v", err)
	}
	var w map[string]float64
	if a.RoutingConfig != nil && len(a.RoutingConfig.AdditionalVersionWeights) > 0 {
		w = a.RoutingConfig.AdditionalVersionWeights
	}
	return aws.ToString(a.FunctionVersion), w
}

// assertNoChange checks that a reconcile of s plans no change and makes no
// write call at all.
func (e *motoEnv) assertNoChange(s *Spec) {
	e.t.Helper()
	e.api.reset()
	p := e.mustReconcile(s, nil)
	if p.Changed || len(p.Changes) > 0 {
		e.t.Errorf("unchanged function planned a change: %s %v", p.Summary, p.Changes)
	}
	if w := e.api.reset(); len(w) > 0 {
		e.t.Errorf("reconcile of an unchanged function made write calls: %v", w)
	}
}

func changesOf(p *appliers.Plan) string {
	var parts []string
	for _, c := range p.Changes {
		parts = append(parts, c.Address+":"+c.Action)
	}
	return strings.Join(parts, " ")
}

const zipBlock = `lambda_function "thumb" {
  role        = "ROLE"
  zip_dir     = "functions/thumb"
  runtime     = "nodejs20.x"
  handler     = "index.handler"
  %s
}`

func TestMotoZipCreateUpdateNoop(t *testing.T) {
	testenv.Short(t)
	e := newMotoEnv(t)
	e.write(map[string]string{
		"functions/thumb/index.js":    "exports.handler = async () => 'v1'\n",
		"functions/thumb/lib/util.js": "module.exports = {}\n",
	})
	s := e.spec(fmt.Sprintf(zipBlock, ""))

	// Create.
	rec := &recorder{}
	p := e.mustReconcile(s, rec)
	if got, want := changesOf(p), "lambda_function.thumb:create lambda_function.thumb.alias.live:create"; got != want {
		t.Errorf("changes = %s, want %s", got, want)
	}
	if v, w := e.alias("thumb", "live"); v != "1" || w != nil {
		t.Errorf("alias live = version %s %v, want 1 without weights", v, w)
	}
	_, sha, _ := ZipDir(os.DirFS(e.repo), "functions/thumb")
	cfg, err := e.lambda.GetFunctionConfiguration(e.ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("thumb"), Qualifier: aws.String("live")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(cfg.CodeSha256) != sha || aws.ToInt32(cfg.MemorySize) != 128 || aws.ToString(cfg.Handler) != "index.handler" {
		t.Errorf("live version: sha %s (want %s) memory %d handler %s", aws.ToString(cfg.CodeSha256), sha, aws.ToInt32(cfg.MemorySize), aws.ToString(cfg.Handler))
	}
	t.Logf("steps: %q", rec.steps)

	// No-op, also after the files were touched (same content, new mtimes).
	e.assertNoChange(s)
	later := time.Now().Add(time.Hour)
	filepath.WalkDir(e.repo, func(p string, _ fs.DirEntry, _ error) error { os.Chtimes(p, later, later); return nil })
	e.write(map[string]string{"functions/thumb/index.js": "exports.handler = async () => 'v1'\n"})
	e.assertNoChange(s)

	// Changed file: code update, new version 2.
	e.write(map[string]string{"functions/thumb/index.js": "exports.handler = async () => 'v2'\n"})
	p = e.mustReconcile(s, nil)
	if got, want := changesOf(p), "lambda_function.thumb.code:update lambda_function.thumb.alias.live:update"; got != want {
		t.Errorf("changes = %s, want %s", got, want)
	}
	if v, _ := e.alias("thumb", "live"); v != "2" {
		t.Errorf("alias on version %s after code update, want 2", v)
	}
	e.assertNoChange(s)

	// Configuration: memory and environment.
	s2 := e.spec(fmt.Sprintf(zipBlock, "memory_size = 256\n  environment = { LOG_LEVEL = \"debug\" }"))
	e.api.reset()
	p = e.mustReconcile(s2, nil)
	if got, want := changesOf(p), "lambda_function.thumb.configuration:update lambda_function.thumb.alias.live:update"; got != want {
		t.Errorf("changes = %s, want %s", got, want)
	}
	if !strings.Contains(p.Summary, "memory_size 128 → 256") || !strings.Contains(p.Summary, "LOG_LEVEL added") || strings.Contains(p.Summary, "debug") {
		t.Errorf("summary %q: want memory and the environment variable's name, never its value", p.Summary)
	}
	if w := e.api.reset(); w["UpdateFunctionCode"] != 0 || w["UpdateFunctionConfiguration"] != 1 {
		t.Errorf("configuration change made writes %v", w)
	}
	cfg, err = e.lambda.GetFunctionConfiguration(e.ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("thumb"), Qualifier: aws.String("live")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(cfg.Version) != "3" || aws.ToInt32(cfg.MemorySize) != 256 || cfg.Environment == nil || cfg.Environment.Variables["LOG_LEVEL"] != "debug" {
		t.Errorf("live: version %s memory %d env %+v", aws.ToString(cfg.Version), aws.ToInt32(cfg.MemorySize), cfg.Environment)
	}
	e.assertNoChange(s2)

	// Removing the environment clears it (nil and empty are the same afterwards).
	p = e.mustReconcile(s, nil)
	if !strings.Contains(p.Summary, "LOG_LEVEL removed") {
		t.Errorf("summary %q", p.Summary)
	}
	e.assertNoChange(s)
}

func TestMotoImageCreateUpdateNoop(t *testing.T) {
	testenv.Short(t)
	e := newMotoEnv(t)
	block := `lambda_function "thumb" {
  function_name = "thumbnailer"
  role          = "ROLE"
  image_uri     = "123456789012.dkr.ecr.us-east-1.amazonaws.com/thumb:%s"
  alias         = "prod"
}`
	s1 := e.spec(fmt.Sprintf(block, "1.0"))
	p := e.mustReconcile(s1, nil)
	if !strings.Contains(p.Summary, "create function thumbnailer from image") {
		t.Errorf("summary %q", p.Summary)
	}
	if v, _ := e.alias("thumbnailer", "prod"); v != "1" {
		t.Errorf("alias prod on version %s, want 1", v)
	}
	e.assertNoChange(s1)

	s2 := e.spec(fmt.Sprintf(block, "1.1"))
	p = e.mustReconcile(s2, nil)
	if got, want := changesOf(p), "lambda_function.thumb.code:update lambda_function.thumb.alias.prod:update"; got != want {
		t.Errorf("changes = %s, want %s", got, want)
	}
	fn, err := e.lambda.GetFunction(e.ctx, &lambda.GetFunctionInput{FunctionName: aws.String("thumbnailer"), Qualifier: aws.String("prod")})
	if err != nil {
		t.Fatal(err)
	}
	if v := aws.ToString(fn.Configuration.Version); v != "2" || !strings.HasSuffix(aws.ToString(fn.Code.ImageUri), ":1.1") {
		t.Errorf("alias prod: version %s image %s", v, aws.ToString(fn.Code.ImageUri))
	}
	e.assertNoChange(s2)

	// Someone points the alias back at version 1 by hand: the plan notices.
	if _, err := e.lambda.UpdateAlias(e.ctx, &lambda.UpdateAliasInput{FunctionName: aws.String("thumbnailer"), Name: aws.String("prod"), FunctionVersion: aws.String("1")}); err != nil {
		t.Fatal(err)
	}
	p = e.mustReconcile(s2, nil)
	if got, want := changesOf(p), "lambda_function.thumb.alias.prod:update"; got != want {
		t.Errorf("changes = %s, want %s", got, want)
	}
	if v, _ := e.alias("thumbnailer", "prod"); v != "2" {
		t.Errorf("alias prod on version %s, want 2 again", v)
	}
	e.assertNoChange(s2)

	// A zip block for an image function is refused, not converted.
	e.write(map[string]string{"fn/index.js": "x"})
	z := e.spec(`lambda_function "thumb" {
  function_name = "thumbnailer"
  role = "ROLE"
  zip_dir = "fn"
  runtime = "nodejs20.x"
  handler = "index.handler"
}`)
	if _, err := e.applier.Plan(e.ctx, e.request(z, nil)); !appliers.IsStalled(err) || !strings.Contains(err.Error(), "package type") {
		t.Errorf("plan of zip code for an image function: %v, want a Stalled package type error", err)
	}
}

// canaryEnv deploys version 1 of a zip function with traffic steps and an
// alarm in OK state, and changes the code so that the next reconcile is a
// canary of version 2.
func canaryEnv(t *testing.T) (*motoEnv, *Spec) {
	e := newMotoEnv(t)
	_, err := e.cw.PutMetricAlarm(e.ctx, &cloudwatch.PutMetricAlarmInput{
		AlarmName:          aws.String("thumb-errors"),
		MetricName:         aws.String("Errors"),
		Namespace:          aws.String("AWS/Lambda"),
		Statistic:          cwtypes.StatisticSum,
		Period:             aws.Int32(60),
		EvaluationPeriods:  aws.Int32(1),
		Threshold:          aws.Float64(1),
		ComparisonOperator: cwtypes.ComparisonOperatorGreaterThanOrEqualToThreshold,
	})
	if err != nil {
		t.Fatalf("put alarm: %v", err)
	}
	e.setAlarm(cwtypes.StateValueOk)
	e.write(map[string]string{"functions/thumb/index.js": "exports.handler = async () => 'v1'\n"})
	s := e.spec(fmt.Sprintf(zipBlock, "traffic_steps = [10, 50, 100]\n  step_interval = \"2m\"\n  alarms = [\"thumb-errors\"]"))
	rec := &recorder{}
	e.mustReconcile(s, rec)
	if v, w := e.alias("thumb", "live"); v != "1" || w != nil {
		t.Fatalf("first deploy: alias on %s %v, want version 1 at once", v, w)
	}
	if len(rec.steps) == 0 || rec.steps[len(rec.steps)-1] != "created alias live → version 1" {
		t.Errorf("first deploy steps %q", rec.steps)
	}
	e.write(map[string]string{"functions/thumb/index.js": "exports.handler = async () => 'v2'\n"})
	return e, s
}

func (e *motoEnv) setAlarm(v cwtypes.StateValue) {
	e.t.Helper()
	_, err := e.cw.SetAlarmState(e.ctx, &cloudwatch.SetAlarmStateInput{AlarmName: aws.String("thumb-errors"), StateValue: v, StateReason: aws.String("test")})
	if err != nil {
		e.t.Fatalf("set alarm state: %v", err)
	}
}

func TestMotoCanaryClean(t *testing.T) {
	testenv.Short(t)
	e, s := canaryEnv(t)
	// Record the alias as moto has it at each step.
	var seen []string
	rec := &recorder{onStep: func(msg string) {
		if strings.HasPrefix(msg, "alias live → version 2 at") {
			v, w := e.alias("thumb", "live")
			seen = append(seen, fmt.Sprintf("%s %v", v, w))
		}
	}}
	p := e.mustReconcile(s, rec)
	if !strings.Contains(p.Summary, "in steps of 10%, 50%, 100% every 2m0s") {
		t.Errorf("summary %q", p.Summary)
	}
	want := []string{"1 map[2:0.1]", "1 map[2:0.5]", "2 map[]"}
	if strings.Join(seen, "; ") != strings.Join(want, "; ") {
		t.Errorf("alias at each step: %q, want %q", seen, want)
	}
	if v, w := e.alias("thumb", "live"); v != "2" || w != nil {
		t.Errorf("after a clean canary alias is on %s %v, want 2 with no routing", v, w)
	}
	if len(rec.started) != 0 || rec.doneSeen {
		t.Errorf("rollback reported in a clean canary: %q %v", rec.started, rec.done)
	}
	e.assertNoChange(s)
}

func TestMotoCanaryAlarmRollsBack(t *testing.T) {
	testenv.Short(t)
	e, s := canaryEnv(t)
	var atTen string
	rec := &recorder{onStep: func(msg string) {
		if msg == "alias live → version 2 at 10%" {
			v, w := e.alias("thumb", "live")
			atTen = fmt.Sprintf("%s %v", v, w)
			e.setAlarm(cwtypes.StateValueAlarm) // the canary hurts
		}
	}}
	_, err := e.reconcile(s, rec)
	if err == nil {
		t.Fatal("canary with an alarm in ALARM succeeded")
	}
	t.Logf("apply error: %v", err)
	if !appliers.IsStalled(err) || !strings.Contains(err.Error(), "rolled back") || !strings.Contains(err.Error(), "thumb-errors") {
		t.Errorf("error %v: want a Stalled error saying it rolled back because of thumb-errors", err)
	}
	if atTen != "1 map[2:0.1]" {
		t.Errorf("alias at 10%%: %s", atTen)
	}
	if v, w := e.alias("thumb", "live"); v != "1" || w != nil {
		t.Errorf("after rollback alias is on %s %v, want 1 with no routing", v, w)
	}
	if len(rec.started) != 1 || !strings.Contains(rec.started[0], "thumb-errors in ALARM at 10%") {
		t.Errorf("RollbackStarted: %q", rec.started)
	}
	if len(rec.done) != 1 || rec.done[0] != nil {
		t.Errorf("RollbackDone: %v", rec.done)
	}
	for _, st := range rec.steps {
		if strings.Contains(st, "at 50%") || strings.Contains(st, "at 100%") {
			t.Errorf("canary went on after the alarm: %q", rec.steps)
		}
	}

	// The next plan still wants the alias moved (the code is deployed to
	// $LATEST, the alias is not on it); once the alarm is OK it goes through.
	p := e.plan(s)
	if got, want := changesOf(p), "lambda_function.thumb.alias.live:update"; got != want {
		t.Errorf("changes after rollback = %s, want %s", got, want)
	}
	e.setAlarm(cwtypes.StateValueOk)
	e.mustReconcile(s, nil)
	if v, w := e.alias("thumb", "live"); v != "2" || w != nil {
		t.Errorf("alias on %s %v, want 2", v, w)
	}
}

func TestMotoS3Code(t *testing.T) {
	testenv.Short(t)
	e := newMotoEnv(t)
	bucket := "builds"
	e.write(map[string]string{"fn/index.js": "exports.handler = async () => 'v1'\n"})
	z1, _, err := ZipDir(os.DirFS(e.repo), "fn")
	if err != nil {
		t.Fatal(err)
	}
	e.write(map[string]string{"fn/index.js": "exports.handler = async () => 'v2'\n"})
	z2, _, err := ZipDir(os.DirFS(e.repo), "fn")
	if err != nil {
		t.Fatal(err)
	}
	putS3(t, e, bucket, map[string][]byte{"thumb/1.zip": z1, "thumb/2.zip": z2})

	block := `lambda_function "thumb" {
  role      = "ROLE"
  s3_bucket = "builds"
  s3_key    = "thumb/%s.zip"
  runtime   = "nodejs20.x"
  handler   = "index.handler"
}`
	s1 := e.spec(fmt.Sprintf(block, "1"))
	e.mustReconcile(s1, nil)
	fn, err := e.lambda.GetFunction(e.ctx, &lambda.GetFunctionInput{FunctionName: aws.String("thumb")})
	if err != nil {
		t.Fatal(err)
	}
	if fn.Tags[TagCodeSource] != "s3://builds/thumb/1.zip" || fn.Tags[TagCodeSHA] != aws.ToString(fn.Configuration.CodeSha256) {
		t.Errorf("tags %v, code sha %s", fn.Tags, aws.ToString(fn.Configuration.CodeSha256))
	}
	e.assertNoChange(s1)

	s2 := e.spec(fmt.Sprintf(block, "2"))
	p := e.mustReconcile(s2, nil)
	if got, want := changesOf(p), "lambda_function.thumb.code:update lambda_function.thumb.alias.live:update"; got != want {
		t.Errorf("changes = %s, want %s", got, want)
	}
	if !strings.Contains(p.Summary, "s3://builds/thumb/1.zip → s3://builds/thumb/2.zip") {
		t.Errorf("summary %q", p.Summary)
	}
	e.assertNoChange(s2)
}

func putS3(t *testing.T, e *motoEnv, bucket string, objects map[string][]byte) {
	t.Helper()
	c := s3.NewFromConfig(e.cfg, func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := c.CreateBucket(e.ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("create bucket: %v", err)
	}
	for k, b := range objects {
		if _, err := c.PutObject(e.ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(k), Body: bytes.NewReader(b)}); err != nil {
			t.Fatalf("put %s: %v", k, err)
		}
	}
}

// A plan handed back without its artifact (approved after a restart) is
// planned again and applied only if nothing moved in between.
func TestMotoApplyWithoutArtifact(t *testing.T) {
	testenv.Short(t)
	e := newMotoEnv(t)
	block := `lambda_function "thumb" {
  role      = "ROLE"
  image_uri = "repo/thumb:%s"
}`
	e.mustReconcile(e.spec(fmt.Sprintf(block, "1")), nil)

	s2 := e.spec(fmt.Sprintf(block, "2"))
	p := e.plan(s2)
	bare := *p
	bare.Artifact = nil
	if _, err := e.applier.Apply(e.ctx, e.request(s2, nil), &bare); err != nil {
		t.Fatalf("apply without artifact: %v", err)
	}
	if v, _ := e.alias("thumb", "live"); v != "2" {
		t.Errorf("alias on %s, want 2", v)
	}

	s3 := e.spec(fmt.Sprintf(block, "3"))
	p = e.plan(s3)
	bare = *p
	bare.Artifact = nil
	if _, err := e.lambda.UpdateFunctionConfiguration(e.ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("thumb"), MemorySize: aws.Int32(1024)}); err != nil {
		t.Fatal(err)
	}
	e.api.reset()
	_, err := e.applier.Apply(e.ctx, e.request(s3, nil), &bare)
	if !appliers.IsStalled(err) || !strings.Contains(err.Error(), "plan again") {
		t.Errorf("stale plan applied: err = %v", err)
	}
	if w := e.api.reset(); len(w) > 0 {
		t.Errorf("stale plan made writes %v", w)
	}
	// The next plan sees both the new image and the memory drift.
	p = e.plan(s3)
	if !strings.Contains(p.Summary, "memory_size 1024 → 128") || !strings.Contains(p.Summary, "repo/thumb:2 → repo/thumb:3") {
		t.Errorf("summary %q", p.Summary)
	}
}
