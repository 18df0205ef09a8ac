package ecs

import (
	"testing"

	"github.com/driftless/driftless/appliers"
	"github.com/driftless/driftless/appliers/appliertest"
)

func TestConformance(t *testing.T) {
	appliertest.Run(t, appliertest.Harness{
		New:  func(*testing.T) appliers.Applier { return New(nil, nil, Options{}, nil) },
		Kind: Kind,
		Block: `ecs_service "web" {
  cluster         = "main"
  task_definition = jsondecode(file("services/web/taskdef.json"))
  images          = { web = "nginx:1.27", side = "envoy:1" }
  desired_count   = 2
  alarms          = ["web-5xx", "web-latency"]
  launch_type     = "fargate"
  network_configuration {
    subnets         = ["subnet-b", "subnet-a"]
    security_groups = ["sg-1"]
  }
}`,
		Files: map[string]string{"services/web/taskdef.json": `{
  "family": "web",
  "containerDefinitions": [
    {"name": "web", "image": "nginx:1.25", "memory": 128, "environment": [{"name": "B", "value": "2"}, {"name": "A", "value": "1"}]},
    {"name": "side", "image": "envoy:0", "memory": 64}
  ]
}`},
		Invalid: []string{
			`ecs_service "web" {
  cluster         = "main"
  task_definition = "web:1"
  desired_count   = -1
}`,
			`ecs_service "web" {
  cluster         = ""
  task_definition = 3
  launch_type     = "moon"
}`,
		},
	})
}
