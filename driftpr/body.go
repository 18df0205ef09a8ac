package driftpr

import (
	"fmt"
	"strings"
	"time"

	"github.com/driftless/driftless/appliers"
)

// Marker is the HTML comment a drift pull request's body carries:
// <!-- driftless:drift:REPO/APP:FINGERPRINT -->.
func Marker(repo, app, fingerprint string) string {
	return fmt.Sprintf("<!-- driftless:drift:%s/%s:%s -->", repo, app, fingerprint)
}

// IssueMarker is the marker of a stack's drift issue, one per app:
// <!-- driftless:drift:REPO/APP -->.
func IssueMarker(repo, app string) string {
	return fmt.Sprintf("<!-- driftless:drift:%s/%s -->", repo, app)
}

// BranchFor is the branch a drift pull request comes from.
func BranchFor(app string) string { return "driftless/drift/" + app }

// trailer is the commit message line that records which drift a commit
// proposes; a branch whose head carries it has nothing new to propose.
func trailer(repo string, d Drift) string {
	return fmt.Sprintf("Driftless-Drift: %s/%s %s", repo, d.App, d.key())
}

// page is what the texts are made from.
type page struct {
	Repo, App, Kind, File string
	Drift                 Drift
	Edit                  *Edit
	scrub                 func(string) string
}

func code(s string) string {
	s = strings.ReplaceAll(s, "`", "'")
	s = strings.ReplaceAll(s, "\n", " ")
	return "`" + s + "`"
}

func (p page) title() string {
	return fmt.Sprintf("driftless: make %s/%s match what is running", p.Repo, p.App)
}

func (p page) commitMessage() string {
	var b strings.Builder
	if len(p.Edit.Changes) == 0 {
		fmt.Fprintf(&b, "%s/%s: drop the edits of an earlier drift\n\n", p.Repo, p.App)
	} else {
		fmt.Fprintf(&b, "%s/%s: set the manifest to the live values\n\n", p.Repo, p.App)
	}
	fmt.Fprintf(&b, "%s %s was changed outside driftless (drift first seen %s).\n", p.Kind, p.App, p.Drift.FirstSeen.UTC().Format(time.RFC3339))
	for _, c := range p.Edit.Changes {
		fmt.Fprintf(&b, "- %s: %s -> %s\n", c.Attribute, c.Desired, c.Live)
	}
	fmt.Fprintf(&b, "\n%s\n", trailer(p.Repo, p.Drift))
	return p.scrub(b.String())
}

// prBody explains the drift, what the pull request changes and what it
// does not.
func (p page) prBody() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n## Drift of `%s/%s` (%s)\n\n", Marker(p.Repo, p.App, p.Drift.Fingerprint), p.Repo, p.App, p.Kind)
	fmt.Fprintf(&b, "Someone changed this %s outside driftless. This pull request sets `%s` to the values running now: "+
		"**merging it makes the manifest match what is running**, so the next deploy keeps the change instead of undoing it. "+
		"Close it to keep the manifest as it is: the next deploy (or `self_heal`) puts the desired state back.\n\n", p.Kind, p.File)
	p.when(&b)
	if len(p.Edit.Changes) == 0 {
		b.WriteString("**Nothing in the block can be set to the live values of this drift**: this pull request no longer " +
			"changes the manifest (an earlier drift's edits were dropped). Close it; the drift is listed below.\n\n")
	} else {
		b.WriteString("### Changed in this pull request\n\n| attribute | drifted path | desired (manifest) | live (running) |\n| --- | --- | --- | --- |\n")
		for _, c := range p.Edit.Changes {
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", code(c.Attribute), code(c.Path), code(c.Desired), code(c.Live))
		}
		b.WriteString("\n")
	}
	if hand := p.byHand(); len(hand) > 0 {
		b.WriteString("### Change by hand\n\nThese drifted too, but this pull request does not change them (values are not shown):\n\n")
		for _, h := range hand {
			if h.Attribute != "" && h.Attribute != h.Path {
				fmt.Fprintf(&b, "- %s (%s): %s\n", code(h.Path), code(h.Attribute), h.Reason)
			} else {
				fmt.Fprintf(&b, "- %s: %s\n", code(h.Path), h.Reason)
			}
		}
		b.WriteString("\n")
	}
	b.WriteString("Secret and sensitive values (ECS secrets, sensitive outputs) are never read or written here: " +
		"a drifted secret is listed above by name only.\n")
	return p.scrub(b.String())
}

func (p page) when(b *strings.Builder) {
	fmt.Fprintf(b, "- **Detected**: %s, at revision `%s`\n- **Fingerprint**: `%s`\n- **Drifted**:\n",
		p.Drift.FirstSeen.UTC().Format(time.RFC3339), short(p.Drift.Revision), p.Drift.Fingerprint)
	for _, it := range p.Drift.Items {
		fmt.Fprintf(b, "  - %s (%s): %s\n", code(it.Address), it.Action, attrList(it))
	}
	b.WriteString("\n")
}

// byHand is the edit's ByHand plus the drifted paths the applier could not
// read (nothing in the block sets them) and deleted resources.
func (p page) byHand() []ByHand {
	out := append([]ByHand(nil), p.Edit.ByHand...)
	seen := map[string]bool{}
	for _, h := range out {
		seen[h.Path] = true
	}
	for _, c := range p.Edit.Changes {
		seen[c.Path] = true
	}
	for _, it := range p.Drift.Items {
		if it.Action == "create" {
			out = append(out, ByHand{Path: it.Address, Reason: "deleted outside driftless: re-apply it (`driftless reconcile`) or remove the block"})
			continue
		}
		for _, a := range it.Attributes {
			if !seen[a] {
				out = append(out, ByHand{Path: a, Reason: ReasonNotInBlock})
			}
		}
	}
	return out
}

// issueBody explains a drift no pull request is proposed for, and why:
// a stack's, or one whose drifted attributes are no literal of the block.
func (p page) issueBody() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n<!-- driftless:fingerprint:%s -->\n## Drift of `%s/%s` (%s)\n\n", IssueMarker(p.Repo, p.App), p.Drift.Fingerprint, p.Repo, p.App, p.Kind)
	if p.Kind == "stack" {
		fmt.Fprintf(&b, "Resources of this Terraform stack were changed outside driftless. **No code change is proposed**: "+
			"a stack's desired values come from variables, modules and expressions, so reverting the drift is a plan, not an edit of `%s`. ", p.File)
	} else {
		fmt.Fprintf(&b, "This %s was changed outside driftless. **No code change is proposed**: none of the drifted attributes "+
			"is a literal of its block in `%s`, so there is nothing to rewrite (see *Change by hand*). ", p.Kind, p.File)
	}
	fmt.Fprintf(&b, "Re-apply it (`driftless reconcile %s/%s`, or `self_heal = true`) to put the desired state back, "+
		"or change the code to accept what is running.\n\n", p.Repo, p.App)
	p.when(&b)
	if p.Kind != "stack" {
		b.WriteString("### Change by hand\n\n")
		for _, h := range p.byHand() {
			fmt.Fprintf(&b, "- %s: %s\n", code(h.Path), h.Reason)
		}
		b.WriteString("\n")
	}
	b.WriteString("### The plan that would revert the drift\n\n```\n")
	for _, it := range p.Drift.Items {
		fmt.Fprintf(&b, "%s %s\n", actionSign(it.Action), it.Address)
		for _, a := range it.Attributes {
			fmt.Fprintf(&b, "      %s\n", a)
		}
	}
	b.WriteString("```\n\n`driftless plan -c driftless.hcl " + p.Repo + "/" + p.App + "` shows it in full. " +
		"Attribute names only: values (and so secrets and sensitive values) are never shown.\n")
	return p.scrub(b.String())
}

func actionSign(a string) string {
	switch a {
	case "create":
		return "  +"
	case "delete":
		return "  -"
	case "replace":
		return "-/+"
	}
	return "  ~"
}

func attrList(it appliers.DriftItem) string {
	if len(it.Attributes) == 0 {
		return "the whole resource"
	}
	parts := make([]string, len(it.Attributes))
	for i, a := range it.Attributes {
		parts[i] = code(a)
	}
	return strings.Join(parts, ", ")
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}
