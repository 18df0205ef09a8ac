# Controller config for `make demo`: everything local — a Git repo on disk,
# the embedded NATS server, and an AWS emulator (moto) on loopback. The
# demo script sets the DEMO_* variables.
state_dir = env("DEMO_STATE_DIR")
listen    = env("DEMO_LISTEN")
api_token = env("DRIFTLESS_API_TOKEN")

aws {
  region   = "us-east-1"
  endpoint = env("DEMO_AWS_ENDPOINT")
}

terraform {
  plugin_mirror = env("DRIFTLESS_TF_MIRROR")
  max_parallel  = 2
}

repo "platform" {
  url            = env("DEMO_REPO")
  branch         = "main"
  path           = "deploy"
  interval       = "2s"
  drift_interval = "30s"
}
