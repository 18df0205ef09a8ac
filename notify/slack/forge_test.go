package slack

import (
	"testing"
)

func TestParseForge(t *testing.T) {
	const sha = "0123456789abcdef0123456789abcdef01234567"
	tests := []struct {
		url, commit, pr string
	}{
		{"https://github.com/acme/platform.git", "https://github.com/acme/platform/commit/" + sha, "https://github.com/acme/platform/pull/9"},
		{"https://github.com/acme/platform", "https://github.com/acme/platform/commit/" + sha, "https://github.com/acme/platform/pull/9"},
		{"git@github.com:acme/platform.git", "https://github.com/acme/platform/commit/" + sha, "https://github.com/acme/platform/pull/9"},
		{"ssh://git@github.com/acme/platform.git", "https://github.com/acme/platform/commit/" + sha, "https://github.com/acme/platform/pull/9"},
		{"https://x-access-token:ghs_1@github.com/acme/platform.git", "https://github.com/acme/platform/commit/" + sha, "https://github.com/acme/platform/pull/9"},
		{"https://www.GitHub.com/acme/platform/", "https://github.com/acme/platform/commit/" + sha, "https://github.com/acme/platform/pull/9"},
		{"https://gitlab.com/acme/infra/platform.git", "https://gitlab.com/acme/infra/platform/-/commit/" + sha, "https://gitlab.com/acme/infra/platform/-/merge_requests/9"},
		{"git@gitlab.com:acme/platform.git", "https://gitlab.com/acme/platform/-/commit/" + sha, "https://gitlab.com/acme/platform/-/merge_requests/9"},
		{"https://bitbucket.org/acme/platform.git", "https://bitbucket.org/acme/platform/commits/" + sha, "https://bitbucket.org/acme/platform/pull-requests/9"},
		{"git@bitbucket.org:acme/platform.git", "https://bitbucket.org/acme/platform/commits/" + sha, "https://bitbucket.org/acme/platform/pull-requests/9"},
		// Unknown forges, local paths and odd paths give no link.
		{"https://git.example.com/acme/platform.git", "", ""},
		{"/srv/git/platform.git", "", ""},
		{"file:///srv/git/platform.git", "", ""},
		{"https://github.com/acme", "", ""},
		{"https://github.com/acme/platform/extra", "", ""},
		{"https://github.com/acme/pl|atform", "", ""},
		{"https://github.com/../platform", "", ""},
		{"", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			f, ok := parseForge(tt.url)
			if tt.commit == "" {
				if ok {
					t.Fatalf("parseForge(%q) = %+v, want no forge", tt.url, f)
				}
				return
			}
			if !ok {
				t.Fatalf("parseForge(%q): no forge", tt.url)
			}
			if got := f.commitURL(sha); got != tt.commit {
				t.Errorf("commit = %s, want %s", got, tt.commit)
			}
			if got := f.prURL(9); got != tt.pr {
				t.Errorf("pr = %s, want %s", got, tt.pr)
			}
		})
	}
}
