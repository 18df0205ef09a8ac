// Package dropexec runs Terraform as another Unix user, and keeps the
// daemon's own environment and memory out of its children's reach.
//
// terraform-exec builds each Terraform command itself and sets its
// SysProcAttr (Setpgid, Pdeathsig), so a Credential cannot be passed
// through it. Instead, terraform-exec is given the driftless executable as
// its "terraform binary", with two variables in the environment it passes
// on (Env): EnvTerraform, the real Terraform binary, and EnvAs, "uid:gid".
// The first thing main does is call Main: when both variables are set, the
// process (still root, just started, holding no secrets) sets its
// supplementary groups to the gid, its gid and its uid (in that order; Go
// applies them to every thread), removes the two variables from its
// environment, restores the parent-death signal (a credential change
// clears it) and execs the real Terraform with the same arguments. The
// process id does not change, so terraform-exec's SIGINT on cancellation,
// its process group and its wait all reach Terraform itself.
//
// SetNonDumpable (prctl PR_SET_DUMPABLE 0) makes /proc/<pid>/environ,
// /proc/<pid>/mem and the like of the daemon owned by root and refuses
// ptrace-mode access to them from processes without CAP_SYS_PTRACE: a
// Terraform run by a non-root daemon under the daemon's own uid can no
// longer read the daemon's environment. Root processes normally hold
// CAP_SYS_PTRACE, so for a root daemon this alone protects nothing;
// running Terraform as another user (run_as) does.
//
// On systems other than Linux, SetNonDumpable does nothing and Main
// refuses to run Terraform as another user.
package dropexec
