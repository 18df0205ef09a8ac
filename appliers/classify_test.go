package appliers

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"
)

type codedError string

func (e codedError) Error() string     { return "api error " + string(e) }
func (e codedError) ErrorCode() string { return string(e) }

func TestAWSClassifier(t *testing.T) {
	c := AWSClassifier{Transient: []string{"ServerException"}, Stalled: []string{"ClientException"}, After: 3 * time.Second}
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	for _, tc := range []struct {
		name               string
		err                error
		transient, stalled bool
	}{
		{"throttling", codedError("ThrottlingException"), true, false},
		{"service transient", codedError("ServerException"), true, false},
		{"stalled", codedError("ClientException"), false, true},
		{"other code", codedError("SomethingElse"), false, false},
		{"network", fmt.Errorf("describing: %w", refused), true, false},
		{"dns", &net.DNSError{Err: "no such host", Name: "x"}, true, false},
		{"cancelled", fmt.Errorf("x: %w", context.Canceled), false, false},
		{"plain", errors.New("connection refused"), false, false},
		{"already stalled", Stalled(codedError("ThrottlingException")), false, true},
	} {
		err := c.Classify(tc.err)
		tr, after := IsTransient(err)
		if tr != tc.transient || IsStalled(err) != tc.stalled {
			t.Errorf("%s: transient=%v stalled=%v, want %v %v", tc.name, tr, IsStalled(err), tc.transient, tc.stalled)
		}
		if tr && after != 3*time.Second {
			t.Errorf("%s: after = %v", tc.name, after)
		}
		if !errors.Is(err, tc.err) {
			t.Errorf("%s: cause lost", tc.name)
		}
	}
	if c.Classify(nil) != nil {
		t.Error("nil classified")
	}
}

func TestPlanArtifact(t *testing.T) {
	type art struct{ n int }
	if _, _, err := PlanArtifact[*art]("k", "a", nil); !IsStalled(err) || !errors.Is(err, ErrForeignPlan) {
		t.Errorf("nil plan: %v", err)
	}
	if _, _, err := PlanArtifact[*art]("k", "a", &Plan{Artifact: "other"}); !IsStalled(err) || !errors.Is(err, ErrForeignPlan) {
		t.Errorf("foreign artifact: %v", err)
	}
	if a, ok, err := PlanArtifact[*art]("k", "a", &Plan{}); a != nil || ok || err != nil {
		t.Errorf("lost artifact: %v %v %v", a, ok, err)
	}
	if a, ok, err := PlanArtifact[*art]("k", "a", &Plan{Artifact: &art{n: 1}}); a == nil || a.n != 1 || !ok || err != nil {
		t.Errorf("own artifact: %v %v %v", a, ok, err)
	}
	if err := StalePlan("k", "a", "differs"); !IsStalled(err) || !errors.Is(err, ErrStalePlan) || err.Error() != "k a: the plan is stale: differs" {
		t.Errorf("stale: %v", err)
	}
}
