package manifest

import (
	"encoding/json"
	"flag"
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/driftless/driftless/appliers/ecs"
	"github.com/driftless/driftless/appliers/lambda"
	"github.com/driftless/driftless/appliers/terraform"
)

// Names of the fuzzed manifest files, under fuzzDir.
const (
	fuzzDir   = "deploy"
	fuzzFileA = "deploy/a.hcl"
	fuzzFileB = "deploy/apps/b.hcl"
)

// fuzzTree is the fixed part of the repository the fuzzed manifests are
// loaded from: a stack directory, task definitions, a Lambda code dir.
func fuzzTree(a, b []byte) fstest.MapFS {
	fsys := fstest.MapFS{
		"infra/a/main.tf":           {Data: []byte("")},
		"infra/b/main.tf":           {Data: []byte("")},
		"infra/network/main.tf":     {Data: []byte("")},
		"infra/network/prod.tfvars": {Data: []byte("env = \"prod\"\n")},
		"services/web.json":         {Data: []byte(`{"family":"web","containerDefinitions":[{"name":"web","image":"nginx:1.25","memory":128}]}`)},
		"services/web/taskdef.json": {Data: []byte(`{"family":"web","containerDefinitions":[{"name":"web","image":"nginx:1.25","memory":128,"portMappings":[{"containerPort":80}]}]}`)},
		"functions/thumb/index.js":  {Data: []byte("exports.handler = async () => 'ok'\n")},
		fuzzFileA:                   {Data: a},
	}
	if len(b) > 0 {
		fsys[fuzzFileB] = &fstest.MapFile{Data: b}
	}
	return fsys
}

// hangAfter is how long one Load may run while fuzzing before the input is
// reported as a hang (a Load of a small input takes milliseconds).
const hangAfter = 30 * time.Second

// fuzzing reports whether the test binary runs with -test.fuzz.
func fuzzing() bool {
	f := flag.Lookup("test.fuzz")
	return f != nil && f.Value.String() != ""
}

// fuzzLoader is a loader with the real appliers, which decode without
// touching AWS or running Terraform.
func fuzzLoader() *Loader {
	return New(terraform.NewDecoder(), ecs.New(nil, nil, ecs.Options{}, nil), lambda.New(nil, nil, lambda.Options{}, nil))
}

// FuzzLoad feeds arbitrary bytes as one or two manifest files through the
// loader. Properties: Load never panics; a rejected revision has at least
// one error; every diagnostic with a position points into a manifest file
// at a valid line and column, and formats as "file:line:col: …" on one
// line; an accepted revision orders every app exactly once, after its
// dependencies; and loading the same input twice gives the same
// diagnostics, order and specs.
func FuzzLoad(f *testing.F) {
	l := fuzzLoader()
	f.Fuzz(func(t *testing.T, a, b []byte) {
		if fuzzing() {
			// A hang is a finding too: crash the worker so that the input
			// is saved, rather than time out the whole run without it.
			watchdog := time.AfterFunc(hangAfter, func() { panic(fmt.Sprintf("Load still running after %v on %q / %q", hangAfter, a, b)) })
			defer watchdog.Stop()
		}
		fsys := fuzzTree(a, b)
		inputs := []string{fuzzFileA}
		if len(b) > 0 {
			inputs = append(inputs, fuzzFileB)
		}
		d1, diags1 := l.Load("platform", fsys, fuzzDir)
		lines1 := Format(diags1)
		checkDiagnostics(t, diags1, lines1, inputs)
		if d1 == nil {
			if !diags1.HasErrors() {
				t.Fatalf("Load returned no Desired and no error; diagnostics:\n%s", strings.Join(lines1, "\n"))
			}
		} else {
			if diags1.HasErrors() {
				t.Fatalf("Load returned a Desired with errors:\n%s", strings.Join(lines1, "\n"))
			}
			checkDesired(t, l, d1, inputs)
		}

		d2, diags2 := l.Load("platform", fsys, fuzzDir)
		lines2 := Format(diags2)
		if !slices.Equal(lines1, lines2) {
			t.Fatalf("Load is not deterministic: diagnostics\n%s\nthen\n%s", strings.Join(lines1, "\n"), strings.Join(lines2, "\n"))
		}
		if (d1 == nil) != (d2 == nil) {
			t.Fatalf("Load is not deterministic: Desired %v then %v", d1 != nil, d2 != nil)
		}
		if d1 != nil {
			if !slices.Equal(d1.Order, d2.Order) {
				t.Fatalf("Load is not deterministic: order %v then %v", d1.Order, d2.Order)
			}
			if s1, s2 := specsJSON(t, d1), specsJSON(t, d2); s1 != s2 {
				t.Fatalf("Load is not deterministic: specs\n%s\nthen\n%s", s1, s2)
			}
		}
	})
}

// checkDiagnostics checks that every positioned diagnostic points into one
// of files and that Format renders each diagnostic on one line, errors
// first, with its position.
func checkDiagnostics(t *testing.T, diags hcl.Diagnostics, lines, files []string) {
	t.Helper()
	if len(lines) != len(diags) {
		t.Fatalf("Format gave %d lines for %d diagnostics", len(lines), len(diags))
	}
	var ordered hcl.Diagnostics // the order Format uses: errors, then warnings
	for _, sev := range []hcl.DiagnosticSeverity{hcl.DiagError, hcl.DiagWarning} {
		for _, d := range diags {
			if (d.Severity == hcl.DiagWarning) == (sev == hcl.DiagWarning) {
				ordered = append(ordered, d)
			}
		}
	}
	for i, d := range ordered {
		line := lines[i]
		if strings.ContainsAny(line, "\r\n") {
			t.Errorf("diagnostic spans several lines: %q", line)
		}
		if d.Subject == nil {
			continue
		}
		s := d.Subject
		if !slices.Contains(files, s.Filename) {
			t.Errorf("diagnostic points at %q, not a manifest file (%v): %q", s.Filename, files, line)
		}
		if s.Start.Line < 1 || s.Start.Column < 1 {
			t.Errorf("diagnostic has an invalid position %d:%d: %q", s.Start.Line, s.Start.Column, line)
		}
		if prefix := fmt.Sprintf("%s:%d:%d: ", s.Filename, s.Start.Line, s.Start.Column); !strings.HasPrefix(line, prefix) {
			t.Errorf("formatted diagnostic %q does not start with %q", line, prefix)
		}
	}
}

// checkDesired checks an accepted revision: its files, its apps, and an
// order holding every app once, after the apps it depends on.
func checkDesired(t *testing.T, l *Loader, d *Desired, files []string) {
	t.Helper()
	if !slices.Equal(d.Files, files) {
		t.Errorf("Files = %v, want %v", d.Files, files)
	}
	pos := map[string]int{}
	for i, name := range d.Order {
		if _, dup := pos[name]; dup {
			t.Fatalf("Order %v lists %q twice", d.Order, name)
		}
		pos[name] = i
	}
	if len(d.Order) != len(d.Apps) {
		t.Fatalf("Order %v has %d apps, Apps has %d", d.Order, len(d.Order), len(d.Apps))
	}
	for name, a := range d.Apps {
		i, ok := pos[name]
		if !ok {
			t.Fatalf("app %q is missing from Order %v", name, d.Order)
		}
		if a.Name != name || !NameRE.MatchString(name) {
			t.Errorf("app %q has name %q", name, a.Name)
		}
		if l.Applier(a.Kind) == nil {
			t.Errorf("app %q has unknown kind %q", name, a.Kind)
		}
		if a.Spec == nil && len(a.Refs) == 0 {
			// An app referencing outputs may have no spec until decoded
			// again with the outputs known (Loader.Decode).
			t.Errorf("accepted app %q has no spec and no references", name)
		}
		if !slices.Contains(files, a.File) {
			t.Errorf("app %q declared in %q, not a manifest file", name, a.File)
		}
		for _, dep := range a.DependsOn {
			j, ok := pos[dep]
			switch {
			case dep == name:
				t.Errorf("app %q depends on itself", name)
			case !ok:
				t.Errorf("app %q depends on undeclared %q", name, dep)
			case j >= i:
				t.Errorf("Order %v puts %q before its dependency %q", d.Order, name, dep)
			}
		}
		for _, r := range a.Refs {
			if !slices.Contains(a.DependsOn, r) {
				t.Errorf("app %q references %q without depending on it", name, r)
			}
		}
	}
}

func specsJSON(t *testing.T, d *Desired) string {
	t.Helper()
	var b strings.Builder
	for _, name := range d.Order {
		j, err := json.Marshal(d.Apps[name].Spec)
		if err != nil {
			t.Fatalf("spec of %q does not marshal: %v", name, err)
		}
		fmt.Fprintf(&b, "%s: %s\n", name, j)
	}
	return b.String()
}
