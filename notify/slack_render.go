package notify

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/slack-go/slack"
)

// slackMessage is what one chat.postMessage or chat.update carries: Block
// Kit blocks and the plain fallback text shown in notifications.
type slackMessage struct {
	text   string
	blocks []slack.Block
}

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
	maxStored      = 200 // changes/drift items kept in the KV record
)

type slackTitle struct{ emoji, words string }

var slackTitles = map[string]slackTitle{
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
}

func titleOf(typ string) slackTitle {
	if t, ok := slackTitles[typ]; ok {
		return t
	}
	return slackTitle{":bell:", typ}
}

// renderDeploy renders a deploy's (edited-in-place) message in the state typ.
func (s *Slack) renderDeploy(typ string, d Data) slackMessage {
	return s.renderMain(typ, d)
}

// renderStandalone renders an event that has no message of its own to edit:
// source events, or deploy events without a deploy id.
func (s *Slack) renderStandalone(ev Event) slackMessage {
	return s.renderMain(ev.Category()+"."+ev.Action(), ev.Data)
}

func (s *Slack) renderMain(typ string, d Data) slackMessage {
	t := titleOf(typ)
	name := appName(d)
	blocks := []slack.Block{
		slack.NewHeaderBlock(plain(s.cut(t.emoji+" "+t.words+": "+name, maxHeader))),
	}
	if f := s.fields(d); len(f) > 0 {
		blocks = append(blocks, slack.NewSectionBlock(nil, f, nil))
	}
	if txt := s.summary(d); txt != "" {
		blocks = append(blocks, section(txt))
	}
	if len(d.Diagnostics) > 0 {
		blocks = append(blocks, section("*Diagnostics*\n"+s.codeBlock(strings.Join(capStrings(d.Diagnostics, maxDiagnostics), "\n"), maxSection)))
	}
	if d.Error != "" {
		blocks = append(blocks, section("*Error*\n"+s.codeBlock(d.Error, maxErrorText)))
	}
	blocks = append(blocks, s.contextBlock(typ, d))
	return slackMessage{text: s.fallback(t, d), blocks: blocks}
}

// renderStep renders the thread reply for a later event of a deploy.
func (s *Slack) renderStep(ev Event) slackMessage {
	typ := ev.Category() + "." + ev.Action()
	t := titleOf(typ)
	d := ev.Data
	line := t.emoji + " *" + t.words + "*"
	if d.DurationMS > 0 {
		line += " in " + formatDuration(d.DurationMS)
	}
	if d.Revision != "" && (ev.Category() == CatRollback || ev.Category() == CatPlan) {
		line += " · " + s.revision(d)
	}
	var parts []string
	parts = append(parts, line)
	if d.Step != "" {
		parts = append(parts, "> "+s.esc(d.Step, maxField))
	}
	if d.Reason != "" && ev.Category() != CatDeploy {
		parts = append(parts, "Reason: "+s.esc(d.Reason, 100))
	}
	blocks := []slack.Block{section(strings.Join(parts, "\n"))}
	if ev.Category() == CatPlan {
		if txt := s.summary(d); txt != "" {
			blocks = append(blocks, section(txt))
		}
	}
	if d.Error != "" {
		blocks = append(blocks, section("*Error*\n"+s.codeBlock(d.Error, maxErrorText)))
	}
	text := t.emoji + " " + t.words + ": " + appName(d)
	if d.Step != "" {
		text += " — " + d.Step
	}
	return slackMessage{text: s.esc(text, maxFallback), blocks: blocks}
}

// renderDrift renders a drift's (edited-in-place) message.
func (s *Slack) renderDrift(typ string, d Data) slackMessage {
	t := titleOf(typ)
	blocks := []slack.Block{
		slack.NewHeaderBlock(plain(s.cut(t.emoji+" "+t.words+": "+appName(d), maxHeader))),
	}
	if f := s.fields(d); len(f) > 0 {
		blocks = append(blocks, slack.NewSectionBlock(nil, f, nil))
	}
	if txt := s.driftList(d.Drift); txt != "" {
		blocks = append(blocks, section(txt))
	}
	if d.Summary != "" {
		blocks = append(blocks, section(s.esc(d.Summary, maxSection)))
	}
	if d.Error != "" {
		blocks = append(blocks, section("*Error*\n"+s.codeBlock(d.Error, maxErrorText)))
	}
	blocks = append(blocks, s.contextBlock(typ, d))
	return slackMessage{text: s.fallback(t, d), blocks: blocks}
}

// renderDriftStep renders a thread reply under a drift message: the drift
// changed, is still open (a reminder), or was resolved.
func (s *Slack) renderDriftStep(ev Event, note string) slackMessage {
	emoji, words := ":hourglass:", "Drift still open"
	switch note {
	case "changed":
		emoji, words = ":warning:", "Drift changed"
	case "resolved":
		emoji, words = ":white_check_mark:", "Drift resolved"
	}
	txt := emoji + " *" + words + "*"
	if note == "resolved" {
		txt += ": live state matches Git again"
	} else {
		if ev.Data.FirstSeen != nil {
			txt += " (first seen " + ev.Data.FirstSeen.UTC().Format(time.RFC3339) + ")"
		}
		if list := s.driftList(ev.Data.Drift); list != "" {
			txt += "\n" + list
		}
	}
	return slackMessage{
		text:   s.esc(emoji+" "+words+": "+appName(ev.Data), maxFallback),
		blocks: []slack.Block{section(txt)},
	}
}

func (s *Slack) fields(d Data) []*slack.TextBlockObject {
	var f []*slack.TextBlockObject
	add := func(label, value string) {
		if value != "" {
			f = append(f, mrkdwn("*"+label+"*\n"+value))
		}
	}
	add("App", "`"+s.esc(appName(d), maxField)+"`")
	add("Kind", s.esc(d.Kind, 100))
	if d.Revision != "" {
		rev := s.revision(d)
		if d.Message != "" {
			rev += " " + s.esc(firstLine(d.Message), 150)
		}
		add("Revision", rev)
	}
	if d.PreviousRevision != "" && d.PreviousRevision != d.Revision {
		add("Previous", s.revisionOf(d, d.PreviousRevision))
	}
	add("Author", s.esc(d.Author, 200))
	if d.PR > 0 {
		add("PR", s.prLink(d))
	}
	if d.DurationMS > 0 {
		add("Duration", formatDuration(d.DurationMS))
	}
	add("Reason", s.esc(d.Reason, 100))
	if d.FirstSeen != nil {
		add("First seen", d.FirstSeen.UTC().Format(time.RFC3339))
	}
	if len(f) > 10 { // Slack's limit
		f = f[:10]
	}
	return f
}

// summary is the change summary and the (capped) list of changes.
func (s *Slack) summary(d Data) string {
	var b strings.Builder
	if d.Summary != "" {
		b.WriteString(s.esc(d.Summary, 1000))
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
			fmt.Fprintf(&b, "\n• `%s` %s", s.esc(c.Address, 150), s.esc(c.Action, 20))
		}
	}
	return b.String()
}

func (s *Slack) driftList(items []DriftItem) string {
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
		fmt.Fprintf(&b, "\n• `%s`", s.esc(it.Address, 150))
		if it.Action != "" {
			fmt.Fprintf(&b, " (%s)", s.esc(it.Action, 20))
		}
		if len(it.Attributes) > 0 {
			b.WriteString(": " + s.esc(strings.Join(capStrings(it.Attributes, 8), ", "), 300))
		}
	}
	return b.String()
}

func (s *Slack) contextBlock(typ string, d Data) slack.Block {
	parts := []string{"`io.driftless." + s.esc(typ, 60) + "`"}
	if d.DeployID != "" {
		parts = append(parts, "deploy `"+s.esc(d.DeployID, 80)+"`")
	}
	return slack.NewContextBlock("", mrkdwn(strings.Join(parts, " · ")))
}

func (s *Slack) fallback(t slackTitle, d Data) string {
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
	return s.esc(txt, maxFallback)
}

func (s *Slack) revision(d Data) string { return s.revisionOf(d, d.Revision) }

// revisionOf is the short SHA, linked to the commit when the repo lives on
// a known forge.
func (s *Slack) revisionOf(d Data, rev string) string {
	short := shortSHA(rev)
	if short == "" {
		return "`" + s.esc(rev, 40) + "`"
	}
	if f, ok := parseForge(s.repoURL(d)); ok && isHex(rev) {
		return "<" + f.commitURL(rev) + "|" + short + ">"
	}
	return "`" + short + "`"
}

func (s *Slack) prLink(d Data) string {
	label := "#" + strconv.Itoa(d.PR)
	if f, ok := parseForge(s.repoURL(d)); ok {
		return "<" + f.prURL(d.PR) + "|" + label + ">"
	}
	return label
}

func (s *Slack) repoURL(d Data) string {
	if u, ok := s.opts.RepoURLs[d.Repo]; ok && u != "" {
		return u
	}
	return d.RepoURL
}

// codeBlock puts text in a preformatted block, scrubbed, cut and escaped.
func (s *Slack) codeBlock(text string, limit int) string {
	text = strings.ReplaceAll(s.cut(text, limit), "```", "'''")
	return "```\n" + escapeMrkdwn(text) + "\n```"
}

// esc scrubs secrets, cuts to limit runes and escapes for mrkdwn, in that
// order: cutting first could leave half a secret behind, escaping first
// could cut an entity in two.
func (s *Slack) esc(text string, limit int) string {
	return escapeMrkdwn(s.cut(text, limit))
}

// cut scrubs secrets and cuts to limit runes.
func (s *Slack) cut(text string, limit int) string {
	return truncate(s.clean(text), limit)
}

// clean removes every configured secret and any credentials in URLs.
func (s *Slack) clean(text string) string {
	if s.scrub != nil {
		text = s.scrub.Replace(text)
	}
	return urlUserinfo.ReplaceAllString(text, "${1}[redacted]@")
}

var urlUserinfo = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@`)

// minSecret is the shortest value scrubbed: shorter ones would mangle
// ordinary text and are no real secrets.
const minSecret = 4

func newScrubber(secrets []string) *strings.Replacer {
	var vals []string
	for _, v := range secrets {
		if len(strings.TrimSpace(v)) >= minSecret && !slices.Contains(vals, v) {
			vals = append(vals, v)
		}
	}
	if len(vals) == 0 {
		return nil
	}
	// Longest first, so a secret containing another is removed whole.
	slices.SortFunc(vals, func(a, b string) int { return len(b) - len(a) })
	pairs := make([]string, 0, 2*len(vals))
	for _, v := range vals {
		pairs = append(pairs, v, "[redacted]")
	}
	return strings.NewReplacer(pairs...)
}

func escapeMrkdwn(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func truncate(s string, limit int) string {
	if utf8.RuneCountInString(s) <= limit {
		return s
	}
	r := []rune(s)
	return string(r[:limit-1]) + "…"
}

func plain(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, s, true, false)
}

func mrkdwn(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, s, false, false)
}

func section(s string) *slack.SectionBlock {
	return slack.NewSectionBlock(mrkdwn(s), nil, nil)
}

func appName(d Data) string {
	if d.App == "" {
		return d.Repo
	}
	return d.Repo + "/" + d.App
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}

func shortSHA(rev string) string {
	if len(rev) >= 7 && isHex(rev) {
		return rev[:7]
	}
	return ""
}

func isHex(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

func formatDuration(ms int64) string {
	d := time.Duration(ms) * time.Millisecond
	if d < time.Second {
		return d.String()
	}
	return d.Round(time.Second).String()
}

func capStrings(v []string, n int) []string {
	if len(v) <= n {
		return v
	}
	out := slices.Clone(v[:n])
	return append(out, fmt.Sprintf("…and %d more", len(v)-n))
}

// capData bounds what a KV record keeps of an event's data.
func capData(d Data) Data {
	if len(d.Changes) > maxStored {
		d.Changes = d.Changes[:maxStored]
	}
	if len(d.Drift) > maxStored {
		d.Drift = d.Drift[:maxStored]
	}
	if len(d.Diagnostics) > maxStored {
		d.Diagnostics = d.Diagnostics[:maxStored]
	}
	d.Error = truncate(d.Error, 4*maxErrorText)
	d.Message = truncate(d.Message, 1000)
	d.Summary = truncate(d.Summary, 2000)
	return d
}

// driftFingerprint identifies a drift's content: the producer's fingerprint
// (data.extra.fingerprint) when given, else a hash of the drifted items.
func driftFingerprint(d Data) string {
	if fp := d.Extra["fingerprint"]; fp != "" {
		return fp
	}
	b, _ := json.Marshal(d.Drift)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// forgeRepo is a repository on a forge whose web URLs we know.
type forgeRepo struct {
	host string // github.com, gitlab.com, bitbucket.org
	path string // org/repo (gitlab: group/subgroup/repo)
}

var forgeSegment = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// parseForge recognises clone URLs of github.com, gitlab.com and
// bitbucket.org in https, ssh:// and scp-like (git@host:org/repo.git) form.
// Credentials in the URL are dropped.
func parseForge(raw string) (forgeRepo, bool) {
	raw = strings.TrimSpace(raw)
	var host, p string
	if strings.Contains(raw, "://") {
		u, err := url.Parse(raw)
		if err != nil {
			return forgeRepo{}, false
		}
		switch u.Scheme {
		case "https", "http", "ssh", "git+ssh", "git":
		default:
			return forgeRepo{}, false
		}
		host, p = u.Hostname(), u.Path
	} else {
		before, after, ok := strings.Cut(raw, ":")
		if !ok || strings.Contains(before, "/") {
			return forgeRepo{}, false
		}
		if i := strings.LastIndex(before, "@"); i >= 0 {
			before = before[i+1:]
		}
		host, p = before, after
	}
	host = strings.TrimPrefix(strings.ToLower(host), "www.")
	p = strings.TrimSuffix(strings.Trim(p, "/"), ".git")
	segs := strings.Split(p, "/")
	switch host {
	case "github.com", "bitbucket.org":
		if len(segs) != 2 {
			return forgeRepo{}, false
		}
	case "gitlab.com":
		if len(segs) < 2 {
			return forgeRepo{}, false
		}
	default:
		return forgeRepo{}, false
	}
	for _, s := range segs {
		if !forgeSegment.MatchString(s) || s == "." || s == ".." {
			return forgeRepo{}, false
		}
	}
	return forgeRepo{host: host, path: p}, true
}

func (f forgeRepo) base() string { return "https://" + f.host + "/" + f.path }

func (f forgeRepo) commitURL(sha string) string {
	switch f.host {
	case "gitlab.com":
		return f.base() + "/-/commit/" + sha
	case "bitbucket.org":
		return f.base() + "/commits/" + sha
	}
	return f.base() + "/commit/" + sha
}

func (f forgeRepo) prURL(n int) string {
	switch f.host {
	case "gitlab.com":
		return f.base() + "/-/merge_requests/" + strconv.Itoa(n)
	case "bitbucket.org":
		return f.base() + "/pull-requests/" + strconv.Itoa(n)
	}
	return f.base() + "/pull/" + strconv.Itoa(n)
}
