package github

import (
	"strings"
	"unicode/utf8"
)

// Limits GitHub enforces (HTTP 422 beyond them).
const (
	// MaxBody is the longest issue, pull request or comment body.
	MaxBody = 65536
	// MaxDescription is the longest commit or deployment status description.
	MaxDescription = 140
)

// cutNote ends a body that was cut.
const cutNote = "\n\n---\n*driftless cut this text: it exceeded GitHub's limit of 65,536 characters.*"

// cutBody keeps body within MaxBody characters: it keeps whole lines where
// it can, closes a code fence left open and appends cutNote.
func cutBody(body string) string {
	if utf8.RuneCountInString(body) <= MaxBody {
		return body
	}
	keep := firstRunes(body, MaxBody-utf8.RuneCountInString(cutNote)-len("\n```"))
	if i := strings.LastIndexByte(keep, '\n'); i > len(keep)/2 {
		keep = keep[:i]
	}
	if strings.Count(keep, "```")%2 == 1 {
		keep += "\n```"
	}
	return keep + cutNote
}

// cutLine keeps s within n characters, on one line, ending in "…" when cut.
func cutLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return firstRunes(s, n-1) + "…"
}

// firstRunes is the first n characters of s.
func firstRunes(s string, n int) string {
	i := 0
	for j := range s {
		if i == n {
			return s[:j]
		}
		i++
	}
	return s
}
