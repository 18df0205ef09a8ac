#!/usr/bin/env bash
# make bench: runs the benchmarks the issues ask for and prints them as one
# table (benchmark, metric, value, goal, met). The raw `go test -bench`
# output is kept in bench.out. Sized for ≈5–8 minutes on a 2-core machine;
# real components throughout (Git, Terraform, moto, embedded NATS), so the
# figures move with the machine's load.
#
#   sources    BenchmarkPollUnchanged vs BenchmarkGitFetchUnchanged   (issue 2)
#   reconciler BenchmarkHundredStacks                                 (issue 2)
#   ecs        BenchmarkPlan50Services                                (issue 3)
#   driftless  BenchmarkWebhookToDeployStarted                        (issue 5)
#   driftless  BenchmarkWebhookDuringDriftScans, BenchmarkFailoverKill9 (issue 10)
#   terraform  BenchmarkStackDeploy vs BenchmarkTerraformByHand
#   preview    BenchmarkPreviewOneOfHundred vs BenchmarkBareTerraformPlan
#   reconciler BenchmarkStacksAtScale (10 vs 1,000 stacks side by side)
#   terraform  BenchmarkInitialSyncHundred vs BenchmarkInitialSyncByHand
set -uo pipefail
cd "$(dirname "$0")/.."
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1 CGO_ENABLED=0

GO=${GO:-go}
OUT=${BENCH_OUT:-bench.out}
: >"$OUT"
failed=()

# run PKG REGEX BENCHTIME: one `go test -bench` run, appended to $OUT; its
# result lines are echoed as they come.
run() {
	local pkg=$1 re=$2 bt=$3 start=$SECONDS
	echo "== $pkg -bench '$re' -benchtime $bt" | tee -a "$OUT"
	"$GO" test -p 2 -count=1 -run '^$' -bench "$re" -benchtime "$bt" -timeout 20m "$pkg" 2>&1 |
		tee -a "$OUT" | { grep -E '^(Benchmark|--- FAIL|FAIL|panic)' || true; }
	if [[ ${PIPESTATUS[0]} -ne 0 ]]; then
		failed+=("$pkg $re")
		echo "   FAILED (see $OUT)"
	fi
	echo "   $((SECONDS - start)) s"
}

run ./sources/ '^Benchmark(PollUnchanged|GitFetchUnchanged)$' 20x
run ./reconciler/ '^BenchmarkHundredStacks$' 10x
run ./appliers/ecs/ '^BenchmarkPlan50Services$' 5x
run ./cmd/driftless/ '^Benchmark(WebhookToDeployStarted|WebhookDuringDriftScans)$' 1x
run ./cmd/driftless/ '^BenchmarkFailoverKill9$' 1x
run ./appliers/terraform/ '^Benchmark(StackDeploy|TerraformByHand)$' 5x
run ./preview/ '^Benchmark(PreviewOneOfHundred|BareTerraformPlan)$' 10x
run ./reconciler/ '^BenchmarkStacksAtScale$' 20x
run ./appliers/terraform/ '^BenchmarkInitialSync(Hundred|ByHand)$' 2x

echo
awk '
# Result lines: "BenchmarkName-PROCS  N  v1 unit1  v2 unit2 ...".
/^Benchmark[^ \t]*[ \t]+[0-9]+[ \t]/ {
	name = $1; sub(/^Benchmark/, "", name); sub(/-[0-9]+$/, "", name)
	for (i = 3; i < NF; i += 2) {
		unit = $(i + 1)
		if (unit == "ns/op") { unit = "ms/op"; $i = $i / 1e6 }
		v[name, unit] = $i
	}
}
function has(b, m) { return ((b, m) in v) }
function fmtv(x) { return (x == int(x) && x < 1e9) ? sprintf("%d", x) : (x >= 100 ? sprintf("%.0f", x) : (x >= 10 ? sprintf("%.1f", x) : sprintf("%.2f", x))) }
# row BENCH METRIC GOALTEXT OP LIMIT: OP is "<=", "<", "==" or "" (no goal).
function row(b, m, goal, op, lim,   val, met) {
	if (!has(b, m)) { printf "%-34s %-24s %12s   %-28s %s\n", b, m, "n/a", goal, (op == "" ? "-" : "no"); missing++; return }
	val = v[b, m]; met = "-"
	if (op == "<=") met = (val <= lim) ? "yes" : "no"
	if (op == "<")  met = (val <  lim) ? "yes" : "no"
	if (op == "==") met = (val == lim) ? "yes" : "no"
	if (met == "no") unmet++
	printf "%-34s %-24s %12s   %-28s %s\n", b, m, fmtv(val), goal, met
}
function derived(b, m, val, goal, op, lim) { v[b, m] = val; row(b, m, goal, op, lim) }
END {
	printf "%-34s %-24s %12s   %-28s %s\n", "BENCHMARK", "METRIC", "VALUE", "GOAL", "MET"
	printf "%-34s %-24s %12s   %-28s %s\n", "---------", "------", "-----", "----", "---"
	# Issue 2: one poll of an unchanged repo, against git fetch.
	fetchCPU = has("GitFetchUnchanged", "cpu-ms/op") ? v["GitFetchUnchanged", "cpu-ms/op"] : 0
	row("PollUnchanged", "round-trips/op", "<= 1 (one ref listing)", "<=", 1)
	row("PollUnchanged", "cpu-ms/op", sprintf("< git fetch (%s)", fmtv(fetchCPU)), "<", fetchCPU)
	row("PollUnchanged", "server-cpu-ms/op", "", "", 0)
	row("GitFetchUnchanged", "round-trips/op", "baseline", "", 0)
	row("GitFetchUnchanged", "cpu-ms/op", "baseline", "", 0)
	row("GitFetchUnchanged", "server-cpu-ms/op", "baseline", "", 0)
	# Issue 2: 100 stacks, one commit changing one.
	row("HundredStacks", "stacks-planned/op", "== 1", "==", 1)
	row("HundredStacks", "ratio-to-by-hand", "<= 1.2", "<=", 1.2)
	row("HundredStacks", "sync-ms/op", "poll to deploy.succeeded", "", 0)
	row("HundredStacks", "by-hand-ms/op", "plan -out, show, apply", "", 0)
	row("HundredStacks", "applier-ms/op", "of sync: Terraform applier", "", 0)
	row("HundredStacks", "controller-ms/op", "of sync: all else", "", 0)
	row("HundredStacks", "poll-ms/op", "of controller: Git poll", "", 0)
	row("HundredStacks", "rss-MB", "controller RSS, 100 stacks", "", 0)
	# Issue 3: a plan pass over 50 ECS services.
	row("Plan50Services/cold", "DescribeServices/pass", "<= 5", "<=", 5)
	row("Plan50Services/cold", "ms/op", "wall time per pass", "", 0)
	row("Plan50Services/warm", "DescribeServices/pass", "<= 5", "<=", 5)
	row("Plan50Services/warm", "ms/op", "wall time per pass", "", 0)
	# Issue 5: webhook push to deploy.started.
	row("WebhookToDeployStarted", "p50-ms", "<= 150", "<=", 150)
	row("WebhookToDeployStarted", "p99-ms", "", "", 0)
	row("WebhookToDeployStarted", "max-ms", "", "", 0)
	row("WebhookToDeployStarted", "controller-p50-ms", "of p50: all but the plan", "", 0)
	row("WebhookToDeployStarted", "plan-p50-ms", "of p50: terraform plan+show", "", 0)
	row("WebhookToDeployStarted", "fetch-by-hand-p50-ms", "baseline: git fetch", "", 0)
	# Issue 10: a push while drift scans of 100 stacks run back to back.
	row("WebhookDuringDriftScans", "p50-ms", "< 1000", "<", 1000)
	row("WebhookDuringDriftScans", "p99-ms", "", "", 0)
	# Issue 10: kill -9 of the applying replica (lease TTL 4 s).
	row("FailoverKill9", "to-started-s", "<= lease TTL + 5 s (9)", "<=", 9)
	row("FailoverKill9", "to-succeeded-s", "incl. the 6 s apply again", "", 0)
	# The Terraform applier alone against the same work by hand.
	row("StackDeploy", "ms/op", "", "", 0)
	row("TerraformByHand", "ms/op", "baseline", "", 0)
	if (has("StackDeploy", "ms/op") && has("TerraformByHand", "ms/op") && v["TerraformByHand", "ms/op"] > 0)
		derived("StackDeploy", "ratio-to-by-hand", v["StackDeploy", "ms/op"] / v["TerraformByHand", "ms/op"], "<= 1.05", "<=", 1.05)
	else
		row("StackDeploy", "ratio-to-by-hand", "<= 1.05", "<=", 1.05)
	# A pull request touching 1 of 100 stacks: push to comment, against the same plan by hand.
	row("PreviewOneOfHundred", "ratio-to-bare", "<= 1.2 (bare: init, plan, show)", "<=", 1.2)
	row("PreviewOneOfHundred", "ms/op", "", "", 0)
	row("BareTerraformPlan", "ms/op", "baseline", "", 0)
	# One repo of 10 stacks against one of 1,000 (perfctl).
	s10 = "StacksAtScale/stacks=10"; s1k = "StacksAtScale/stacks=1000"
	row(s10, "idle-poll-ms/op", "", "", 0)
	row(s1k, "idle-poll-ms/op", sprintf("~ 10 stacks (%s)", has(s10, "idle-poll-ms/op") ? fmtv(v[s10, "idle-poll-ms/op"]) : "n/a"), "<=", has(s10, "idle-poll-ms/op") ? 2 * v[s10, "idle-poll-ms/op"] + 1 : 0)
	row(s10, "idle-kv-ops/op", "== 0", "==", 0)
	row(s1k, "idle-kv-ops/op", "== 0", "==", 0)
	row(s10, "kv-writes/op", "", "", 0)
	row(s1k, "kv-writes/op", sprintf("== 10 stacks (%s)", has(s10, "kv-writes/op") ? fmtv(v[s10, "kv-writes/op"]) : "n/a"), "==", has(s10, "kv-writes/op") ? v[s10, "kv-writes/op"] : -1)
	row(s1k, "stacks-planned/op", "== 1", "==", 1)
	row(s10, "ratio-to-by-hand", "<= 1.1", "<=", 1.1)
	row(s1k, "ratio-to-by-hand", "<= 1.1", "<=", 1.1)
	row(s10, "ratio-seen-to-by-hand", "<= 1.1 (from the commit fetched)", "<=", 1.1)
	row(s1k, "ratio-seen-to-by-hand", "<= 1.1 (from the commit fetched)", "<=", 1.1)
	row(s10, "ratio-to-shell-loop", "<= 1.0 (git pull + Terraform)", "<=", 1.0)
	row(s1k, "ratio-to-shell-loop", "<= 1.0 (git pull + Terraform)", "<=", 1.0)
	row(s10, "controller-ms/op", "of sync: all but Terraform", "", 0)
	row(s1k, "controller-ms/op", "of sync: all but Terraform", "", 0)
	row(s1k, "by-hand-ms/op", "plan -out, show, apply", "", 0)
	row(s1k, "git-pull-ms/op", "the shell loop: git pull", "", 0)
	row(s10, "fetch-ms/op", "of controller: Pull", "", 0)
	row(s1k, "fetch-ms/op", "of controller: Pull", "", 0)
	row(s1k, "rss-MB", "< 150", "<", 150)
	# First sync of 100 stacks through the applier (4 at once) against a
	# sequential init + apply -auto-approve loop.
	row("InitialSyncHundred", "ms/op", "100 stacks, max_parallel 4", "", 0)
	row("InitialSyncHundred", "tf-runs/stack", "Terraform processes", "", 0)
	row("InitialSyncHundred", "inits/stack", "", "", 0)
	row("InitialSyncByHand", "ms/op", "baseline: init + apply loop", "", 0)
	if (has("InitialSyncHundred", "ms/op") && has("InitialSyncByHand", "ms/op") && v["InitialSyncByHand", "ms/op"] > 0)
		derived("InitialSyncHundred", "ratio-to-by-hand", v["InitialSyncHundred", "ms/op"] / v["InitialSyncByHand", "ms/op"], "<= 1.0", "<=", 1.0)
	else
		row("InitialSyncHundred", "ratio-to-by-hand", "<= 1.0", "<=", 1.0)
	printf "\n%d goal(s) not met, %d figure(s) missing\n", unmet, missing
}' "$OUT"

echo "raw output: $OUT"
if ((${#failed[@]})); then
	printf 'failed: %s\n' "${failed[@]}"
	exit 1
fi
