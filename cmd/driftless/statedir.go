package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/driftless/driftless/internal/config"
)

// Entries of state_dir that Terraform (as terraform.run_as) may reach; the
// terraform applier sets their modes and owners itself.
var terraformEntries = map[string]bool{"terraform": true, "plugin-cache": true}

// prepareStateDir creates state_dir and makes everything in it private to
// the daemon: state_dir 0700, or 0711 with terraform.run_as (the user must
// pass through it to its work dirs and plugin cache, without listing it);
// the NATS store, the Git clones, the outbox and every other directory in
// it 0700, other files 0600. Below those, the 0700 directories keep the
// run_as user out whatever the modes.
func prepareStateDir(cfg *config.Config) error {
	mode := os.FileMode(0o700)
	if cfg.Terraform.RunAs != nil {
		mode = 0o711
	}
	if err := os.MkdirAll(cfg.StateDir, mode); err != nil {
		return fmt.Errorf("creating state_dir: %w", err)
	}
	if err := os.Chmod(cfg.StateDir, mode); err != nil {
		return fmt.Errorf("state_dir: %w", err)
	}
	for _, d := range []string{"nats", "git", "outbox"} {
		if err := os.MkdirAll(filepath.Join(cfg.StateDir, d), 0o700); err != nil {
			return fmt.Errorf("creating state_dir: %w", err)
		}
	}
	entries, err := os.ReadDir(cfg.StateDir)
	if err != nil {
		return fmt.Errorf("state_dir: %w", err)
	}
	for _, e := range entries {
		if terraformEntries[e.Name()] || e.Type()&os.ModeSymlink != 0 {
			continue
		}
		m := os.FileMode(0o600)
		if e.IsDir() {
			m = 0o700
		}
		if err := os.Chmod(filepath.Join(cfg.StateDir, e.Name()), m); err != nil {
			return fmt.Errorf("state_dir: %w", err)
		}
	}
	return nil
}
