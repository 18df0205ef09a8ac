package config

import (
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// DefaultPreviewParallel bounds the stacks a repo previews at once.
const DefaultPreviewParallel = 2

// boolean decodes an optional bool attribute.
func (d *decoder) boolean(attrs hcl.Attributes, name string, dflt bool) bool {
	v, _, ok := d.value(attrs, name, cty.Bool)
	if !ok {
		return dflt
	}
	return v.True()
}

func (d *decoder) decodeGitHub(b *hcl.Block) *GitHubConfig {
	c := d.content(b.Body, githubSchema)
	g := &GitHubConfig{}
	tok, _ := d.required(c.Attributes, "token", b.DefRange)
	g.Token = Secret(tok)
	g.APIURL = d.apiURL(c.Attributes, b.DefRange, "GitHub")
	return g
}

// apiURL decodes the api_url of a block whose token is sent to it (named
// service): an http(s) URL, plain http only to a loopback host.
func (d *decoder) apiURL(attrs hcl.Attributes, def hcl.Range, service string) string {
	u, rng := d.str(attrs, "api_url", def)
	if u == "" {
		return ""
	}
	if err := checkHTTPURL(u); err != nil {
		d.add(errAt(rng, "Invalid api_url", "%s.", err))
	} else if host := urlHost(u); urlTransport(u) == "http" && !isLoopbackHost(host) {
		d.add(errAt(rng, "Token over plain http",
			"The %s token would cross the network to %s in clear text; use an https:// api_url (plain http:// is allowed only to a loopback host: 127.0.0.0/8, ::1, localhost).", service, host))
	}
	return u
}

func (d *decoder) decodePullRequests(b *hcl.Block) *PullRequestsConfig {
	c := d.content(b.Body, prSchema)
	return &PullRequestsConfig{
		Enabled:     d.boolean(c.Attributes, "enabled", false),
		AllowForks:  d.boolean(c.Attributes, "allow_forks", false),
		MaxParallel: d.integer(c.Attributes, "max_parallel", DefaultPreviewParallel, 1, 64),
	}
}

// checkForge reports repos that need a github block and have none.
func (d *decoder) checkForge(cfg *Config) {
	if cfg.GitHub != nil {
		return
	}
	for _, r := range cfg.Repos {
		if r.PullRequests != nil && r.PullRequests.Enabled {
			d.add(errAt(r.DefRange, "Pull requests without a github block",
				"Repo %q enables pull_requests: plan previews are posted through GitHub's API; add a top-level github { token = env(\"GITHUB_TOKEN\") } block.", r.Name))
		}
		if r.DriftPR {
			d.add(errAt(r.DefRange, "drift_pr without a github block",
				"Repo %q sets drift_pr: pull requests are opened through GitHub's API; add a top-level github { token = env(\"GITHUB_TOKEN\") } block.", r.Name))
		}
	}
}
