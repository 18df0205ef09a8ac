package reconciler

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"testing"
)

// A lazy logger writes what slog.Logger.With would, attrs first.
func TestLazyLoggerWritesItsAttrs(t *testing.T) {
	var buf bytes.Buffer
	base := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})).With("instance", "a")
	log := lazyLogger(base, slog.String("repo", "r"), slog.String("app", "x"))
	log.Debug("not enabled")
	if buf.Len() != 0 {
		t.Fatalf("a disabled level wrote %q", buf.String())
	}
	log.With("deploy_id", "d1").Info("applying", "summary", "1 to change")
	log.Info("again")
	lines := bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n"))
	if len(lines) != 2 {
		t.Fatalf("%d lines: %s", len(lines), buf.String())
	}
	var got map[string]any
	if err := json.Unmarshal(lines[0], &got); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"instance": "a", "repo": "r", "app": "x", "deploy_id": "d1", "summary": "1 to change", "msg": "applying"} {
		if got[k] != want {
			t.Errorf("%s = %v, want %q (line %s)", k, got[k], want, lines[0])
		}
	}
	if !bytes.Contains(lines[1], []byte(`"instance":"a","repo":"r","app":"x"`)) || bytes.Contains(lines[1], []byte("deploy_id")) {
		t.Errorf("second line lacks the attrs: %s", lines[1])
	}
}
