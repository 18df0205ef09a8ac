package config

import (
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// Route sends events matching any of Events to a Slack channel.
type Route struct {
	// Events are patterns "category.action", where either part may be "*",
	// or "*" alone for every event: "deploy.*", "drift.detected", "*".
	Events  []string `json:"events"`
	Channel string   `json:"channel"`
	// DefRange is the route block's header, for diagnostics.
	DefRange hcl.Range `json:"-"`
}

// EventActions lists the event categories and their actions (DESIGN §5);
// route patterns are checked against it so that a typo is an error rather
// than a route that never matches.
var EventActions = map[string][]string{
	"source":   {"updated", "failed", "invalid"},
	"plan":     {"ready", "awaiting_approval"},
	"deploy":   {"started", "succeeded", "failed"},
	"rollback": {"started", "succeeded", "failed"},
	"drift":    {"detected", "resolved"},
}

// Matches reports whether an event of category.action matches the route.
func (r Route) Matches(category, action string) bool {
	for _, p := range r.Events {
		if MatchPattern(p, category, action) {
			return true
		}
	}
	return false
}

// MatchPattern reports whether pattern ("*", "cat.*", "*.act", "cat.act")
// matches category.action.
func MatchPattern(pattern, category, action string) bool {
	if pattern == "*" {
		return true
	}
	pc, pa, ok := strings.Cut(pattern, ".")
	if !ok {
		return false
	}
	return (pc == "*" || pc == category) && (pa == "*" || pa == action)
}

// checkPattern validates an event pattern's syntax and names.
func checkPattern(p string) error {
	if p == "*" {
		return nil
	}
	cat, act, ok := strings.Cut(p, ".")
	if !ok || cat == "" || act == "" || strings.Contains(act, ".") {
		return fmt.Errorf("%q is not an event pattern; use \"category.action\" where either may be \"*\" (\"deploy.*\"), or \"*\"", p)
	}
	if cat == "*" {
		if act == "*" {
			return nil
		}
		for _, acts := range EventActions {
			if slices.Contains(acts, act) {
				return nil
			}
		}
		return fmt.Errorf("%q: no event category has the action %q", p, act)
	}
	acts, known := EventActions[cat]
	if !known {
		return fmt.Errorf("%q: unknown event category %q (want one of source, plan, deploy, rollback, drift, or *)", p, cat)
	}
	if act != "*" && !slices.Contains(acts, act) {
		return fmt.Errorf("%q: unknown %s action %q (want one of %s, or *)", p, cat, act, strings.Join(acts, ", "))
	}
	return nil
}
