package slack

import (
	"errors"
	"fmt"
	"testing"

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
