package terraform

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"time"

	tfjson "github.com/hashicorp/terraform-json"

	"github.com/driftless/driftless/appliers"
)

// Drift plans the stack at req.Revision without applying anything and
// reports what re-applying it would change (see the package doc, "Drift").
// A clean stack costs one `terraform plan`; a drifted one a plan and a
// `show -json` of it. The saved plan is deleted before Drift returns: Apply
// never picks it up. The plan runs with -lock=false and a deploy of the
// stack takes precedence (see driftlock.go): a scan never waits for a state
// lock or a deploy, and gives way to a deploy that arrives.
func (a *Applier) Drift(ctx context.Context, req appliers.Request, ignore []string) (*appliers.DriftReport, error) {
	ctx, st, spec, unlock, err := a.lockStackForDrift(ctx, req)
	if err != nil {
		return nil, err
	}
	defer unlock()
	rep, err := a.drift(ctx, st, req, spec, ignore)
	return rep, yielded(ctx, err)
}

func (a *Applier) drift(ctx context.Context, st *stack, req appliers.Request, spec *Spec, ignore []string) (*appliers.DriftReport, error) {
	log := a.logger(req)
	if len(spec.Unknown) > 0 {
		return nil, appliers.Transient(fmt.Errorf("%w: %v", ErrUnknownInputs, spec.Unknown), time.Minute)
	}
	if _, err := a.prepare(ctx, st, req, spec, log); err != nil {
		return nil, err
	}
	// Left over by a process that died mid-check.
	if old, _ := filepath.Glob(filepath.Join(st.root, "drift-*.tfplan")); len(old) > 0 {
		for _, f := range old {
			os.Remove(f)
		}
	}
	planFile := filepath.Join(st.root, "drift-"+randomToken()+".tfplan")
	defer os.Remove(planFile)
	start := time.Now()
	changed, err := a.runPlan(ctx, st, req, spec, planOpts{out: planFile, varFiles: a.varFileArgs(st, spec), noLock: true}, log)
	if err != nil {
		return nil, err
	}
	var items []appliers.DriftItem
	if changed {
		p, err := a.showPlan(ctx, st, planFile)
		if err != nil {
			return nil, classify("show", err, a.red)
		}
		items = driftItems(p)
	}
	rep := &appliers.DriftReport{Items: filterDrift(items, ignore)}
	log.Info("terraform drift check done", "drifted", len(rep.Items), "ignored", len(items)-len(rep.Items), "duration_ms", time.Since(start).Milliseconds())
	return rep, nil
}

// filterDrift applies the ignore patterns to "ADDRESS.ATTRIBUTE" paths
// ("aws_ssm_parameter.p.value"; "value" or "tags.Owner" match in every
// resource, "aws_ssm_parameter.p" the whole resource) through
// appliers.FilterDrift. An item without attributes (a resource to create or
// delete) is left out when its address matches.
func filterDrift(items []appliers.DriftItem, ignore []string) []appliers.DriftItem {
	full := make([]appliers.DriftItem, 0, len(items))
	for _, it := range items {
		if len(it.Attributes) == 0 && appliers.IgnoredPath(it.Address, ignore) {
			continue
		}
		attrs := make([]string, len(it.Attributes))
		for i, at := range it.Attributes {
			attrs[i] = it.Address + "." + at
		}
		it.Attributes = attrs
		full = append(full, it)
	}
	out := appliers.FilterDrift(full, ignore)
	for i := range out {
		for j, at := range out[i].Attributes {
			out[i].Attributes[j] = at[len(out[i].Address)+1:]
		}
		if len(out[i].Attributes) == 0 {
			out[i].Attributes = nil
		}
	}
	return out
}

// driftItems lists one item per resource the plan would change (reads of
// data sources and forgets aside), sorted by address. Attributes are the
// paths the plan would change (changedPaths), or its replace_paths when
// only unknown values change; created and deleted resources (and deposed
// objects) list none. The plan's resource_drift is not used: it compares
// with the last state written, not with the desired state, so it lists
// values that were changed and put back (an SSM parameter's version) and
// forgets changes a refresh has already written to the state.
func driftItems(p *tfjson.Plan) []appliers.DriftItem {
	var items []appliers.DriftItem
	for _, rc := range sortedResourceChanges(p) {
		if rc.Change == nil || rc.Mode == tfjson.DataResourceMode {
			continue
		}
		act := action(rc.Change.Actions)
		if act == "" || act == "read" || act == "forget" {
			continue
		}
		it := appliers.DriftItem{Address: rc.Address, Action: act}
		if rc.DeposedKey != "" {
			it.Address += " (deposed " + rc.DeposedKey + ")"
			it.Action = "delete"
		} else if act == "update" || act == "replace" {
			c := rc.Change
			it.Attributes = changedPaths(c.Before, c.After, c.AfterUnknown, c.BeforeSensitive, c.AfterSensitive)
			if len(it.Attributes) == 0 {
				it.Attributes = replacePaths(c.ReplacePaths)
			}
		}
		items = append(items, it)
	}
	return items
}

// replacePaths renders a plan's replace_paths (lists of attribute names and
// indexes) as attribute paths, indexes left out.
func replacePaths(rps []any) []string {
	var out []string
	for _, rp := range rps {
		steps, ok := rp.([]any)
		if !ok {
			continue
		}
		var segs []string
		for _, s := range steps {
			if name, ok := s.(string); ok {
				segs = append(segs, name)
			}
		}
		if len(segs) > 0 {
			out = append(out, strings.Join(segs, "."))
		}
	}
	return out
}

// changedPaths lists, sorted, the attribute paths whose value differs
// between before (live, refreshed) and after (desired) of one resource
// change in plan JSON. The
// vocabulary: top-level attribute names; map keys and nested object
// attributes joined with dots ("tags.Owner", "logging.bucket"); a nested
// block or list with at most one element on either side is looked through
// without an index ("environment.variables.LOG_LEVEL"); any longer list or
// set is one path (its attribute name). A value that is unknown after the
// change (computed, such as an SSM parameter's version) is not a cause and
// is left out. A sensitive value is one path: its keys are not listed,
// values never are. null and an empty map or list count as equal.
func changedPaths(before, after, afterUnknown, beforeSens, afterSens any) []string {
	var out []string
	walkDiff("", before, after, afterUnknown, beforeSens, afterSens, &out)
	sort.Strings(out)
	return out
}

func walkDiff(path string, before, after, unknown, bs, as any, out *[]string) {
	if isTrue(unknown) {
		return
	}
	add := func() {
		if path != "" {
			*out = append(*out, path)
		}
	}
	if isTrue(bs) || isTrue(as) {
		if !equalValues(before, after) {
			add()
		}
		return
	}
	bm, bIsMap := asMap(before, after)
	am, aIsMap := asMap(after, before)
	if bIsMap && aIsMap {
		keys := make([]string, 0, len(bm)+len(am))
		for k := range bm {
			keys = append(keys, k)
		}
		for k := range am {
			if _, ok := bm[k]; !ok {
				keys = append(keys, k)
			}
		}
		for _, k := range keys {
			walkDiff(join(path, k), bm[k], am[k], key(unknown, k), key(bs, k), key(as, k), out)
		}
		return
	}
	bl, bIsList := asList(before, after)
	al, aIsList := asList(after, before)
	if bIsList && aIsList && len(bl) <= 1 && len(al) <= 1 && path != "" {
		walkDiff(path, elem(bl, 0), elem(al, 0), index(unknown, 0), index(bs, 0), index(as, 0), out)
		return
	}
	if !equalValues(before, after) {
		add()
	}
}

func join(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

func isTrue(v any) bool {
	b, ok := v.(bool)
	return ok && b
}

// asMap returns v as a map; nil counts as an empty map when other is a map.
func asMap(v, other any) (map[string]any, bool) {
	if m, ok := v.(map[string]any); ok {
		return m, true
	}
	if v == nil {
		_, ok := other.(map[string]any)
		return nil, ok
	}
	return nil, false
}

// asList returns v as a list; nil counts as an empty list when other is a list.
func asList(v, other any) ([]any, bool) {
	if l, ok := v.([]any); ok {
		return l, true
	}
	if v == nil {
		_, ok := other.([]any)
		return nil, ok
	}
	return nil, false
}

func key(marker any, k string) any {
	if m, ok := marker.(map[string]any); ok {
		return m[k]
	}
	return nil
}

func index(marker any, i int) any {
	if l, ok := marker.([]any); ok && i < len(l) {
		return l[i]
	}
	return nil
}

func elem(l []any, i int) any {
	if i < len(l) {
		return l[i]
	}
	return nil
}

// equalValues compares two JSON values, null equal to an empty map or list.
func equalValues(a, b any) bool {
	if empty(a) && empty(b) {
		return true
	}
	return reflect.DeepEqual(a, b)
}

func empty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case map[string]any:
		return len(x) == 0
	case []any:
		return len(x) == 0
	}
	return false
}
