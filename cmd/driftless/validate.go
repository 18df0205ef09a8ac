package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/driftless/driftless/manifest"
	"github.com/driftless/driftless/sources"
)

// cmdValidate checks the manifests in a directory of a Git work tree, for
// the CI of the repo that holds them. Paths in manifests resolve against
// the work tree's root.
func cmdValidate(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("validate", stderr)
	out := fs.String("o", "text", "output format: text or json")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usagef("validate takes at most one directory")
	}
	if *out == "table" {
		*out = "text"
	}
	if err := checkFormat(*out); err != nil {
		return err
	}
	dir := "."
	if len(pos) == 1 {
		dir = pos[0]
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if fi, err := os.Stat(abs); err != nil || !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	root := workTreeRoot(abs)
	rel, err := filepath.Rel(root, abs)
	if err != nil {
		return err
	}
	loader := manifest.New(offlineAppliers()...)
	d, diags := loader.Load(filepath.Base(root), sources.LocalTree(root), filepath.ToSlash(rel))
	lines := manifest.Format(diags)
	if *out == "json" {
		res := map[string]any{"valid": d != nil, "diagnostics": nonNil(lines)}
		if d != nil {
			apps := []map[string]any{}
			for _, name := range d.Order {
				a := d.Apps[name]
				apps = append(apps, map[string]any{"app": name, "kind": a.Kind, "file": a.File, "depends_on": nonNil(a.DependsOn)})
			}
			res["apps"] = apps
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return err
		}
	} else {
		// Diagnostics name files relative to the work tree's root; print
		// them as the user can open them from where they are.
		for _, l := range lines {
			fmt.Fprintln(stderr, relativise(l, root))
		}
		if d != nil {
			fmt.Fprintf(stdout, "%d app(s) valid: %s\n", len(d.Apps), strings.Join(d.Order, ", "))
		}
	}
	if d == nil {
		return exitCode(exitError)
	}
	return nil
}

// workTreeRoot is the nearest directory at or above dir that holds .git,
// or dir itself.
func workTreeRoot(dir string) string {
	for d := dir; ; {
		if _, err := os.Stat(filepath.Join(d, ".git")); err == nil {
			return d
		}
		parent := filepath.Dir(d)
		if parent == d {
			return dir
		}
		d = parent
	}
}

// relativise rewrites a leading repo-relative file name to one relative to
// the current directory.
func relativise(line, root string) string {
	file, rest, ok := strings.Cut(line, ":")
	if !ok || strings.Contains(file, " ") {
		return line
	}
	wd, err := os.Getwd()
	if err != nil {
		return line
	}
	if rel, err := filepath.Rel(wd, filepath.Join(root, filepath.FromSlash(file))); err == nil {
		return rel + ":" + rest
	}
	return line
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
