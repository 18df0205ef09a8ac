package terraform

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/driftless/driftless/appliers"
)

// tfFile is one parsed .tf file of a module directory.
type tfFile struct {
	name string // repo-relative path
	src  []byte
	body *hclsyntax.Body
}

// parseModuleDir parses the top-level *.tf files of dir (Terraform reads no
// subdirectories), sorted by name.
func parseModuleDir(tree fs.FS, dir string) ([]tfFile, hcl.Diagnostics) {
	entries, err := fs.ReadDir(tree, dir)
	if err != nil {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Unreadable module directory", Detail: fmt.Sprintf("%s: %v", dir, err)}}
	}
	var files []tfFile
	var diags hcl.Diagnostics
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".tf") || e.IsDir() {
			continue
		}
		name := path.Join(dir, e.Name())
		src, err := fs.ReadFile(tree, name)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unreadable Terraform file", Detail: fmt.Sprintf("%s: %v", name, err)})
			continue
		}
		f, d := hclsyntax.ParseConfig(src, name, hcl.InitialPos)
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		files = append(files, tfFile{name: name, src: src, body: f.Body.(*hclsyntax.Body)})
	}
	sort.Slice(files, func(i, j int) bool { return files[i].name < files[j].name })
	return files, diags
}

// isLocalSource reports whether a module source is a local path, as
// Terraform decides it.
func isLocalSource(src string) bool {
	return strings.HasPrefix(src, "./") || strings.HasPrefix(src, "../") ||
		strings.HasPrefix(src, `.\`) || strings.HasPrefix(src, `..\`)
}

// discoverModules finds the local modules called from the module in dir,
// recursively, each checked to stay inside the repository. It returns their
// repo-relative directories, sorted, without dir itself.
func discoverModules(tree fs.FS, dir string) ([]string, hcl.Diagnostics) {
	seen := map[string]bool{dir: true}
	var diags hcl.Diagnostics
	queue := []string{dir}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		files, d := parseModuleDir(tree, cur)
		diags = append(diags, d...)
		for _, f := range files {
			for _, b := range f.body.Blocks {
				if b.Type != "module" {
					continue
				}
				attr, ok := b.Body.Attributes["source"]
				if !ok {
					continue
				}
				v, d := attr.Expr.Value(nil)
				if d.HasErrors() || !v.IsKnown() || v.IsNull() || !v.Type().Equals(cty.String) {
					continue // Terraform itself reports a non-literal source
				}
				src := v.AsString()
				if !isLocalSource(src) {
					continue
				}
				rng := attr.Expr.Range()
				target := path.Join(cur, strings.ReplaceAll(src, `\`, "/"))
				c, d2 := appliers.CheckPath(tree, target, appliers.DirPath, rng)
				if d2.HasErrors() {
					for _, dd := range d2 {
						dd.Detail = fmt.Sprintf("module %q source %q: %s", b.Labels[0], src, dd.Detail)
					}
					diags = append(diags, d2...)
					continue
				}
				if !seen[c] {
					seen[c] = true
					queue = append(queue, c)
				}
			}
		}
	}
	delete(seen, dir)
	mods := make([]string, 0, len(seen))
	for m := range seen {
		mods = append(mods, m)
	}
	sort.Strings(mods)
	return mods, diags
}

// initFingerprint hashes what decides whether `terraform init` must run
// again: the top-level terraform, provider and module blocks of the given
// module directories (their source text), the repository's lock file, the
// backend config, the CLI config, the binary and its version. The backend part (terraform
// blocks and backend_config) is also hashed on its own: a change there
// needs -reconfigure.
func initFingerprint(tree fs.FS, spec *Spec, cliConfig, binary, version string) (all, backend string, err error) {
	h := sha256.New()
	hb := sha256.New()
	fmt.Fprintf(h, "driftless-init-v2\x00%s\x00%s\x00%s\x00", binary, version, cliConfig)
	dirs := append([]string{spec.Path}, spec.Modules...)
	for _, dir := range dirs {
		files, diags := parseModuleDir(tree, dir)
		if diags.HasErrors() {
			return "", "", fmt.Errorf("parsing %s: %w", dir, diags)
		}
		for _, f := range files {
			for _, b := range f.body.Blocks {
				switch b.Type {
				case "terraform", "provider", "module":
				default:
					continue
				}
				r := b.Range()
				text := f.src[r.Start.Byte:r.End.Byte]
				fmt.Fprintf(h, "%s\x00%s\x00", f.name, text)
				if b.Type == "terraform" && dir == spec.Path {
					fmt.Fprintf(hb, "%s\x00%s\x00", f.name, text)
				}
			}
		}
	}
	lock, err := fs.ReadFile(tree, path.Join(spec.Path, ".terraform.lock.hcl"))
	if err != nil && !isNotExist(err) {
		return "", "", fmt.Errorf("reading lock file: %w", err)
	}
	fmt.Fprintf(h, "lock\x00%s\x00", lock)
	keys := make([]string, 0, len(spec.BackendConfig))
	for k := range spec.BackendConfig {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(h, "bc\x00%s\x00%s\x00", k, spec.BackendConfig[k])
		fmt.Fprintf(hb, "bc\x00%s\x00%s\x00", k, spec.BackendConfig[k])
	}
	return fmt.Sprintf("%x", h.Sum(nil)), fmt.Sprintf("%x", hb.Sum(nil)), nil
}

func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
