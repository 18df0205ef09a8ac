package manifest

import (
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/driftless/driftless/appliers"
	"github.com/driftless/driftless/appliers/hclattr"
)

// NameRE is what an app name (a block label) must match.
var NameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// App is one declared application: a manifest block and what the loader
// learned of it. Spec is the applier's decoding at load time; for an app
// that references other apps' outputs it was decoded with those outputs
// unknown and must be decoded again with Decode before planning.
type App struct {
	Name     string
	Kind     string
	File     string
	DefRange hcl.Range
	// DependsOn lists the apps this one depends on (explicit depends_on
	// and references), sorted.
	DependsOn []string
	// Refs lists the apps whose outputs this one references, sorted.
	Refs []string

	// Settings shared by every kind.
	SelfHeal      bool
	IgnoreDrift   []string
	DriftInterval time.Duration

	Spec appliers.Spec

	body      hcl.Body    // the block body less the shared attributes
	refRanges []hcl.Range // expressions that reference outputs
	reads     *reads      // what evaluating the block read of the tree (see Reload)
	warns     hcl.Diagnostics
	src       blockSrc
}

// Desired is the desired state of one revision.
type Desired struct {
	Repo  string
	Dir   string // manifest directory, repo-relative ("." for the root)
	Apps  map[string]*App
	Order []string // dependency order: every app after the apps it depends on
	Files []string // manifest files read, repo-relative

	loader *Loader
	parsed map[string]parsedFile // by name, for Reload
	vars   map[string]cty.Value  // the load's variables (outputs unknown), for Reload
}

// Loader decodes manifests with a fixed set of appliers.
type Loader struct {
	// Limits bound every evaluation (each Load, each Decode); New sets
	// DefaultLimits.
	Limits Limits

	kinds map[string]appliers.Applier
	names []string
}

// New returns a loader for the given appliers, one per block type.
func New(as ...appliers.Applier) *Loader {
	l := &Loader{Limits: DefaultLimits, kinds: map[string]appliers.Applier{}}
	for _, a := range as {
		l.kinds[a.Kind()] = a
		l.names = append(l.names, a.Kind())
	}
	sort.Strings(l.names)
	return l
}

// Applier returns the applier owning kind.
func (l *Loader) Applier(kind string) appliers.Applier { return l.kinds[kind] }

// Kinds lists the block types the loader knows, sorted.
func (l *Loader) Kinds() []string { return append([]string(nil), l.names...) }

var commonSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "depends_on"}, {Name: "self_heal"}, {Name: "ignore_drift"}, {Name: "drift_interval"},
}}

// Load reads every *.hcl file under dir (repo-relative, "" or "." for the
// root) of tree and decodes it. Any error rejects the revision: the
// returned diagnostics then contain every problem found. Evaluation is
// bounded by l.Limits; a panic while evaluating is an error too.
func (l *Loader) Load(repo string, tree fs.FS, dir string) (*Desired, hcl.Diagnostics) {
	return l.load(repo, tree, dir, nil)
}

// load is Load, taking what r allows from the previous revision (nil:
// nothing).
func (l *Loader) load(repo string, tree fs.FS, dir string, r *reuser) (_ *Desired, diags hcl.Diagnostics) {
	defer recoverDiag(&diags, "the manifests", nil)
	dir = cleanDir(dir)
	d := &Desired{Repo: repo, Dir: dir, Apps: map[string]*App{}, loader: l, parsed: map[string]parsedFile{}}
	b := newBudget(l.Limits)
	files, diags := l.readFiles(tree, dir, b, r)
	var blocks []*hcl.Block
	schema := &hcl.BodySchema{}
	for _, k := range l.names {
		schema.Blocks = append(schema.Blocks, hcl.BlockHeaderSchema{Type: k, LabelNames: []string{"name"}})
	}
	for _, f := range files {
		d.Files = append(d.Files, f.name)
		d.parsed[f.name] = f
		content, cdiags := f.file.Body.Content(schema)
		for _, cd := range cdiags {
			if cd.Summary == "Unsupported block type" {
				cd.Detail += fmt.Sprintf(" Known block types: %s.", strings.Join(l.names, ", "))
			}
		}
		diags = append(diags, cdiags...)
		blocks = append(blocks, content.Blocks...)
	}
	d.Apps = make(map[string]*App, len(blocks)) // sized: a repository may declare thousands
	for _, b := range blocks {
		name := b.Labels[0]
		if !NameRE.MatchString(name) {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid app name",
				Detail: fmt.Sprintf("%q must match [a-z0-9][a-z0-9_-]*.", name), Subject: b.LabelRanges[0].Ptr()})
			continue
		}
		if prev, ok := d.Apps[name]; ok {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate app name",
				Detail:  fmt.Sprintf("An app named %q is already declared at %s (app names are unique within a repository).", name, posString(prev.DefRange)),
				Subject: b.LabelRanges[0].Ptr()})
			continue
		}
		d.Apps[name] = &App{Name: name, Kind: b.Type, File: b.DefRange.Filename, DefRange: b.DefRange, reads: &reads{},
			src: blockSource(d.parsed[b.DefRange.Filename].file, b)}
	}
	byName := make(map[string]*hcl.Block, len(blocks))
	for _, b := range blocks {
		if a, ok := d.Apps[b.Labels[0]]; ok && a.DefRange == b.DefRange {
			byName[a.Name] = b
		}
	}
	trace := &tracingFS{FS: tree}
	sameSet := r.sameApps(d)
	ectx := sync.OnceValue(func() *hcl.EvalContext {
		if sameSet && r.prev.vars != nil {
			d.vars = r.prev.vars // the same apps: the same variables
		} else {
			d.vars = l.variables(d, nil)
		}
		return &hcl.EvalContext{Variables: d.vars, Functions: functions(trace, b)}
	})
	reused := make(map[string]*App, len(d.Apps))
	names := sortedKeys(d.Apps)
	for _, name := range names {
		if p := r.app(d.Apps[name]); p != nil {
			reused[name] = p // evaluated before, to the same result
			if sameSet {
				// The same block among the same apps: prepared alike.
				d.Apps[name] = p
				continue
			}
		}
		trace.cur = d.Apps[name].reads
		// Count the for expressions first: prepare and Decode evaluate.
		if sb, ok := byName[name].Body.(*hclsyntax.Body); ok && reused[name] == nil {
			if fdiags := checkFors(sb, ectx(), b); fdiags.HasErrors() {
				diags = append(diags, fdiags...)
				continue // no body: not decoded
			}
		}
		trace.cur = nil
		diags = append(diags, l.prepare(d, d.Apps[name], byName[name])...)
	}
	switch {
	case diags.HasErrors():
	case r.sameOrder(d):
		d.Order = r.prev.Order
	default:
		order, gdiags := topoOrder(d)
		diags = append(diags, gdiags...)
		d.Order = order
	}
	// Decode every block even when something else is wrong, so that one
	// pass reports every problem.
	for _, name := range names {
		a := d.Apps[name]
		if a.body == nil {
			continue
		}
		if p := reused[name]; p != nil {
			diags = append(diags, p.warns...)
			if a != p {
				a.Spec, a.reads, a.warns = p.Spec, p.reads, p.warns
				if sameApp(a, p) {
					d.Apps[name] = p
				}
			}
			continue
		}
		if tdiags := b.timeDiag(a.DefRange); tdiags.HasErrors() {
			diags = append(diags, tdiags...)
			break
		}
		trace.cur = a.reads
		spec, sdiags := l.decode(appliers.DecodeContext{Repo: repo, App: name, Tree: trace, Eval: ectx(), Block: a.DefRange}, a)
		trace.cur = nil
		sdiags = dropInRanges(sdiags, a.refRanges)
		diags = append(diags, sdiags...)
		a.Spec, a.warns = spec, sdiags
		if !sdiags.HasErrors() {
			finish(tree, a.reads)
		}
	}
	// HCL reports some problems in map order: sort them for stable output.
	stableSuggestions(diags)
	sortDiagnostics(diags)
	diags = capDiagnostics(diags)
	if diags.HasErrors() {
		return nil, diags
	}
	if d.vars == nil && sameSet {
		d.vars = r.prev.vars
	}
	return d, diags
}

// prepare splits off the shared attributes, resolves depends_on and finds
// the references to other apps' outputs.
func (l *Loader) prepare(d *Desired, a *App, b *hcl.Block) hcl.Diagnostics {
	content, remain, diags := b.Body.PartialContent(commonSchema)
	a.body = remain
	deps := map[string]bool{}
	refs := map[string]bool{}
	if attr, ok := content.Attributes["depends_on"]; ok {
		exprs, ediags := hcl.ExprList(attr.Expr)
		diags = append(diags, ediags...)
		for _, e := range exprs {
			name, rdiags := l.appRef(d, e)
			diags = append(diags, rdiags...)
			if name != "" {
				deps[name] = true
			}
		}
	}
	if attr, ok := content.Attributes["self_heal"]; ok {
		diags = append(diags, decodeAttr(attr, &a.SelfHeal)...)
	}
	if attr, ok := content.Attributes["ignore_drift"]; ok {
		diags = append(diags, decodeAttr(attr, &a.IgnoreDrift)...)
	}
	if attr, ok := content.Attributes["drift_interval"]; ok {
		var s string
		if ds := decodeAttr(attr, &s); ds.HasErrors() {
			diags = append(diags, ds...)
		} else if iv, err := time.ParseDuration(s); err != nil || iv < 0 {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid duration",
				Detail: fmt.Sprintf("%q is not a duration like \"15m\" or \"1h\".", s), Subject: attr.Expr.Range().Ptr()})
		} else {
			a.DriftInterval = iv
		}
	}
	if sb, ok := b.Body.(*hclsyntax.Body); ok {
		diags = append(diags, l.walkRefs(d, a, sb, true, refs)...)
	}
	for r := range refs {
		deps[r] = true
	}
	delete(deps, a.Name)
	a.DependsOn = sortedKeys(deps)
	a.Refs = sortedKeys(refs)
	return diags
}

// appRef resolves a depends_on element like stack.network to an app name.
func (l *Loader) appRef(d *Desired, e hcl.Expression) (string, hcl.Diagnostics) {
	trav, diags := hcl.AbsTraversalForExpr(e)
	if diags.HasErrors() {
		return "", diags
	}
	bad := func(detail string) (string, hcl.Diagnostics) {
		return "", hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid dependency", Detail: detail, Subject: e.Range().Ptr()}}
	}
	if len(trav) != 2 {
		return bad("A dependency is written KIND.NAME, e.g. stack.network.")
	}
	kind := trav.RootName()
	step, ok := trav[1].(hcl.TraverseAttr)
	if !ok {
		return bad("A dependency is written KIND.NAME, e.g. stack.network.")
	}
	if _, known := l.kinds[kind]; !known {
		return bad(fmt.Sprintf("%q is not a block type (known: %s).", kind, strings.Join(l.names, ", ")))
	}
	target, ok := d.Apps[step.Name]
	if !ok || target.Kind != kind {
		return bad(fmt.Sprintf("No %s named %q is declared in this repository.", kind, step.Name))
	}
	return step.Name, nil
}

// walkRefs visits every expression of body (skipping the shared attributes
// at the top level) and records references to other apps' outputs.
func (l *Loader) walkRefs(d *Desired, a *App, body *hclsyntax.Body, top bool, refs map[string]bool) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for name, attr := range body.Attributes {
		if top && (name == "depends_on" || name == "self_heal" || name == "ignore_drift" || name == "drift_interval") {
			continue
		}
		found := false
		for _, trav := range attr.Expr.Variables() {
			kind := trav.RootName()
			ap, isKind := l.kinds[kind]
			if !isKind {
				continue
			}
			found = true
			if _, ok := ap.(appliers.Outputter); !ok {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid reference",
					Detail: fmt.Sprintf("%s apps have no outputs to reference.", kind), Subject: trav.SourceRange().Ptr()})
				continue
			}
			if len(trav) < 3 {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid reference",
					Detail: fmt.Sprintf("Write %s.NAME.outputs.KEY to use an output.", kind), Subject: trav.SourceRange().Ptr()})
				continue
			}
			step, ok1 := trav[1].(hcl.TraverseAttr)
			out, ok2 := trav[2].(hcl.TraverseAttr)
			if !ok1 || !ok2 || out.Name != "outputs" {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid reference",
					Detail: fmt.Sprintf("Write %s.NAME.outputs.KEY to use an output.", kind), Subject: trav.SourceRange().Ptr()})
				continue
			}
			target, ok := d.Apps[step.Name]
			if !ok || target.Kind != kind {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Reference to undeclared app",
					Detail: fmt.Sprintf("No %s named %q is declared in this repository.", kind, step.Name), Subject: trav.SourceRange().Ptr()})
				continue
			}
			if step.Name == a.Name {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Self reference",
					Detail: fmt.Sprintf("%s %q cannot use its own outputs.", kind, a.Name), Subject: trav.SourceRange().Ptr()})
				continue
			}
			refs[step.Name] = true
		}
		if found {
			a.refRanges = append(a.refRanges, attr.Expr.Range())
		}
	}
	for _, blk := range body.Blocks {
		diags = append(diags, l.walkRefs(d, a, blk.Body, false, refs)...)
	}
	return diags
}

// evalContext builds the variables for references: KIND.NAME.outputs for
// every declared app of a kind with outputs. Outputs not given are unknown.
func (l *Loader) evalContext(tree fs.FS, d *Desired, outputs map[string]map[string]cty.Value, b *budget) *hcl.EvalContext {
	return &hcl.EvalContext{Variables: l.variables(d, outputs), Functions: functions(tree, b)}
}

// variables are evalContext's.
func (l *Loader) variables(d *Desired, outputs map[string]map[string]cty.Value) map[string]cty.Value {
	vars := map[string]cty.Value{}
	perKind := map[string]map[string]cty.Value{}
	for name, a := range d.Apps {
		if _, ok := l.kinds[a.Kind].(appliers.Outputter); !ok {
			continue
		}
		if perKind[a.Kind] == nil {
			perKind[a.Kind] = map[string]cty.Value{}
		}
		outs := cty.DynamicVal
		if o, ok := outputs[name]; ok {
			outs = cty.ObjectVal(o)
			if len(o) == 0 {
				outs = cty.EmptyObjectVal
			}
		}
		perKind[a.Kind][name] = cty.ObjectVal(map[string]cty.Value{"outputs": outs})
	}
	for k, apps := range perKind {
		vars[k] = cty.ObjectVal(apps)
	}
	return vars
}

// decodeAttr decodes a shared attribute (literal values only) into target.
func decodeAttr(attr *hcl.Attribute, target any) hcl.Diagnostics {
	d := hclattr.New(nil, sharedMessages)
	d.Decode(attr, hclattr.Attr{Name: attr.Name, Into: target})
	return d.Diags()
}

// sharedMessages word the errors of the attributes every block accepts.
var sharedMessages = hclattr.Messages{
	Type: func(name, _ string, err error) hclattr.Problem {
		return hclattr.Problem{Summary: "Invalid value for " + name, Detail: err.Error()}
	},
	Null: func(name string) *hclattr.Problem {
		return hclattr.Problemf("Invalid value for "+name, "null value is not allowed")
	},
}

// dropInRanges removes diagnostics whose subject lies inside one of
// ranges: at load time, expressions that reference outputs are unknown.
func dropInRanges(diags hcl.Diagnostics, ranges []hcl.Range) hcl.Diagnostics {
	if len(ranges) == 0 {
		return diags
	}
	var out hcl.Diagnostics
	for _, dg := range diags {
		keep := true
		if dg.Subject != nil {
			for _, r := range ranges {
				if r.Filename == dg.Subject.Filename && r.ContainsOffset(dg.Subject.Start.Byte) {
					keep = false
					break
				}
			}
		}
		if keep {
			out = append(out, dg)
		}
	}
	return out
}

func posString(r hcl.Range) string {
	return fmt.Sprintf("%s:%d:%d", r.Filename, r.Start.Line, r.Start.Column)
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
