package config

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"strings"
)

// Redacted is what a Secret (or an EnvVars value) prints as.
const Redacted = "[redacted]"

// Secret is a string that must never be printed, logged or serialised: fmt
// (every verb, %#v included), encoding/json, encoding.TextMarshaler users and
// log/slog all see "[redacted]". Value returns the real content.
type Secret string

// Value returns the secret itself. Call it only where the secret is used.
func (s Secret) Value() string { return string(s) }

// IsSet reports whether the secret is non-empty.
func (s Secret) IsSet() bool { return s != "" }

// String implements fmt.Stringer.
func (s Secret) String() string { return Redacted }

// GoString implements fmt.GoStringer.
func (s Secret) GoString() string { return `config.Secret("` + Redacted + `")` }

// Format implements fmt.Formatter, so that no verb (%x, %q, %d ...) prints the
// value.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		_, _ = f.Write([]byte(s.GoString()))
		return
	}
	_, _ = f.Write([]byte(Redacted))
}

// MarshalJSON implements json.Marshaler.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + Redacted + `"`), nil }

// MarshalText implements encoding.TextMarshaler.
func (s Secret) MarshalText() ([]byte, error) { return []byte(Redacted), nil }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(Redacted) }

// EnvVars is an environment added to a child process (terraform.env). Its
// values may hold secrets (TF_VAR_db_password = env("DB_PASSWORD")), so it
// prints, marshals and logs its keys only. It converts to map[string]string
// implicitly.
type EnvVars map[string]string

func (e EnvVars) redacted() string {
	keys := make([]string, 0, len(e))
	for k := range e {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("map[")
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(k + ":" + Redacted)
	}
	b.WriteString("]")
	return b.String()
}

// String implements fmt.Stringer.
func (e EnvVars) String() string { return e.redacted() }

// Format implements fmt.Formatter: keys only, whatever the verb.
func (e EnvVars) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(e.redacted())) }

// MarshalJSON implements json.Marshaler: keys with redacted values.
func (e EnvVars) MarshalJSON() ([]byte, error) {
	m := make(map[string]string, len(e))
	for k := range e {
		m[k] = Redacted
	}
	return json.Marshal(m)
}

// LogValue implements slog.LogValuer.
func (e EnvVars) LogValue() slog.Value { return slog.StringValue(e.redacted()) }
