package manifest

import (
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

type parsedFile struct {
	name  string
	file  *hcl.File
	diags hcl.Diagnostics // the warnings of parsing it
}

func (l *Loader) readFiles(tree fs.FS, dir string, b *budget, r *reuser) ([]parsedFile, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	var names []string
	err := fs.WalkDir(tree, dir, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unreadable manifest path", Detail: fmt.Sprintf("%s: %v", p, err)})
			if de != nil && de.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if de.IsDir() && p != dir && strings.HasPrefix(de.Name(), ".") {
			return fs.SkipDir
		}
		if !de.IsDir() && strings.HasSuffix(p, ".hcl") {
			names = append(names, p)
		}
		return nil
	})
	if err != nil {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unreadable manifest directory", Detail: fmt.Sprintf("%s: %v", dir, err)})
	}
	sort.Strings(names)
	var files []parsedFile
	for _, n := range names {
		src, err := readLimited(tree, n, b)
		if limit := (*limitError)(nil); errors.As(err, &limit) {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Manifest too large",
				Detail:  upperFirst(limit.msg) + ".",
				Subject: &hcl.Range{Filename: n, Start: hcl.InitialPos, End: hcl.InitialPos}})
			continue
		}
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unreadable manifest file", Detail: fmt.Sprintf("%s: %v", n, err)})
			continue
		}
		if f, ok := r.file(n, src); ok {
			diags = append(diags, f.diags...)
			files = append(files, f)
			continue
		}
		if ndiags := checkNesting(src, n); ndiags.HasErrors() {
			diags = append(diags, ndiags...)
			continue
		}
		f, pdiags := hclsyntax.ParseConfig(src, n, hcl.InitialPos)
		if f != nil && !pdiags.HasErrors() {
			pdiags = append(pdiags, checkLiterals(f)...)
		}
		diags = append(diags, pdiags...)
		if f != nil && !pdiags.HasErrors() {
			files = append(files, parsedFile{name: n, file: f, diags: pdiags})
		}
	}
	if len(names) == 0 && !diags.HasErrors() {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: "No manifests", Detail: fmt.Sprintf("No *.hcl files under %q.", dir)})
	}
	return files, diags
}
