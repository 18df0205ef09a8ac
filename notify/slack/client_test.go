package slack

import (
	"errors"
	"fmt"
	"testing"
	"time"

	slackapi "github.com/slack-go/slack"
)

func TestClassifySlackError(t *testing.T) {
	tests := []struct {
		err  error
		kind failKind
	}{
		{slackapi.SlackErrorResponse{Err: "invalid_auth"}, failAuth},
		{slackapi.SlackErrorResponse{Err: "not_authed"}, failAuth},
		{slackapi.SlackErrorResponse{Err: "account_inactive"}, failAuth},
		{slackapi.SlackErrorResponse{Err: "missing_scope"}, failAuth},
		{slackapi.SlackErrorResponse{Err: "channel_not_found"}, failChannel},
		{slackapi.SlackErrorResponse{Err: "not_in_channel"}, failChannel},
		{slackapi.SlackErrorResponse{Err: "is_archived"}, failChannel},
		{slackapi.SlackErrorResponse{Err: "internal_error"}, failTransient},
		{slackapi.SlackErrorResponse{Err: "invalid_blocks"}, failPermanent},
		{slackapi.SlackErrorResponse{Err: "message_not_found"}, failPermanent},
		{fmt.Errorf("post: %w", slackapi.SlackErrorResponse{Err: "msg_too_long"}), failPermanent},
		{slackapi.StatusCodeError{Code: 503, Status: "503"}, failTransient},
		{slackapi.StatusCodeError{Code: 404, Status: "404"}, failTransient}, // a wrong api_url: keep the events
		{errors.New("dial tcp: connection refused"), failTransient},
	}
	for _, tt := range tests {
		if got := classifyError("chat.postMessage", tt.err); got.kind != tt.kind {
			t.Errorf("classify(%v) = %v, want %v", tt.err, got.kind, tt.kind)
		}
	}
	if !(failChannel < failPermanent && failPermanent < failTransient && failTransient < failAuth) {
		t.Error("failure kinds out of order: settling picks the highest")
	}
}

func TestDefaultSlackBackoff(t *testing.T) {
	want := map[int]time.Duration{0: time.Second, 1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second,
		6: 32 * time.Second, 7: time.Minute, 100: time.Minute}
	for n, w := range want {
		if got := defaultBackoff(n); got != w {
			t.Errorf("backoff(%d) = %v, want %v", n, got, w)
		}
	}
}
