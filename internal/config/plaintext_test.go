package config

import (
	"errors"
	"strings"
	"testing"
)

// TestTokenOverPlainHTTP: a token is never configured to cross the network
// in clear text; loopback hosts (a local Git server, an emulator) are fine.
func TestTokenOverPlainHTTP(t *testing.T) {
	repo := func(url string) string {
		return "repo \"a\" {\n  url = \"" + url + "\"\n  auth {\n    token = env(\"GIT_TOKEN\")\n  }\n}\n"
	}
	slack := func(url string) string {
		return "slack {\n  token = \"xoxb-1\"\n  api_url = \"" + url + "\"\n  route {\n    events = [\"*\"]\n    channel = \"#c\"\n  }\n}\n" + okRepo
	}
	cases := []struct {
		name, src, want string // want "": no error
	}{
		{"repo https", repo("https://git.example.com/a.git"), ""},
		{"repo http", repo("http://git.example.com/a.git"), `f.hcl:4:13: Token over plain http: The token would cross the network to git.example.com in clear text; use an https:// URL`},
		{"repo http by address", repo("http://10.0.0.7:3000/a.git"), `f.hcl:4:13: Token over plain http: The token would cross the network to 10.0.0.7`},
		{"repo http, host looks loopback", repo("http://127.0.0.1.example.com/a.git"), `f.hcl:4:13: Token over plain http`},
		{"repo http 127.0.0.1", repo("http://127.0.0.1:3000/a.git"), ""},
		{"repo http 127.1.2.3", repo("http://127.1.2.3/a.git"), ""},
		{"repo http ::1", repo("http://[::1]:3000/a.git"), ""},
		{"repo http localhost", repo("http://LocalHost:3000/a.git"), ""},
		{"repo http without token", "repo \"a\" {\n  url = \"http://git.example.com/a.git\"\n}\n", ""},
		{"slack https", slack("https://slack.example.com/api/"), ""},
		{"slack http", slack("http://slack.example.com/api/"), `f.hcl:3:13: Token over plain http: The Slack token would cross the network to slack.example.com`},
		{"slack http loopback", slack("http://127.0.0.1:8888/api/"), ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.src), "f.hcl", getenv(map[string]string{"GIT_TOKEN": "ghp-s3cr3t"}))
			if c.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			var de *DiagnosticsError
			if !errors.As(err, &de) || len(de.Diags) != 1 || !strings.HasPrefix(err.Error(), c.want) {
				t.Fatalf("err = %v\nwant one line starting %s", err, c.want)
			}
			if strings.Contains(err.Error(), "ghp-s3cr3t") || strings.Contains(err.Error(), "xoxb-1") {
				t.Errorf("the error repeats the token: %s", err)
			}
		})
	}
}
