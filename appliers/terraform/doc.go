// Package terraform is the applier for `stack` blocks: a
// Terraform root module in the watched repository, planned and applied with
// hashicorp/terraform-exec.
//
// # Work directories
//
// Every stack gets its own work directory, WorkDir/<repo>/<app>/. The files
// the stack needs (its directory, the local modules it calls, its var files)
// are materialised from the revision's tree under src/, mirroring the repo
// layout so that `source = "../modules/x"` resolves. Only files whose content
// changed are written, and files that disappeared from the repository are
// deleted; files Terraform creates there (.terraform/, .terraform.lock.hcl,
// local state) are kept, so init results survive across revisions.
// Directories driftless creates are 0700 and the files it writes 0600
// (0700 for executables; the CLI config 0644 under run_as, it holds no
// secret). driftless's writes, chmods, chowns and removals in a work dir
// are resolved inside it (os.Root): a symbolic link Terraform code leaves
// there cannot redirect them.
//
// # Running Terraform as another user
//
// With Config.RunAs (terraform.run_as; the daemon runs as root), every
// Terraform process runs as that user and its primary group. terraform-exec
// sets the SysProcAttr of the commands it builds, so no Credential can be
// passed through it: it runs Config.Self (the driftless executable) with
// the variables of dropexec.Env added, and driftless's main, through
// dropexec.Main, drops to the user and execs the real terraform in the same
// process. HOME is the user's home. WorkDir and WorkDir/<repo> are 0711
// (passable, not listable) and every directory above WorkDir and the
// plugin cache must let the user through (New checks). The plugin cache
// belongs to the user. A stack's work dir belongs to the user only while
// one of its operations holds the stack's lock, and to root (0700)
// otherwise: Terraform code of another stack, running as the same user,
// cannot read its state, plan or var files. Stacks running at the same
// time share the user.
//
// # Init only when needed
//
// `terraform init` runs only when the init fingerprint changed (the text of
// the top-level terraform, provider and module blocks of the stack's and its
// local modules' .tf files, the repository's .terraform.lock.hcl,
// backend_config, the CLI config, the binary and its version) or .terraform
// is missing, with -reconfigure when the backend part changed. A stack that
// uses only the built-in provider (terraform_data, terraform_remote_state),
// no module, no lock file and the default local backend needs no init at
// all (initNotNeeded): init would install and write nothing. A plan that
// still fails because Terraform wants an init gets one init and one retry.
//
// # Environment and CLI config
//
// Terraform runs with an environment built from an allow-list (BuildEnv):
// PATH, HOME, TF_* and AWS_* from the controller's environment, what
// terraform.env adds, AWS_REGION/AWS_DEFAULT_REGION and AWS_ENDPOINT_URL from
// the aws block, and TF_CLI_CONFIG_FILE pointing at the CLI config driftless
// writes into WorkDir (provider mirror, plugin cache). terraform-exec adds
// TF_IN_AUTOMATION=1 and empties TF_LOG*. Variables that terraform-exec
// manages itself (TF_LOG, TF_VAR_*, TF_CLI_ARGS*, TF_WORKSPACE, TF_INPUT, …)
// cannot be passed and are dropped with a warning.
//
// # Plans
//
// Plan runs `plan -out` and reads the saved plan with `show -json`. The
// plan's ID is a SHA-256 over, in order: a version tag, the revision, the
// spec's JSON, each var file's path and content, the dependency lock file
// used, and every planned resource and output change (address, actions,
// before, after, unknown and sensitive markers), sorted by address. The same
// revision, spec, files and live state give the same ID; an approval bound
// to an ID approves exactly those changes. Apply carries out the saved plan
// file; when the file is gone (a restart) it plans again and applies only if
// the new plan has the same ID, else it fails with ErrStalePlan (Stalled).
//
// # Drift
//
// Drift (appliers.DriftDetector) tells whether re-applying the stack at the
// last applied revision would change anything. It syncs the work dir and
// inits exactly as Plan does (under the same per-stack mutex, so a check
// never overlaps a Plan or Apply of the stack: it is skipped while one runs
// or waits, and gives way to one that arrives), runs a normal `plan -out
// -lock=false` (a plan writes no state; a check never waits for nor blocks
// a state lock) to a drift-*.tfplan file that is deleted before it returns, and, only
// when the plan has changes, reads it with `show -json`: a clean stack costs
// one Terraform command, a drifted one two. Every resource the plan would
// change is one item: its address, the action (update, replace, create for
// a resource deleted outside, delete) and, for updates and replacements,
// the attribute paths the plan would change — top-level names, dotted for
// map keys and nested objects ("tags.Owner", "input.size"), single nested
// blocks looked through ("environment.variables.LOG_LEVEL"), longer lists
// and sets as one path, sensitive attributes as one path whose keys are not
// listed. Values never appear. Attributes that are only unknown after the
// change (computed, such as an SSM parameter's version) are not listed, and
// null equals an empty map or list. Ignore patterns match
// "ADDRESS.ATTRIBUTE" paths (appliers.IgnoredPath): "aws_ssm_parameter.p.value",
// "value" in every resource, "aws_ssm_parameter.p" the whole resource.
//
// Neither a refresh-only plan nor its resource_drift is used. They compare
// live objects with the last state written, not with the desired state: a
// value changed and put back outside still shows there (its computed
// version moved), the AWS provider shows tags null → {} right after a
// create, `plan -refresh-only -detailed-exitcode` exits 2 when nothing
// changed (hashicorp/terraform#36403), and a change someone took into the
// state with `apply -refresh-only` disappears from it although it is still
// drift. A normal plan has none of these problems, so Apply runs no
// `apply -refresh-only` after applying either (it would cost one more
// Terraform command, ≈10 s or more with the AWS provider, for nothing that
// Drift reads).
//
// # Errors
//
// Failures are classified for the reconciler: a held state lock (an
// appliers.LockHeldError with the holder's lock info; ForceUnlock clears an
// orphaned one), a plan Terraform finds stale at apply time, a provider
// installation or network error is appliers.Transient; an invalid
// configuration, missing variables, a provider error, a plan another
// applier made (appliers.ErrForeignPlan) or an approved plan that a new
// plan no longer matches is appliers.Stalled. Messages carry
// the first lines of Terraform's diagnostics, with every secret the
// controller knows redacted. Sensitive values never appear in summaries
// or changes.
//
// # Plugin cache
//
// `terraform init`s that may install into the shared plugin cache run one
// at a time (a readers–writer semaphore per cache dir and an flock on a
// file in it, for several processes on a host): Terraform's cache is not
// safe for concurrent installs. An init whose lock file an earlier init of
// the process left behind only links cached providers: it takes the lock
// shared and runs beside the others (see initlock.go).
//
// # Cancellation
//
// Terraform gets SIGINT when the context is cancelled and up to a
// WaitDelay before it is killed, so it can stop its operations and release
// its state lock; Config.WaitDelay sets that delay (default 60 s, as
// terraform-exec's). init, plan, show and apply run through Applier.exec
// (run.go) the way terraform-exec runs them, without its `terraform
// version` check per directory: the applier checks the version once.
// terraform-exec runs the rarer commands (output, workspace).
package terraform
