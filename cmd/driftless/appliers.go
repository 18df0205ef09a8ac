package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	awsecs "github.com/aws/aws-sdk-go-v2/service/ecs"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/driftless/driftless/appliers"
	"github.com/driftless/driftless/appliers/ecs"
	"github.com/driftless/driftless/appliers/lambda"
	"github.com/driftless/driftless/appliers/terraform"
	"github.com/driftless/driftless/internal/config"
	"github.com/driftless/driftless/internal/redact"
)

// wiring is what an applier is built from. Offline wiring (validate) has
// no controller config and no AWS configuration: the appliers it builds
// can decode manifests but must not be asked to plan or apply.
type wiring struct {
	offline bool
	cfg     *config.Config
	aws     aws.Config
	red     *redact.Redactor
	log     *slog.Logger
}

// applierList is the one list of appliers, used by run, plan and validate.
// A new applier is a package under appliers/ and one line here.
var applierList = []func(w wiring) (appliers.Applier, error){
	newTerraform,
	func(w wiring) (appliers.Applier, error) {
		if w.offline {
			return ecs.New(nil, nil, ecs.Options{}, nil), nil
		}
		return ecs.New(awsecs.NewFromConfig(w.aws), cloudwatch.NewFromConfig(w.aws), ecs.Options{}, w.log.With("applier", "ecs")), nil
	},
	func(w wiring) (appliers.Applier, error) {
		if w.offline {
			return lambda.New(nil, nil, lambda.Options{}, nil), nil
		}
		return lambda.New(awslambda.NewFromConfig(w.aws), cloudwatch.NewFromConfig(w.aws), lambda.Options{}, w.log.With("applier", "lambda")), nil
	},
}

func newTerraform(w wiring) (appliers.Applier, error) {
	if w.offline {
		return terraform.NewDecoder(), nil
	}
	cfg := w.cfg
	var runAs *terraform.RunAs
	if u := cfg.Terraform.RunAs; u != nil {
		runAs = &terraform.RunAs{UID: u.UID, GID: u.GID, Home: u.Home}
	}
	return terraform.New(terraform.Config{
		Binary: cfg.Terraform.Binary, PluginMirror: cfg.Terraform.PluginMirror,
		WorkDir: filepath.Join(cfg.StateDir, "terraform"), PluginCache: filepath.Join(cfg.StateDir, "plugin-cache"),
		Env: cfg.Terraform.Env, AWSRegion: cfg.AWS.Region, AWSEndpoint: cfg.AWS.Endpoint, BaseEnv: os.Environ(),
		// A replica that stops renewing its lease interrupts Terraform at half
		// the TTL; Terraform is killed by the TTL, before another replica may
		// take the app over (after the TTL and a grace period).
		WaitDelay: cfg.LeaseTTL / 2,
		Redactor:  w.red,
		RunAs:     runAs, // Terraform starts through this executable (main calls dropexec.Main)
	}, w.log.With("applier", "terraform"))
}

// buildAppliers builds every applier of applierList for the daemon and
// plan: Terraform and AWS clients configured from cfg.
func buildAppliers(ctx context.Context, cfg *config.Config, red *redact.Redactor, log *slog.Logger) ([]appliers.Applier, error) {
	awsCfg, err := loadAWS(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return appliersFor(wiring{cfg: cfg, aws: awsCfg, red: red, log: log})
}

// offlineAppliers decode manifests without reaching Terraform or AWS.
func offlineAppliers() []appliers.Applier {
	as, err := appliersFor(wiring{offline: true, log: slog.New(slog.DiscardHandler)})
	if err != nil {
		panic(fmt.Sprintf("offline appliers cannot fail: %v", err))
	}
	return as
}

func appliersFor(w wiring) ([]appliers.Applier, error) {
	as := make([]appliers.Applier, 0, len(applierList))
	for _, build := range applierList {
		a, err := build(w)
		if err != nil {
			return nil, err
		}
		as = append(as, a)
	}
	return as, nil
}

func loadAWS(ctx context.Context, cfg *config.Config) (aws.Config, error) {
	var opts []func(*awsconfig.LoadOptions) error
	if cfg.AWS.Region != "" {
		opts = append(opts, awsconfig.WithRegion(cfg.AWS.Region))
	}
	ac, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("loading AWS configuration: %w", err)
	}
	if cfg.AWS.Endpoint != "" {
		ac.BaseEndpoint = aws.String(cfg.AWS.Endpoint)
	}
	return ac, nil
}
