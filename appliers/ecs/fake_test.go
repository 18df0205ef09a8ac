package ecs

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
)

// fakeAPI is an API whose methods are function fields (litestream's mock
// style); an unset field panics, so a test states every call it expects.
type fakeAPI struct {
	DescribeServicesFn       func(*ecs.DescribeServicesInput) (*ecs.DescribeServicesOutput, error)
	DescribeTaskDefinitionFn func(*ecs.DescribeTaskDefinitionInput) (*ecs.DescribeTaskDefinitionOutput, error)
	RegisterTaskDefinitionFn func(*ecs.RegisterTaskDefinitionInput) (*ecs.RegisterTaskDefinitionOutput, error)
	UpdateServiceFn          func(*ecs.UpdateServiceInput) (*ecs.UpdateServiceOutput, error)
	CreateServiceFn          func(*ecs.CreateServiceInput) (*ecs.CreateServiceOutput, error)
	DescribeClustersFn       func(*ecs.DescribeClustersInput) (*ecs.DescribeClustersOutput, error)
}

func (f *fakeAPI) DescribeServices(_ context.Context, in *ecs.DescribeServicesInput, _ ...func(*ecs.Options)) (*ecs.DescribeServicesOutput, error) {
	return f.DescribeServicesFn(in)
}
func (f *fakeAPI) DescribeTaskDefinition(_ context.Context, in *ecs.DescribeTaskDefinitionInput, _ ...func(*ecs.Options)) (*ecs.DescribeTaskDefinitionOutput, error) {
	return f.DescribeTaskDefinitionFn(in)
}
func (f *fakeAPI) RegisterTaskDefinition(_ context.Context, in *ecs.RegisterTaskDefinitionInput, _ ...func(*ecs.Options)) (*ecs.RegisterTaskDefinitionOutput, error) {
	return f.RegisterTaskDefinitionFn(in)
}
func (f *fakeAPI) UpdateService(_ context.Context, in *ecs.UpdateServiceInput, _ ...func(*ecs.Options)) (*ecs.UpdateServiceOutput, error) {
	return f.UpdateServiceFn(in)
}
func (f *fakeAPI) CreateService(_ context.Context, in *ecs.CreateServiceInput, _ ...func(*ecs.Options)) (*ecs.CreateServiceOutput, error) {
	return f.CreateServiceFn(in)
}
func (f *fakeAPI) DescribeClusters(_ context.Context, in *ecs.DescribeClustersInput, _ ...func(*ecs.Options)) (*ecs.DescribeClustersOutput, error) {
	return f.DescribeClustersFn(in)
}

type fakeAlarms struct {
	DescribeAlarmsFn func(*cloudwatch.DescribeAlarmsInput) (*cloudwatch.DescribeAlarmsOutput, error)
}

func (f *fakeAlarms) DescribeAlarms(_ context.Context, in *cloudwatch.DescribeAlarmsInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.DescribeAlarmsOutput, error) {
	return f.DescribeAlarmsFn(in)
}

// counting wraps an API and counts calls per operation; writes are the
// calls that change something.
type counting struct {
	API
	mu    sync.Mutex
	calls map[string]int
}

func newCounting(api API) *counting { return &counting{API: api, calls: map[string]int{}} }

func (c *counting) inc(op string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls[op]++
}

func (c *counting) count(op string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[op]
}

func (c *counting) writes() int {
	return c.count("RegisterTaskDefinition") + c.count("UpdateService") + c.count("CreateService")
}

func (c *counting) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.calls)
}

func (c *counting) DescribeServices(ctx context.Context, in *ecs.DescribeServicesInput, o ...func(*ecs.Options)) (*ecs.DescribeServicesOutput, error) {
	c.inc("DescribeServices")
	return c.API.DescribeServices(ctx, in, o...)
}
func (c *counting) DescribeTaskDefinition(ctx context.Context, in *ecs.DescribeTaskDefinitionInput, o ...func(*ecs.Options)) (*ecs.DescribeTaskDefinitionOutput, error) {
	c.inc("DescribeTaskDefinition")
	return c.API.DescribeTaskDefinition(ctx, in, o...)
}
func (c *counting) RegisterTaskDefinition(ctx context.Context, in *ecs.RegisterTaskDefinitionInput, o ...func(*ecs.Options)) (*ecs.RegisterTaskDefinitionOutput, error) {
	c.inc("RegisterTaskDefinition")
	return c.API.RegisterTaskDefinition(ctx, in, o...)
}
func (c *counting) UpdateService(ctx context.Context, in *ecs.UpdateServiceInput, o ...func(*ecs.Options)) (*ecs.UpdateServiceOutput, error) {
	c.inc("UpdateService")
	return c.API.UpdateService(ctx, in, o...)
}
func (c *counting) CreateService(ctx context.Context, in *ecs.CreateServiceInput, o ...func(*ecs.Options)) (*ecs.CreateServiceOutput, error) {
	c.inc("CreateService")
	return c.API.CreateService(ctx, in, o...)
}
func (c *counting) DescribeClusters(ctx context.Context, in *ecs.DescribeClustersInput, o ...func(*ecs.Options)) (*ecs.DescribeClustersOutput, error) {
	c.inc("DescribeClusters")
	return c.API.DescribeClusters(ctx, in, o...)
}

// fakeClock is a clock that Sleep advances: no test sleeps for real.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	return nil
}

// recorder is an Observer that records what it is told.
type recorder struct {
	mu        sync.Mutex
	steps     []string
	started   []string
	done      []error
	doneCalls int
}

func (r *recorder) Step(msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.steps = append(r.steps, msg)
}

func (r *recorder) RollbackStarted(reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.started = append(r.started, reason)
}

func (r *recorder) RollbackDone(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.done = append(r.done, err)
	r.doneCalls++
}

func (r *recorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return fmt.Sprintf("steps=%q started=%q done=%v", strings.Join(r.steps, " | "), r.started, r.done)
}
