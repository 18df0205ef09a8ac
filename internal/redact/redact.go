package redact

import (
	"bytes"
	"encoding/json"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// Mask replaces every secret.
const Mask = "[redacted]"

// minLen is the shortest value treated as a secret: masking every "a" in
// a text would destroy it and protect nothing.
const minLen = 4

// Redactor masks the secrets it was given, in every encoded form, and the
// credentials of any URL. It is safe for concurrent use, and secrets can be
// added after it is made (Add). A nil *Redactor masks URL credentials only.
type Redactor struct {
	mu   sync.Mutex          // serialises Add
	seen map[string]struct{} // the forms in secrets, under mu
	// secrets holds every form to mask, longest first, so that a secret
	// containing another is masked whole. Replaced (never mutated) by Add.
	secrets atomic.Pointer[[]string]
}

// New returns a Redactor for secrets (see Add).
func New(secrets ...string) *Redactor {
	r := &Redactor{seen: map[string]struct{}{}}
	r.Add(secrets...)
	return r
}

// Add registers more secrets. Surrounding white space is trimmed; empty and
// very short values (under 4 bytes) are ignored. Besides the value itself,
// its JSON-escaped form and its URL-encoded forms (query and path escaping)
// are masked; a secret that is a URL adds the user name and password in it
// (see URLCredentials), which may appear in text without it.
func (r *Redactor) Add(secrets ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen == nil {
		r.seen = map[string]struct{}{}
	}
	var cur []string
	if p := r.secrets.Load(); p != nil {
		cur = *p
	}
	next := append([]string(nil), cur...)
	var creds []string
	for _, s := range secrets {
		if strings.Contains(s, "://") && strings.Contains(s, "@") {
			creds = append(creds, URLCredentials(s)...)
		}
	}
	for _, s := range append(secrets, creds...) {
		s = strings.TrimSpace(s)
		if len(s) < minLen {
			continue
		}
		for _, f := range forms(s) {
			if _, ok := r.seen[f]; ok {
				continue
			}
			r.seen[f] = struct{}{}
			next = append(next, f)
		}
	}
	if len(next) == len(cur) {
		return
	}
	sort.SliceStable(next, func(i, j int) bool { return len(next[i]) > len(next[j]) })
	r.secrets.Store(&next)
}

// forms lists s and the encodings under which it may appear in text: in a
// JSON string, in a query string, in a URL path.
func forms(s string) []string {
	out := []string{s}
	if b, err := json.Marshal(s); err == nil { // escapes <, > and & too
		out = append(out, string(b[1:len(b)-1]))
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if enc.Encode(s) == nil { // as slog and encoders without HTML escaping write it
		q := strings.TrimSuffix(b.String(), "\n")
		out = append(out, q[1:len(q)-1])
	}
	return append(out, url.QueryEscape(s), url.PathEscape(s))
}

// urlCreds matches the user info of a URL: scheme://user:pass@ or
// scheme://token@ (up to the last '@' before the path, query or fragment).
var urlCreds = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://)[^/?#\s"'<>]+@`)

// queryCreds matches the value of a credential-looking query parameter.
var queryCreds = regexp.MustCompile(`(?i)([?&;](?:access_token|refresh_token|id_token|private_token|token|auth|password|passwd|pwd|secret|client_secret|api_key|apikey|sig|signature|x-amz-signature|x-amz-security-token|x-amz-credential)=)[^&#\s"'<>]+`)

// String masks the secrets, URL credentials and credential query
// parameters in s.
func (r *Redactor) String(s string) string {
	if r != nil {
		if p := r.secrets.Load(); p != nil {
			for _, sec := range *p {
				if strings.Contains(s, sec) {
					s = strings.ReplaceAll(s, sec, Mask)
				}
			}
		}
	}
	return maskURLs(s)
}

// maskURLs masks URL user info and credential query parameters in s.
func maskURLs(s string) string {
	if strings.Contains(s, "@") {
		s = urlCreds.ReplaceAllString(s, "${1}"+Mask+"@")
	}
	if strings.Contains(s, "=") {
		s = queryCreds.ReplaceAllString(s, "${1}"+Mask)
	}
	return s
}

// URL masks the credentials of a URL, or of each URL of a comma-separated
// list (a NATS cluster, say), for display: its user info (user:pass@ or
// token@, also without a scheme, as in user:pass@host:4222) and
// credential-looking query parameters.
func URL(s string) string {
	return mapURLs(s, func(string) string { return Mask + "@" })
}

// PublicURL removes the user info of a URL (or of each URL of a
// comma-separated list) instead of masking it, and masks credential-looking
// query parameters: for a link shown to users, such as an event's repo_url.
func PublicURL(s string) string {
	return mapURLs(s, func(string) string { return "" })
}

// mapURLs replaces the user info (with its '@') of each URL in the
// comma-separated list s by what repl returns for it.
func mapURLs(s string, repl func(userinfo string) string) string {
	parts := strings.Split(s, ",")
	for i, p := range parts {
		p = strings.TrimSpace(p)
		scheme, rest := "", p
		if j := strings.Index(p, "://"); j >= 0 {
			scheme, rest = p[:j+3], p[j+3:]
		}
		// The authority ends at the first '/', '?' or '#' after the last
		// '@' that precedes them; a password may hold '@' unescaped.
		end := strings.IndexAny(rest, "/?#")
		if end < 0 {
			end = len(rest)
		}
		if at := strings.LastIndex(rest[:end], "@"); at >= 0 {
			rest = repl(rest[:at]) + rest[at+1:]
		}
		parts[i] = maskURLs(scheme + rest)
	}
	return strings.Join(parts, ",")
}

// URLCredentials lists the user names and passwords (or tokens) in the
// user info of s, a URL or a comma-separated list of URLs, so that they can
// be added to a Redactor: they may appear in error text without the URL.
func URLCredentials(s string) []string {
	var out []string
	mapURLs(s, func(userinfo string) string {
		user, pass, _ := strings.Cut(userinfo, ":")
		for _, x := range []string{user, pass} {
			if x == "" {
				continue
			}
			out = append(out, x)
			if u, err := url.PathUnescape(x); err == nil && u != x {
				out = append(out, u)
			}
		}
		return ""
	})
	return out
}
