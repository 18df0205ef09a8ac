package sources

import (
	"errors"
	"regexp"
	"strings"
)

// ErrUnknownRevision is returned when a revision (SHA, short SHA or branch)
// is not among the commits already fetched, or a short SHA is ambiguous.
var ErrUnknownRevision = errors.New("unknown revision")

// ErrBranchNotFound is returned by Poll when the remote has no such branch
// (or no refs at all). Retrying will not help until someone pushes it.
var ErrBranchNotFound = errors.New("branch not found on remote")

// userinfoRe matches the user[:password]@ part of a URL.
var userinfoRe = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.\-]*://)[^/@\s]*@`)

// redactor removes secrets from text: the configured token, a password in
// the configured URL, and any URL userinfo.
type redactor struct {
	secrets []string
}

func (r redactor) text(s string) string {
	for _, sec := range r.secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "***")
		}
	}
	return userinfoRe.ReplaceAllString(s, "${1}***@")
}

// err returns an error whose text is redacted. errors.Is still sees the
// original chain (context.Canceled, transport.ErrAuthenticationRequired, …)
// but errors.As and Unwrap do not, so no caller can dig the unredacted text
// (a *url.Error with userinfo, say) back out.
func (r redactor) err(err error) error {
	if err == nil {
		return nil
	}
	return &redactedError{msg: r.text(err.Error()), err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }

// Is matches target against the original error chain.
func (e *redactedError) Is(target error) bool { return errors.Is(e.err, target) }
