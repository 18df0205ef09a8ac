package terraform

import (
	"testing"

	"github.com/driftless/driftless/appliers"
	"github.com/driftless/driftless/appliers/appliertest"
)

func TestConformance(t *testing.T) {
	appliertest.Run(t, appliertest.Harness{
		New:  func(*testing.T) appliers.Applier { return NewDecoder() },
		Kind: "stack",
		Block: `stack "net" {
  path           = "infra/net"
  workspace      = "prod"
  vars           = { b = 2, a = "x", m = { z = 1, y = [1, 2] } }
  var_files      = ["infra/net/prod.tfvars"]
  backend_config = { key = "net.tfstate", bucket = "b" }
  auto_apply     = false
}`,
		Files: map[string]string{
			"infra/net/main.tf":       "module \"m\" {\n  source = \"../modules/m\"\n}\n",
			"infra/net/prod.tfvars":   "a = \"y\"\n",
			"infra/modules/m/main.tf": "output \"x\" {\n  value = 1\n}\n",
		},
		Invalid: []string{
			`stack "x" { path = "../out" }`,
			`stack "x" {
  path      = "infra/net"
  workspace = "no spaces"
}`,
			`stack "x" {
  path      = "infra/net"
  var_files = ["missing.tfvars"]
}`,
		},
	})
}
