package forge

import "context"

// DeploymentQuery finds a deployment again: the one of Ref to Environment
// whose payload holds Key = Value (e.g. deploy_id = the driftless deploy).
type DeploymentQuery struct {
	Ref         string
	Environment string
	Key, Value  string
}

// DeploymentFinder is implemented by forges that can look a deployment up
// again, so that a restarted (or another) replica adds statuses to the
// deployment it created instead of creating a second one.
type DeploymentFinder interface {
	// FindDeployment returns the id of the newest matching deployment, or
	// ErrNotFound.
	FindDeployment(ctx context.Context, repo Repo, q DeploymentQuery) (int64, error)
}
