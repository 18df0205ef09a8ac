// Package testenv starts the real components that driftless's integration
// tests drive: the moto AWS emulator, Terraform with the AWS provider from a
// local mirror, Git repositories served over smart HTTP, and an embedded
// nats-server. One of each is shared per test binary where possible.
//
// When a component is missing the test is skipped with the reason printed,
// except under CI (CI=true), where a missing component fails the test: CI
// must not skip the integration suites.
package testenv
