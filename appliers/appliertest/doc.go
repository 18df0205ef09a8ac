// Package appliertest is the conformance suite every applier's tests run:
//
//	func TestConformance(t *testing.T) {
//		appliertest.Run(t, appliertest.Harness{
//			New:   func(t *testing.T) appliers.Applier { return New(nil, nil, Options{}, nil) },
//			Kind:  "ecs_service",
//			Block: `ecs_service "web" { ... }`,
//			Files: map[string]string{"services/web/taskdef.json": "..."},
//		})
//	}
//
// Run checks the promises of the appliers.Applier contract that hold for
// every applier:
//
//   - Kind is the block type the harness's sample block uses, and a valid
//     HCL identifier.
//   - Decode does not touch the network. The applier comes from
//     Harness.New, which builds it as `driftless validate` does (no AWS
//     clients, no Terraform binary), so a call out would fail or panic; on
//     top of that Decode runs with http.DefaultTransport refusing every
//     dial and AWS_ENDPOINT_URL, HTTP_PROXY and HTTPS_PROXY pointing at a
//     closed port, and any dial attempted through the default transport
//     fails the test. It cannot see a client that dials with its own
//     transport and swallows the error: a harness wanting that proof
//     passes clients that count their calls (Harness.Calls).
//   - The Spec marshals to the same JSON on every decode of the same block
//     (repeated decodes give map-ordering bugs a chance to show).
//   - Inputs are clean, repo-relative, slash-separated paths that exist in
//     the repository.
//   - Invalid blocks give error diagnostics whose subject is a range in
//     the manifest file (file:line:col).
//   - Apply given no plan, or a plan whose artifact another applier made,
//     fails with a Stalled error wrapping appliers.ErrForeignPlan, without
//     touching the network.
//
// A lost artifact (an approval after a restart) makes Terraform and Lambda
// plan again, which needs their live clients; their own integration tests
// cover it.
package appliertest
