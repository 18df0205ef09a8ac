package manifest

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// topoOrder orders the apps so that each comes after its dependencies
// (ties by name), or reports the cycles it finds.
func topoOrder(d *Desired) ([]string, hcl.Diagnostics) {
	indeg := map[string]int{}
	users := map[string][]string{}
	for name, a := range d.Apps {
		indeg[name] += 0
		for _, dep := range a.DependsOn {
			indeg[name]++
			users[dep] = append(users[dep], name)
		}
	}
	var ready, order []string
	for n, k := range indeg {
		if k == 0 {
			ready = append(ready, n)
		}
	}
	sort.Strings(ready)
	for len(ready) > 0 {
		n := ready[0]
		ready = ready[1:]
		order = append(order, n)
		next := users[n]
		sort.Strings(next)
		for _, u := range next {
			indeg[u]--
			if indeg[u] == 0 {
				ready = append(ready, u)
				sort.Strings(ready)
			}
		}
	}
	if len(order) == len(d.Apps) {
		return order, nil
	}
	// Report one cycle per app left, found by walking dependencies.
	var diags hcl.Diagnostics
	reported := map[string]bool{}
	for _, name := range sortedKeys(d.Apps) {
		if indeg[name] == 0 || reported[name] {
			continue
		}
		cycle := findCycle(d, name, indeg)
		if len(cycle) == 0 {
			continue
		}
		for _, c := range cycle {
			reported[c] = true
		}
		a := d.Apps[cycle[0]]
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Dependency cycle",
			Detail:  fmt.Sprintf("%s depend on each other: %s.", plural(cycle), strings.Join(append(cycle, cycle[0]), " → ")),
			Subject: a.DefRange.Ptr()})
	}
	return nil, diags
}

func findCycle(d *Desired, start string, indeg map[string]int) []string {
	var path []string
	onPath := map[string]int{}
	cur := start
	for {
		if i, ok := onPath[cur]; ok {
			return path[i:]
		}
		onPath[cur] = len(path)
		path = append(path, cur)
		next := ""
		for _, dep := range d.Apps[cur].DependsOn {
			if indeg[dep] > 0 {
				next = dep
				break
			}
		}
		if next == "" {
			return nil
		}
		cur = next
	}
}

func plural(c []string) string {
	if len(c) == 1 {
		return "An app cannot"
	}
	return "These apps"
}
