package lambda

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/driftless/driftless/appliers"
)

// drift runs Drift and returns the report and its JSON.
func (e *motoEnv) drift(s *Spec, ignore ...string) (*appliers.DriftReport, string) {
	e.t.Helper()
	r, err := e.applier.Drift(e.ctx, e.request(s, nil), ignore)
	if err != nil {
		e.t.Fatalf("drift: %v", err)
	}
	b, err := json.Marshal(r)
	if err != nil {
		e.t.Fatal(err)
	}
	return r, string(b)
}

// wantDrift checks the report's one item (none when attrs is nil and
// action is "").
func wantDrift(t *testing.T, r *appliers.DriftReport, action string, attrs ...string) {
	t.Helper()
	want := []appliers.DriftItem{}
	if action != "" {
		want = append(want, appliers.DriftItem{Address: "lambda_function.thumb", Action: action, Attributes: attrs})
	}
	if !reflect.DeepEqual(r.Items, want) {
		t.Errorf("drift items = %+v\nwant %+v", r.Items, want)
	}
}

// Out-of-band changes through the Lambda API — configuration (memory,
// timeout, role, environment), the alias moved to another version or given
// routing weights, new code, the function deleted — are reported with
// attribute paths naming environment variables, never their values;
// ignored paths are left out; Drift never writes.
func TestMotoDrift(t *testing.T) {
	e := newMotoEnv(t)
	e.write(map[string]string{"functions/thumb/index.js": "exports.handler = async () => 'v1'\n"})
	s := e.spec(fmt.Sprintf(zipBlock, `memory_size = 256
  environment = { LOG_LEVEL = "info", API_KEY = "s3cr3t-value" }`))
	e.mustReconcile(s, nil)
	e.api.reset()

	// Clean after the deploy.
	r, _ := e.drift(s)
	wantDrift(t, r, "")

	// Configuration changed by hand, with values that must never show.
	other, err := iam.NewFromConfig(e.cfg).CreateRole(e.ctx, &iam.CreateRoleInput{
		RoleName:                 aws.String("other-role"),
		AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[]}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.lambda.UpdateFunctionConfiguration(e.ctx, &lambda.UpdateFunctionConfigurationInput{
		FunctionName: aws.String("thumb"),
		MemorySize:   aws.Int32(512),
		Timeout:      aws.Int32(30),
		Role:         other.Role.Arn,
		Environment:  &types.Environment{Variables: map[string]string{"LOG_LEVEL": "debug-by-hand", "API_KEY": "s3cr3t-value", "EXTRA": "leaked-value"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	configDrift := []string{
		"configuration.environment.EXTRA",
		"configuration.environment.LOG_LEVEL",
		"configuration.memory_size",
		"configuration.role",
		"configuration.timeout",
	}
	r, first := e.drift(s)
	wantDrift(t, r, "update", configDrift...)
	for _, v := range []string{"debug-by-hand", "s3cr3t", "leaked-value", "other-role"} {
		if strings.Contains(first, v) {
			t.Errorf("report shows a value (%q): %s", v, first)
		}
	}
	if _, again := e.drift(s); again != first {
		t.Errorf("second check differs:\n%s\n%s", first, again)
	}
	for _, tc := range []struct {
		ignore []string
		want   []string
	}{
		{[]string{"environment"}, []string{"configuration.memory_size", "configuration.role", "configuration.timeout"}},
		{[]string{"environment.LOG_LEVEL", "memory_size", "configuration.role"}, []string{"configuration.environment.EXTRA", "configuration.timeout"}},
		{[]string{"configuration"}, nil},
	} {
		r, _ := e.drift(s, tc.ignore...)
		if tc.want == nil {
			wantDrift(t, r, "")
		} else {
			wantDrift(t, r, "update", tc.want...)
		}
	}

	// The drifted $LATEST published by hand and the alias moved to it:
	// two drifts, though the planner would move the alias anyway.
	pub, err := e.lambda.PublishVersion(e.ctx, &lambda.PublishVersionInput{FunctionName: aws.String("thumb")})
	if err != nil {
		t.Fatal(err)
	}
	drifted := aws.ToString(pub.Version)
	if _, err := e.lambda.UpdateAlias(e.ctx, &lambda.UpdateAliasInput{FunctionName: aws.String("thumb"), Name: aws.String("live"), FunctionVersion: aws.String(drifted)}); err != nil {
		t.Fatal(err)
	}
	r, _ = e.drift(s)
	wantDrift(t, r, "update", append([]string{"alias.live"}, configDrift...)...)
	if w := e.api.reset(); len(w) > 0 {
		t.Fatalf("drift checks made write calls: %v", w)
	}

	// Re-applied: clean again.
	e.mustReconcile(s, nil)
	e.api.reset()
	r, _ = e.drift(s)
	wantDrift(t, r, "")
	good, _ := e.alias("thumb", "live")

	// The alias alone moved back to the drifted version; then kept on the
	// good one with weight on the drifted one.
	if _, err := e.lambda.UpdateAlias(e.ctx, &lambda.UpdateAliasInput{FunctionName: aws.String("thumb"), Name: aws.String("live"), FunctionVersion: aws.String(drifted)}); err != nil {
		t.Fatal(err)
	}
	r, _ = e.drift(s)
	wantDrift(t, r, "update", "alias.live")
	if p := e.plan(s); changesOf(p) != "lambda_function.thumb.alias.live:update" {
		t.Errorf("the planner disagrees: %s", changesOf(p))
	}
	r, _ = e.drift(s, "alias")
	wantDrift(t, r, "")
	_, err = e.lambda.UpdateAlias(e.ctx, &lambda.UpdateAliasInput{FunctionName: aws.String("thumb"), Name: aws.String("live"), FunctionVersion: aws.String(good),
		RoutingConfig: &types.AliasRoutingConfiguration{AdditionalVersionWeights: map[string]float64{drifted: 0.5}}})
	if err != nil {
		t.Fatal(err)
	}
	r, _ = e.drift(s)
	wantDrift(t, r, "update", "alias.live")
	if _, err := e.lambda.UpdateAlias(e.ctx, &lambda.UpdateAliasInput{FunctionName: aws.String("thumb"), Name: aws.String("live"), FunctionVersion: aws.String(good), RoutingConfig: noRouting()}); err != nil {
		t.Fatal(err)
	}

	// New code on $LATEST by hand: the code drifted, the alias (on the
	// deployed code) did not.
	e.write(map[string]string{"other/index.js": "exports.handler = async () => 'hacked'\n"})
	z, _, err := ZipDir(os.DirFS(e.repo), "other")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.lambda.UpdateFunctionCode(e.ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("thumb"), ZipFile: z}); err != nil {
		t.Fatal(err)
	}
	r, _ = e.drift(s)
	wantDrift(t, r, "update", "code")
	if w := e.api.reset(); len(w) > 0 {
		t.Fatalf("drift checks made write calls: %v", w)
	}

	// Deleted outside: re-applying would create it, whatever is ignored.
	if _, err := e.lambda.DeleteFunction(e.ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("thumb")}); err != nil {
		t.Fatal(err)
	}
	r, _ = e.drift(s, "code", "configuration", "alias")
	wantDrift(t, r, "create")
	if w := e.api.reset(); len(w) > 0 {
		t.Errorf("drift checks made write calls: %v", w)
	}
}

// Image code: a new image on $LATEST is code drift; the alias, still on
// the deployed image's version, is not; a deleted alias is.
func TestMotoDriftImage(t *testing.T) {
	e := newMotoEnv(t)
	s := e.spec(`lambda_function "thumb" {
  role      = "ROLE"
  image_uri = "repo/thumb:1"
  alias     = "prod"
}`)
	e.mustReconcile(s, nil)
	e.api.reset()
	r, _ := e.drift(s)
	wantDrift(t, r, "")
	if _, err := e.lambda.UpdateFunctionCode(e.ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("thumb"), ImageUri: aws.String("repo/thumb:evil")}); err != nil {
		t.Fatal(err)
	}
	r, j := e.drift(s)
	wantDrift(t, r, "update", "code")
	if strings.Contains(j, "evil") {
		t.Errorf("report shows the image: %s", j)
	}
	if _, err := e.lambda.DeleteAlias(e.ctx, &lambda.DeleteAliasInput{FunctionName: aws.String("thumb"), Name: aws.String("prod")}); err != nil {
		t.Fatal(err)
	}
	r, _ = e.drift(s)
	wantDrift(t, r, "update", "alias.prod", "code")
	if w := e.api.reset(); len(w) > 0 {
		t.Errorf("drift checks made write calls: %v", w)
	}
}

func TestDriftRefusesUnknownValues(t *testing.T) {
	a := newFakeApplier(&fakeAPI{}, nil)
	_, err := a.Drift(t.Context(), appliers.Request{App: "thumb", Spec: &Spec{FunctionName: "thumb", Unknown: []string{"role"}}}, nil)
	if !appliers.IsStalled(err) {
		t.Errorf("drift of a spec with unknown values: %v, want Stalled", err)
	}
	_, err = a.Drift(t.Context(), appliers.Request{App: "thumb", Spec: &Spec{FunctionName: "thumb", ZipDir: "fn"}}, nil)
	if !appliers.IsStalled(err) || !strings.Contains(err.Error(), "no repository tree") {
		t.Errorf("drift of zip code without a tree: %v, want Stalled", err)
	}
}
