package manifest

import (
	"fmt"
	"strings"
	"testing"
	"testing/fstest"
)

// BenchmarkReload1000 loads a revision of 1,000 stack blocks (one file)
// after the previous one, one stack's file changed: the load that a commit
// touching one stack of 1,000 costs.
func BenchmarkReload1000(b *testing.B) {
	var hcl strings.Builder
	tree := fstest.MapFS{}
	for i := range 1000 {
		fmt.Fprintf(&hcl, "stack \"s%04d\" {\n  path = \"infra/s%04d\"\n}\n\n", i, i)
		tree[fmt.Sprintf("infra/s%04d/main.tf", i)] = &fstest.MapFile{Data: []byte("# v1\n")}
	}
	tree["deploy/stacks.hcl"] = &fstest.MapFile{Data: []byte(hcl.String())}
	l := New(fakeStack{})
	prev, diags := l.Load("r", tree, "deploy")
	if diags.HasErrors() {
		b.Fatal(diags)
	}
	for i := 0; b.Loop(); i++ {
		tree["infra/s0001/main.tf"] = &fstest.MapFile{Data: fmt.Appendf(nil, "# v%d\n", i+2)}
		d, diags := l.Reload("r", tree, "deploy", Previous{Desired: prev, Changed: []string{"infra/s0001/main.tf"}})
		if diags.HasErrors() {
			b.Fatal(diags)
		}
		prev = d
	}
}
