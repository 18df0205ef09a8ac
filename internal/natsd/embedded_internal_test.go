package natsd

import (
	"context"
	"testing"
	"time"
)

// TestSyncOption checks the store syncs every write unless an interval is
// given.
func TestSyncOption(t *testing.T) {
	for _, tc := range []struct {
		interval time.Duration
		always   bool
	}{{0, true}, {2 * time.Minute, false}} {
		s, err := Start(context.Background(), Options{StoreDir: t.TempDir(), InProcess: true, SyncInterval: tc.interval}, nil)
		if err != nil {
			t.Fatal(err)
		}
		jc := s.ns.JetStreamConfig()
		s.Shutdown()
		if jc.SyncAlways != tc.always || (!tc.always && jc.SyncInterval != tc.interval) {
			t.Errorf("SyncInterval %s: JetStream SyncAlways = %v, SyncInterval = %s", tc.interval, jc.SyncAlways, jc.SyncInterval)
		}
	}
}
