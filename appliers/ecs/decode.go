package ecs

import (
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/driftless/driftless/appliers"
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

var blockSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "cluster", Required: true},
		{Name: "service"},
		{Name: "task_definition", Required: true},
		{Name: "images"},
		{Name: "desired_count"},
		{Name: "wait_timeout"},
		{Name: "alarms"},
		{Name: "bake_time"},
		{Name: "rollback_on_failure"},
		{Name: "launch_type"},
		{Name: "depends_on"}, // read by the reconciler; ignored here
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "network_configuration"}},
}

var networkSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "subnets", Required: true},
		{Name: "security_groups"},
		{Name: "assign_public_ip"},
	},
}

// Decode decodes and validates one ecs_service block. It does not touch
// the network. Values that are not known yet (stack outputs at validation
// time) are tolerated and listed in Spec.Unknown.
func (a *Applier) Decode(dc appliers.DecodeContext, body hcl.Body) (appliers.Spec, hcl.Diagnostics) {
	content, diags := body.Content(blockSchema)
	d := &decoder{eval: dc.Eval}
	s := &Spec{Service: dc.App, WaitTimeout: DefaultWaitTimeout, RollbackOnFailure: true}
	attrs := content.Attributes

	if v, ok := d.str(attrs["cluster"]); ok {
		if v == "" {
			d.errf(attrs["cluster"].Expr.Range(), "Invalid cluster", "cluster must not be empty")
		}
		s.Cluster = v
	}
	if v, ok := d.str(attrs["service"]); ok {
		if v == "" {
			d.errf(attrs["service"].Expr.Range(), "Invalid service", "service must not be empty")
		}
		s.Service = v
	}
	if v, ok := d.strMap(attrs["images"]); ok {
		s.Images = v
	}
	if v, ok := d.value(attrs["desired_count"]); ok {
		s.DesiredCount = d.count(attrs["desired_count"], v)
	}
	if v, ok := d.duration(attrs["wait_timeout"]); ok {
		if v <= 0 {
			d.errf(attrs["wait_timeout"].Expr.Range(), "Invalid duration", "wait_timeout must be positive")
		}
		s.WaitTimeout = v
	}
	if v, ok := d.strList(attrs["alarms"]); ok {
		s.Alarms = v
	}
	if len(s.Alarms) > 0 {
		s.BakeTime = DefaultBakeWithAlarm
	}
	if v, ok := d.duration(attrs["bake_time"]); ok {
		if v < 0 {
			d.errf(attrs["bake_time"].Expr.Range(), "Invalid duration", "bake_time must not be negative")
		}
		s.BakeTime = v
	}
	if v, ok := d.boolean(attrs["rollback_on_failure"]); ok {
		s.RollbackOnFailure = v
	}
	if v, ok := d.str(attrs["launch_type"]); ok {
		v = strings.ToUpper(v)
		if !slices.Contains([]string{"EC2", "FARGATE", "EXTERNAL"}, v) {
			d.errf(attrs["launch_type"].Expr.Range(), "Invalid launch_type", fmt.Sprintf("launch_type must be EC2, FARGATE or EXTERNAL, not %q", v))
		}
		s.LaunchType = v
	}
	for i, blk := range content.Blocks {
		if i > 0 {
			d.errf(blk.DefRange, "Duplicate network_configuration", "only one network_configuration block is allowed")
			continue
		}
		s.Network = d.network(blk)
	}

	if attr := attrs["task_definition"]; attr != nil {
		s.Files = fileArgs(attr.Expr)
		d.taskDefinition(attr, s)
	}
	if s.Images != nil && s.TaskDefinitionRef != "" {
		d.errf(attrs["images"].Expr.Range(), "Invalid images", "images overrides need task_definition as an object, not a reference to a registered task definition")
	}
	s.Unknown = d.unknown
	diags = append(diags, d.diags...)
	if diags.HasErrors() {
		return nil, diags
	}
	return s, diags
}

// decoder evaluates attributes, collecting diagnostics and unknowns.
type decoder struct {
	eval    *hcl.EvalContext
	diags   hcl.Diagnostics
	unknown []string
}

func (d *decoder) errf(rng hcl.Range, summary, detail string) {
	d.diags = append(d.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: rng.Ptr()})
}

// value evaluates attr; ok is false when it is absent, null, unknown or
// invalid (diagnostics recorded).
func (d *decoder) value(attr *hcl.Attribute) (cty.Value, bool) {
	if attr == nil {
		return cty.NilVal, false
	}
	v, diags := attr.Expr.Value(d.eval)
	d.diags = append(d.diags, diags...)
	if diags.HasErrors() || v.IsNull() {
		return cty.NilVal, false
	}
	if !v.IsWhollyKnown() {
		d.unknown = append(d.unknown, attr.Name)
		return cty.NilVal, false
	}
	v, _ = v.Unmark()
	return v, true
}

func (d *decoder) convert(attr *hcl.Attribute, v cty.Value, ty cty.Type, what string) (cty.Value, bool) {
	c, err := convert.Convert(v, ty)
	if err != nil {
		d.errf(attr.Expr.Range(), "Incorrect attribute value type", fmt.Sprintf("%s must be %s: %v", attr.Name, what, err))
		return cty.NilVal, false
	}
	if !c.IsWhollyKnown() || c.IsNull() {
		return cty.NilVal, false
	}
	return c, true
}

func (d *decoder) str(attr *hcl.Attribute) (string, bool) {
	v, ok := d.value(attr)
	if !ok {
		return "", false
	}
	c, ok := d.convert(attr, v, cty.String, "a string")
	if !ok {
		return "", false
	}
	return c.AsString(), true
}

func (d *decoder) boolean(attr *hcl.Attribute) (bool, bool) {
	v, ok := d.value(attr)
	if !ok {
		return false, false
	}
	c, ok := d.convert(attr, v, cty.Bool, "a bool")
	if !ok {
		return false, false
	}
	return c.True(), true
}

func (d *decoder) strList(attr *hcl.Attribute) ([]string, bool) {
	v, ok := d.value(attr)
	if !ok {
		return nil, false
	}
	c, ok := d.convert(attr, v, cty.List(cty.String), "a list of strings")
	if !ok {
		return nil, false
	}
	out := []string{}
	for _, e := range c.AsValueSlice() {
		if e.IsNull() || e.AsString() == "" {
			d.errf(attr.Expr.Range(), "Invalid value", attr.Name+" must not contain empty strings")
			return nil, false
		}
		out = append(out, e.AsString())
	}
	return out, true
}

func (d *decoder) strMap(attr *hcl.Attribute) (map[string]string, bool) {
	v, ok := d.value(attr)
	if !ok {
		return nil, false
	}
	c, ok := d.convert(attr, v, cty.Map(cty.String), "a map of strings")
	if !ok {
		return nil, false
	}
	out := map[string]string{}
	for k, e := range c.AsValueMap() {
		if e.IsNull() || e.AsString() == "" {
			d.errf(attr.Expr.Range(), "Invalid value", fmt.Sprintf("%s[%q] must not be empty", attr.Name, k))
			return nil, false
		}
		out[k] = e.AsString()
	}
	return out, true
}

func (d *decoder) duration(attr *hcl.Attribute) (time.Duration, bool) {
	s, ok := d.str(attr)
	if !ok {
		return 0, false
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		d.errf(attr.Expr.Range(), "Invalid duration", fmt.Sprintf("%s: %q is not a duration like \"90s\" or \"10m\"", attr.Name, s))
		return 0, false
	}
	return v, true
}

func (d *decoder) count(attr *hcl.Attribute, v cty.Value) *int32 {
	c, ok := d.convert(attr, v, cty.Number, "a number")
	if !ok {
		return nil
	}
	bf := c.AsBigFloat()
	n, acc := bf.Int64()
	if acc != big.Exact || n < 0 || n > 1<<31-1 {
		d.errf(attr.Expr.Range(), "Invalid desired_count", fmt.Sprintf("desired_count must be a whole number ≥ 0, not %s", bf.Text('g', 10)))
		return nil
	}
	n32 := int32(n)
	return &n32
}

func (d *decoder) network(blk *hcl.Block) *Network {
	content, diags := blk.Body.Content(networkSchema)
	d.diags = append(d.diags, diags...)
	n := &Network{}
	if v, ok := d.strList(content.Attributes["subnets"]); ok {
		n.Subnets = v
	}
	if v, ok := d.strList(content.Attributes["security_groups"]); ok {
		n.SecurityGroups = v
	}
	if v, ok := d.boolean(content.Attributes["assign_public_ip"]); ok {
		n.AssignPublicIP = v
	}
	return n
}

func (d *decoder) taskDefinition(attr *hcl.Attribute, s *Spec) {
	v, ok := d.value(attr)
	if !ok {
		return
	}
	if v.Type() == cty.String {
		if v.AsString() == "" {
			d.errf(attr.Expr.Range(), "Invalid task_definition", "task_definition must not be empty")
		}
		s.TaskDefinitionRef = v.AsString()
		return
	}
	if !v.Type().IsObjectType() && !v.Type().IsMapType() {
		d.errf(attr.Expr.Range(), "Invalid task_definition", "task_definition must be an object (the JSON that `aws ecs register-task-definition --cli-input-json` takes, e.g. jsondecode(file(\"taskdef.json\"))) or the name of a registered task definition")
		return
	}
	raw, err := ctyjson.Marshal(v, v.Type())
	if err != nil {
		d.errf(attr.Expr.Range(), "Invalid task_definition", err.Error())
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
		d.errf(attr.Expr.Range(), "Invalid task_definition", err.Error())
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
