package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/driftless/driftless/internal/config"
)

func TestPrepareStateDir(t *testing.T) {
	for _, tc := range []struct {
		name  string
		runAs *config.UnixUser
		mode  os.FileMode
	}{
		{"private", nil, 0o700},
		{"run_as", &config.UnixUser{Name: "terraform", UID: 4242, GID: 4242}, 0o711},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "state")
			if err := os.MkdirAll(filepath.Join(dir, "git", "platform"), 0o755); err != nil {
				t.Fatal(err)
			}
			for _, d := range []string{"terraform", "stray"} {
				if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(filepath.Join(dir, "notes.json"), []byte("{}"), 0o644); err != nil {
				t.Fatal(err)
			}
			cfg := &config.Config{StateDir: dir}
			cfg.Terraform.RunAs = tc.runAs
			if err := prepareStateDir(cfg); err != nil {
				t.Fatal(err)
			}
			want := map[string]os.FileMode{
				".": tc.mode, "nats": 0o700, "git": 0o700, "outbox": 0o700, "stray": 0o700,
				"notes.json": 0o600, "terraform": 0o755, // the applier's own
				"git/platform": 0o755, // behind git/, 0700
			}
			for p, m := range want {
				fi, err := os.Stat(filepath.Join(dir, p))
				if err != nil {
					t.Fatal(err)
				}
				if fi.Mode().Perm() != m {
					t.Errorf("%s: mode %v, want %v", p, fi.Mode().Perm(), m)
				}
			}
		})
	}
}
