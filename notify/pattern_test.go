package notify

import (
	"strings"
	"testing"
)

// TestRoutePatterns is the Slack notifier's pattern test, moved here with the
// grammar. Where the notifier's own parser used to be more lenient than the
// config (">", a bare "deploy", surrounding spaces), the config's grammar —
// the one the README documents — now holds, so those cases are invalid.
func TestRoutePatterns(t *testing.T) {
	tests := []struct {
		pattern string
		match   []string
		nomatch []string
		invalid bool
	}{
		{pattern: "*", match: []string{"deploy.started", "drift.resolved", "source.invalid"}},
		{pattern: "*.*", match: []string{"plan.ready", "deploy.failed"}},
		{pattern: "deploy.*", match: []string{"deploy.started", "deploy.failed"}, nomatch: []string{"rollback.failed", "drift.detected"}},
		{pattern: "rollback.failed", match: []string{"rollback.failed"}, nomatch: []string{"rollback.started", "deploy.failed"}},
		{pattern: "*.failed", match: []string{"rollback.failed", "source.failed"}, nomatch: []string{"deploy.started"}},
		{pattern: ">", invalid: true},
		{pattern: "deploy", invalid: true},
		{pattern: " drift.* ", invalid: true},
		{pattern: "", invalid: true},
		{pattern: "deploy.", invalid: true},
		{pattern: ".started", invalid: true},
		{pattern: "deploy.started.x", invalid: true},
		{pattern: "dep*.started", invalid: true},
		{pattern: "deploy.>", invalid: true},
		{pattern: "deploy started", invalid: true},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			p, err := ParsePattern(tt.pattern)
			if tt.invalid {
				if err == nil {
					t.Fatalf("ParsePattern(%q) = %v, want an error", tt.pattern, p)
				}
				if !strings.Contains(err.Error(), "is not an event pattern") {
					t.Errorf("error %q does not say what is wrong", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Check(); err != nil {
				t.Errorf("Check: %v", err)
			}
			for _, typ := range tt.match {
				c, a, _ := strings.Cut(typ, ".")
				if !p.Match(c, a) {
					t.Errorf("%q does not match %s", tt.pattern, typ)
				}
			}
			for _, typ := range tt.nomatch {
				c, a, _ := strings.Cut(typ, ".")
				if p.Match(c, a) {
					t.Errorf("%q matches %s", tt.pattern, typ)
				}
			}
		})
	}
}

func TestRoutePatternCheck(t *testing.T) {
	tests := map[string]string{
		"*":                   "",
		"deploy.*":            "",
		"*.awaiting_approval": "",
		"source.invalid":      "",
		"deploys.*":           `"deploys.*": unknown event category "deploys" (want one of source, plan, deploy, rollback, drift, lock, preview, or *)`,
		"deploy.success":      `"deploy.success": unknown deploy action "success" (want one of started, succeeded, failed, or *)`,
		"*.exploded":          `"*.exploded": no event category has the action "exploded"`,
		"drift.failed":        `"drift.failed": unknown drift action "failed" (want one of detected, resolved, or *)`,
		"test.marker":         `"test.marker": unknown event category "test"`,
	}
	for s, want := range tests {
		p, err := ParsePattern(s)
		if err != nil {
			t.Fatalf("ParsePattern(%q): %v", s, err)
		}
		err = p.Check()
		switch {
		case want == "" && err != nil:
			t.Errorf("Check(%q) = %v, want nil", s, err)
		case want != "" && (err == nil || !strings.HasPrefix(err.Error(), want)):
			t.Errorf("Check(%q) = %v, want %s", s, err, want)
		}
	}
}

// Every catalogued type is matched by its own pattern and its category's.
func TestRoutePatternsCoverCatalogue(t *testing.T) {
	for _, typ := range Types() {
		c, a, _ := strings.Cut(typ, ".")
		for _, s := range []string{typ, c + ".*", "*." + a, "*"} {
			p, err := ParsePattern(s)
			if err != nil || p.Check() != nil || !p.Match(c, a) {
				t.Errorf("pattern %q and %s: parse %v, check %v", s, typ, err, p.Check())
			}
		}
	}
}
