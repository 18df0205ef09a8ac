package config

import (
	"errors"
	"strings"
	"testing"
)

func TestExternalURL(t *testing.T) {
	cfg, err := Parse([]byte("external_url = \"https://driftless.example.com\"\n"+okRepo), "f.hcl", getenv(nil))
	if err != nil || cfg.ExternalURL != "https://driftless.example.com" {
		t.Fatalf("external_url = %q, %v", cfgExternal(cfg), err)
	}
	if cfg, err := Parse([]byte(okRepo), "f.hcl", getenv(nil)); err != nil || cfg.ExternalURL != "" {
		t.Fatalf("default external_url = %q, %v", cfgExternal(cfg), err)
	}
	for _, c := range []struct{ val, want string }{
		{"driftless.example.com", `f.hcl:1:16: Invalid external_url: "driftless.example.com" is not an http:// or https:// URL`},
		{"ftp://driftless.example.com", `f.hcl:1:16: Invalid external_url: "ftp://driftless.example.com" is not an http:// or https:// URL`},
		{"https://", `f.hcl:1:16: Invalid external_url: "https://" is not an http:// or https:// URL`},
		{"https://u:p@driftless.example.com", `f.hcl:1:16: Invalid external_url: "https://u:p@driftless.example.com" contains credentials`},
		{"https://driftless.example.com/?a=b", `f.hcl:1:16: Invalid external_url: "https://driftless.example.com/?a=b" has a query or fragment`},
		{"https://driftless.example.com:99999", `f.hcl:1:16: Invalid external_url: "https://driftless.example.com:99999": port must be a number from 1 to 65535`},
	} {
		_, err := Parse([]byte("external_url = \""+c.val+"\"\n"+okRepo), "f.hcl", getenv(nil))
		var de *DiagnosticsError
		if !errors.As(err, &de) || len(de.Diags) != 1 || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("external_url = %q: err = %v\nwant %s", c.val, err, c.want)
		}
	}
}

func cfgExternal(c *Config) string {
	if c == nil {
		return "<nil config>"
	}
	return c.ExternalURL
}
