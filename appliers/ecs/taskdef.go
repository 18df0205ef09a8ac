package ecs

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// readOnlyKeys are fields of a described task definition that
// RegisterTaskDefinition does not take. People often paste the output of
// `aws ecs describe-task-definition` into their repo: these are dropped
// instead of rejected.
var readOnlyKeys = []string{
	"taskDefinitionArn", "revision", "status", "requiresAttributes",
	"compatibilities", "registeredAt", "registeredBy", "deregisteredAt",
	"deleteRequestedAt",
}

// parseTaskDef reads the JSON that `aws ecs register-task-definition
// --cli-input-json` takes into the SDK's input type. Unknown fields are an
// error (a typo must not vanish silently); read-only fields of a described
// task definition are dropped; task-level cpu and memory may be numbers.
func parseTaskDef(raw []byte) (*ecs.RegisterTaskDefinitionInput, error) {
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("task definition is not a JSON object: %w", err)
	}
	if m == nil {
		return nil, errors.New("task definition is null")
	}
	for _, k := range readOnlyKeys {
		delete(m, k)
	}
	for _, k := range []string{"cpu", "memory"} {
		if n, ok := m[k].(json.Number); ok {
			m[k] = n.String()
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	var in ecs.RegisterTaskDefinitionInput
	dec = json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, fmt.Errorf("task definition: %s must be %s, not a JSON %s", lowerPath(te.Field), jsonKind(te.Type), te.Value)
		}
		return nil, fmt.Errorf("task definition: %w", err)
	}
	if aws.ToString(in.Family) == "" {
		return nil, errors.New(`task definition: "family" is required`)
	}
	if len(in.ContainerDefinitions) == 0 {
		return nil, errors.New(`task definition: "containerDefinitions" must list at least one container`)
	}
	seen := map[string]bool{}
	for i, c := range in.ContainerDefinitions {
		n := aws.ToString(c.Name)
		if n == "" {
			return nil, fmt.Errorf("task definition: containerDefinitions[%d] has no name", i)
		}
		if seen[n] {
			return nil, fmt.Errorf("task definition: container %q is defined twice", n)
		}
		seen[n] = true
	}
	return &in, nil
}

func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Slice:
		return "a list"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return "a number"
}

// lowerPath turns the SDK's field path (ContainerDefinitions.PortMappings)
// into the JSON's (containerDefinitions.portMappings).
func lowerPath(p string) string {
	parts := strings.Split(p, ".")
	for i, s := range parts {
		if s != "" {
			parts[i] = strings.ToLower(s[:1]) + s[1:]
		}
	}
	return strings.Join(parts, ".")
}

// applyImages overrides container images; every name must be a container.
func applyImages(in *ecs.RegisterTaskDefinitionInput, images map[string]string) error {
	for _, name := range slices.Sorted(maps.Keys(images)) {
		found := false
		for i := range in.ContainerDefinitions {
			if aws.ToString(in.ContainerDefinitions[i].Name) == name {
				in.ContainerDefinitions[i].Image = aws.String(images[name])
				found = true
			}
		}
		if !found {
			return fmt.Errorf("images: the task definition has no container %q", name)
		}
	}
	for _, c := range in.ContainerDefinitions {
		if aws.ToString(c.Image) == "" {
			return fmt.Errorf("task definition: container %q has no image", aws.ToString(c.Name))
		}
	}
	return nil
}

// inputFromLive turns a described task definition into the input that
// would register it again, so that both sides are compared as one type.
func inputFromLive(td *types.TaskDefinition, tags []types.Tag) *ecs.RegisterTaskDefinitionInput {
	return &ecs.RegisterTaskDefinitionInput{
		ContainerDefinitions:    td.ContainerDefinitions,
		Family:                  td.Family,
		Cpu:                     td.Cpu,
		EnableFaultInjection:    td.EnableFaultInjection,
		EphemeralStorage:        td.EphemeralStorage,
		ExecutionRoleArn:        td.ExecutionRoleArn,
		InferenceAccelerators:   td.InferenceAccelerators,
		IpcMode:                 td.IpcMode,
		Memory:                  td.Memory,
		NetworkMode:             td.NetworkMode,
		PidMode:                 td.PidMode,
		PlacementConstraints:    td.PlacementConstraints,
		ProxyConfiguration:      td.ProxyConfiguration,
		RequiresCompatibilities: td.RequiresCompatibilities,
		RuntimePlatform:         td.RuntimePlatform,
		Tags:                    tags,
		TaskRoleArn:             td.TaskRoleArn,
		Volumes:                 td.Volumes,
	}
}

// canonical normalises a task definition input for what AWS fills in or
// reorders, and returns its canonical JSON: two inputs that register the
// same task definition give the same bytes. The input is not modified.
//
// Normalised: defaults are removed on both sides (essential true, protocol
// tcp, hostPort equal to containerPort in awsvpc/host mode or 0 in bridge
// mode, networkMode bridge, health check 30s/5s/3 retries, false booleans,
// versionConsistency enabled), lists whose order carries no meaning are
// sorted (containers, environment, secrets, port mappings, mount points,
// volumes, ulimits, tags, …), task cpu/memory units ("1 vCPU", "2 GB") are
// converted to AWS's numbers, and empty strings, lists and objects are
// dropped.
func canonical(in *ecs.RegisterTaskDefinitionInput) ([]byte, error) {
	b, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	var td ecs.RegisterTaskDefinitionInput // deep copy
	if err := json.Unmarshal(b, &td); err != nil {
		return nil, err
	}
	normalise(&td)
	b, err = json.Marshal(&td)
	if err != nil {
		return nil, err
	}
	var g any
	if err := json.Unmarshal(b, &g); err != nil {
		return nil, err
	}
	g = prune(g)
	return json.Marshal(g)
}

// fromCanonical decodes canonical JSON back into the SDK input.
func fromCanonical(b []byte) (*ecs.RegisterTaskDefinitionInput, error) {
	var in ecs.RegisterTaskDefinitionInput
	if err := json.Unmarshal(b, &in); err != nil {
		return nil, fmt.Errorf("decoding task definition: %w", err)
	}
	return &in, nil
}

func normalise(td *ecs.RegisterTaskDefinitionInput) {
	td.Cpu = normaliseUnits(td.Cpu, "vcpu")
	td.Memory = normaliseUnits(td.Memory, "gb")
	mode := td.NetworkMode
	if mode == "" {
		mode = types.NetworkModeBridge
	}
	if td.NetworkMode == types.NetworkModeBridge {
		td.NetworkMode = ""
	}
	td.EnableFaultInjection = falseToNil(td.EnableFaultInjection)
	slices.SortFunc(td.RequiresCompatibilities, cmp.Compare)
	slices.SortFunc(td.Tags, func(a, b types.Tag) int { return strings.Compare(aws.ToString(a.Key), aws.ToString(b.Key)) })
	slices.SortFunc(td.Volumes, func(a, b types.Volume) int { return strings.Compare(aws.ToString(a.Name), aws.ToString(b.Name)) })
	slices.SortFunc(td.ContainerDefinitions, func(a, b types.ContainerDefinition) int {
		return strings.Compare(aws.ToString(a.Name), aws.ToString(b.Name))
	})
	for i := range td.ContainerDefinitions {
		normaliseContainer(&td.ContainerDefinitions[i], mode)
	}
}

func normaliseContainer(c *types.ContainerDefinition, mode types.NetworkMode) {
	if c.Essential != nil && *c.Essential {
		c.Essential = nil
	}
	for _, p := range []**bool{&c.DisableNetworking, &c.Interactive, &c.Privileged, &c.PseudoTerminal, &c.ReadonlyRootFilesystem} {
		*p = falseToNil(*p)
	}
	if c.VersionConsistency == types.VersionConsistencyEnabled {
		c.VersionConsistency = ""
	}
	byName := func(a, b *string) int { return strings.Compare(aws.ToString(a), aws.ToString(b)) }
	slices.SortFunc(c.Environment, func(a, b types.KeyValuePair) int { return byName(a.Name, b.Name) })
	slices.SortFunc(c.Secrets, func(a, b types.Secret) int { return byName(a.Name, b.Name) })
	slices.SortFunc(c.SystemControls, func(a, b types.SystemControl) int { return byName(a.Namespace, b.Namespace) })
	slices.SortFunc(c.DependsOn, func(a, b types.ContainerDependency) int { return byName(a.ContainerName, b.ContainerName) })
	slices.SortFunc(c.Ulimits, func(a, b types.Ulimit) int { return cmp.Compare(a.Name, b.Name) })
	slices.SortFunc(c.ResourceRequirements, func(a, b types.ResourceRequirement) int { return cmp.Compare(a.Type, b.Type) })
	for i := range c.MountPoints {
		c.MountPoints[i].ReadOnly = falseToNil(c.MountPoints[i].ReadOnly)
	}
	slices.SortFunc(c.MountPoints, func(a, b types.MountPoint) int {
		return cmp.Or(byName(a.SourceVolume, b.SourceVolume), byName(a.ContainerPath, b.ContainerPath))
	})
	for i := range c.VolumesFrom {
		c.VolumesFrom[i].ReadOnly = falseToNil(c.VolumesFrom[i].ReadOnly)
	}
	slices.SortFunc(c.VolumesFrom, func(a, b types.VolumeFrom) int { return byName(a.SourceContainer, b.SourceContainer) })
	for i := range c.PortMappings {
		p := &c.PortMappings[i]
		if p.Protocol == types.TransportProtocolTcp {
			p.Protocol = ""
		}
		switch {
		case p.HostPort == nil:
		case mode == types.NetworkModeBridge && *p.HostPort == 0:
			p.HostPort = nil
		case mode != types.NetworkModeBridge && p.ContainerPort != nil && *p.HostPort == *p.ContainerPort:
			p.HostPort = nil
		}
	}
	slices.SortFunc(c.PortMappings, func(a, b types.PortMapping) int {
		return cmp.Or(
			cmp.Compare(aws.ToInt32(a.ContainerPort), aws.ToInt32(b.ContainerPort)),
			byName(a.ContainerPortRange, b.ContainerPortRange),
			cmp.Compare(a.Protocol, b.Protocol),
			cmp.Compare(aws.ToInt32(a.HostPort), aws.ToInt32(b.HostPort)),
		)
	})
	if h := c.HealthCheck; h != nil {
		for _, d := range []struct {
			p   **int32
			def int32
		}{{&h.Interval, 30}, {&h.Timeout, 5}, {&h.Retries, 3}, {&h.StartPeriod, 0}} {
			if *d.p != nil && **d.p == d.def {
				*d.p = nil
			}
		}
	}
	if lc := c.LogConfiguration; lc != nil {
		slices.SortFunc(lc.SecretOptions, func(a, b types.Secret) int { return byName(a.Name, b.Name) })
	}
}

func falseToNil(b *bool) *bool {
	if b != nil && !*b {
		return nil
	}
	return b
}

// normaliseUnits turns "1 vCPU" / "0.5 vcpu" into "1024" / "512" and
// "2 GB" into "2048", as AWS stores them.
func normaliseUnits(s *string, unit string) *string {
	if s == nil {
		return nil
	}
	v := strings.ToLower(strings.TrimSpace(*s))
	if !strings.HasSuffix(v, unit) {
		return s
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(v, unit)), 64)
	if err != nil {
		return s
	}
	return aws.String(strconv.Itoa(int(f * 1024)))
}

// prune drops nulls, empty strings, empty lists and empty objects.
func prune(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			e = prune(e)
			if isEmpty(e) {
				delete(v, k)
				continue
			}
			v[k] = e
		}
		return v
	case []any:
		out := v[:0]
		for _, e := range v {
			e = prune(e)
			if e == nil {
				continue
			}
			out = append(out, e)
		}
		return out
	}
	return v
}

func isEmpty(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case string:
		return v == ""
	case []any:
		return len(v) == 0
	case map[string]any:
		return len(v) == 0
	}
	return false
}

// describeDiff says, for people, how the live task definition (canonical
// JSON) differs from the desired one: image changes first, then the other
// fields that differ.
func describeDiff(live, desired []byte) string {
	var l, d map[string]any
	_ = json.Unmarshal(live, &l)
	_ = json.Unmarshal(desired, &d)
	var parts []string
	lc, dc := containersByName(l), containersByName(d)
	for _, name := range slices.Sorted(maps.Keys(dc)) {
		dcon, lcon := dc[name], lc[name]
		if lcon == nil {
			parts = append(parts, fmt.Sprintf("container %s added (%v)", name, dcon["Image"]))
			continue
		}
		if li, di := lcon["Image"], dcon["Image"]; li != di {
			parts = append(parts, fmt.Sprintf("image %v → %v", li, di))
		}
		if fields := diffKeys(lcon, dcon, "Image"); len(fields) > 0 {
			parts = append(parts, fmt.Sprintf("container %s: %s changed", name, strings.Join(fields, ", ")))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(lc)) {
		if dc[name] == nil {
			parts = append(parts, fmt.Sprintf("container %s removed", name))
		}
	}
	if fields := diffKeys(l, d, "ContainerDefinitions"); len(fields) > 0 {
		parts = append(parts, strings.Join(fields, ", ")+" changed")
	}
	if len(parts) == 0 {
		return "content changed"
	}
	return strings.Join(parts, "; ")
}

func containersByName(td map[string]any) map[string]map[string]any {
	out := map[string]map[string]any{}
	list, _ := td["ContainerDefinitions"].([]any)
	for _, c := range list {
		if m, ok := c.(map[string]any); ok {
			name, _ := m["Name"].(string)
			out[name] = m
		}
	}
	return out
}

// diffKeys lists, in lowerCamel as in the task definition JSON, the keys
// whose values differ between a and b.
func diffKeys(a, b map[string]any, skip ...string) []string {
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	var out []string
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		if slices.Contains(skip, k) || reflect.DeepEqual(a[k], b[k]) {
			continue
		}
		out = append(out, strings.ToLower(k[:1])+k[1:])
	}
	return out
}

// familyRevision shortens a task definition ARN to family:revision.
func familyRevision(arnOrRef string) string {
	if i := strings.LastIndex(arnOrRef, "task-definition/"); i >= 0 {
		return arnOrRef[i+len("task-definition/"):]
	}
	return arnOrRef
}
