package ecs

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"

	"github.com/driftless/driftless/appliers"
)

var _ appliers.DriftDetector = (*Applier)(nil)

// Drift compares the live service with req.Spec, the desired state last
// applied, exactly as Plan does (the same comparison, the same canonical
// task definitions), and reports what differs. It only reads: one
// DescribeServices call and the task definitions not cached yet.
//
// The report has at most one item, addressed ecs_service.APP: Action
// "create" without attributes when the service is missing (deleted, or
// INACTIVE), otherwise "update" with these attribute paths:
//
//	task_definition                               the service runs another revision than the referenced one, with the same content
//	task_definition.<field>                       a task-level field differs (cpu, memory, family, networkMode, taskRoleArn, volumes, tags, …)
//	task_definition.containers.<name>             a container was added or removed
//	task_definition.containers.<name>.image       the container's image differs
//	task_definition.containers.<name>.environment.<VAR>  a variable was added, removed or changed (its name only, never a value)
//	task_definition.containers.<name>.secrets.<NAME>     likewise for secrets
//	task_definition.containers.<name>.<field>     another container field differs (cpu, memory, portMappings, command, …)
//	desired_count                                 only when the block sets desired_count: unset, autoscaling owns it
//
// Field names are the task definition JSON's (lowerCamel). Paths matching
// ignore are left out (see appliers.IgnoredPath); an item whose paths are
// all ignored is dropped. A missing cluster or a service being deleted
// (DRAINING) is an error, as for Plan.
func (a *Applier) Drift(ctx context.Context, req appliers.Request, ignore []string) (*appliers.DriftReport, error) {
	s, err := specOf(req.Spec)
	if err != nil {
		return nil, fmt.Errorf("ecs_service %s: %w", req.App, err)
	}
	found, err := a.describeServices(ctx, s.Cluster, []string{s.Service})
	if err != nil {
		return nil, fmt.Errorf("ecs_service %s: %w", req.App, err)
	}
	svc := found[s.Service]
	diff, err := a.compare(ctx, s, svc)
	if err != nil {
		return nil, fmt.Errorf("ecs_service %s: %w", req.App, err)
	}
	addr := "ecs_service." + req.App
	var items []appliers.DriftItem
	switch {
	case svc == nil:
		items = append(items, appliers.DriftItem{Address: addr, Action: "create"})
	case diff.tdChanged || diff.desiredChanged:
		var attrs []string
		if diff.tdChanged {
			attrs = append(attrs, taskDefPaths(diff.liveTD.Canonical, diff.desired)...)
		}
		if diff.desiredChanged {
			attrs = append(attrs, "desired_count")
		}
		items = append(items, appliers.DriftItem{Address: addr, Attributes: attrs, Action: "update"})
	}
	return &appliers.DriftReport{Items: appliers.FilterDrift(items, ignore)}, nil
}

// taskDefPaths names, as drift attribute paths, where two canonical task
// definitions differ; "task_definition" when their content is the same.
// Environment variables and secrets are named, never their values.
func taskDefPaths(live, desired []byte) []string {
	var l, d map[string]any
	_ = json.Unmarshal(live, &l)
	_ = json.Unmarshal(desired, &d)
	var out []string
	for _, k := range diffKeys(l, d, "ContainerDefinitions") {
		out = append(out, "task_definition."+k)
	}
	lc, dc := containersByName(l), containersByName(d)
	names := slices.Sorted(maps.Keys(lc))
	for n := range dc {
		if lc[n] == nil {
			names = append(names, n)
		}
	}
	for _, name := range names {
		prefix := "task_definition.containers." + name
		lcon, dcon := lc[name], dc[name]
		if lcon == nil || dcon == nil {
			out = append(out, prefix)
			continue
		}
		for _, k := range diffKeys(lcon, dcon, "Environment", "Secrets") {
			out = append(out, prefix+"."+k)
		}
		for _, n := range namedDiff(lcon["Environment"], dcon["Environment"]) {
			out = append(out, prefix+".environment."+n)
		}
		for _, n := range namedDiff(lcon["Secrets"], dcon["Secrets"]) {
			out = append(out, prefix+".secrets."+n)
		}
	}
	if len(out) == 0 {
		return []string{"task_definition"}
	}
	return out
}

// namedDiff compares two canonical lists of {"Name": …} objects
// (environment, secrets) and returns the names of the entries added,
// removed or changed.
func namedDiff(live, desired any) []string {
	byName := func(v any) map[string]any {
		m := map[string]any{}
		list, _ := v.([]any)
		for _, e := range list {
			if o, ok := e.(map[string]any); ok {
				n, _ := o["Name"].(string)
				m[n] = o
			}
		}
		return m
	}
	l, d := byName(live), byName(desired)
	var out []string
	for n, lv := range l {
		if dv, ok := d[n]; !ok || !reflect.DeepEqual(lv, dv) {
			out = append(out, n)
		}
	}
	for n := range d {
		if _, ok := l[n]; !ok {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}
