package config

import (
	"errors"
	"strings"
	"testing"
)

const okRepo = "repo \"ok\" {\n  url = \"https://example.com/ok.git\"\n}\n"

// TestErrors checks that each bad input is reported at the exact position.
// Each case's source is followed by okRepo unless it declares its own.
func TestErrors(t *testing.T) {
	cases := []struct {
		name string
		src  string
		want []string // expected lines, prefix-matched, in order
	}{
		{"syntax", "listen = \n", []string{"f.hcl:1:10: Invalid expression"}},
		{"unknown attribute", "colour = \"red\"\n" + okRepo, []string{`f.hcl:1:1: Unsupported argument: An argument named "colour" is not expected here.`}},
		{"unknown block", "kafka {\n}\n" + okRepo, []string{`f.hcl:1:1: Unsupported block type: Blocks of type "kafka" are not expected here.`}},
		{"unknown in repo", "repo \"a\" {\n  url = \"https://x/a\"\n  brnch = \"x\"\n}\n", []string{`f.hcl:3:3: Unsupported argument`}},
		{"bad instance", "instance = \"my replica\"\n" + okRepo, []string{`f.hcl:1:12: Invalid instance name: "my replica" must match`}},
		{"no repo", "listen = \"127.0.0.1:1\"\n", []string{"f.hcl:1:1: No repo block: The config must declare at least one repo block."}},
		{"duplicate nats", "nats {\n}\nnats {\n}\n" + okRepo, []string{"f.hcl:3:1: Duplicate nats block: Only one nats block is allowed; the first is at f.hcl:1,1-5."}},
		{"bad listen", "listen = \"localhost\"\n" + okRepo, []string{`f.hcl:1:10: Invalid listen address: "localhost" is not host:port.`}},
		{"bad listen port", "listen = \"localhost:http\"\n" + okRepo, []string{`f.hcl:1:10: Invalid listen address`}},
		{"wrong type", "listen = [1]\n" + okRepo, []string{`f.hcl:1:10: Incorrect attribute value type`}},
		{"unknown function", "listen = getenv(\"X\")\n" + okRepo, []string{`f.hcl:1:10: Call to unknown function`}},
		{"missing file", "api_token = file(\"nope.txt\")\n" + okRepo, []string{`f.hcl:1:19: Invalid function argument: Invalid value for "path" parameter: cannot read `}},
		{"bad repo name", "repo \"Bad.Name\" {\n  url = \"https://x/a\"\n}\n", []string{`f.hcl:1:6: Invalid repo name: "Bad.Name" must match [a-z0-9][a-z0-9_-]*.`}},
		{"duplicate repo", okRepo + okRepo, []string{`f.hcl:4:6: Duplicate repo: A repo named "ok" is already defined at f.hcl:1,1-10.`}},
		{"missing url", "repo \"a\" {\n}\n", []string{`f.hcl:1:1: Missing required argument: The argument "url" is required.`}},
		{"empty url from env", "repo \"a\" {\n  url = env(\"UNSET_URL\")\n}\n", []string{`f.hcl:2:9: Empty value: The argument "url" must not be empty (is an environment variable unset?).`}},
		{"bad scheme", "repo \"a\" {\n  url = \"ftp://x/a\"\n}\n", []string{`f.hcl:2:9: Invalid repo URL: scheme "ftp" is not supported`}},
		{"password in url", "repo \"a\" {\n  url = \"https://u:pw@x/a\"\n}\n", []string{`f.hcl:2:9: Invalid repo URL: the URL contains a password`}},
		{"bad duration", "repo \"a\" {\n  url = \"https://x/a\"\n  interval = \"5 minutes\"\n}\n", []string{`f.hcl:3:14: Invalid duration: "5 minutes" is not a duration for "interval"; use Go duration syntax such as "90s", "1m" or "15m".`}},
		{"interval too short", "repo \"a\" {\n  url = \"https://x/a\"\n  interval = \"10ms\"\n}\n", []string{`f.hcl:3:14: Invalid duration: "interval" must be at least 1s (got 10ms).`}},
		{"interval zero", "repo \"a\" {\n  url = \"https://x/a\"\n  interval = \"0\"\n}\n", []string{`f.hcl:3:14: Invalid duration: "interval" must be at least 1s`}},
		{"negative drift", "repo \"a\" {\n  url = \"https://x/a\"\n  drift_interval = \"-1m\"\n}\n", []string{`f.hcl:3:20: Invalid duration`}},
		{"path escapes", "repo \"a\" {\n  url = \"https://x/a\"\n  path = \"deploy/../../etc\"\n}\n", []string{`f.hcl:3:10: Invalid path: "deploy/../../etc" leads outside the repository.`}},
		{"absolute path", "repo \"a\" {\n  url = \"https://x/a\"\n  path = \"/etc\"\n}\n", []string{`f.hcl:3:10: Invalid path: "/etc" is absolute`}},
		{"bad branch", "repo \"a\" {\n  url = \"https://x/a\"\n  branch = \"a..b\"\n}\n", []string{`f.hcl:3:12: Invalid branch`}},
		{"token with ssh", "repo \"a\" {\n  url = \"git@github.com:a/b.git\"\n  auth {\n    token = \"t\"\n  }\n}\n", []string{`f.hcl:4:13: Token with an SSH URL`}},
		{"key without known hosts", "repo \"a\" {\n  url = \"git@github.com:a/b.git\"\n  auth {\n    ssh_key_file = \"id\"\n  }\n}\n", []string{
			`f.hcl:4:20: Missing known_hosts_file: ssh_key_file needs known_hosts_file`,
			`f.hcl:4:20: Unreadable file: ssh_key_file `,
		}},
		{"key with https", "repo \"a\" {\n  url = \"https://x/a\"\n  auth {\n    ssh_key_file = \"id\"\n    known_hosts_file = \"kh\"\n  }\n}\n", []string{
			`f.hcl:4:20: SSH key with a non-SSH URL`,
			`f.hcl:4:20: Unreadable file`,
			`f.hcl:5:24: Unreadable file`,
		}},
		{"duplicate auth", "repo \"a\" {\n  url = \"https://x/a\"\n  auth {\n  }\n  auth {\n  }\n}\n", []string{`f.hcl:5:3: Duplicate auth block`}},
		{"replicas range", "nats {\n  replicas = 7\n}\n" + okRepo, []string{`f.hcl:2:14: Invalid value: "replicas" must be a whole number from 1 to 5.`}},
		{"nats url scheme", "nats {\n  url = \"http://u:natspw@a:4222\"\n}\n" + okRepo, []string{`f.hcl:2:9: Invalid NATS URL: server 1 of the list has scheme "http"; want nats, tls, ws or wss.`}},
		{"max_parallel", "terraform {\n  max_parallel = 0\n}\n" + okRepo, []string{`f.hcl:2:18: Invalid value: "max_parallel" must be a whole number from 1 to 256.`}},
		{"env key", "terraform {\n  env = { \"A-B\" = \"x\" }\n}\n" + okRepo, []string{`f.hcl:2:9: Invalid environment variable name: "A-B"`}},
		{"aws endpoint", "aws {\n  endpoint = \"localhost:5000\"\n}\n" + okRepo, []string{`f.hcl:2:14: Invalid endpoint: "localhost:5000" is not an http:// or https:// URL.`}},
		{"slack without routes", "slack {\n  token = \"x\"\n}\n" + okRepo, []string{`f.hcl:1:1: No route`}},
		{"slack missing token", "slack {\n  route {\n    events = [\"*\"]\n    channel = \"#c\"\n  }\n}\n" + okRepo, []string{`f.hcl:1:1: Missing required argument: The argument "token" is required.`}},
		{"route bad pattern", "slack {\n  token = \"x\"\n  route {\n    events = [\"deploy\"]\n    channel = \"#c\"\n  }\n}\n" + okRepo, []string{`f.hcl:4:14: Invalid event pattern: "deploy" is not an event pattern`}},
		{"route nats wildcard", "slack {\n  token = \"x\"\n  route {\n    events = [\">\"]\n    channel = \"#c\"\n  }\n}\n" + okRepo, []string{`f.hcl:4:14: Invalid event pattern: ">" is not an event pattern`}},
		{"route unknown category", "slack {\n  token = \"x\"\n  route {\n    events = [\"deploys.*\"]\n    channel = \"#c\"\n  }\n}\n" + okRepo, []string{`f.hcl:4:14: Invalid event pattern: "deploys.*": unknown event category "deploys"`}},
		{"route unknown action", "slack {\n  token = \"x\"\n  route {\n    events = [\"deploy.success\"]\n    channel = \"#c\"\n  }\n}\n" + okRepo, []string{`f.hcl:4:14: Invalid event pattern: "deploy.success": unknown deploy action "success" (want one of started, succeeded, failed, or *).`}},
		{"route missing channel", "slack {\n  token = \"x\"\n  route {\n    events = [\"*\"]\n  }\n}\n" + okRepo, []string{`f.hcl:3:3: Missing required argument: The argument "channel" is required.`}},
		{"route empty events", "slack {\n  token = \"x\"\n  route {\n    events = []\n    channel = \"#c\"\n  }\n}\n" + okRepo, []string{`f.hcl:4:14: Empty value`}},
		{"several errors at once", "listen = \"x\"\nrepo \"a\" {\n  interval = \"1y\"\n}\n", []string{
			`f.hcl:1:10: Invalid listen address`,
			`f.hcl:2:1: Missing required argument`,
			`f.hcl:3:14: Invalid duration`,
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.src), "f.hcl", getenv(nil))
			var de *DiagnosticsError
			if !errors.As(err, &de) {
				t.Fatalf("err = %v, want *DiagnosticsError", err)
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tc.want) {
				t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(tc.want), err)
			}
			for i, w := range tc.want {
				if !strings.HasPrefix(lines[i], w) {
					t.Errorf("line %d:\n got %s\nwant prefix %s", i, lines[i], w)
				}
			}
			if strings.Contains(err.Error(), "natspw") {
				t.Errorf("error leaks the NATS password: %s", err)
			}
		})
	}
}

func TestRouteMatches(t *testing.T) {
	cases := []struct {
		events        []string
		category, act string
		want          bool
	}{
		{[]string{"*"}, "drift", "detected", true},
		{[]string{"deploy.*"}, "deploy", "failed", true},
		{[]string{"deploy.*"}, "rollback", "failed", false},
		{[]string{"*.failed"}, "rollback", "failed", true},
		{[]string{"*.failed"}, "rollback", "started", false},
		{[]string{"drift.resolved", "deploy.failed"}, "deploy", "failed", true},
		{[]string{"drift.resolved"}, "drift", "detected", false},
		{nil, "drift", "detected", false},
	}
	for _, c := range cases {
		if got := (Route{Events: c.events}).Matches(c.category, c.act); got != c.want {
			t.Errorf("%v.Matches(%s, %s) = %v, want %v", c.events, c.category, c.act, got, c.want)
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load("/nonexistent/driftless.hcl")
	if err == nil || !strings.Contains(err.Error(), "read config") {
		t.Fatalf("err = %v", err)
	}
}
