package redact

import "errors"

// Error returns an error whose text is err's, redacted (nil for nil).
// errors.Is still matches the original chain (context.Canceled,
// transport.ErrAuthenticationRequired, …), but errors.As and Unwrap do not
// see it, so no caller can dig the unredacted text (a *url.Error with user
// info, say) back out. The text is redacted once, with the secrets known
// at the call.
func (r *Redactor) Error(err error) error {
	if err == nil {
		return nil
	}
	return &redactedError{msg: r.String(err.Error()), err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }

// Is matches target against the original error chain.
func (e *redactedError) Is(target error) bool { return errors.Is(e.err, target) }
