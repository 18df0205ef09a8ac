package forge

import (
	"net/url"
	"regexp"
	"strings"
)

// CommentMarker starts the one comment driftless keeps on a pull request:
// the plan preview, and the deployments of the merged commit below it.
const CommentMarker = "<!-- driftless:pull-request -->"

var segment = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// RepoFromURL finds the owner/name of a repository clone URL (https,
// ssh:// or scp-like git@host:owner/name.git) on the forge whose REST API
// is at apiURL: github.com when apiURL is empty or https://api.github.com/,
// else the host of apiURL (GitHub Enterprise Server: https://HOST/api/v3/).
// Credentials in the URL are ignored. ok is false for another host or a
// URL that is not owner/name.
func RepoFromURL(raw, apiURL string) (Repo, bool) {
	host, p, ok := splitURL(strings.TrimSpace(raw))
	if !ok || !strings.EqualFold(host, forgeHost(apiURL)) {
		return Repo{}, false
	}
	p = strings.TrimSuffix(strings.Trim(p, "/"), ".git")
	owner, name, ok := strings.Cut(p, "/")
	if !ok || strings.Contains(name, "/") || !segment.MatchString(owner) || !segment.MatchString(name) ||
		owner == "." || owner == ".." || name == "." || name == ".." {
		return Repo{}, false
	}
	return Repo{Owner: owner, Name: name}, true
}

// forgeHost is the Git host served by the API at apiURL.
func forgeHost(apiURL string) string {
	if apiURL == "" {
		return "github.com"
	}
	u, err := url.Parse(apiURL)
	if err != nil || u.Hostname() == "" {
		return ""
	}
	h := strings.ToLower(u.Hostname())
	if h == "api.github.com" {
		return "github.com"
	}
	return strings.TrimPrefix(h, "api.")
}

// splitURL returns the host and path of a clone URL.
func splitURL(raw string) (host, path string, ok bool) {
	if strings.Contains(raw, "://") {
		u, err := url.Parse(raw)
		if err != nil {
			return "", "", false
		}
		switch u.Scheme {
		case "https", "http", "ssh", "git+ssh", "git":
		default:
			return "", "", false
		}
		return strings.TrimPrefix(strings.ToLower(u.Hostname()), "www."), u.Path, u.Hostname() != ""
	}
	before, after, ok := strings.Cut(raw, ":")
	if !ok || strings.Contains(before, "/") {
		return "", "", false
	}
	if i := strings.LastIndex(before, "@"); i >= 0 {
		before = before[i+1:]
	}
	return strings.ToLower(before), after, before != ""
}
