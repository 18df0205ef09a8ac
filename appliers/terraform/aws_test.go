package terraform

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/driftless/driftless/appliers"
	"github.com/driftless/driftless/internal/testenv"
)

const awsStack = `terraform {
  backend "s3" {
    region                      = "us-east-1"
    access_key                  = "test"
    secret_key                  = "test"
    use_path_style              = true
    skip_credentials_validation = true
    skip_requesting_account_id  = true
    skip_metadata_api_check     = true
    skip_region_validation      = true
    skip_s3_checksum            = true
  }
  required_providers {
    aws = {
      source = "hashicorp/aws"
    }
  }
}
variable "endpoint" {
  type = string
}
variable "value" {
  type = string
}
provider "aws" {
  region                      = "us-east-1"
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  endpoints {
    ssm = var.endpoint
    sts = var.endpoint
  }
}
resource "aws_ssm_parameter" "p" {
  name  = "/driftless/test/param"
  type  = "String"
  value = var.value
}
output "version" {
  value = aws_ssm_parameter.p.version
}
`

// TestAWSProviderAgainstMoto runs the real AWS provider (from the mirror)
// against moto, with S3 state and DynamoDB locking: apply, a no-op plan,
// then a plan against a held lock. Each command costs ≈10 s here.
func TestAWSProviderAgainstMoto(t *testing.T) {
	testenv.Short(t)
	moto := testenv.Moto(t)
	mirror := testenv.ProviderMirror(t)
	moto.CreateStateBackend(t, "tf-state-applier", "tf-locks-applier")
	a := newTestApplier(t, func(c *Config) { c.PluginMirror = mirror })
	repo := newRepo(t, map[string]string{"infra/params/main.tf": awsStack})
	block := `stack "params" {
  path = "infra/params"
  vars = { endpoint = "` + moto.Endpoint + `", value = "v1" }
  backend_config = {
    bucket         = "tf-state-applier"
    key            = "params/terraform.tfstate"
    dynamodb_table = "tf-locks-applier"
    endpoints      = "{s3=\"` + moto.Endpoint + `\",dynamodb=\"` + moto.Endpoint + `\"}"
  }
}`
	spec := decodeStack(t, a, repo.Tree(), block, nil)
	ctx := context.Background()

	req := request("params", "r1", spec, repo.Tree())
	p := mustPlan(t, a, req)
	if !containsChange(p.Changes, "aws_ssm_parameter.p", "create") {
		t.Fatalf("plan: %+v", p)
	}
	res := mustApply(t, a, req, p)
	if string(res.Outputs["version"].Value) != "1" {
		t.Errorf("outputs = %v", res.Outputs)
	}
	cfg := moto.AWSConfig(t)
	got, err := ssm.NewFromConfig(cfg).GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/driftless/test/param")})
	if err != nil || aws.ToString(got.Parameter.Value) != "v1" {
		t.Fatalf("parameter in moto: %v %v", got, err)
	}

	if p := mustPlan(t, a, request("params", "r2", spec, repo.Tree())); p.Changed {
		t.Errorf("second plan changed: %+v", p)
	}
	if a.Inits() != 1 {
		t.Errorf("inits = %d, want 1", a.Inits())
	}

	// Another Terraform holds the state lock.
	ddb := dynamodb.NewFromConfig(cfg)
	lockID := "tf-state-applier/params/terraform.tfstate"
	_, err = ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("tf-locks-applier"), Item: map[string]ddbtypes.AttributeValue{
		"LockID": &ddbtypes.AttributeValueMemberS{Value: lockID},
		"Info":   &ddbtypes.AttributeValueMemberS{Value: `{"ID":"0b1d2e3f-0000-0000-0000-000000000000","Operation":"OperationTypeApply","Who":"someone@elsewhere","Version":"1.11.4","Created":"2026-01-01T00:00:00Z","Path":"` + lockID + `"}`},
	}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = a.Plan(ctx, request("params", "r3", spec, repo.Tree()))
	if ok, _ := appliers.IsTransient(err); !ok || !strings.Contains(err.Error(), "state lock") {
		t.Fatalf("plan against a held lock: %v, want a Transient lock error", err)
	}
	t.Logf("lock error: %v", err)
	if errors.Is(err, context.Canceled) || appliers.IsStalled(err) {
		t.Errorf("lock error misclassified: %v", err)
	}
}
