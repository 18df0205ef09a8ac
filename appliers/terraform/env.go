package terraform

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/terraform-exec/tfexec"
)

// ownedEnv are variables driftless sets itself; the controller's values are
// never passed on.
var ownedEnv = map[string]bool{
	"TF_CLI_CONFIG_FILE": true, // ours, always
	"TF_DATA_DIR":        true, // would make every stack share one .terraform
}

// BuildEnv builds Terraform's environment: from base (the
// controller's os.Environ()) only PATH, HOME, TF_* and AWS_*; then extra
// (terraform.env); then AWS_REGION and AWS_DEFAULT_REGION from region and
// AWS_ENDPOINT_URL from endpoint when set; CHECKPOINT_DISABLE=1; and
// TF_CLI_CONFIG_FILE=cliConfig. Keys that terraform-exec manages itself
// (tfexec.ProhibitedEnv: TF_LOG, TF_VAR_*, TF_INPUT, TF_WORKSPACE, …) and
// TF_DATA_DIR cannot be passed: they are left out and returned, sorted, in
// dropped. terraform-exec adds TF_IN_AUTOMATION=1 and empties TF_LOG*.
func BuildEnv(base []string, extra map[string]string, region, endpoint, cliConfig string) (env map[string]string, dropped []string) {
	env = map[string]string{}
	drop := map[string]bool{}
	for _, kv := range base {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			continue
		}
		if k != "PATH" && k != "HOME" && !strings.HasPrefix(k, "TF_") && !strings.HasPrefix(k, "AWS_") {
			continue
		}
		if ownedEnv[k] {
			continue
		}
		env[k] = v
	}
	for k, v := range extra {
		if ownedEnv[k] {
			drop[k] = true
			continue
		}
		env[k] = v
	}
	if region != "" {
		env["AWS_REGION"] = region
		env["AWS_DEFAULT_REGION"] = region
	}
	if endpoint != "" {
		env["AWS_ENDPOINT_URL"] = endpoint
	}
	env["CHECKPOINT_DISABLE"] = "1"
	env["TF_CLI_CONFIG_FILE"] = cliConfig
	for _, k := range tfexec.ProhibitedEnv(env) {
		if _, fromExtra := extra[k]; fromExtra {
			drop[k] = true
		}
		delete(env, k)
	}
	for k := range drop {
		dropped = append(dropped, k)
	}
	sort.Strings(dropped)
	return env, dropped
}

// CLIConfig renders the Terraform CLI config driftless uses. With a mirror,
// the providers found in it are installed only from it (never looked up
// online, so an air-gapped host works) and every other provider is installed
// directly; without one, Terraform's default installation applies.
// pluginCache, when set, is the shared plugin_cache_dir: installs from the
// mirror become symlinks, nothing is copied per stack.
func CLIConfig(mirror string, mirrored []string, pluginCache string) string {
	var b strings.Builder
	b.WriteString("# Written by driftless; do not edit.\n")
	b.WriteString("disable_checkpoint = true\n")
	if pluginCache != "" {
		fmt.Fprintf(&b, "plugin_cache_dir = %s\n", strconv.Quote(pluginCache))
	}
	if mirror != "" {
		b.WriteString("provider_installation {\n")
		b.WriteString("  filesystem_mirror {\n")
		fmt.Fprintf(&b, "    path    = %s\n", strconv.Quote(mirror))
		if len(mirrored) > 0 {
			fmt.Fprintf(&b, "    include = %s\n", hclList(mirrored))
		}
		b.WriteString("  }\n")
		if len(mirrored) > 0 {
			b.WriteString("  direct {\n")
			fmt.Fprintf(&b, "    exclude = %s\n", hclList(mirrored))
			b.WriteString("  }\n")
		}
		b.WriteString("}\n")
	}
	return b.String()
}

func hclList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// mirroredProviders lists the providers (HOST/NAMESPACE/TYPE) present in a
// filesystem mirror, sorted.
func mirroredProviders(mirror string) ([]string, error) {
	hosts, err := os.ReadDir(mirror)
	if err != nil {
		return nil, fmt.Errorf("reading provider mirror: %w", err)
	}
	var out []string
	for _, h := range hosts {
		if !h.IsDir() {
			continue
		}
		nss, _ := os.ReadDir(filepath.Join(mirror, h.Name()))
		for _, ns := range nss {
			if !ns.IsDir() {
				continue
			}
			types, _ := os.ReadDir(filepath.Join(mirror, h.Name(), ns.Name()))
			for _, ty := range types {
				if ty.IsDir() {
					out = append(out, h.Name()+"/"+ns.Name()+"/"+ty.Name())
				}
			}
		}
	}
	sort.Strings(out)
	return out, nil
}
