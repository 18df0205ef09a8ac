package main

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/driftless/driftless/internal/testenv"
)

// TestTriggerBroadcastNamesItsReplica: a trigger published over NATS names
// the replica that sent it, which ignores its own (it polled already: one
// poll per push) while the other replicas act on it.
func TestTriggerBroadcastNamesItsReplica(t *testing.T) {
	url, _ := testenv.NATS(t)
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	got := make(chan *nats.Msg, 1)
	sub, err := nc.Subscribe(triggerSubject+"*", func(m *nats.Msg) { got <- m })
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	publishTrigger(nc, "bench/1-aa", "platform")
	select {
	case m := <-got:
		if m.Subject != triggerSubject+"platform" {
			t.Errorf("subject %q", m.Subject)
		}
		if !ownTrigger(m, "bench/1-aa") {
			t.Error("the sender does not recognise its own trigger")
		}
		if ownTrigger(m, "bench/2-bb") {
			t.Error("another replica takes the trigger for its own")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no trigger received")
	}
	if ownTrigger(nats.NewMsg(triggerSubject+"platform"), "bench/1-aa") {
		t.Error("a trigger without a sender (an older replica's) is taken as this replica's own")
	}
}
