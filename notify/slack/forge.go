package slack

import (
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// forgeRepo is a repository on a forge whose web URLs we know.
type forgeRepo struct {
	host string // github.com, gitlab.com, bitbucket.org
	path string // org/repo (gitlab: group/subgroup/repo)
}

var forgeSegment = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// parseForge recognises clone URLs of github.com, gitlab.com and
// bitbucket.org in https, ssh:// and scp-like (git@host:org/repo.git) form.
// Credentials in the URL are dropped.
func parseForge(raw string) (forgeRepo, bool) {
	raw = strings.TrimSpace(raw)
	var host, p string
	if strings.Contains(raw, "://") {
		u, err := url.Parse(raw)
		if err != nil {
			return forgeRepo{}, false
		}
		switch u.Scheme {
		case "https", "http", "ssh", "git+ssh", "git":
		default:
			return forgeRepo{}, false
		}
		host, p = u.Hostname(), u.Path
	} else {
		before, after, ok := strings.Cut(raw, ":")
		if !ok || strings.Contains(before, "/") {
			return forgeRepo{}, false
		}
		if i := strings.LastIndex(before, "@"); i >= 0 {
			before = before[i+1:]
		}
		host, p = before, after
	}
	host = strings.TrimPrefix(strings.ToLower(host), "www.")
	p = strings.TrimSuffix(strings.Trim(p, "/"), ".git")
	segs := strings.Split(p, "/")
	switch host {
	case "github.com", "bitbucket.org":
		if len(segs) != 2 {
			return forgeRepo{}, false
		}
	case "gitlab.com":
		if len(segs) < 2 {
			return forgeRepo{}, false
		}
	default:
		return forgeRepo{}, false
	}
	for _, s := range segs {
		if !forgeSegment.MatchString(s) || s == "." || s == ".." {
			return forgeRepo{}, false
		}
	}
	return forgeRepo{host: host, path: p}, true
}

func (f forgeRepo) base() string { return "https://" + f.host + "/" + f.path }

func (f forgeRepo) commitURL(sha string) string {
	switch f.host {
	case "gitlab.com":
		return f.base() + "/-/commit/" + sha
	case "bitbucket.org":
		return f.base() + "/commits/" + sha
	}
	return f.base() + "/commit/" + sha
}

func (f forgeRepo) prURL(n int) string {
	switch f.host {
	case "gitlab.com":
		return f.base() + "/-/merge_requests/" + strconv.Itoa(n)
	case "bitbucket.org":
		return f.base() + "/pull-requests/" + strconv.Itoa(n)
	}
	return f.base() + "/pull/" + strconv.Itoa(n)
}
