// Package lambda is the applier for lambda_function blocks: AWS Lambda
// functions deployed from a container image (image_uri), a repository
// directory zipped reproducibly (zip_dir, see ZipDir), or an S3 object
// (s3_bucket, s3_key, s3_object_version), and an alias (default "live")
// moved to each new version at once or in weighted traffic_steps.
//
// # Block
//
//	lambda_function "thumb" {
//	  function_name = "thumb"            # default: the block label
//	  role          = stack.iam.outputs.thumb_role_arn
//	  zip_dir       = "functions/thumb"  # or image_uri, or s3_bucket + s3_key
//	  runtime       = "nodejs20.x"       # zip and S3 code only
//	  handler       = "index.handler"    # zip and S3 code only
//	  memory_size   = 256                # default 128
//	  timeout       = 10                 # seconds, default 3
//	  environment   = { LOG_LEVEL = "info" }
//	  description   = "makes thumbnails"
//	  architectures = ["arm64"]          # default: not managed
//	  alias         = "live"             # default "live"
//	  traffic_steps = [10, 50, 100]      # default: the alias moves at once
//	  step_interval = "2m"               # default "1m"
//	  alarms        = ["thumb-errors"]   # checked between traffic_steps
//	}
//
// Memory, timeout, environment and description are fully managed: an
// attribute removed from the block returns to Lambda's default (128 MB,
// 3 s, no variables, no description).
//
// # Plan
//
// Plan reads the function ($LATEST), its alias and the version the alias
// points at. Code differs when the zip's SHA-256 differs from CodeSha256
// (zip_dir), the image URI differs (image_uri), or, for S3 code, when the
// function's driftless:code-source tag names another object or its
// driftless:code-sha256 tag no longer matches CodeSha256 (the code was
// changed outside driftless). Lambda cannot tell which S3 object code came
// from, hence the tags; uploading new content to the same key is not
// noticed — give each build its own key or object version. Configuration
// differs when runtime, handler, role, memory_size, timeout, environment
// (nil and empty alike) or description differ. The alias needs moving when
// it is missing, carries routing weights, or points at a version whose code
// or configuration does not match. Changes are addressed as
// lambda_function.APP, lambda_function.APP.code,
// lambda_function.APP.configuration and lambda_function.APP.alias.ALIAS.
// A function whose package type (Zip or Image) differs from the block's
// code source is a Stalled error: Lambda cannot convert it.
//
// # Apply
//
// Apply creates the function or updates code then configuration, waiting
// after each for State Active and LastUpdateStatus Successful (Failed is a
// Stalled error with Lambda's reason), publishes a version, and moves the
// alias. On a first deploy, without traffic_steps, or when the alias does
// not point at a published version, the alias moves at once. Otherwise, for
// each step below 100 the alias stays on the previous version with
// RoutingConfig weight step/100 on the new one, for step_interval, while
// alarms are read every Options.Poll; an alarm in ALARM (or alarms that
// cannot be read for a whole step, or the apply being cancelled) puts the
// alias back on the previous version with no weights, reported through
// Observer.RollbackStarted/RollbackDone, and Apply fails with an error
// wrapping ErrRolledBack (Stalled when an alarm fired). At 100 the alias
// points at the new version with no routing configuration.
//
// # Drift
//
// Drift (appliers.DriftDetector) runs the planner's comparison read-only
// against the last applied spec and names what moved: code,
// configuration.<attr> (runtime, handler, role, memory_size, timeout,
// description), configuration.environment.<VAR> (names, never values) and
// alias.<name>; a deleted function is Action "create". Unlike Plan it
// checks the alias's version even when $LATEST drifted.
//
// Throttling, conflicting updates and network errors are Transient errors;
// invalid parameters, missing resources, access denied, a plan another
// applier made (appliers.ErrForeignPlan) and an approved plan that a new
// plan no longer matches (appliers.ErrStalePlan) are Stalled.
package lambda
