package terraform

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/driftless/driftless/appliers"
	"github.com/driftless/driftless/appliers/hclattr"
)

// DefaultWorkspace is the workspace a stack uses when none is given.
const DefaultWorkspace = "default"

// Spec is a decoded `stack` block. It marshals to JSON deterministically
// (maps marshal with sorted keys, lists are kept in order or sorted).
type Spec struct {
	// Path is the stack's root module directory, repo-relative.
	Path string `json:"path"`
	// Workspace is the Terraform workspace ("default" when not set).
	Workspace string `json:"workspace"`
	// Vars are the input variables as JSON values, written to a generated
	// JSON var file passed with -var-file.
	Vars map[string]json.RawMessage `json:"vars,omitempty"`
	// VarFiles are repo-relative var files, passed with -var-file in order.
	VarFiles []string `json:"var_files,omitempty"`
	// BackendConfig become -backend-config=KEY=VALUE options of init.
	BackendConfig map[string]string `json:"backend_config,omitempty"`
	// AutoApply false means a plan waits for `driftless approve`.
	AutoApply bool `json:"auto_apply"`
	// Modules are the repo-relative directories of the local modules the
	// stack calls (source = "./…" or "../…"), recursively, sorted.
	Modules []string `json:"modules,omitempty"`
	// Unknown names the vars (and "backend_config") whose values were not
	// known when decoding (they reference outputs of stacks not applied
	// yet); "vars" means the whole vars map was unknown. A spec with
	// unknowns cannot be planned.
	Unknown []string `json:"unknown,omitempty"`
}

var (
	_ appliers.Spec             = (*Spec)(nil)
	_ appliers.ApprovalRequirer = (*Spec)(nil)
)

// Inputs returns the stack directory, the var files and the local module
// directories.
func (s *Spec) Inputs() []string {
	in := []string{s.Path}
	in = append(in, s.VarFiles...)
	in = append(in, s.Modules...)
	return in
}

// ApprovalRequired reports whether plans must wait for an approval
// (auto_apply = false).
func (s *Spec) ApprovalRequired() bool { return !s.AutoApply }

var workspaceRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

var stackSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "path", Required: true},
		{Name: "workspace"},
		{Name: "vars"},
		{Name: "var_files"},
		{Name: "backend_config"},
		{Name: "auto_apply"},
		// depends_on is the reconciler's business (DAG edges); accepted here
		// so that a loader that passes it through does not fail.
		{Name: "depends_on"},
	},
}

// Decode decodes a `stack` block body. See Spec for the attributes.
func (a *Applier) Decode(dc appliers.DecodeContext, body hcl.Body) (appliers.Spec, hcl.Diagnostics) {
	return decodeSpec(dc, body)
}

func decodeSpec(dc appliers.DecodeContext, body hcl.Body) (*Spec, hcl.Diagnostics) {
	content, diags := body.Content(stackSchema)
	spec := &Spec{Workspace: DefaultWorkspace, AutoApply: true}

	if attr, ok := content.Attributes["path"]; ok {
		p, d := evalString(dc, attr)
		diags = append(diags, d...)
		if !d.HasErrors() {
			c, d2 := appliers.CheckPath(dc.Tree, p, appliers.DirPath, attr.Expr.Range())
			diags = append(diags, d2...)
			spec.Path = c
		}
	}
	if attr, ok := content.Attributes["workspace"]; ok {
		w, d := evalString(dc, attr)
		diags = append(diags, d...)
		if !d.HasErrors() {
			if !workspaceRe.MatchString(w) {
				diags = append(diags, attrDiag(dc, attr, "Invalid workspace", fmt.Sprintf("workspace %q must start with a letter or digit and hold only letters, digits, '_', '.' and '-'", w)))
			} else {
				spec.Workspace = w
			}
		}
	}
	if attr, ok := content.Attributes["auto_apply"]; ok {
		v, d := evalAs(dc, attr, cty.Bool, "a bool")
		diags = append(diags, d...)
		if !d.HasErrors() {
			spec.AutoApply = v.True()
		}
	}
	if attr, ok := content.Attributes["vars"]; ok {
		diags = append(diags, decodeVars(dc, attr, spec)...)
	}
	if attr, ok := content.Attributes["var_files"]; ok {
		diags = append(diags, decodeVarFiles(dc, attr, spec)...)
	}
	if attr, ok := content.Attributes["backend_config"]; ok {
		v, d := evalValue(dc, attr)
		diags = append(diags, d...)
		if !d.HasErrors() {
			switch {
			case !v.IsWhollyKnown():
				spec.Unknown = append(spec.Unknown, "backend_config")
			case v.IsNull():
			default:
				m, err := convert.Convert(v, cty.Map(cty.String))
				if err != nil || m.IsNull() {
					diags = append(diags, attrDiag(dc, attr, "Incorrect attribute value type", "backend_config must be a map of strings"))
					break
				}
				spec.BackendConfig = map[string]string{}
				for k, e := range m.AsValueMap() {
					if k == "" || e.IsNull() {
						diags = append(diags, attrDiag(dc, attr, "Invalid backend_config", "backend_config keys must be non-empty and values non-null"))
						continue
					}
					spec.BackendConfig[k] = e.AsString()
				}
			}
		}
	}

	if spec.Path != "" && !diags.HasErrors() {
		mods, d := discoverModules(dc.Tree, spec.Path)
		diags = append(diags, d...)
		spec.Modules = mods
	}
	sort.Strings(spec.Unknown)
	return spec, diags
}

func decodeVars(dc appliers.DecodeContext, attr *hcl.Attribute, spec *Spec) hcl.Diagnostics {
	v, diags := evalValue(dc, attr)
	if diags.HasErrors() {
		return diags
	}
	v, _ = v.UnmarkDeep()
	if !v.IsKnown() {
		spec.Unknown = append(spec.Unknown, "vars")
		return diags
	}
	if v.IsNull() {
		return diags
	}
	ty := v.Type()
	if !ty.IsObjectType() && !ty.IsMapType() {
		return append(diags, attrDiag(dc, attr, "Incorrect attribute value type", "vars must be a map of variable names to values"))
	}
	spec.Vars = map[string]json.RawMessage{}
	for it := v.ElementIterator(); it.Next(); {
		k, e := it.Element()
		name := k.AsString()
		if !hclsyntax.ValidIdentifier(name) {
			diags = append(diags, attrDiag(dc, attr, "Invalid variable name", fmt.Sprintf("%q is not a valid Terraform variable name", name)))
			continue
		}
		if !e.IsWhollyKnown() {
			spec.Unknown = append(spec.Unknown, "vars."+name)
			spec.Vars[name] = json.RawMessage("null")
			continue
		}
		b, err := ctyjson.Marshal(e, e.Type())
		if err != nil {
			diags = append(diags, attrDiag(dc, attr, "Invalid variable value", fmt.Sprintf("vars.%s cannot be encoded as JSON: %v", name, err)))
			continue
		}
		spec.Vars[name] = b
	}
	return diags
}

func decodeVarFiles(dc appliers.DecodeContext, attr *hcl.Attribute, spec *Spec) hcl.Diagnostics {
	// A static list gives each element's own range for diagnostics.
	if exprs, d := hcl.ExprList(attr.Expr); !d.HasErrors() {
		var diags hcl.Diagnostics
		for _, e := range exprs {
			s, d := evalString(dc, &hcl.Attribute{Name: "var_files element", Expr: e, Range: e.Range()})
			diags = append(diags, d...)
			if d.HasErrors() {
				continue
			}
			c, d2 := appliers.CheckPath(dc.Tree, s, appliers.FilePath, e.Range())
			diags = append(diags, d2...)
			if c != "" {
				spec.VarFiles = append(spec.VarFiles, c)
			}
		}
		return diags
	}
	v, diags := evalValue(dc, attr)
	if diags.HasErrors() {
		return diags
	}
	l, err := convert.Convert(v, cty.List(cty.String))
	if err != nil || !l.IsWhollyKnown() {
		return append(diags, attrDiag(dc, attr, "Incorrect attribute value type", "var_files must be a list of known repo-relative file paths"))
	}
	if l.IsNull() {
		return diags
	}
	for _, e := range l.AsValueSlice() {
		if e.IsNull() {
			diags = append(diags, attrDiag(dc, attr, "Invalid var file", "var_files must not hold null"))
			continue
		}
		c, d := appliers.CheckPath(dc.Tree, e.AsString(), appliers.FilePath, attr.Expr.Range())
		diags = append(diags, d...)
		if c != "" {
			spec.VarFiles = append(spec.VarFiles, c)
		}
	}
	return diags
}

func evalValue(dc appliers.DecodeContext, attr *hcl.Attribute) (cty.Value, hcl.Diagnostics) {
	return attr.Expr.Value(dc.Eval)
}

// messages word the errors of stack attributes that must be known and
// not null when the manifest is read.
var messages = hclattr.Messages{
	Null: func(name string) *hclattr.Problem {
		return hclattr.Problemf("Missing value", "%s must not be null", name)
	},
	Unknown: func(name string) *hclattr.Problem {
		return hclattr.Problemf("Value not known", "%s must be known when the manifest is read; it cannot depend on another stack's outputs", name)
	},
}

// evalAs evaluates attr and converts it to ty; the value must be known and
// not null.
func evalAs(dc appliers.DecodeContext, attr *hcl.Attribute, ty cty.Type, what string) (cty.Value, hcl.Diagnostics) {
	d := hclattr.New(dc.Eval, messages)
	var v cty.Value
	if !d.Decode(attr, hclattr.Attr{Name: attr.Name, Into: &v, Type: ty, What: what}) {
		return cty.NilVal, d.Diags()
	}
	return v, d.Diags()
}

func evalString(dc appliers.DecodeContext, attr *hcl.Attribute) (string, hcl.Diagnostics) {
	v, diags := evalAs(dc, attr, cty.String, "a string")
	if diags.HasErrors() {
		return "", diags
	}
	return v.AsString(), diags
}

func attrDiag(dc appliers.DecodeContext, attr *hcl.Attribute, summary, detail string) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity:    hcl.DiagError,
		Summary:     summary,
		Detail:      detail,
		Subject:     attr.Expr.Range().Ptr(),
		Expression:  attr.Expr,
		EvalContext: dc.Eval,
	}
}
