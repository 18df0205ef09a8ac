package github

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	gh "github.com/google/go-github/v89/github"

	"github.com/driftless/driftless/forge"
	"github.com/driftless/driftless/internal/redact"
)

// Compile-time checks.
var (
	_ forge.Forge            = (*Client)(nil)
	_ forge.DeploymentFinder = (*Client)(nil)
)

// callTimeout bounds one HTTP call when the caller's HTTPClient sets none.
const callTimeout = 30 * time.Second

// Options configure a Client.
type Options struct {
	// Token is a personal access token, fine-grained token or installation
	// token. It is a secret: it is sent only in the Authorization header.
	Token string
	// APIURL is the REST API root: empty for https://api.github.com/, else
	// GitHub Enterprise Server's https://HOST/api/v3/ (or a test server).
	APIURL string
	// HTTPClient is optional; by default one with a 30 s timeout.
	HTTPClient *http.Client
	// Log receives debug lines of what was written; nil discards them.
	Log *slog.Logger
}

// Client talks to GitHub. It is safe for concurrent use.
type Client struct {
	gh  *gh.Client
	log *slog.Logger
	red *redact.Redactor
}

// New returns a client; GitHub is not contacted until the first call.
func New(o Options) (*Client, error) {
	if strings.TrimSpace(o.Token) == "" {
		return nil, errors.New("github: token is empty")
	}
	hc := o.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: callTimeout}
	}
	opts := []gh.ClientOptionsFunc{gh.WithHTTPClient(hc), gh.WithAuthToken(o.Token), gh.WithUserAgent("driftless")}
	if o.APIURL != "" {
		u := o.APIURL
		if !strings.HasSuffix(u, "/") {
			u += "/"
		}
		opts = append(opts, gh.WithEnterpriseURLs(u, u))
	}
	c, err := gh.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("github: %w", redact.New(o.Token).Error(err))
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Client{gh: c, log: log, red: redact.New(o.Token)}, nil
}

// scrubbed is an error whose text went through the redactor; Unwrap keeps
// errors.Is and errors.As working on what it wraps.
type scrubbed struct {
	msg string
	err error
}

func (e *scrubbed) Error() string { return e.msg }
func (e *scrubbed) Unwrap() error { return e.err }

// fail turns a go-github error into the forge's error types, prefixed with
// what was being done ("edit comment 12 on acme/infra").
func (c *Client) fail(what string, err error) error {
	if err == nil {
		return nil
	}
	var (
		rl  *gh.RateLimitError
		ab  *gh.AbuseRateLimitError
		er  *gh.ErrorResponse
		acc *gh.AcceptedError
	)
	var mapped error
	switch {
	case errors.As(err, &rl):
		mapped = &forge.RateLimitError{Wait: max(time.Until(rl.Rate.Reset.Time), 0), Message: c.red.String(rl.Message)}
	case errors.As(err, &ab):
		mapped = &forge.RateLimitError{Secondary: true, Wait: ab.GetRetryAfter(), Message: c.red.String(ab.Message)}
	case errors.As(err, &acc):
		mapped = errors.New("GitHub accepted the request for later processing (HTTP 202) instead of carrying it out")
	case errors.As(err, &er) && er.Response != nil:
		mapped = c.statusError(er)
	default:
		return fmt.Errorf("github: %s: %w", what, &scrubbed{msg: c.red.String(err.Error()), err: err})
	}
	return fmt.Errorf("github: %s: %w", what, mapped)
}

// statusError maps an HTTP error answer by its status code.
func (c *Client) statusError(er *gh.ErrorResponse) error {
	msg := c.red.String(er.Message)
	for _, e := range er.Errors {
		switch {
		case e.Message != "":
			msg += "; " + c.red.String(e.Message)
		case e.Field != "":
			msg += fmt.Sprintf("; %s %s", c.red.String(e.Field), c.red.String(e.Code))
		}
	}
	switch st := er.Response.StatusCode; {
	case st == http.StatusNotFound:
		return fmt.Errorf("%w (HTTP 404: %s)", forge.ErrNotFound, msg)
	case st == http.StatusUnauthorized || st == http.StatusForbidden:
		return &forge.AuthError{Status: st, Message: msg}
	case st == http.StatusConflict:
		return &forge.ConflictError{Message: msg}
	case st >= 500:
		return &forge.ServerError{Status: st, Message: msg}
	default:
		return fmt.Errorf("HTTP %d: %s", st, msg)
	}
}

func ptr[T any](v T) *T { return &v }

// optional is nil for an empty string, so the field is left out.
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
