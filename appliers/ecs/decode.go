package ecs

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/driftless/driftless/appliers"
	"github.com/driftless/driftless/appliers/hclattr"
)

// Defaults of the ecs_service block.
const (
	DefaultWaitTimeout   = 10 * time.Minute
	DefaultBakeWithAlarm = 2 * time.Minute // bake_time when alarms are set
)

// Spec is the decoded desired state of one ecs_service block. It marshals
// to JSON deterministically; the task definition is kept in canonical form,
// so a reordered or default-omitting taskdef file gives the same JSON.
type Spec struct {
	Cluster string `json:"cluster"`
	Service string `json:"service"`
	// TaskDefinition is the canonical JSON of the RegisterTaskDefinition
	// input (images already applied); empty when TaskDefinitionRef is set.
	TaskDefinition json.RawMessage `json:"task_definition,omitempty"`
	// TaskDefinitionRef names an already registered task definition
	// ("family:revision" or an ARN), when task_definition is a string.
	TaskDefinitionRef string            `json:"task_definition_ref,omitempty"`
	Images            map[string]string `json:"images,omitempty"`
	// DesiredCount nil: the service's desired count is never touched.
	DesiredCount      *int32        `json:"desired_count,omitempty"`
	WaitTimeout       time.Duration `json:"wait_timeout"`
	Alarms            []string      `json:"alarms,omitempty"`
	BakeTime          time.Duration `json:"bake_time"`
	RollbackOnFailure bool          `json:"rollback_on_failure"`
	// Create-only settings: used by CreateService, never updated.
	LaunchType string   `json:"launch_type,omitempty"`
	Network    *Network `json:"network_configuration,omitempty"`
	// Unknown lists attributes whose value was not known when decoded
	// (a stack output before its stack applied). Such a spec validates
	// but cannot be planned.
	Unknown []string `json:"unknown,omitempty"`
	Files   []string `json:"files,omitempty"`
}

// Network is the awsvpc network configuration used when creating a service.
type Network struct {
	Subnets        []string `json:"subnets"`
	SecurityGroups []string `json:"security_groups,omitempty"`
	AssignPublicIP bool     `json:"assign_public_ip"`
}

// Inputs returns the repo files the task definition was read from, when
// found as literal file("...") arguments.
func (s *Spec) Inputs() []string { return s.Files }

// Decode decodes and validates one ecs_service block. It does not touch
// the network. Values that are not known yet (stack outputs at validation
// time) are tolerated and listed in Spec.Unknown.
func (a *Applier) Decode(dc appliers.DecodeContext, body hcl.Body) (appliers.Spec, hcl.Diagnostics) {
	d := &decoder{hclattr.New(dc.Eval, hclattr.Messages{})}
	s := &Spec{Service: dc.App, WaitTimeout: DefaultWaitTimeout, RollbackOnFailure: true}
	var count cty.Value
	var bake time.Duration
	var taskDef cty.Value
	content := d.Content(body, hclattr.Schema{
		Attrs: []hclattr.Attr{
			{Name: "cluster", Required: true, Into: &s.Cluster, What: "a string", Check: notEmpty("Invalid cluster", &s.Cluster)},
			{Name: "service", Into: &s.Service, What: "a string", Check: notEmpty("Invalid service", &s.Service)},
			{Name: "images", Into: &s.Images, What: "a map of strings", NullAsEmpty: true, Check: func(attr *hcl.Attribute) *hclattr.Problem {
				for _, k := range slices.Sorted(maps.Keys(s.Images)) {
					if s.Images[k] == "" {
						return hclattr.Problemf("Invalid value", "%s[%q] must not be empty", attr.Name, k)
					}
				}
				return nil
			}},
			{Name: "desired_count", Into: &count, Type: cty.Number, What: "a number"},
			{Name: "wait_timeout", Into: &s.WaitTimeout, What: "a string", Check: func(*hcl.Attribute) *hclattr.Problem {
				if s.WaitTimeout <= 0 {
					return hclattr.Problemf("Invalid duration", "wait_timeout must be positive")
				}
				return nil
			}},
			{Name: "alarms", Into: &s.Alarms, What: "a list of strings", NullAsEmpty: true, Check: noEmptyElements(&s.Alarms)},
			{Name: "bake_time", Into: &bake, What: "a string", Check: func(*hcl.Attribute) *hclattr.Problem {
				if bake < 0 {
					return hclattr.Problemf("Invalid duration", "bake_time must not be negative")
				}
				return nil
			}},
			{Name: "rollback_on_failure", Into: &s.RollbackOnFailure, What: "a bool"},
			{Name: "launch_type", Into: &s.LaunchType, What: "a string", Check: func(*hcl.Attribute) *hclattr.Problem {
				s.LaunchType = strings.ToUpper(s.LaunchType)
				if !slices.Contains([]string{"EC2", "FARGATE", "EXTERNAL"}, s.LaunchType) {
					return hclattr.Problemf("Invalid launch_type", "launch_type must be EC2, FARGATE or EXTERNAL, not %q", s.LaunchType)
				}
				return nil
			}},
			{Name: "task_definition", Required: true}, // decoded last, below
			{Name: "depends_on"},                      // read by the reconciler; ignored here
		},
		Blocks: []hcl.BlockHeaderSchema{{Type: "network_configuration"}},
	})
	attrs := content.Attributes
	if d.Set("desired_count") {
		s.DesiredCount = d.count(attrs["desired_count"], count)
	}
	if len(s.Alarms) > 0 {
		s.BakeTime = DefaultBakeWithAlarm
	}
	if d.Set("bake_time") {
		s.BakeTime = bake
	}
	for i, blk := range content.Blocks {
		if i > 0 {
			d.Errorf(blk.DefRange, "Duplicate network_configuration", "only one network_configuration block is allowed")
			continue
		}
		s.Network = d.network(blk)
	}

	if attr := attrs["task_definition"]; attr != nil {
		s.Files = fileArgs(attr.Expr)
		if d.Decode(attr, hclattr.Attr{Name: attr.Name, Into: &taskDef}) {
			d.taskDefinition(attr, taskDef, s)
		}
	}
	if s.Images != nil && s.TaskDefinitionRef != "" {
		d.Errorf(attrs["images"].Expr.Range(), "Invalid images", "images overrides need task_definition as an object, not a reference to a registered task definition")
	}
	s.Unknown = d.Unknown()
	diags := d.Diags()
	if diags.HasErrors() {
		return nil, diags
	}
	return s, diags
}

// decoder is the shared attribute decoder with the ecs_service specifics.
type decoder struct{ *hclattr.Decoder }

func notEmpty(summary string, v *string) func(attr *hcl.Attribute) *hclattr.Problem {
	return func(attr *hcl.Attribute) *hclattr.Problem {
		if *v == "" {
			return hclattr.Problemf(summary, "%s must not be empty", attr.Name)
		}
		return nil
	}
}

func noEmptyElements(list *[]string) func(attr *hcl.Attribute) *hclattr.Problem {
	return func(attr *hcl.Attribute) *hclattr.Problem {
		if slices.Contains(*list, "") {
			return hclattr.Problemf("Invalid value", "%s must not contain empty strings", attr.Name)
		}
		if *list == nil {
			*list = []string{}
		}
		return nil
	}
}

func (d *decoder) count(attr *hcl.Attribute, c cty.Value) *int32 {
	n, ok := hclattr.WholeNumber(c, 0, 1<<31-1)
	if !ok {
		d.Errorf(attr.Expr.Range(), "Invalid desired_count", "desired_count must be a whole number ≥ 0, not %s", c.AsBigFloat().Text('g', 10))
		return nil
	}
	n32 := int32(n)
	return &n32
}

func (d *decoder) network(blk *hcl.Block) *Network {
	n := &Network{}
	d.Content(blk.Body, hclattr.Schema{Attrs: []hclattr.Attr{
		{Name: "subnets", Required: true, Into: &n.Subnets, What: "a list of strings", NullAsEmpty: true, Check: noEmptyElements(&n.Subnets)},
		{Name: "security_groups", Into: &n.SecurityGroups, What: "a list of strings", NullAsEmpty: true, Check: noEmptyElements(&n.SecurityGroups)},
		{Name: "assign_public_ip", Into: &n.AssignPublicIP, What: "a bool"},
	}})
	return n
}

func (d *decoder) taskDefinition(attr *hcl.Attribute, v cty.Value, s *Spec) {
	if v.Type() == cty.String {
		if v.AsString() == "" {
			d.Errorf(attr.Expr.Range(), "Invalid task_definition", "task_definition must not be empty")
		}
		s.TaskDefinitionRef = v.AsString()
		return
	}
	if !v.Type().IsObjectType() && !v.Type().IsMapType() {
		d.Errorf(attr.Expr.Range(), "Invalid task_definition", "task_definition must be an object (the JSON that `aws ecs register-task-definition --cli-input-json` takes, e.g. jsondecode(file(\"taskdef.json\"))) or the name of a registered task definition")
		return
	}
	raw, err := ctyjson.Marshal(v, v.Type())
	if err != nil {
		d.Errorf(attr.Expr.Range(), "Invalid task_definition", "%s", err.Error())
		return
	}
	in, err := parseTaskDef(raw)
	if err == nil {
		err = applyImages(in, s.Images)
	}
	if err == nil {
		s.TaskDefinition, err = canonical(in)
	}
	if err != nil {
		d.Errorf(attr.Expr.Range(), "Invalid task_definition", "%s", err.Error())
	}
}

// fileArgs finds the literal arguments of file(...) calls in expr: the
// repository files the task definition is read from.
func fileArgs(expr hcl.Expression) []string {
	se, ok := expr.(hclsyntax.Expression)
	if !ok {
		return nil
	}
	var out []string
	_ = hclsyntax.VisitAll(se, func(n hclsyntax.Node) hcl.Diagnostics {
		call, ok := n.(*hclsyntax.FunctionCallExpr)
		if !ok || call.Name != "file" || len(call.Args) != 1 {
			return nil
		}
		v, diags := call.Args[0].Value(nil)
		if diags.HasErrors() || !v.IsKnown() || v.IsNull() || v.Type() != cty.String {
			return nil
		}
		if p, err := appliers.CleanPath(v.AsString()); err == nil && !slices.Contains(out, p) {
			out = append(out, p)
		}
		return nil
	})
	slices.Sort(out)
	return out
}
