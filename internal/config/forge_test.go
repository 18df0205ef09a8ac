package config

import (
	"strings"
	"testing"
)

func TestGitHubAndPullRequests(t *testing.T) {
	src := `github {
  token   = env("GITHUB_TOKEN")
  api_url = "https://ghe.example.com/api/v3/"
}
repo "infra" {
  url      = "https://github.com/acme/infra.git"
  drift_pr = true
  pull_requests {
    enabled     = true
    allow_forks = false
  }
}
repo "other" {
  url = "https://github.com/acme/other.git"
}
`
	cfg, err := Parse([]byte(src), "f.hcl", getenv(map[string]string{"GITHUB_TOKEN": "ghp_s3cr3t"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.GitHub == nil || cfg.GitHub.Token.Value() != "ghp_s3cr3t" || cfg.GitHub.APIURL != "https://ghe.example.com/api/v3/" {
		t.Fatalf("github = %+v", cfg.GitHub)
	}
	if s := cfg.GitHub.Token.String(); strings.Contains(s, "ghp_s3cr3t") {
		t.Errorf("the token prints as %q", s)
	}
	infra, other := cfg.Repos[0], cfg.Repos[1]
	if !infra.DriftPR || infra.PullRequests == nil || !infra.PullRequests.Enabled || infra.PullRequests.AllowForks ||
		infra.PullRequests.MaxParallel != DefaultPreviewParallel {
		t.Errorf("infra = drift_pr %v, pull_requests %+v", infra.DriftPR, infra.PullRequests)
	}
	if other.DriftPR || other.PullRequests != nil {
		t.Errorf("other = drift_pr %v, pull_requests %+v", other.DriftPR, other.PullRequests)
	}
}

func TestForgeErrors(t *testing.T) {
	cases := []struct {
		name, src string
		want      []string
	}{
		{"previews without github", "repo \"r\" {\n  url = \"https://github.com/a/r.git\"\n  pull_requests {\n    enabled = true\n  }\n}\n",
			[]string{`f.hcl:1:1: Pull requests without a github block: Repo "r" enables pull_requests`}},
		{"drift_pr without github", "repo \"r\" {\n  url = \"https://github.com/a/r.git\"\n  drift_pr = true\n}\n",
			[]string{`f.hcl:1:1: drift_pr without a github block`}},
		{"github without token", "github {\n}\n" + okRepo, []string{`f.hcl:1:1: Missing required argument: The argument "token" is required`}},
		{"token over http", "github {\n  token = \"t\"\n  api_url = \"http://ghe.example.com/api/v3/\"\n}\n" + okRepo,
			[]string{`f.hcl:3:13: Token over plain http: The GitHub token would cross the network to ghe.example.com`}},
		{"drift_pr not a bool", "github {\n  token = \"t\"\n}\nrepo \"r\" {\n  url = \"https://github.com/a/r.git\"\n  drift_pr = \"maybe\"\n}\n",
			[]string{`f.hcl:6:14: `}},
		{"max_parallel out of range", "github {\n  token = \"t\"\n}\nrepo \"r\" {\n  url = \"https://github.com/a/r.git\"\n  pull_requests {\n    max_parallel = 0\n  }\n}\n",
			[]string{`f.hcl:7:20: Invalid value: "max_parallel" must be a whole number from 1 to 64.`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.src), "f.hcl", getenv(nil))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
		})
	}
}
