package config

import (
	"strings"
	"testing"
	"time"
)

func TestDriftReminder(t *testing.T) {
	cfg, err := Parse([]byte("drift_reminder = \"24h\"\nrepo \"r\" {\n  url = \"/tmp\"\n}\n"), "d.hcl", func(string) string { return "" })
	if err != nil || cfg.DriftReminder != 24*time.Hour {
		t.Fatalf("drift_reminder: %v, %v", cfg, err)
	}
	_, err = Parse([]byte("drift_reminder = \"soon\"\nrepo \"r\" {\n  url = \"/tmp\"\n}\n"), "d.hcl", func(string) string { return "" })
	if err == nil || !strings.HasPrefix(err.Error(), "d.hcl:1:") {
		t.Fatalf("a bad drift_reminder: %v", err)
	}
}
