package lambda

import (
	"testing"

	"github.com/driftless/driftless/appliers"
	"github.com/driftless/driftless/appliers/appliertest"
)

func TestConformance(t *testing.T) {
	appliertest.Run(t, appliertest.Harness{
		New:  func(*testing.T) appliers.Applier { return New(nil, nil, Options{}, nil) },
		Kind: Kind,
		Block: `lambda_function "thumb" {
  role          = "arn:aws:iam::123456789012:role/thumb"
  zip_dir       = "functions/thumb/"
  runtime       = "nodejs20.x"
  handler       = "index.handler"
  environment   = { Z = "1", A = "2", M = "3" }
  traffic_steps = [10, 50, 100]
  alarms        = ["b", "a"]
}`,
		Files: map[string]string{"functions/thumb/index.js": "exports.handler = async () => 'ok'\n"},
		Invalid: []string{
			`lambda_function "thumb" { image_uri = "x:1" }`,
			`lambda_function "thumb" {
  role          = "r"
  image_uri     = "x:1"
  traffic_steps = [50, 10]
  memory_size   = 1
}`,
			`lambda_function "thumb" {
  role    = "r"
  zip_dir = "../outside"
  runtime = "nodejs20.x"
  handler = "index.handler"
}`,
		},
	})
}
