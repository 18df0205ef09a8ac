package slack

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	slackapi "github.com/slack-go/slack"

	"github.com/driftless/driftless/notify"
)

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

func plain(s string) *slackapi.TextBlockObject {
	return slackapi.NewTextBlockObject(slackapi.PlainTextType, s, true, false)
}

func mrkdwn(s string) *slackapi.TextBlockObject {
	return slackapi.NewTextBlockObject(slackapi.MarkdownType, s, false, false)
}

func section(s string) *slackapi.SectionBlock {
	return slackapi.NewSectionBlock(mrkdwn(s), nil, nil)
}

func appName(d notify.Data) string {
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
