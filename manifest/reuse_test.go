package manifest

import (
	"io/fs"
	"maps"
	"testing"
	"testing/fstest"

	"github.com/hashicorp/hcl/v2"

	"github.com/driftless/driftless/appliers"
)

// countingStack is fakeStack counting Decode calls per app.
type countingStack struct {
	fakeStack
	decodes map[string]int
}

func (c *countingStack) Decode(dc appliers.DecodeContext, body hcl.Body) (appliers.Spec, hcl.Diagnostics) {
	c.decodes[dc.App]++
	return c.fakeStack.Decode(dc, body)
}

const reuseManifest = `stack "plain" {
  path = "infra/plain"
}

stack "linked" {
  path = "infra/linked"
}

stack "reader" {
  path = "infra/plain"
  vars = { motd = file("config/motd.txt") }
}
`

func reuseTree() fstest.MapFS {
	return fstest.MapFS{
		"deploy/apps.hcl":       {Data: []byte(reuseManifest)},
		"infra/plain/main.tf":   {Data: []byte("# plain\n")},
		"shared/main.tf":        {Data: []byte("# shared v1\n")},
		"infra/linked":          {Data: []byte("../shared"), Mode: fs.ModeSymlink},
		"config/motd.txt":       {Data: []byte("hello")},
		"unrelated/README.md":   {Data: []byte("v1")},
		"infra/plain/README.md": {Data: []byte("v1")},
	}
}

// reload loads tree2 after tree1, with changed as the changed paths, and
// returns both desired states and the Decode calls of the reload.
func reload(t *testing.T, tree1, tree2 fstest.MapFS, changed []string) (*Desired, *Desired, map[string]int) {
	t.Helper()
	cs := &countingStack{decodes: map[string]int{}}
	l := New(cs)
	d1, diags := l.Load("r", tree1, "deploy")
	if diags.HasErrors() {
		t.Fatalf("load: %v", diags)
	}
	cs.decodes = map[string]int{}
	d2, diags := l.Reload("r", tree2, "deploy", Previous{Desired: d1, Changed: changed})
	if diags.HasErrors() {
		t.Fatalf("reload: %v", diags)
	}
	return d1, d2, cs.decodes
}

func TestReloadReusesUntouchedApps(t *testing.T) {
	tree2 := reuseTree()
	tree2["unrelated/README.md"] = &fstest.MapFile{Data: []byte("v2")}
	d1, d2, decodes := reload(t, reuseTree(), tree2, []string{"unrelated/README.md"})
	// linked's path is a link: what it reads may change while no changed
	// path names it, so it is always decoded.
	if !maps.Equal(decodes, map[string]int{"linked": 1}) {
		t.Fatalf("decodes after an unrelated change: %v; want only linked's", decodes)
	}
	for _, name := range []string{"plain", "reader"} {
		if a := d1.Apps[name]; d2.Apps[name] != a {
			t.Errorf("%s: a new *App; want the previous one, unchanged", name)
		}
	}
}

func TestReloadDecodesWhatAChangeTouches(t *testing.T) {
	tree2 := reuseTree()
	tree2["infra/plain/main.tf"] = &fstest.MapFile{Data: []byte("# plain v2\n")}
	_, d2, decodes := reload(t, reuseTree(), tree2, []string{"infra/plain/main.tf"})
	// plain and reader stat infra/plain, a change under it counts.
	if !maps.Equal(decodes, map[string]int{"plain": 1, "reader": 1, "linked": 1}) {
		t.Fatalf("decodes: %v; want plain, reader (and linked) once", decodes)
	}
	if d2.Apps["linked"].Spec == nil {
		t.Fatal("linked has no spec")
	}
}

func TestReloadDecodesAgainWhenAFileReadChanged(t *testing.T) {
	tree2 := reuseTree()
	tree2["config/motd.txt"] = &fstest.MapFile{Data: []byte("bye")}
	_, d2, decodes := reload(t, reuseTree(), tree2, []string{"config/motd.txt"})
	if !maps.Equal(decodes, map[string]int{"reader": 1, "linked": 1}) {
		t.Fatalf("decodes: %v; want reader (its file() read changed) and linked once", decodes)
	}
	if got := d2.Apps["reader"].Spec.(*fakeSpec).Vars["motd"]; got != "bye" {
		t.Fatalf("reader's motd: %q; want the new file's %q", got, "bye")
	}
}

func TestReloadDecodesAgainThroughLinks(t *testing.T) {
	// infra/linked is a link to shared: a change of shared's files does
	// not name infra/linked, yet what linked's Decode reads changed.
	tree2 := reuseTree()
	tree2["shared/main.tf"] = &fstest.MapFile{Data: []byte("# shared v2\n")}
	_, _, decodes := reload(t, reuseTree(), tree2, []string{"shared/main.tf"})
	if decodes["linked"] != 1 {
		t.Fatalf("decodes: %v; want linked once (read through a link)", decodes)
	}
	if decodes["plain"] != 0 {
		t.Fatalf("decodes: %v; want no decode of plain", decodes)
	}
}

func TestReloadDecodesAgainWhenTheBlockChanged(t *testing.T) {
	tree2 := reuseTree()
	src := reuseManifest[:len(reuseManifest)-len("}\n")] + "  # edited\n}\n"
	tree2["deploy/apps.hcl"] = &fstest.MapFile{Data: []byte(src)}
	_, _, decodes := reload(t, reuseTree(), tree2, []string{"deploy/apps.hcl"})
	if !maps.Equal(decodes, map[string]int{"reader": 1, "linked": 1}) {
		t.Fatalf("decodes: %v; want reader (its block edited) and linked once", decodes)
	}
}

func TestReloadReportsWhatLoadReports(t *testing.T) {
	// An app reused is checked against the others anew: a reference to
	// an app the new revision removed is an error.
	tree1 := reuseTree()
	tree1["deploy/more.hcl"] = &fstest.MapFile{Data: []byte("stack \"dep\" {\n  path = \"infra/plain\"\n}\n")}
	tree1["deploy/apps.hcl"] = &fstest.MapFile{Data: []byte(reuseManifest + "\nstack \"user\" {\n  path = \"infra/plain\"\n  depends_on = [stack.dep]\n}\n")}
	tree2 := maps.Clone(tree1)
	delete(tree2, "deploy/more.hcl")
	cs := &countingStack{decodes: map[string]int{}}
	l := New(cs)
	d1, diags := l.Load("r", tree1, "deploy")
	if diags.HasErrors() {
		t.Fatalf("load: %v", diags)
	}
	_, diags = l.Reload("r", tree2, "deploy", Previous{Desired: d1, Changed: []string{"deploy/more.hcl"}})
	if !diags.HasErrors() || Format(diags)[0] != `deploy/apps.hcl:16:17: Invalid dependency: No stack named "dep" is declared in this repository` {
		t.Fatalf("reload without the dependency: %v; want the error Load gives", Format(diags))
	}
	_, want := l.Load("r", tree2, "deploy")
	if got := Format(diags); len(got) != len(Format(want)) || got[0] != Format(want)[0] {
		t.Fatalf("reload: %v; load: %v", got, Format(want))
	}
}
