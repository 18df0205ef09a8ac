package lambda

import (
	"context"

	"github.com/driftless/driftless/appliers"
)

var _ appliers.DriftDetector = (*Applier)(nil)

// Drift compares the live function with req.Spec, the desired state last
// applied, with the comparison Plan uses (observe), and reports what
// differs. It only reads: GetFunction, GetAlias and, unless the alias has
// routing weights or points at $LATEST, GetFunctionConfiguration of the
// version the alias points at. Zip code is zipped from req.Tree (the
// repository at req.Revision) to compare its SHA-256.
//
// The report has at most one item, addressed lambda_function.APP: Action
// "create" without attributes when the function is missing, otherwise
// "update" with these attribute paths:
//
//	code                               $LATEST's code (or architectures) differs
//	configuration.runtime              likewise runtime, handler (zip and S3 code), role,
//	configuration.handler              memory_size, timeout and description
//	configuration.role
//	configuration.memory_size
//	configuration.timeout
//	configuration.description
//	configuration.environment.<VAR>    a variable was added, removed or changed (its name only, never a value)
//	alias.<name>                       the alias is missing, carries routing weights, points at
//	                                   $LATEST, or at a version whose code or configuration differs
//
// Unlike Plan, the alias's version is checked even when $LATEST drifted:
// changed configuration on $LATEST and an alias moved to another version
// are two drifts. Paths matching ignore are left out (see
// appliers.IgnoredPath); an item whose paths are all ignored is dropped.
func (a *Applier) Drift(ctx context.Context, req appliers.Request, ignore []string) (*appliers.DriftReport, error) {
	s, err := specOf(req)
	if err != nil {
		return nil, err
	}
	code, err := desiredCodeOf(req, s)
	if err != nil {
		return nil, err
	}
	seen, err := a.observe(ctx, req, s, code, true)
	if err != nil {
		return nil, err
	}
	addr := Kind + "." + req.App
	var items []appliers.DriftItem
	if !seen.live.Exists {
		items = append(items, appliers.DriftItem{Address: addr, Action: "create"})
	} else {
		var attrs []string
		if seen.codeWhy != "" {
			attrs = append(attrs, "code")
		}
		for _, d := range seen.config {
			if len(d.vars) == 0 {
				attrs = append(attrs, "configuration."+d.attr)
			}
			for _, v := range d.vars {
				attrs = append(attrs, "configuration."+d.attr+"."+v)
			}
		}
		if !seen.live.AliasExists || seen.aliasWhy != "" {
			attrs = append(attrs, "alias."+s.Alias)
		}
		if len(attrs) > 0 {
			items = append(items, appliers.DriftItem{Address: addr, Attributes: attrs, Action: "update"})
		}
	}
	return &appliers.DriftReport{Items: appliers.FilterDrift(items, ignore)}, nil
}
