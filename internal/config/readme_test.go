package config

import (
	"os"
	"strings"
	"testing"
)

// The README's controller config reference is a config this version
// loads: every block and attribute it shows is one the decoder knows.
func TestREADMEConfigReference(t *testing.T) {
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(raw), "## Controller config reference")
	if !ok {
		t.Fatal("no config reference section in the README")
	}
	_, block, ok := strings.Cut(after, "```hcl\n")
	if !ok {
		t.Fatal("no hcl block in the config reference")
	}
	block, _, _ = strings.Cut(block, "```")
	// NATS_URL unset: the embedded server, whose settings the block shows.
	env := func(name string) string {
		if name == "NATS_URL" {
			return ""
		}
		return "value-of-" + strings.ToLower(name)
	}
	// run_as names a Unix user this machine may not have (TestRunAs*
	// check the setting); the line is blanked, keeping line numbers.
	lines := strings.Split(block, "\n")
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "run_as") {
			lines[i] = ""
		}
	}
	block = strings.Join(lines, "\n")
	cfg, err := Parse([]byte(block), "README.md", env)
	if err != nil {
		t.Fatalf("the README's config reference does not load:\n%v", err)
	}
	if len(cfg.Repos) == 0 || cfg.GitHub == nil || cfg.Repos[0].PullRequests == nil || !cfg.Repos[0].DriftPR {
		t.Errorf("the reference lost a block: %+v", cfg)
	}
}
