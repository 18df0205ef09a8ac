package slack

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/driftless/driftless/notify"
)

// Message is what one chat.postMessage or chat.update carries: Block Kit
// blocks and the plain fallback text shown in notifications.
type Message struct {
	Text   string
	Blocks []slackapi.Block
}

// RenderOptions are the inputs of rendering besides the event. The render
// functions are pure: the same event and options give the same message.
type RenderOptions struct {
	// Scrub removes secrets from a text before it is cut and escaped
	// (redact.Redactor.String). Nil leaves texts as they are.
	Scrub func(string) string
	// RepoURLs maps a repo name to its clone URL, for commit and PR links;
	// the event's data.repo_url is used when absent.
	RepoURLs map[string]string
}

// DriftChange is what a drift.detected or drift.resolved event did to a
// drift message that is already open; RenderDriftReply says it in the thread.
type DriftChange string

// The drift changes.
const (
	DriftStill    DriftChange = "still"    // the same drift again: a reminder
	DriftChanged  DriftChange = "changed"  // other resources or attributes
	DriftResolved DriftChange = "resolved" // live state matches Git again
)

// Limits: Slack allows 150 characters in a header, 3000 in a section, 2000
// in a field; the content limits below leave room for escaping and markup.
const (
	maxHeader      = 150
	maxSection     = 2400
	maxField       = 1200
	maxFallback    = 300
	maxErrorText   = 1500
	maxListed      = 10 // changes or drifted resources shown
	maxDiagnostics = 20
)

type title struct{ emoji, words string }

// titles covers every type of the event catalogue (a test checks it).
var titles = map[string]title{
	"plan.ready":             {":memo:", "Plan ready"},
	"plan.awaiting_approval": {":double_vertical_bar:", "Awaiting approval"},
	"deploy.started":         {":rocket:", "Deploying"},
	"deploy.succeeded":       {":white_check_mark:", "Deployed"},
	"deploy.failed":          {":x:", "Deploy failed"},
	"rollback.started":       {":leftwards_arrow_with_hook:", "Rolling back"},
	"rollback.succeeded":     {":leftwards_arrow_with_hook:", "Rolled back"},
	"rollback.failed":        {":fire:", "Rollback failed"},
	"drift.detected":         {":warning:", "Drift detected"},
	"drift.resolved":         {":white_check_mark:", "Drift resolved"},
	"source.updated":         {":inbox_tray:", "New revision"},
	"source.failed":          {":x:", "Source failed"},
	"source.invalid":         {":no_entry:", "Invalid manifests"},
	"lock.force_unlocked":    {":unlock:", "Orphaned state lock released"},
	"preview.ready":          {":mag:", "Plan preview ready"},
	"preview.failed":         {":x:", "Plan preview failed"},
}

func titleOf(typ string) title {
	if t, ok := titles[typ]; ok {
		return t
	}
	return title{":bell:", typ}
}

func typeOf(ev notify.Event) string { return ev.Category() + "." + ev.Action() }

// Render renders the message an event posts, or the state a deploy's or
// drift's message is edited to: drift.detected and drift.resolved list the
// drifted resources; every other event shows its revision, author, changes,
// diagnostics and error.
func Render(ev notify.Event, o RenderOptions) Message {
	typ, d := typeOf(ev), ev.Data
	if ev.Category() == notify.CatDrift && (ev.Action() == notify.ActDetected || ev.Action() == notify.ActResolved) {
		return o.renderDrift(typ, d)
	}
	return o.renderMain(typ, d)
}

func (o RenderOptions) renderMain(typ string, d notify.Data) Message {
	t := titleOf(typ)
	blocks := []slackapi.Block{
		slackapi.NewHeaderBlock(plain(o.cut(t.emoji+" "+t.words+": "+appName(d), maxHeader))),
	}
	if f := o.fields(d); len(f) > 0 {
		blocks = append(blocks, slackapi.NewSectionBlock(nil, f, nil))
	}
	if txt := o.summary(d); txt != "" {
		blocks = append(blocks, section(txt))
	}
	if len(d.Diagnostics) > 0 {
		blocks = append(blocks, section("*Diagnostics*\n"+o.codeBlock(strings.Join(capStrings(d.Diagnostics, maxDiagnostics), "\n"), maxSection)))
	}
	if d.Error != "" {
		blocks = append(blocks, section("*Error*\n"+o.codeBlock(d.Error, maxErrorText)))
	}
	blocks = append(blocks, o.contextBlock(typ, d))
	return Message{Text: o.fallback(t, d), Blocks: blocks}
}

func (o RenderOptions) renderDrift(typ string, d notify.Data) Message {
	t := titleOf(typ)
	blocks := []slackapi.Block{
		slackapi.NewHeaderBlock(plain(o.cut(t.emoji+" "+t.words+": "+appName(d), maxHeader))),
	}
	if f := o.fields(d); len(f) > 0 {
		blocks = append(blocks, slackapi.NewSectionBlock(nil, f, nil))
	}
	if txt := o.driftList(d.Drift); txt != "" {
		blocks = append(blocks, section(txt))
	}
	if d.Summary != "" {
		blocks = append(blocks, section(o.esc(d.Summary, maxSection)))
	}
	if d.Error != "" {
		blocks = append(blocks, section("*Error*\n"+o.codeBlock(d.Error, maxErrorText)))
	}
	blocks = append(blocks, o.contextBlock(typ, d))
	return Message{Text: o.fallback(t, d), Blocks: blocks}
}

// RenderReply renders the thread reply for a later event of a deploy (plan,
// deploy or rollback) under the deploy's message.
func RenderReply(ev notify.Event, o RenderOptions) Message {
	t := titleOf(typeOf(ev))
	d := ev.Data
	line := t.emoji + " *" + t.words + "*"
	if d.DurationMS > 0 {
		line += " in " + formatDuration(d.DurationMS)
	}
	if d.Revision != "" && (ev.Category() == notify.CatRollback || ev.Category() == notify.CatPlan) {
		line += " · " + o.revision(d)
	}
	var parts []string
	parts = append(parts, line)
	if d.Step != "" {
		parts = append(parts, "> "+o.esc(d.Step, maxField))
	}
	if d.Reason != "" && ev.Category() != notify.CatDeploy {
		parts = append(parts, "Reason: "+o.esc(d.Reason, 100))
	}
	blocks := []slackapi.Block{section(strings.Join(parts, "\n"))}
	if ev.Category() == notify.CatPlan {
		if txt := o.summary(d); txt != "" {
			blocks = append(blocks, section(txt))
		}
	}
	if d.Error != "" {
		blocks = append(blocks, section("*Error*\n"+o.codeBlock(d.Error, maxErrorText)))
	}
	text := t.emoji + " " + t.words + ": " + appName(d)
	if d.Step != "" {
		text += " — " + d.Step
	}
	return Message{Text: o.esc(text, maxFallback), Blocks: blocks}
}

// RenderDriftReply renders a thread reply under an open drift's message:
// the drift is still open (a reminder), changed, or was resolved.
func RenderDriftReply(ev notify.Event, change DriftChange, o RenderOptions) Message {
	emoji, words := ":hourglass:", "Drift still open"
	switch change {
	case DriftChanged:
		emoji, words = ":warning:", "Drift changed"
	case DriftResolved:
		emoji, words = ":white_check_mark:", "Drift resolved"
	}
	txt := emoji + " *" + words + "*"
	if change == DriftResolved {
		txt += ": live state matches Git again"
	} else {
		if ev.Data.FirstSeen != nil {
			txt += " (first seen " + ev.Data.FirstSeen.UTC().Format(time.RFC3339) + ")"
		}
		if list := o.driftList(ev.Data.Drift); list != "" {
			txt += "\n" + list
		}
	}
	return Message{
		Text:   o.esc(emoji+" "+words+": "+appName(ev.Data), maxFallback),
		Blocks: []slackapi.Block{section(txt)},
	}
}

func (o RenderOptions) fields(d notify.Data) []*slackapi.TextBlockObject {
	var f []*slackapi.TextBlockObject
	add := func(label, value string) {
		if value != "" {
			f = append(f, mrkdwn("*"+label+"*\n"+value))
		}
	}
	add("App", "`"+o.esc(appName(d), maxField)+"`")
	add("Kind", o.esc(d.Kind, 100))
	if d.Revision != "" {
		rev := o.revision(d)
		if d.Message != "" {
			rev += " " + o.esc(firstLine(d.Message), 150)
		}
		add("Revision", rev)
	}
	if d.PreviousRevision != "" && d.PreviousRevision != d.Revision {
		add("Previous", o.revisionOf(d, d.PreviousRevision))
	}
	add("Author", o.esc(d.Author, 200))
	if d.PR > 0 {
		add("PR", o.prLink(d))
	}
	if d.DurationMS > 0 {
		add("Duration", formatDuration(d.DurationMS))
	}
	add("Reason", o.esc(d.Reason, 100))
	if d.FirstSeen != nil {
		add("First seen", d.FirstSeen.UTC().Format(time.RFC3339))
	}
	if len(f) > 10 { // Slack's limit
		f = f[:10]
	}
	return f
}

// summary is the change summary and the (capped) list of changes.
func (o RenderOptions) summary(d notify.Data) string {
	var b strings.Builder
	if d.Summary != "" {
		b.WriteString(o.esc(d.Summary, 1000))
	}
	if len(d.Changes) > 0 {
		if b.Len() > 0 {
			b.WriteString("\n")
		}
		b.WriteString("*Changes*")
		for i, c := range d.Changes {
			if i == maxListed {
				fmt.Fprintf(&b, "\n…and %d more", len(d.Changes)-maxListed)
				break
			}
			fmt.Fprintf(&b, "\n• `%s` %s", o.esc(c.Address, 150), o.esc(c.Action, 20))
		}
	}
	return b.String()
}

func (o RenderOptions) driftList(items []notify.DriftItem) string {
	if len(items) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("*Drifted resources*")
	for i, it := range items {
		if i == maxListed {
			fmt.Fprintf(&b, "\n…and %d more", len(items)-maxListed)
			break
		}
		fmt.Fprintf(&b, "\n• `%s`", o.esc(it.Address, 150))
		if it.Action != "" {
			fmt.Fprintf(&b, " (%s)", o.esc(it.Action, 20))
		}
		if len(it.Attributes) > 0 {
			b.WriteString(": " + o.esc(strings.Join(capStrings(it.Attributes, 8), ", "), 300))
		}
	}
	return b.String()
}

func (o RenderOptions) contextBlock(typ string, d notify.Data) slackapi.Block {
	parts := []string{"`io.driftless." + o.esc(typ, 60) + "`"}
	if d.DeployID != "" {
		parts = append(parts, "deploy `"+o.esc(d.DeployID, 80)+"`")
	}
	return slackapi.NewContextBlock("", mrkdwn(strings.Join(parts, " · ")))
}

func (o RenderOptions) fallback(t title, d notify.Data) string {
	txt := t.emoji + " " + t.words + ": " + appName(d)
	if sha := shortSHA(d.Revision); sha != "" {
		txt += " @ " + sha
	}
	if d.Author != "" {
		txt += " by " + d.Author
	}
	if d.PR > 0 {
		txt += " (#" + strconv.Itoa(d.PR) + ")"
	}
	return o.esc(txt, maxFallback)
}

func (o RenderOptions) revision(d notify.Data) string { return o.revisionOf(d, d.Revision) }

// revisionOf is the short SHA, linked to the commit when the repo lives on
// a known forge.
func (o RenderOptions) revisionOf(d notify.Data, rev string) string {
	short := shortSHA(rev)
	if short == "" {
		return "`" + o.esc(rev, 40) + "`"
	}
	if f, ok := parseForge(o.repoURL(d)); ok && isHex(rev) {
		return "<" + f.commitURL(rev) + "|" + short + ">"
	}
	return "`" + short + "`"
}

func (o RenderOptions) prLink(d notify.Data) string {
	label := "#" + strconv.Itoa(d.PR)
	if f, ok := parseForge(o.repoURL(d)); ok {
		return "<" + f.prURL(d.PR) + "|" + label + ">"
	}
	return label
}

func (o RenderOptions) repoURL(d notify.Data) string {
	if u, ok := o.RepoURLs[d.Repo]; ok && u != "" {
		return u
	}
	return d.RepoURL
}

// codeBlock puts text in a preformatted block, scrubbed, cut and escaped.
func (o RenderOptions) codeBlock(text string, limit int) string {
	text = strings.ReplaceAll(o.cut(text, limit), "```", "'''")
	return "```\n" + escapeMrkdwn(text) + "\n```"
}

// esc scrubs secrets, cuts to limit runes and escapes for mrkdwn, in that
// order: cutting first could leave half a secret behind, escaping first
// could cut an entity in two.
func (o RenderOptions) esc(text string, limit int) string {
	return escapeMrkdwn(o.cut(text, limit))
}

// cut scrubs secrets and cuts to limit runes.
func (o RenderOptions) cut(text string, limit int) string {
	return truncate(o.clean(text), limit)
}

// clean scrubs secrets with the caller's redactor.
func (o RenderOptions) clean(text string) string {
	if o.Scrub == nil {
		return text
	}
	return o.Scrub(text)
}
