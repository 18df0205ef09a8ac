package client

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Clean makes a server-provided string safe to print on a terminal as one
// line: terminal control characters — C0 controls except tab (so also
// newline and carriage return), DEL, C1 controls and so every escape
// sequence's introducer — become visible escapes (`\x1b`, `\n`, `\u009b`),
// as do bytes that are not UTF-8. A commit author such as
// "Mallory\x1b]0;pwned\x07" cannot retitle the terminal, move the cursor
// or overwrite earlier output. JSON output needs none of this: the encoder
// escapes control characters itself.
func Clean(s string) string { return clean(s, false) }

// CleanText is Clean for multi-line text (error messages): newlines are
// kept, every other control character is escaped.
func CleanText(s string) string { return clean(s, true) }

func clean(s string, keepNewline bool) string {
	var b strings.Builder
	b.Grow(len(s) + 16)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\t', r == '\n' && keepNewline:
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r >= 0x80 && r <= 0x9f:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}
