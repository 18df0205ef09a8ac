package ecs

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/ecs"

	"github.com/driftless/driftless/appliers"
)

// Kind is the manifest block type this applier owns.
const Kind = "ecs_service"

// API is the part of the ECS API the applier calls; *ecs.Client satisfies it.
type API interface {
	DescribeServices(ctx context.Context, in *ecs.DescribeServicesInput, optFns ...func(*ecs.Options)) (*ecs.DescribeServicesOutput, error)
	DescribeTaskDefinition(ctx context.Context, in *ecs.DescribeTaskDefinitionInput, optFns ...func(*ecs.Options)) (*ecs.DescribeTaskDefinitionOutput, error)
	RegisterTaskDefinition(ctx context.Context, in *ecs.RegisterTaskDefinitionInput, optFns ...func(*ecs.Options)) (*ecs.RegisterTaskDefinitionOutput, error)
	UpdateService(ctx context.Context, in *ecs.UpdateServiceInput, optFns ...func(*ecs.Options)) (*ecs.UpdateServiceOutput, error)
	CreateService(ctx context.Context, in *ecs.CreateServiceInput, optFns ...func(*ecs.Options)) (*ecs.CreateServiceOutput, error)
	DescribeClusters(ctx context.Context, in *ecs.DescribeClustersInput, optFns ...func(*ecs.Options)) (*ecs.DescribeClustersOutput, error)
}

// AlarmAPI is the part of the CloudWatch API the applier calls;
// *cloudwatch.Client satisfies it.
type AlarmAPI interface {
	DescribeAlarms(ctx context.Context, in *cloudwatch.DescribeAlarmsInput, optFns ...func(*cloudwatch.Options)) (*cloudwatch.DescribeAlarmsOutput, error)
}

var (
	_ API      = (*ecs.Client)(nil)
	_ AlarmAPI = (*cloudwatch.Client)(nil)

	_ appliers.Applier = (*Applier)(nil)
)

// Options tune the applier; the zero value is fine.
type Options struct {
	// Poll is the interval between status polls while waiting for a
	// deployment and during the bake (default 5s).
	Poll time.Duration
	// Clock and Sleep replace time.Now and a context-aware sleep in tests.
	Clock func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	// Concurrency bounds the task definition look-ups of one PlanBatch
	// (default 8).
	Concurrency int
}

// Applier deploys ecs_service blocks. It is safe for concurrent use.
type Applier struct {
	api    API
	alarms AlarmAPI
	opts   Options
	log    *slog.Logger

	mu    sync.Mutex
	cache map[string]*liveTaskDef // immutable task definition revisions by ARN or family:revision
}

// New returns an applier calling api and alarms (alarms may be nil when no
// block uses alarms). log nil means slog.Default().
func New(api API, alarms AlarmAPI, opts Options, log *slog.Logger) *Applier {
	if opts.Poll <= 0 {
		opts.Poll = 5 * time.Second
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Sleep == nil {
		opts.Sleep = sleep
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 8
	}
	if log == nil {
		log = slog.Default()
	}
	return &Applier{api: api, alarms: alarms, opts: opts, log: log, cache: map[string]*liveTaskDef{}}
}

// Kind returns "ecs_service".
func (a *Applier) Kind() string { return Kind }

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// maxCached bounds the task definition cache; past it the cache starts over.
const maxCached = 1024

func (a *Applier) cached(ref string) *liveTaskDef {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cache[ref]
}

func (a *Applier) remember(td *liveTaskDef, refs ...string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.cache) >= maxCached {
		clear(a.cache)
	}
	for _, r := range refs {
		if isRevision(r) {
			a.cache[r] = td
		}
	}
}

// errorClasses classifies ECS and CloudWatch errors: throttling (and
// ServerException) and network errors are Transient; requests that a retry
// of the same desired state cannot fix are Stalled.
var errorClasses = appliers.AWSClassifier{
	Transient: []string{"ServerException"},
	Stalled: []string{
		"ClientException", "InvalidParameterException", "ClusterNotFoundException",
		"ValidationException", "InvalidParameterValue", "PlatformUnknownException",
		"PlatformTaskDefinitionIncompatibilityException", "UnsupportedFeatureException",
		"ServiceNotActiveException", "AccessDeniedException",
	},
}

// classify wraps an AWS error with what was being done and classifies it
// with errorClasses.
func classify(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return errorClasses.Classify(fmt.Errorf(format+": %w", append(args, err)...))
}
