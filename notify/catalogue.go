package notify

import "slices"

// The event catalogue: every category and its actions, declared once.
// Route validation (ParsePattern and Pattern.Check), the Slack notifier's
// rendering and the README's events table all follow it; a test checks the
// README against it.

// Categories of events.
const (
	CatSource   = "source"
	CatPlan     = "plan"
	CatDeploy   = "deploy"
	CatRollback = "rollback"
	CatDrift    = "drift"
	CatLock     = "lock"
	CatPreview  = "preview"
)

// Actions of events; each category has a subset (see Actions).
const (
	ActUpdated          = "updated"
	ActFailed           = "failed"
	ActInvalid          = "invalid"
	ActReady            = "ready"
	ActAwaitingApproval = "awaiting_approval"
	ActStarted          = "started"
	ActSucceeded        = "succeeded"
	ActDetected         = "detected"
	ActResolved         = "resolved"
	ActForceUnlocked    = "force_unlocked"
)

// catalogue lists the categories in the README's order, each with its
// actions in order.
var catalogue = []struct {
	category string
	actions  []string
}{
	{CatSource, []string{ActUpdated, ActFailed, ActInvalid}},
	{CatPlan, []string{ActReady, ActAwaitingApproval}},
	{CatDeploy, []string{ActStarted, ActSucceeded, ActFailed}},
	{CatRollback, []string{ActStarted, ActSucceeded, ActFailed}},
	{CatDrift, []string{ActDetected, ActResolved}},
	{CatLock, []string{ActForceUnlocked}},
	{CatPreview, []string{ActReady, ActFailed}},
}

// Categories returns every event category, in catalogue order.
func Categories() []string {
	out := make([]string, len(catalogue))
	for i, c := range catalogue {
		out[i] = c.category
	}
	return out
}

// Actions returns the actions of category in catalogue order, or nil when
// the category is unknown.
func Actions(category string) []string {
	for _, c := range catalogue {
		if c.category == category {
			return slices.Clone(c.actions)
		}
	}
	return nil
}

// Types returns every event type of the catalogue as "category.action".
func Types() []string {
	var out []string
	for _, c := range catalogue {
		for _, a := range c.actions {
			out = append(out, c.category+"."+a)
		}
	}
	return out
}

// Known reports whether category.action is in the catalogue.
func Known(category, action string) bool {
	return slices.Contains(Actions(category), action)
}

// hasAction reports whether any category has action.
func hasAction(action string) bool {
	for _, c := range catalogue {
		if slices.Contains(c.actions, action) {
			return true
		}
	}
	return false
}
