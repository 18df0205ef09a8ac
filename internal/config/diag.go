package config

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// DiagnosticsError is returned by Load when the file does not parse or
// validate. It holds every problem found, not just the first.
type DiagnosticsError struct {
	Diags hcl.Diagnostics
}

// Error gives one line per diagnostic, "file:line:col: summary: detail".
func (e *DiagnosticsError) Error() string {
	return strings.Join(FormatDiagnostics(e.Diags), "\n")
}

// Unwrap returns the diagnostics as errors (hcl.Diagnostics is an error).
func (e *DiagnosticsError) Unwrap() error { return e.Diags }

// FormatDiagnostics renders diagnostics one per line as
// "file:line:col: summary: detail" (warnings get a "warning: " prefix before
// the summary). A diagnostic without a subject has no position.
func FormatDiagnostics(diags hcl.Diagnostics) []string {
	lines := make([]string, 0, len(diags))
	for _, d := range diags {
		lines = append(lines, FormatDiagnostic(d))
	}
	return lines
}

// FormatDiagnostic renders one diagnostic as FormatDiagnostics does.
func FormatDiagnostic(d *hcl.Diagnostic) string {
	var b strings.Builder
	if d.Subject != nil {
		fmt.Fprintf(&b, "%s:%d:%d: ", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column)
	}
	if d.Severity == hcl.DiagWarning {
		b.WriteString("warning: ")
	}
	b.WriteString(d.Summary)
	if detail := strings.Join(strings.Fields(d.Detail), " "); detail != "" {
		b.WriteString(": ")
		b.WriteString(detail)
	}
	return b.String()
}

// errAt builds an error diagnostic at rng.
func errAt(rng hcl.Range, summary, detailFormat string, args ...any) *hcl.Diagnostic {
	r := rng
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   fmt.Sprintf(detailFormat, args...),
		Subject:  &r,
	}
}

// sortDiagnostics orders diagnostics by file position (stable; those without
// a subject last).
func sortDiagnostics(diags hcl.Diagnostics) {
	sort.SliceStable(diags, func(i, j int) bool {
		a, b := diags[i].Subject, diags[j].Subject
		switch {
		case a == nil || b == nil:
			return a != nil && b == nil
		case a.Filename != b.Filename:
			return a.Filename < b.Filename
		}
		return a.Start.Byte < b.Start.Byte
	})
}
