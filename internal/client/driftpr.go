package client

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// DriftPRTimeout bounds a drift-pr request when the caller's context has
// no deadline: the daemon reads live values, pushes and calls the forge.
const DriftPRTimeout = 3 * time.Minute

// DriftPR asks the daemon to propose the open drift of repo/app back as
// code (POST /api/v1/apps/{repo}/{app}/drift-pr) and returns its answer.
func (c *Client) DriftPR(ctx context.Context, repo, app, caller string) (json.RawMessage, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DriftPRTimeout)
		defer cancel()
	}
	var out json.RawMessage
	err := c.do(ctx, http.MethodPost, appPath(repo, app)+"/drift-pr", map[string]string{"caller": caller}, &out)
	return out, err
}
