package kv

import (
	"fmt"
	"strings"
)

// Key joins parts with "." into a valid NATS KV key. Inside a part every
// byte outside [-/_a-zA-Z0-9] (including "." and "=") is written as =XX
// (hex), and an empty part as a lone "=", so distinct part lists give
// distinct keys and "." only ever separates parts.
func Key(parts ...string) string {
	var b strings.Builder
	for i, p := range parts {
		if i > 0 {
			b.WriteByte('.')
		}
		escape(&b, p, plain)
	}
	return b.String()
}

// EscapeKeyPart makes s one KV key token, stricter than a Key part: only
// letters, digits, '-' and '_' stay, every other byte ('/' too) becomes =XX
// (hex), and "" becomes "=". "#deploys" is "=23deploys". The mapping is
// injective, so different names never share a token. The Slack notifier
// and the forge reporter build their keys with it: changing it would
// orphan their records.
func EscapeKeyPart(s string) string {
	var b strings.Builder
	escape(&b, s, token)
	return b.String()
}

func escape(b *strings.Builder, s string, keep func(byte) bool) {
	if s == "" {
		b.WriteByte('=')
		return
	}
	for j := 0; j < len(s); j++ {
		c := s[j]
		if keep(c) {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(b, "=%02X", c)
		}
	}
}

func plain(c byte) bool { return c == '/' || token(c) }

func token(c byte) bool {
	return c == '-' || c == '_' ||
		'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}
