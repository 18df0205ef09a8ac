package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestSecretsNeverPrinted(t *testing.T) {
	env := getenv(testEnv)
	cfg, err := Parse([]byte(strings.Replace(designExample, `env           = { TF_LOG = "" }`, `env           = { TF_VAR_pw = "tfvar-s3cr3t" }`, 1)), "driftless.hcl", env)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Terraform.Env["TF_VAR_pw"] != "tfvar-s3cr3t" {
		t.Fatalf("terraform env not decoded: %v", map[string]string(cfg.Terraform.Env))
	}
	var outputs []string
	outputs = append(outputs,
		fmt.Sprintf("%v %+v %#v %s %q %x", cfg, cfg, cfg, cfg.APIToken, cfg.APIToken, cfg.APIToken),
		fmt.Sprintf("%v %+v %#v", *cfg, *cfg, *cfg),
		fmt.Sprint(cfg.Repos[0].Auth, cfg.Slack, cfg.NATS, cfg.Terraform.Env),
		fmt.Sprintf("%d %v", cfg.APIToken, []Secret{cfg.APIToken}),
	)
	js, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	outputs = append(outputs, string(js))
	for _, newHandler := range []func(*bytes.Buffer) slog.Handler{
		func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
		func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
	} {
		var buf bytes.Buffer
		log := slog.New(newHandler(&buf))
		log.Info("config", "cfg", cfg, "token", cfg.APIToken, "repo", cfg.Repos[0], "env", cfg.Terraform.Env)
		outputs = append(outputs, buf.String())
	}
	for i, out := range outputs {
		for _, s := range secretValues {
			if strings.Contains(out, s) {
				t.Errorf("output %d leaks %q:\n%s", i, s, out)
			}
		}
		if !strings.Contains(out, Redacted) {
			t.Errorf("output %d has no %s marker:\n%s", i, Redacted, out)
		}
	}
	// The value is still there for whoever needs it.
	if cfg.Slack.Token.Value() != "xoxb-slack-s3cr3t" {
		t.Errorf("Value() = %q", cfg.Slack.Token.Value())
	}
}

func TestFileErrorDoesNotLeakContent(t *testing.T) {
	// A file that is a directory: the error names the path, not content.
	p := writeConfig(t, "api_token = file(\".\")\n"+okRepo)
	_, err := Load(p)
	if err == nil || !strings.Contains(err.Error(), ":1:19: ") {
		t.Fatalf("err = %v", err)
	}
}
