package client

import (
	"testing"

	"github.com/driftless/driftless/state"
)

func TestWhoNamesTheCallerOfManualActions(t *testing.T) {
	cases := []struct {
		d    state.DeployRecord
		want string
	}{
		{state.DeployRecord{Author: "Ada", PR: 12}, "Ada (PR #12)"},
		{state.DeployRecord{Author: "Ada", Caller: "cli:ops"}, "cli:ops (commit by Ada)"},
		{state.DeployRecord{Caller: "api"}, "api"},
		{state.DeployRecord{}, "-"},
	}
	for _, c := range cases {
		if got := who(c.d); got != c.want {
			t.Errorf("who(%+v) = %q, want %q", c.d, got, c.want)
		}
	}
}
