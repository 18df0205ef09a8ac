package ecs

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/smithy-go"
	"golang.org/x/sync/errgroup"

	"github.com/driftless/driftless/appliers"
)

// maxDescribe is how many services one DescribeServices call accepts.
const maxDescribe = 10

// liveTaskDef is a registered task definition revision in canonical form.
type liveTaskDef struct {
	ARN       string
	Canonical []byte
}

// artifact is what Apply carries out: the plan's private half.
type artifact struct {
	Cluster string
	Service string
	Create  bool
	// Register is the canonical task definition to register; nil when the
	// target revision already exists (TargetARN).
	Register  []byte
	TargetARN string
	TDChanged bool
	// PrevARN and PrevDesired describe the live service, for rollback.
	PrevARN     string
	PrevDesired int32
	// SetDesired is the desired count to set; nil leaves it untouched.
	SetDesired     *int32
	DesiredChanged bool
}

// BatchError reports the requests of a PlanBatch that could not be
// planned: Errs[i] is the error for reqs[i], nil for those planned.
type BatchError struct{ Errs []error }

func (e *BatchError) Error() string {
	var msgs []string
	for _, err := range e.Errs {
		if err != nil {
			msgs = append(msgs, err.Error())
		}
	}
	return strings.Join(msgs, "; ")
}

// Unwrap returns the non-nil errors, so errors.Is/As and
// appliers.IsStalled see through a BatchError.
func (e *BatchError) Unwrap() []error {
	var out []error
	for _, err := range e.Errs {
		if err != nil {
			out = append(out, err)
		}
	}
	return out
}

// Plan computes what Apply would change for one service, without changing
// anything. It is PlanBatch for a single request.
func (a *Applier) Plan(ctx context.Context, req appliers.Request) (*appliers.Plan, error) {
	plans, err := a.PlanBatch(ctx, []appliers.Request{req})
	var be *BatchError
	if errors.As(err, &be) {
		return nil, be.Errs[0]
	}
	if err != nil {
		return nil, err
	}
	return plans[0], nil
}

// PlanBatch plans several ecs_service apps at once: it groups them by
// cluster and describes their services with one DescribeServices call per
// ten services. plans[i] is the plan for reqs[i]. When some requests
// cannot be planned, their plan is nil and the error is a *BatchError.
//
// Task definition revisions are immutable, so the applier caches their
// canonical form by ARN: a plan pass over unchanged services makes only
// the DescribeServices calls.
func (a *Applier) PlanBatch(ctx context.Context, reqs []appliers.Request) ([]*appliers.Plan, error) {
	plans := make([]*appliers.Plan, len(reqs))
	errs := make([]error, len(reqs))
	specs := make([]*Spec, len(reqs))
	byCluster := map[string][]int{}
	var clusters []string
	for i, r := range reqs {
		s, err := specOf(r.Spec)
		if err != nil {
			errs[i] = err
			continue
		}
		specs[i] = s
		if _, ok := byCluster[s.Cluster]; !ok {
			clusters = append(clusters, s.Cluster)
		}
		byCluster[s.Cluster] = append(byCluster[s.Cluster], i)
	}

	services := make([]*types.Service, len(reqs))
	for _, cluster := range clusters {
		idx := byCluster[cluster]
		var names []string
		for _, i := range idx {
			if !slices.Contains(names, specs[i].Service) {
				names = append(names, specs[i].Service)
			}
		}
		found := map[string]*types.Service{}
		var derr error
		for chunk := range slices.Chunk(names, maxDescribe) {
			got, err := a.describeServices(ctx, cluster, chunk)
			if err != nil {
				derr = err
				break
			}
			for k, v := range got {
				found[k] = v
			}
		}
		for _, i := range idx {
			if derr != nil {
				errs[i] = derr
				continue
			}
			services[i] = found[specs[i].Service]
		}
	}

	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(a.opts.Concurrency)
	for i := range reqs {
		if errs[i] != nil {
			continue
		}
		g.Go(func() error {
			plans[i], errs[i] = a.planOne(gctx, reqs[i], specs[i], services[i])
			return nil
		})
	}
	_ = g.Wait()
	for i, err := range errs {
		if err != nil {
			errs[i] = fmt.Errorf("ecs_service %s: %w", reqs[i].App, err)
		}
	}
	if slices.ContainsFunc(errs, func(e error) bool { return e != nil }) {
		return plans, &BatchError{Errs: errs}
	}
	return plans, nil
}

func specOf(s appliers.Spec) (*Spec, error) {
	spec, ok := s.(*Spec)
	if !ok || spec == nil {
		return nil, appliers.Stalled(fmt.Errorf("not an ecs_service spec: %T", s))
	}
	if len(spec.Unknown) > 0 {
		return nil, appliers.Stalled(fmt.Errorf("%s not known yet (a referenced output has no value)", strings.Join(spec.Unknown, ", ")))
	}
	return spec, nil
}

// describeServices describes up to ten services of one cluster and returns
// the ACTIVE or DRAINING ones by name; missing and INACTIVE (deleted)
// services are absent from the map.
func (a *Applier) describeServices(ctx context.Context, cluster string, names []string) (map[string]*types.Service, error) {
	out, err := a.api.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(cluster), Services: names})
	if err != nil {
		if isCode(err, "ClusterNotFoundException") {
			return nil, appliers.Stalled(fmt.Errorf("cluster %s not found: %w", cluster, err))
		}
		return nil, classify(err, "describing services in cluster %s", cluster)
	}
	found := map[string]*types.Service{}
	for i := range out.Services {
		s := &out.Services[i]
		if aws.ToString(s.Status) == "INACTIVE" {
			continue
		}
		found[aws.ToString(s.ServiceName)] = s
		found[aws.ToString(s.ServiceArn)] = s
	}
	return found, nil
}

// comparison is how a live service differs from its spec, normalised as
// the planner sees it: Plan turns it into a plan, Drift into a report.
type comparison struct {
	desired []byte       // canonical desired task definition
	target  *liveTaskDef // the referenced revision, when task_definition names one
	family  string
	liveTD  *liveTaskDef // what the service runs; nil when it does not exist
	// tdChanged: the service runs another revision than the referenced
	// one, or a task definition whose canonical content differs.
	tdChanged bool
	// desiredChanged: desired_count is set and differs from the service's.
	desiredChanged bool
}

// compare reads what it needs (task definitions, cached by ARN) and
// compares svc (nil: the service does not exist) with s. It changes
// nothing.
func (a *Applier) compare(ctx context.Context, s *Spec, svc *types.Service) (*comparison, error) {
	c := &comparison{}
	if s.TaskDefinitionRef != "" {
		td, err := a.describeTaskDef(ctx, s.TaskDefinitionRef)
		if err != nil {
			return nil, err
		}
		c.target, c.desired = td, td.Canonical
	} else {
		c.desired = s.TaskDefinition
	}
	var err error
	if c.family, err = familyOf(c.desired); err != nil {
		return nil, err
	}
	if svc != nil && aws.ToString(svc.Status) == "DRAINING" {
		return nil, appliers.Transient(fmt.Errorf("service %s in cluster %s is being deleted (DRAINING)", s.Service, s.Cluster), 0)
	}
	if svc == nil {
		c.tdChanged, c.desiredChanged = true, true
		return c, nil
	}
	if c.liveTD, err = a.describeTaskDef(ctx, aws.ToString(svc.TaskDefinition)); err != nil {
		return nil, err
	}
	if c.target != nil {
		c.tdChanged = c.target.ARN != c.liveTD.ARN
	} else {
		c.tdChanged = !bytes.Equal(c.desired, c.liveTD.Canonical)
	}
	c.desiredChanged = s.DesiredCount != nil && *s.DesiredCount != svc.DesiredCount
	return c, nil
}

func (a *Applier) planOne(ctx context.Context, req appliers.Request, s *Spec, svc *types.Service) (*appliers.Plan, error) {
	addr := "ecs_service." + req.App
	art := &artifact{Cluster: s.Cluster, Service: s.Service}
	diff, err := a.compare(ctx, s, svc)
	if err != nil {
		return nil, err
	}
	desired, target, family, liveTD := diff.desired, diff.target, diff.family, diff.liveTD

	var parts []string
	var changes []appliers.Change
	if svc == nil {
		art.Create, art.TDChanged = true, true
		if err := a.chooseTarget(ctx, art, target, desired, family); err != nil {
			return nil, err
		}
		n := int32(1)
		if s.DesiredCount != nil {
			n = *s.DesiredCount
		}
		art.SetDesired, art.DesiredChanged = &n, true
		what := "task definition " + family + " (to register)"
		if art.TargetARN != "" {
			what = "task definition " + familyRevision(art.TargetARN)
		}
		parts = append(parts, fmt.Sprintf("create service %s in cluster %s with %s%s, desired count %d", s.Service, s.Cluster, what, imagesOf(desired), n))
		changes = append(changes, appliers.Change{Address: addr, Action: "create"})
	} else {
		art.PrevARN, art.PrevDesired = liveTD.ARN, svc.DesiredCount
		art.TDChanged = diff.tdChanged
		if art.TDChanged {
			if err := a.chooseTarget(ctx, art, target, desired, family); err != nil {
				return nil, err
			}
			line := "task definition " + family + ": " + describeDiff(liveTD.Canonical, desired)
			if art.TargetARN != "" {
				line += fmt.Sprintf(" (%s → %s)", familyRevision(liveTD.ARN), familyRevision(art.TargetARN))
			}
			parts = append(parts, line)
			changes = append(changes, appliers.Change{Address: addr + ".task_definition", Action: "update"})
		} else {
			art.TargetARN = liveTD.ARN
		}
		if diff.desiredChanged {
			art.SetDesired, art.DesiredChanged = s.DesiredCount, true
			parts = append(parts, fmt.Sprintf("desired count %d → %d", svc.DesiredCount, *s.DesiredCount))
			changes = append(changes, appliers.Change{Address: addr + ".desired_count", Action: "update"})
		}
	}

	p := &appliers.Plan{Changed: len(changes) > 0, Changes: changes, Artifact: art}
	p.Summary = strings.Join(parts, "; ")
	if !p.Changed {
		p.Summary = fmt.Sprintf("no changes: service %s runs %s", s.Service, familyRevision(art.TargetARN))
	} else if err := a.checkAlarms(ctx, s.Alarms); err != nil {
		return nil, err
	}
	p.ID, err = planID(s, svc, liveTD)
	if err != nil {
		return nil, err
	}
	return p, nil
}

// chooseTarget decides whether the desired task definition must be
// registered, or an existing revision deployed: the explicitly referenced
// one, or the family's latest revision when its content is the desired one
// (after a rollback, for instance) — no needless new revisions.
func (a *Applier) chooseTarget(ctx context.Context, art *artifact, target *liveTaskDef, desired []byte, family string) error {
	if target != nil {
		art.TargetARN = target.ARN
		return nil
	}
	latest, err := a.describeTaskDef(ctx, family)
	switch {
	case err != nil && isCode(err, "ClientException"):
		// No revision of the family yet.
	case err != nil:
		return err
	case bytes.Equal(latest.Canonical, desired):
		art.TargetARN = latest.ARN
		return nil
	}
	art.Register = desired
	return nil
}

// describeTaskDef returns a task definition in canonical form, from the
// cache when ref names an immutable revision.
func (a *Applier) describeTaskDef(ctx context.Context, ref string) (*liveTaskDef, error) {
	if td := a.cached(ref); td != nil {
		return td, nil
	}
	out, err := a.api.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{
		TaskDefinition: aws.String(ref),
		Include:        []types.TaskDefinitionField{types.TaskDefinitionFieldTags},
	})
	if err != nil {
		return nil, classify(err, "describing task definition %s", ref)
	}
	if out.TaskDefinition == nil {
		return nil, fmt.Errorf("describing task definition %s: empty answer", ref)
	}
	c, err := canonical(inputFromLive(out.TaskDefinition, out.Tags))
	if err != nil {
		return nil, err
	}
	td := &liveTaskDef{ARN: aws.ToString(out.TaskDefinition.TaskDefinitionArn), Canonical: c}
	a.remember(td, ref, td.ARN)
	return td, nil
}

var revisionRef = regexp.MustCompile(`:\d+$`)

// isRevision reports whether ref names one immutable revision (an ARN or
// family:revision), not a family's latest.
func isRevision(ref string) bool { return revisionRef.MatchString(ref) }

func familyOf(canonicalTD []byte) (string, error) {
	var td struct{ Family string }
	if err := json.Unmarshal(canonicalTD, &td); err != nil || td.Family == "" {
		return "", fmt.Errorf("task definition has no family")
	}
	return td.Family, nil
}

// imagesOf lists the images of a canonical task definition for a summary.
func imagesOf(canonicalTD []byte) string {
	var td struct{ ContainerDefinitions []struct{ Image string } }
	_ = json.Unmarshal(canonicalTD, &td)
	var imgs []string
	for _, c := range td.ContainerDefinitions {
		imgs = append(imgs, c.Image)
	}
	if len(imgs) == 0 {
		return ""
	}
	return " (image " + strings.Join(imgs, ", ") + ")"
}

// planID hashes everything that shaped the plan: the desired spec and the
// live service's task definition and desired count.
func planID(s *Spec, svc *types.Service, liveTD *liveTaskDef) (string, error) {
	type liveState struct {
		Exists       bool            `json:"exists"`
		TaskDefARN   string          `json:"task_definition_arn,omitempty"`
		TaskDef      json.RawMessage `json:"task_definition,omitempty"`
		DesiredCount int32           `json:"desired_count"`
	}
	l := liveState{Exists: svc != nil}
	if svc != nil {
		l.DesiredCount = svc.DesiredCount
	}
	if liveTD != nil {
		l.TaskDefARN, l.TaskDef = liveTD.ARN, liveTD.Canonical
	}
	b, err := json.Marshal(struct {
		Desired *Spec     `json:"desired"`
		Live    liveState `json:"live"`
	}{s, l})
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

func isCode(err error, code string) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == code
}
