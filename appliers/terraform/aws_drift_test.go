package terraform

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/driftless/driftless/appliers"
	"github.com/driftless/driftless/internal/testenv"
)

// TestAWSDriftAgainstMoto: an aws_ssm_parameter stack applied through the
// applier (S3 state, DynamoDB locking), then changed and put back through
// the AWS API. Twelve Terraform commands in all, ≈10 s each here.
func TestAWSDriftAgainstMoto(t *testing.T) {
	testenv.Short(t)
	moto := testenv.Moto(t)
	mirror := testenv.ProviderMirror(t)
	moto.CreateStateBackend(t, "tf-state-drift", "tf-locks-drift")
	a := newTestApplier(t, func(c *Config) { c.PluginMirror = mirror })
	const name = "/driftless/test/drift"
	repo := newRepo(t, map[string]string{"infra/params/main.tf": strings.Replace(awsStack, "/driftless/test/param", name, 1)})
	block := `stack "params" {
  path = "infra/params"
  vars = { endpoint = "` + moto.Endpoint + `", value = "v1-original" }
  backend_config = {
    bucket         = "tf-state-drift"
    key            = "params/terraform.tfstate"
    dynamodb_table = "tf-locks-drift"
    endpoints      = "{s3=\"` + moto.Endpoint + `\",dynamodb=\"` + moto.Endpoint + `\"}"
  }
}`
	spec := decodeStack(t, a, repo.Tree(), block, nil)
	ctx := context.Background()
	req := request("params", "r1", spec, repo.Tree())
	mustApply(t, a, req, mustPlan(t, a, req))
	client := ssm.NewFromConfig(moto.AWSConfig(t))
	put := func(v string) {
		t.Helper()
		if _, err := client.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String(v), Type: ssmtypes.ParameterTypeString, Overwrite: aws.Bool(true)}); err != nil {
			t.Fatalf("PutParameter: %v", err)
		}
	}
	secrets := []string{"v1-original", "CANARY-out-of-band", "bob-the-owner"}

	// Right after the create: no false drift (tags null → {}).
	if r, b := mustDrift(t, a, req, nil); r.Drifted() {
		t.Fatalf("drift right after apply: %s", b)
	}

	put("CANARY-out-of-band")
	r, first := mustDrift(t, a, req, nil)
	want := []appliers.DriftItem{{Address: "aws_ssm_parameter.p", Action: "update", Attributes: []string{"value"}}}
	if !reflect.DeepEqual(r.Items, want) {
		t.Fatalf("drift after PutParameter = %s, want %+v", first, want)
	}
	mustNotContain(t, "drift report", string(first), secrets...)
	if _, again := mustDrift(t, a, req, nil); string(again) != string(first) {
		t.Errorf("same drift, different report:\n%s\n%s", first, again)
	}

	// A second, different change, value ignored.
	if _, err := client.AddTagsToResource(ctx, &ssm.AddTagsToResourceInput{ResourceType: ssmtypes.ResourceTypeForTaggingParameter, ResourceId: aws.String(name),
		Tags: []ssmtypes.Tag{{Key: aws.String("Owner"), Value: aws.String("bob-the-owner")}}}); err != nil {
		t.Fatalf("AddTagsToResource: %v", err)
	}
	r, b := mustDrift(t, a, req, []string{"aws_ssm_parameter.p.value"})
	if len(r.Items) != 1 || !contains(r.Items[0].Attributes, "tags.Owner") || contains(r.Items[0].Attributes, "value") || string(b) == string(first) {
		t.Errorf("drift after tagging, value ignored = %s", b)
	}
	mustNotContain(t, "drift report", string(b), secrets...)

	// Put back as it was: no drift, though the parameter's version moved.
	put("v1-original")
	if _, err := client.RemoveTagsFromResource(ctx, &ssm.RemoveTagsFromResourceInput{ResourceType: ssmtypes.ResourceTypeForTaggingParameter, ResourceId: aws.String(name), TagKeys: []string{"Owner"}}); err != nil {
		t.Fatalf("RemoveTagsFromResource: %v", err)
	}
	got, err := client.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	if r, b := mustDrift(t, a, req, nil); r.Drifted() {
		t.Errorf("drift after putting the value back (version %d): %s", got.Parameter.Version, b)
	}
	if got.Parameter.Version < 3 {
		t.Errorf("parameter version = %d, want it moved to 3", got.Parameter.Version)
	}
	if a.Inits() != 1 {
		t.Errorf("inits = %d, want 1", a.Inits())
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
