package terraform

import (
	"bytes"
	"io/fs"
	"strings"

	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// `terraform init` of a configuration that uses no provider but Terraform's
// built-in one (terraform_data, terraform_remote_state), no module and the
// default local backend installs nothing and writes nothing: plan works
// without it. initNotNeeded recognises such a stack so that its first
// deploy skips that process (and the wait for the plugin cache lock). It
// errs on the side of init: anything it does not know makes it false. A
// wrong guess costs one failed plan: Terraform then asks for init, and
// runPlan runs it and plans again.

// builtinProvider is the local name of Terraform's built-in provider.
const builtinProvider = "terraform"

// initNotNeeded reports whether the stack's configuration (its directory
// and the local modules it calls) needs no `terraform init`: no provider,
// module, terraform-block setting other than attributes (no backend, cloud
// or required_providers), provider-defined function or lock file, and
// every resource of the built-in provider.
func initNotNeeded(tree fs.FS, spec *Spec) bool {
	if len(spec.Modules) > 0 || len(spec.BackendConfig) > 0 || (spec.Workspace != "" && spec.Workspace != DefaultWorkspace) {
		return false
	}
	entries, err := fs.ReadDir(tree, spec.Path)
	if err != nil {
		return false
	}
	for _, e := range entries {
		n := e.Name()
		if n == ".terraform.lock.hcl" || strings.HasSuffix(n, ".tf.json") || strings.HasSuffix(n, ".tofu") || strings.HasSuffix(n, ".tofu.json") {
			return false
		}
	}
	files, diags := parseModuleDir(tree, spec.Path)
	if diags.HasErrors() {
		return false
	}
	for _, f := range files {
		if bytes.Contains(f.src, []byte("provider::")) || !builtinOnly(f.body) {
			return false
		}
	}
	return true
}

// builtinOnly reports whether a body's blocks need nothing init installs.
func builtinOnly(body *hclsyntax.Body) bool {
	for _, b := range body.Blocks {
		switch b.Type {
		case "variable", "locals", "output", "moved":
		case "terraform":
			if len(b.Body.Blocks) > 0 {
				return false // backend, cloud, required_providers, provider_meta
			}
		case "resource", "data", "ephemeral":
			if len(b.Labels) == 0 || !builtinType(b.Labels[0]) {
				return false
			}
			if _, ok := b.Body.Attributes["provider"]; ok {
				return false
			}
		case "check":
			if !builtinOnly(b.Body) {
				return false
			}
		case "assert":
		default:
			// provider, module, import, removed, and blocks of later
			// Terraform versions.
			return false
		}
	}
	return true
}

// builtinType reports whether a resource type's implied provider is the
// built-in one ("terraform_data": "terraform").
func builtinType(typ string) bool {
	name, _, _ := strings.Cut(typ, "_")
	return name == builtinProvider
}
