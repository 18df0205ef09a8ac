package sources_test

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/driftless/driftless/sources"
)

func ExampleParsePR() {
	fmt.Println(sources.ParsePR("Merge pull request #123 from acme/feature"))
	fmt.Println(sources.ParsePR("Bump provider versions (#77)"))
	fmt.Println(sources.ParsePR("Fix typo"))
	// Output:
	// 123
	// 77
	// 0
}

func ExampleLocalTree() {
	dir, _ := os.MkdirTemp("", "tree")
	defer os.RemoveAll(dir)
	_ = os.MkdirAll(filepath.Join(dir, "apps", "web"), 0o755)
	_ = os.WriteFile(filepath.Join(dir, "apps", "web", "main.tf"), []byte("# web"), 0o644)
	_ = os.Symlink("../../etc/passwd", filepath.Join(dir, "escape"))

	tree := sources.LocalTree(dir)
	matches, _ := fs.Glob(tree, "apps/*/main.tf")
	fmt.Println(matches)
	_, err := fs.ReadFile(tree, "escape")
	fmt.Println(err)
	// Output:
	// [apps/web/main.tf]
	// readfile escape: path leads outside the repository
}
