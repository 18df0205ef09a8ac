package forge

import "testing"

func TestRepoFromURL(t *testing.T) {
	cases := []struct {
		url, api string
		want     Repo
		ok       bool
	}{
		{"https://github.com/acme/infra.git", "", Repo{"acme", "infra"}, true},
		{"https://x-access-token:ghp_secret@github.com/acme/infra", "", Repo{"acme", "infra"}, true},
		{"git@github.com:acme/infra.git", "https://api.github.com/", Repo{"acme", "infra"}, true},
		{"ssh://git@github.com/acme/infra.git", "", Repo{"acme", "infra"}, true},
		{"https://ghe.example.com/team/stacks.git", "https://ghe.example.com/api/v3/", Repo{"team", "stacks"}, true},
		{"https://github.com/acme/infra.git", "https://ghe.example.com/api/v3/", Repo{}, false},
		{"https://gitlab.com/acme/infra.git", "", Repo{}, false},
		{"https://github.com/acme/group/infra.git", "", Repo{}, false},
		{"https://github.com/acme/..", "", Repo{}, false},
		{"file:///srv/git/infra", "", Repo{}, false},
		{"/srv/git/infra", "", Repo{}, false},
		{"http://127.0.0.1:9999/acme/infra.git", "http://127.0.0.1:9999/api/v3/", Repo{"acme", "infra"}, true},
	}
	for _, c := range cases {
		got, ok := RepoFromURL(c.url, c.api)
		if ok != c.ok || got != c.want {
			t.Errorf("RepoFromURL(%q, %q) = %v, %v; want %v, %v", c.url, c.api, got, ok, c.want, c.ok)
		}
	}
}
