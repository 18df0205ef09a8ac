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
		if p == "" {
			b.WriteByte('=')
			continue
		}
		for j := 0; j < len(p); j++ {
			c := p[j]
			if plain(c) {
				b.WriteByte(c)
			} else {
				fmt.Fprintf(&b, "=%02X", c)
			}
		}
	}
	return b.String()
}

func plain(c byte) bool {
	return c == '-' || c == '/' || c == '_' ||
		'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}
