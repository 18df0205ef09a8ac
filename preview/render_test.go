package preview

import (
	"strings"
	"testing"

	"github.com/driftless/driftless/appliers"
	"github.com/driftless/driftless/forge"
)

func TestRenderAndMerge(t *testing.T) {
	res := &Result{Repo: "infra", PR: 1, Revision: "0123456789abcdef", Base: "fedcba9876543210",
		Apps: []AppResult{
			{App: "a", Kind: "stack", Changed: true, Summary: "1 to add, 0 to change, 0 to destroy",
				Changes: []appliers.Change{{Address: "terraform_data.x[\"a|b\"]", Action: "create"}}, Text: "has ``` fences\n" + strings.Repeat("x", 3*maxTextPerApp)},
			{App: "b", Kind: "stack", Changed: false, Summary: "no changes"},
			{App: "c", Kind: "stack", Error: "plan: boom"},
		},
		Unchanged: []string{"d", "e"}, Removed: []string{"old"}}
	body := Render(res)
	mustContain(t, body, forge.CommentMarker+"\n", "at `0123456`", "Merging plans 3 apps against `fedcba9`",
		"| create | `terraform_data.x[\"a\\|b\"]` |", "````text\nhas ``` fences", "… (cut: the plan is longer)\n````",
		"#### `b` (stack) · no changes", "#### `c` (stack) · :x: failed", "Unchanged (2): `d`, `e`", "No longer declared (left in place, no longer managed): `old`")
	if len(body) > maxBody {
		t.Errorf("body of %d characters", len(body))
	}
	if !res.Failed() || !res.Changed() || strings.Join(res.ChangedApps(), ",") != "a" {
		t.Errorf("Failed %v Changed %v ChangedApps %v", res.Failed(), res.Changed(), res.ChangedApps())
	}

	old := forge.CommentMarker + "\nold preview\n\n### Deployments\n\n- `a` deployed at 0123456\n"
	merged := Merge(old, body)
	if !strings.HasPrefix(merged, body[:len(body)-1]) || !strings.HasSuffix(merged, "\n### Deployments\n\n- `a` deployed at 0123456\n") || strings.Contains(merged, "old preview") {
		t.Errorf("Merge:\n%s", merged)
	}
	if Merge("", body) != body || Merge(forge.CommentMarker+"\nold", body) != body {
		t.Error("Merge without a deployments section changed the body")
	}
}
