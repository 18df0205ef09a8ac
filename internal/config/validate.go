package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// checkListen accepts host:port with a numeric port (host may be empty).
func checkListen(s string) error {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("%q is not host:port", s)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%q: port must be a number from 0 to 65535", s)
	}
	return nil
}

// checkNATSURL checks each comma-separated server URL. The URL may hold
// credentials, so errors never repeat it.
func checkNATSURL(s string) error {
	for i, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			return fmt.Errorf("server %d of the list is empty", i+1)
		}
		if !strings.Contains(part, "://") {
			part = "nats://" + part
		}
		u, err := url.Parse(part)
		if err != nil || u.Host == "" {
			return fmt.Errorf("server %d of the list is not a URL such as nats://host:4222", i+1)
		}
		switch u.Scheme {
		case "nats", "tls", "ws", "wss":
		default:
			return fmt.Errorf("server %d of the list has scheme %q; want nats, tls, ws or wss", i+1, u.Scheme)
		}
	}
	return nil
}

// checkHTTPURL accepts an absolute http(s) URL with a host.
func checkHTTPURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http:// or https:// URL", s)
	}
	return nil
}

// checkExternalURL accepts the URL the API is reached at: http(s), a host,
// no credentials, query or fragment.
func checkExternalURL(s string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "":
		return fmt.Errorf("%q is not an http:// or https:// URL such as \"https://driftless.example.com\"", s)
	case u.User != nil:
		return fmt.Errorf("%q contains credentials", s)
	case u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf("%q has a query or fragment; give the scheme and host (and port) only", s)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("%q: port must be a number from 1 to 65535", s)
		}
	}
	return nil
}

// urlHost is the host name of an absolute URL (without port or brackets);
// "" when it does not parse.
func urlHost(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return ""
	}
	return u.Hostname()
}

// isLoopbackHost reports whether host is "localhost" or a loopback address
// (127.0.0.0/8, ::1): traffic to it never leaves the machine.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// scpLikeRE matches Git's scp-like syntax [user@]host:path; a slash before
// the colon makes it a local path.
var scpLikeRE = regexp.MustCompile(`^(?:[^@/\s:]+@)?[A-Za-z0-9][A-Za-z0-9.-]*:[^\s]+$`)

// urlTransport classifies a (normalised) repo URL.
func urlTransport(u string) string {
	if scheme, _, ok := strings.Cut(u, "://"); ok {
		return scheme
	}
	if isSCPLike(u) {
		return "ssh"
	}
	return "file"
}

func isSCPLike(u string) bool {
	// "C:\..." and "C:/..." are Windows paths, not a host named C.
	if len(u) >= 2 && u[1] == ':' && len(strings.SplitN(u, ":", 2)[0]) == 1 {
		return false
	}
	return scpLikeRE.MatchString(u)
}

// normalizeRepoURL validates a repo URL and makes a local path absolute
// (relative to dir). Passwords in URLs are refused: use auth.token.
func normalizeRepoURL(dir, s string) (string, error) {
	if strings.TrimSpace(s) != s {
		return s, errors.New("the URL has leading or trailing spaces")
	}
	if strings.Contains(s, "://") {
		u, err := url.Parse(s)
		if err != nil {
			return s, errors.New("the URL does not parse")
		}
		switch u.Scheme {
		case "https", "http", "ssh":
			if u.Host == "" {
				return s, fmt.Errorf("the %s URL has no host", u.Scheme)
			}
			if _, hasPw := u.User.Password(); hasPw {
				return "", errors.New("the URL contains a password; put credentials in auth { token = env(\"...\") } instead")
			}
			if u.Scheme != "ssh" && u.User != nil {
				return "", errors.New("the URL contains credentials; put them in auth { token = ..., username = ... } instead")
			}
		case "file":
			if u.Path == "" {
				return s, errors.New("the file:// URL has no path")
			}
		default:
			return s, fmt.Errorf("scheme %q is not supported; use https://, http://, ssh://, git@host:path, file:// or a local path", u.Scheme)
		}
		return s, nil
	}
	if isSCPLike(s) {
		return s, nil
	}
	return resolvePath(dir, s), nil
}

// checkBranch rejects names Git would refuse as a branch.
func checkBranch(b string) error {
	if strings.HasPrefix(b, "refs/") {
		return fmt.Errorf("%q: give the branch name without refs/heads/", b)
	}
	if strings.HasPrefix(b, "-") || strings.HasPrefix(b, "/") || strings.HasSuffix(b, "/") ||
		strings.HasSuffix(b, ".lock") || strings.Contains(b, "..") || strings.Contains(b, "//") ||
		strings.ContainsAny(b, " ~^:?*[\\\x7f") {
		return fmt.Errorf("%q is not a valid branch name", b)
	}
	for _, r := range b {
		if r < 0x20 {
			return fmt.Errorf("%q is not a valid branch name", b)
		}
	}
	return nil
}

// cleanRepoPath normalises a repo-relative directory and refuses one that is
// absolute or leaves the repository; "." becomes "".
func cleanRepoPath(p string) (string, error) {
	if strings.HasPrefix(p, "/") || strings.HasPrefix(p, `\`) || filepath.IsAbs(p) || (len(p) > 1 && p[1] == ':') {
		return "", fmt.Errorf("%q is absolute; the path is relative to the repository root", p)
	}
	c := path.Clean(strings.ReplaceAll(p, `\`, "/"))
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", fmt.Errorf("%q leads outside the repository", p)
	}
	if c == "." {
		return "", nil
	}
	return c, nil
}

func containsSeparator(s string) bool {
	return strings.ContainsRune(s, '/') || strings.ContainsRune(s, filepath.Separator)
}
