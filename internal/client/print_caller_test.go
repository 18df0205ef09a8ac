package client

import (
	"testing"

	"github.com/driftless/driftless/reconciler"
)

func TestWhoNamesTheCallerOfManualActions(t *testing.T) {
	cases := []struct {
		d    reconciler.DeployRecord
		want string
	}{
		{reconciler.DeployRecord{Author: "Ada", PR: 12}, "Ada (PR #12)"},
		{reconciler.DeployRecord{Author: "Ada", Caller: "cli:ops"}, "cli:ops (commit by Ada)"},
		{reconciler.DeployRecord{Caller: "api"}, "api"},
		{reconciler.DeployRecord{}, "-"},
	}
	for _, c := range cases {
		if got := who(c.d); got != c.want {
			t.Errorf("who(%+v) = %q, want %q", c.d, got, c.want)
		}
	}
}
