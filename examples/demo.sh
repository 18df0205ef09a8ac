#!/usr/bin/env bash
# make demo: a real reconcile on the embedded default.
#
# Starts the moto AWS emulator on loopback, creates the Terraform state
# bucket and lock table, builds a local Git repo from examples/repo, runs
# driftless (embedded NATS) against it, waits for the first deploy, merges a
# change and shows it applied, prints the events, and stops all it started.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bin=${DRIFTLESS_BIN:-$root/bin/driftless}
demo=$root/.demo
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
die() { echo "demo: $*" >&2; exit 1; }

command -v terraform >/dev/null || die "terraform is not on PATH"
command -v moto_server >/dev/null || die "moto_server is not on PATH (pip install 'moto[server]')"
command -v git >/dev/null || die "git is not on PATH"
[ -x "$bin" ] || die "$bin not built (run make build)"
if [ -z "${DRIFTLESS_TF_MIRROR:-}" ]; then
  m=$(find / -maxdepth 4 -type d -name registry.terraform.io 2>/dev/null | head -n1 || true)
  [ -n "$m" ] || die "no Terraform provider mirror found; set DRIFTLESS_TF_MIRROR"
  export DRIFTLESS_TF_MIRROR=$(dirname "$m")
fi

rm -rf "$demo" && mkdir -p "$demo"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
moto_port=$(free_port); api_port=$(free_port)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

say "starting moto (AWS emulator) on 127.0.0.1:$moto_port"
MOTO_ECS_SERVICE_RUNNING=1 moto_server -H 127.0.0.1 -p "$moto_port" >"$demo/moto.log" 2>&1 &
pids+=($!)
export AWS_ENDPOINT_URL=http://127.0.0.1:$moto_port AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
  AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
up() { python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' "$AWS_ENDPOINT_URL/moto-api/" >/dev/null 2>&1; }
for _ in $(seq 100); do up && break; sleep 0.1; done
up || die "moto did not start (see $demo/moto.log)"

aws_py() { python3 - "$@"; }
say "creating the Terraform state bucket and lock table"
aws_py <<'PY'
import boto3, os
e = os.environ["AWS_ENDPOINT_URL"]
boto3.client("s3", endpoint_url=e).create_bucket(Bucket="driftless-demo-state")
boto3.client("dynamodb", endpoint_url=e).create_table(TableName="driftless-demo-locks",
    AttributeDefinitions=[{"AttributeName": "LockID", "AttributeType": "S"}],
    KeySchema=[{"AttributeName": "LockID", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST")
print("bucket driftless-demo-state, table driftless-demo-locks")
PY

say "building the platform Git repo from examples/repo"
export GIT_CONFIG_GLOBAL=/dev/null GIT_AUTHOR_NAME="Ada Lovelace" GIT_AUTHOR_EMAIL=ada@example.com \
  GIT_COMMITTER_NAME="Ada Lovelace" GIT_COMMITTER_EMAIL=ada@example.com
cp -r examples/repo "$demo/repo"
git -C "$demo/repo" init -q -b main
git -C "$demo/repo" add -A
git -C "$demo/repo" commit -q -m "Initial platform (#1)"
git -C "$demo/repo" log --oneline

export DEMO_STATE_DIR=$demo/state DEMO_LISTEN=127.0.0.1:$api_port DEMO_AWS_ENDPOINT=$AWS_ENDPOINT_URL \
  DEMO_REPO=$demo/repo DRIFTLESS_API_TOKEN=demo-token-$RANDOM$RANDOM DRIFTLESS_SERVER=http://127.0.0.1:$api_port
say "starting driftless (embedded NATS), API on $DRIFTLESS_SERVER; logs in .demo/driftless.log"
"$bin" run -c examples/driftless.hcl >"$demo/driftless.log" 2>&1 &
dpid=$!
pids+=($dpid)

# wait_for REV APPS... — until every app is synced at REV (exits if one fails).
cat >"$demo/check.py" <<'PY'
import json, sys
rev, apps = sys.argv[1], sys.argv[2:]
state = {a["app"]: a for a in json.load(sys.stdin)}
for name in apps:
    a = state.get(name)
    if a and a["status"] == "failed" and a.get("desired_revision") == rev:
        print("demo: %s failed: %s" % (name, a["last_error"]), file=sys.stderr)
        sys.exit(3)
ok = all(state.get(n, {}).get("applied_revision") == rev and state[n]["status"] in ("synced", "drifted") for n in apps)
sys.exit(0 if ok else 1)
PY
wait_for() {
  local rev=$1; shift
  local deadline=$((SECONDS + 600))
  while :; do
    kill -0 "$dpid" 2>/dev/null || { tail -n 30 "$demo/driftless.log"; die "driftless exited"; }
    local out; out=$("$bin" apps -o json 2>/dev/null || echo '[]')
    set +e; python3 "$demo/check.py" "$rev" "$@" <<<"$out"; local rc=$?; set -e
    [ $rc -eq 0 ] && return 0
    [ $rc -eq 1 ] || { "$bin" apps || true; exit 1; }
    [ $SECONDS -lt $deadline ] || { "$bin" apps || true; die "timed out waiting for $rev"; }
    sleep 2
  done
}

v1=$(git -C "$demo/repo" rev-parse HEAD)
say "waiting for the first deploy of ${v1:0:7} (Terraform with the AWS provider takes ~10 s a command here)"
start=$SECONDS
wait_for "$v1" network app web hello
echo "deployed in $((SECONDS - start)) s"
"$bin" apps

say "merging a change: new greeting (app stack) and a new web image"
git -C "$demo/repo" checkout -q -b greeting-v2
sed -i 's/hello from v1/hello from v2/' "$demo/repo/infra/app/demo.tfvars"
sed -i 's/nginx:1.27/nginx:1.28/' "$demo/repo/services/web/taskdef.json"
git -C "$demo/repo" commit -q -am "Say hello from v2"
git -C "$demo/repo" checkout -q main
git -C "$demo/repo" merge -q --no-ff greeting-v2 -m "Merge pull request #2 from acme/greeting-v2"
v2=$(git -C "$demo/repo" rev-parse HEAD)
git -C "$demo/repo" log --oneline -3
start=$SECONDS
wait_for "$v2" network app web hello
echo "applied in $((SECONDS - start)) s"
"$bin" apps

say "live state in AWS (moto)"
aws_py <<'PY'
import boto3, os
e = os.environ["AWS_ENDPOINT_URL"]
print("ssm /demo/app/greeting =", boto3.client("ssm", endpoint_url=e).get_parameter(Name="/demo/app/greeting")["Parameter"]["Value"])
ecs = boto3.client("ecs", endpoint_url=e)
svc = ecs.describe_services(cluster="demo-cluster", services=["web"])["services"][0]
td = ecs.describe_task_definition(taskDefinition=svc["taskDefinition"])["taskDefinition"]
print("ecs web runs", td["family"] + ":" + str(td["revision"]), "image", td["containerDefinitions"][0]["image"])
lam = boto3.client("lambda", endpoint_url=e)
print("lambda hello alias live → version", lam.get_alias(FunctionName="hello", Name="live")["FunctionVersion"])
PY

say "history of platform/app"
"$bin" history platform/app

say "events (NATS stream DRIFTLESS_EVENTS)"
"$bin" events

say "done; stopping driftless and moto"
