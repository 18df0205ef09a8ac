package main

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/driftless/driftless/internal/testenv"
)

// The one end-to-end scenario with the AWS provider (≈10 s per Terraform
// command here): a stack holding an SSM parameter, its state in S3 with
// DynamoDB locking, all on moto, endpoints given to Terraform through the
// daemon's aws.endpoint (AWS_ENDPOINT_URL).

const awsStackTF = `terraform {
  backend "s3" {
    region                      = "us-east-1"
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

provider "aws" {
  region                      = "us-east-1"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  s3_use_path_style           = true
}

variable "greeting" {
  type = string
}

resource "aws_ssm_parameter" "greeting" {
  name  = "/e2e/greeting"
  type  = "String"
  value = var.greeting
}
`

const awsManifest = `stack "params" {
  path = "infra/params"
  vars = {
    greeting = %q
  }
  backend_config = {
    bucket         = "e2e-tf-state"
    key            = "params/terraform.tfstate"
    dynamodb_table = "e2e-tf-locks"
  }
}
`

func TestE2EAWSProviderOnMoto(t *testing.T) {
	testenv.Short(t)
	moto := testenv.Moto(t)
	mirror := testenv.ProviderMirror(t)
	moto.CreateStateBackend(t, "e2e-tf-state", "e2e-tf-locks")

	g := testenv.NewGitRepo(t)
	g.Write("infra/params/main.tf", awsStackTF)
	g.Write("deploy/params.hcl", fmt.Sprintf(awsManifest, "hello v1"))
	rev1 := g.Commit("params: hello v1")

	dir := t.TempDir()
	extra := fmt.Sprintf(`
aws {
  region   = "us-east-1"
  endpoint = %q
}
`, moto.Endpoint)
	cfgText := daemonConfig(t, filepath.Join(dir, "state"), g.URL(), extra)
	cfgText = replaceOnce(t, cfgText, "terraform {\n", fmt.Sprintf(`terraform {
  plugin_mirror = %q
  env = {
    AWS_ACCESS_KEY_ID     = "test"
    AWS_SECRET_ACCESS_KEY = "test"
  }
`, mirror))
	h := startE2E(t, writeFile(t, dir, "driftless.hcl", cfgText), map[string]string{"DRIFTLESS_API_TOKEN": testToken})

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	awsCfg := moto.AWSConfig(t)
	ssmc := ssm.NewFromConfig(awsCfg)
	param := func() string {
		t.Helper()
		out, err := ssmc.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/e2e/greeting")})
		if err != nil {
			t.Fatalf("reading the parameter from moto: %v", err)
		}
		return aws.ToString(out.Parameter.Value)
	}

	h.waitSyncedWithin(5*time.Minute, rev1, "platform/params")
	if v := param(); v != "hello v1" {
		t.Errorf("parameter = %q after the first deploy, want hello v1", v)
	}
	s3c := s3.NewFromConfig(awsCfg, func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := s3c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("e2e-tf-state"), Key: aws.String("params/terraform.tfstate")}); err != nil {
		t.Errorf("no state in the S3 backend: %v", err)
	}

	g.Write("deploy/params.hcl", fmt.Sprintf(awsManifest, "hello v2"))
	rev2 := g.Commit("params: hello v2")
	h.waitSyncedWithin(5*time.Minute, rev2, "platform/params")
	if v := param(); v != "hello v2" {
		t.Errorf("parameter = %q after the change, want hello v2", v)
	}
	evs := h.events()
	if i := indexOf(evs, "deploy.succeeded", "platform/params", rev2); i < 0 {
		t.Errorf("no deploy.succeeded at the second commit\n%s", eventList(evs))
	} else if c := evs[i].Data.Changes; len(c) != 1 || c[0].Address != "aws_ssm_parameter.greeting" || c[0].Action != "update" {
		t.Errorf("changes = %+v, want an update of aws_ssm_parameter.greeting", c)
	}
	if n := len(filter(evs, "deploy.failed", "")); n != 0 {
		t.Errorf("%d deploy.failed\n%s", n, eventList(evs))
	}
}
