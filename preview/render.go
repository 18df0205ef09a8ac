package preview

import (
	"fmt"
	"strings"

	"github.com/driftless/driftless/forge"
	"github.com/driftless/driftless/sources"
)

// DeploymentsHeading starts the section the deployment reporter appends to
// the pull request's comment after the merge; Merge keeps it.
const DeploymentsHeading = "### Deployments"

// Limits of the rendered body: GitHub refuses comments over 65,536
// characters.
const (
	maxTextPerApp = 20000
	maxBody       = 60000
)

// Render returns the markdown of the pull request comment for res: the
// marker (forge.CommentMarker), the apps that change with their changes,
// summary and plan text (collapsed), and the unchanged apps in one line.
// It is also what `driftless plan --ref REF -o markdown` prints.
func Render(res *Result) string {
	var b strings.Builder
	b.WriteString(forge.CommentMarker + "\n")
	fmt.Fprintf(&b, "### driftless plan · `%s`", code(res.Repo))
	if res.Revision != "" {
		fmt.Fprintf(&b, " at `%s`", sources.ShortSHA(res.Revision))
	}
	b.WriteString("\n\n")
	switch {
	case res.Refused != "":
		fmt.Fprintf(&b, "**Not planned.** %s\n", res.Refused)
		return b.String()
	case len(res.Diagnostics) > 0:
		b.WriteString("**The manifests are invalid**; nothing was planned:\n\n")
		fence(&b, "text", strings.Join(res.Diagnostics, "\n"))
		return b.String()
	case res.Error != "":
		b.WriteString("**The preview failed:**\n\n")
		fence(&b, "text", res.Error)
		return b.String()
	}
	if len(res.Apps) == 0 {
		b.WriteString("No app changes: merging deploys nothing.\n")
	} else {
		fmt.Fprintf(&b, "Merging plans %d app%s against `%s`:\n\n", len(res.Apps), plural(len(res.Apps)), sources.ShortSHA(res.Base))
	}
	if res.MergeBase != "" {
		fmt.Fprintf(&b, "> `%s` moved on since this branch left it at `%s`: the apps listed are those this branch changes; their plans are of its head. Merge or rebase `%s` for the plan of the merged code.\n\n",
			code(res.Branch), sources.ShortSHA(res.MergeBase), code(res.Branch))
	}
	budget := maxBody - len(res.Unchanged)*40 - 2000
	for _, a := range res.Apps {
		budget -= renderApp(&b, a, budget)
	}
	if len(res.Removed) > 0 {
		fmt.Fprintf(&b, "\nNo longer declared (left in place, no longer managed): %s\n", codeList(res.Removed))
	}
	if len(res.Unchanged) > 0 {
		fmt.Fprintf(&b, "\nUnchanged (%d): %s\n", len(res.Unchanged), codeList(res.Unchanged))
	}
	return b.String()
}

// renderApp writes one app's section and returns how much plan text it
// used of budget.
func renderApp(b *strings.Builder, a AppResult, budget int) int {
	head := fmt.Sprintf("#### `%s` (%s)", code(a.App), code(a.Kind))
	switch {
	case a.Error != "":
		fmt.Fprintf(b, "%s · :x: failed\n\n", head)
		fence(b, "text", a.Error)
		return 0
	case len(a.After) > 0:
		fmt.Fprintf(b, "%s · planned after %s %s applied\n\n", head, codeList(a.After), isAre(len(a.After)))
		if len(a.Unknown) > 0 {
			b.WriteString("| input | value |\n|---|---|\n")
			for _, u := range a.Unknown {
				fmt.Fprintf(b, "| `%s` | (known after apply) |\n", code(u))
			}
			b.WriteString("\n")
		}
		return 0
	case !a.Changed:
		fmt.Fprintf(b, "%s · no changes\n\n", head)
	default:
		fmt.Fprintf(b, "%s · %s\n\n", head, a.Summary)
	}
	if len(a.Changes) > 0 {
		b.WriteString("| action | address |\n|---|---|\n")
		for _, c := range a.Changes {
			fmt.Fprintf(b, "| %s | `%s` |\n", code(c.Action), code(c.Address))
		}
		b.WriteString("\n")
	}
	if a.Text == "" {
		return 0
	}
	text := a.Text
	limit := min(maxTextPerApp, max(budget, 0))
	if len(text) > limit {
		text = text[:limit] + "\n… (cut: the plan is longer)"
	}
	b.WriteString("<details><summary>Plan</summary>\n\n")
	fence(b, "text", text)
	b.WriteString("</details>\n\n")
	return len(text)
}

// Merge returns body followed by the deployments section of the existing
// comment, if it has one.
func Merge(existing, body string) string {
	i := strings.Index(existing, "\n"+DeploymentsHeading)
	if i < 0 {
		return body
	}
	return strings.TrimRight(body, "\n") + "\n" + existing[i:]
}

// fence writes s as a fenced code block whose fence is longer than any run
// of backticks in s.
func fence(b *strings.Builder, lang, s string) {
	n, run := 3, 0
	for _, r := range s {
		if r == '`' {
			run++
			n = max(n, run+1)
		} else {
			run = 0
		}
	}
	f := strings.Repeat("`", n)
	fmt.Fprintf(b, "%s%s\n%s\n%s\n\n", f, lang, strings.TrimRight(s, "\n"), f)
}

// codeList renders names as code spans, comma-separated.
func codeList(names []string) string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = "`" + code(n) + "`"
	}
	return strings.Join(out, ", ")
}

// code makes s safe inside a code span in a table cell.
func code(s string) string {
	return strings.NewReplacer("`", "'", "|", "\\|", "\n", " ").Replace(s)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func isAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}
