package config

import (
	"github.com/hashicorp/hcl/v2"

	"github.com/driftless/driftless/notify"
)

// Route sends events matching any of Events to a Slack channel.
type Route struct {
	// Events are patterns of notify.ParsePattern's grammar:
	// "category.action", where either part may be "*", or "*" alone for
	// every event: "deploy.*", "drift.detected", "*".
	Events  []string `json:"events"`
	Channel string   `json:"channel"`
	// DefRange is the route block's header, for diagnostics.
	DefRange hcl.Range `json:"-"`
}

// Matches reports whether an event of category.action matches the route.
func (r Route) Matches(category, action string) bool {
	for _, s := range r.Events {
		if p, err := notify.ParsePattern(s); err == nil && p.Match(category, action) {
			return true
		}
	}
	return false
}

// checkPattern validates an event pattern's syntax and, against the event
// catalogue, its names.
func checkPattern(s string) error {
	p, err := notify.ParsePattern(s)
	if err != nil {
		return err
	}
	return p.Check()
}
