package api

import (
	"time"

	"github.com/driftless/driftless/appliers"
	"github.com/driftless/driftless/state"
)

// xssError is an error text that would run a script if it were not escaped.
const xssError = `apply: <script>alert("pwned")</script> & exit status 1`

// demoController holds apps in every status, out of order, as a running
// daemon would have them some minutes after start-up; now anchors the times.
func demoController(now time.Time) *fakeController {
	at := func(d time.Duration) time.Time { return now.Add(-d) }
	const (
		revA = "3f9c2a7e1b4d5c6f7a8b9c0d1e2f3a4b5c6d7e8f"
		revB = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678"
		revC = "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a291807"
	)
	deployB := &state.DeployRecord{ID: "d-net-2", Revision: revB, Author: "carol", PR: 42, Reason: state.ReasonCommit,
		StartedAt: at(3 * time.Minute), FinishedAt: at(3*time.Minute - 47*time.Second), Outcome: "failed",
		Error:   xssError,
		Changes: []appliers.Change{{Address: "aws_vpc.main", Action: "update"}}}
	return &fakeController{
		ready: true,
		apps: []state.AppState{
			{Repo: "platform", App: "network", Kind: "stack", Status: state.StatusFailed,
				DesiredRevision: revB, AppliedRevision: revA, LastError: xssError, UpdatedAt: at(3 * time.Minute),
				Attempts: 2, FailedRevision: revB, RetryAt: now.Add(4 * time.Minute),
				LastPlan: &state.PlanRecord{Revision: revB, ID: "sha256:5e1f0c9a7d3b2e4f6a8c0b1d3e5f7a9c", Changed: true,
					Summary: "1 to add, 1 to change, 1 to destroy", At: at(4 * time.Minute),
					Changes: []appliers.Change{
						{Address: "aws_vpc.main", Action: "update"},
						{Address: `aws_subnet.private["eu-west-1a"]`, Action: "create"},
						{Address: "aws_nat_gateway.legacy", Action: "delete"},
					}},
				LastDeploy: deployB},
			{Repo: "platform", App: "dns", Kind: "stack", Status: state.StatusDrifted,
				DesiredRevision: revA, AppliedRevision: revA, UpdatedAt: at(40 * time.Second),
				LastPlan: &state.PlanRecord{Revision: revA, Changed: true, Summary: "1 to change (drift)", At: at(40 * time.Second),
					Changes: []appliers.Change{{Address: "aws_route53_record.www", Action: "update"}}},
				LastDeploy: &state.DeployRecord{Revision: revA, Author: "alice", PR: 40, Reason: state.ReasonCommit,
					StartedAt: at(26 * time.Hour), FinishedAt: at(26*time.Hour - 62*time.Second), Outcome: "succeeded"}},
			{Repo: "platform", App: "web", Kind: "ecs_service", Status: state.StatusPinned,
				DesiredRevision: revB, AppliedRevision: revA, PinnedRevision: revA, UpdatedAt: at(12 * time.Minute),
				LastDeploy: &state.DeployRecord{Revision: revA, Author: "api", Reason: "rollback",
					StartedAt: at(12 * time.Minute), FinishedAt: at(11 * time.Minute), Outcome: "succeeded"}},
			{Repo: "platform", App: "edge", Kind: "lambda_function", Status: state.StatusSuspended, Suspended: true,
				DesiredRevision: revA, AppliedRevision: revC, UpdatedAt: at(5 * 24 * time.Hour)},
			{Repo: "platform", App: "iam", Kind: "stack", Status: state.StatusOutOfSync,
				DesiredRevision: revB, AppliedRevision: revA, UpdatedAt: at(8 * time.Second)},
			{Repo: "payments", App: "worker", Kind: "ecs_service", Status: state.StatusProgressing,
				DesiredRevision: revC, AppliedRevision: revA, UpdatedAt: at(20 * time.Second),
				InFlight:   &state.DeployRecord{Revision: revC, Author: "dave", PR: 7, Reason: state.ReasonCommit, StartedAt: at(20 * time.Second)},
				LastDeploy: &state.DeployRecord{Revision: revC, Author: "dave", PR: 7, Reason: state.ReasonCommit, StartedAt: at(20 * time.Second)}},
			{Repo: "payments", App: "db", Kind: "stack", Status: state.StatusAwaitingApproval,
				DesiredRevision: revC, AppliedRevision: revA, UpdatedAt: at(2 * time.Minute),
				LastPlan: &state.PlanRecord{Revision: revC, Changed: true, Summary: "1 to change, 1 to replace", At: at(2 * time.Minute),
					Changes: []appliers.Change{{Address: "aws_db_instance.main", Action: "update"}, {Address: "aws_db_parameter_group.pg16", Action: "replace"}}}},
			{Repo: "payments", App: "api", Kind: "ecs_service", Status: state.StatusSynced,
				DesiredRevision: revC, AppliedRevision: revC, UpdatedAt: at(30 * time.Minute),
				LastDeploy: &state.DeployRecord{Revision: revC, Author: "bob", PR: 7, Reason: state.ReasonCommit,
					StartedAt: at(31 * time.Minute), FinishedAt: at(30 * time.Minute), Outcome: "succeeded"}},
		},
		history: map[string][]state.DeployRecord{
			"platform/network": {
				*deployB,
				{ID: "d-net-1", Revision: revA, Author: "alice", PR: 40, Reason: state.ReasonCommit,
					StartedAt: at(26 * time.Hour), FinishedAt: at(26*time.Hour - 95*time.Second), Outcome: "succeeded",
					Changes: []appliers.Change{{Address: "aws_vpc.main", Action: "create"}, {Address: "aws_subnet.a", Action: "create"}}},
				{ID: "d-net-0", Revision: revC, Author: "driftless", Reason: "automatic",
					StartedAt: at(50 * time.Hour), FinishedAt: at(50*time.Hour - 3*time.Second), Outcome: "interrupted"},
			},
		},
	}
}
