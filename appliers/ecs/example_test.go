package ecs_test

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/ecs"

	"github.com/driftless/driftless/appliers"
	ecsapplier "github.com/driftless/driftless/appliers/ecs"
)

// The applier is built from the SDK clients; cmd/driftless wires it into
// the reconciler next to the other appliers.
func Example() {
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		panic(err)
	}
	a := ecsapplier.New(ecs.NewFromConfig(cfg), cloudwatch.NewFromConfig(cfg), ecsapplier.Options{}, slog.Default())

	var reqs []appliers.Request // one per ecs_service app, Spec from a.Decode
	plans, err := a.PlanBatch(ctx, reqs)
	if err != nil {
		panic(err)
	}
	for i, p := range plans {
		fmt.Println(reqs[i].App, p.Changed, p.Summary)
	}
}
