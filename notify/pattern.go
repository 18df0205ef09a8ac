package notify

import (
	"fmt"
	"strings"
)

// Pattern selects events by category and action, for routing them (the
// Slack notifier's routes, the config's slack.route.events).
//
// The grammar is "category.action", where either part may be "*", or "*"
// alone for every event: "deploy.*", "*.failed", "drift.detected", "*".
// Nothing else is a pattern: no bare category ("deploy"), no NATS-style ">",
// no wildcard inside a name ("dep*"), no surrounding spaces.
type Pattern struct {
	category, action string // a name or "*"
}

// ParsePattern parses s by the pattern grammar. It checks the syntax only;
// Check tells whether the names it uses are in the event catalogue.
func ParsePattern(s string) (Pattern, error) {
	if s == "*" {
		return Pattern{"*", "*"}, nil
	}
	cat, act, ok := strings.Cut(s, ".")
	if !ok || !patternPart(cat) || !patternPart(act) {
		return Pattern{}, fmt.Errorf("%q is not an event pattern; use \"category.action\" where either may be \"*\" (\"deploy.*\"), or \"*\"", s)
	}
	return Pattern{cat, act}, nil
}

// patternPart reports whether s is "*" or a name: not empty, without dots,
// wildcards or white space.
func patternPart(s string) bool {
	return s == "*" || (s != "" && !strings.ContainsAny(s, ".*> \t\r\n"))
}

// Check reports an error when the pattern names a category or action that is
// not in the event catalogue, so that a typo is an error rather than a route
// that never matches.
func (p Pattern) Check() error {
	switch {
	case p.category == "*" && p.action == "*":
		return nil
	case p.category == "*":
		if !hasAction(p.action) {
			return fmt.Errorf("%q: no event category has the action %q", p, p.action)
		}
		return nil
	}
	acts := Actions(p.category)
	if acts == nil {
		return fmt.Errorf("%q: unknown event category %q (want one of %s, or *)", p, p.category, strings.Join(Categories(), ", "))
	}
	if p.action != "*" && !Known(p.category, p.action) {
		return fmt.Errorf("%q: unknown %s action %q (want one of %s, or *)", p, p.category, p.action, strings.Join(acts, ", "))
	}
	return nil
}

// Match reports whether an event of category.action matches the pattern.
func (p Pattern) Match(category, action string) bool {
	return (p.category == "*" || p.category == category) && (p.action == "*" || p.action == action)
}

// String returns the pattern as written: "*" or "category.action".
func (p Pattern) String() string {
	if p.category == "*" && p.action == "*" {
		return "*"
	}
	return p.category + "." + p.action
}
