// Package ecs is the applier for ecs_service blocks: it deploys an Amazon
// ECS service with ECS's own rolling deployments (deployment controller
// ECS, no task sets), through aws-sdk-go-v2.
//
// The block:
//
//	ecs_service "web" {
//	  cluster             = stack.network.outputs.cluster_name  # required
//	  service             = "web"          # default: the block label
//	  task_definition     = jsondecode(file("services/web/taskdef.json"))
//	                                      # or "family:revision" / an ARN
//	  images              = { web = "nginx:1.27" }  # per-container overrides
//	  desired_count       = 3              # unset: never touched (autoscaling owns it)
//	  wait_timeout        = "10m"          # default 10m
//	  alarms              = ["web-5xx"]    # CloudWatch alarms watched during the bake
//	  bake_time           = "2m"           # default 2m with alarms, 0s without
//	  rollback_on_failure = true           # default true
//	  launch_type         = "FARGATE"      # create only; default: FARGATE when the task
//	                                      # definition requires only FARGATE, else the
//	                                      # cluster's default capacity provider strategy
//	  network_configuration {              # create only (awsvpc)
//	    subnets          = ["subnet-1"]
//	    security_groups  = ["sg-1"]
//	    assign_public_ip = false
//	  }
//	}
//
// Plan describes the live service (PlanBatch: one DescribeServices call per
// ten services of a cluster) and its task definition, and compares it with
// the desired one in a canonical form normalised for what AWS fills in or
// reorders (see canonical), so an unchanged service plans no change.
// Registered revisions are immutable and cached by ARN.
//
// Apply registers a task definition only when no registered revision has
// the desired content, updates the service (or creates it when missing,
// after checking that the cluster exists), waits until the service is
// steady by the rule of AWS's services-stable waiter (one deployment,
// running = desired, rollout COMPLETED where reported; rollout FAILED from
// the circuit breaker is a failure) within wait_timeout, then bakes: any
// alarm in ALARM during bake_time is a failure. On failure, with
// rollback_on_failure, the service goes back to the previous task
// definition and desired count, reported through the request's Observer.
//
// Drift (appliers.DriftDetector) compares the live service with the last
// applied spec through the planner's own comparison, read-only, and names
// what moved as attribute paths: task_definition,
// task_definition.<field>, task_definition.containers.<name>[.image |
// .environment.<VAR> | .secrets.<NAME> | .<field>] and desired_count (only
// when desired_count is set); a deleted service is Action "create".
// Variable values never appear.
//
// Errors: throttling and network errors are appliers.Transient; invalid
// task definitions, missing clusters, failed deployments and a plan without
// an ECS artifact (appliers.ErrForeignPlan) are appliers.Stalled; failed
// deployments also wrap ErrRollout.
package ecs
