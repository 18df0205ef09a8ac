package slack

import (
	"regexp"
	"strings"
	"testing"
)

// TestStoreKeys: every key the store builds is a valid KV key (the parts
// are escaped with kv.EscapeKeyPart, tested in internal/kv).
func TestStoreKeys(t *testing.T) {
	for _, k := range []string{eventKey("abc", "#deploys"), deployKey("#d", "dep.1"), driftKey("#d", "platform", "web")} {
		if !validKVKey.MatchString(k) || strings.HasPrefix(k, ".") || strings.HasSuffix(k, ".") || strings.Contains(k, "..") {
			t.Errorf("bad KV key %q", k)
		}
	}
	// The records of earlier versions must still be found.
	if k := driftKey("#infra-drift", "platform/x", "web.1"); k != "drift.=23infra-drift.platform=2Fx.web=2E1" {
		t.Errorf("driftKey = %q: the key format changed", k)
	}
}

var validKVKey = regexp.MustCompile(`^[-/_=.a-zA-Z0-9]+$`)
