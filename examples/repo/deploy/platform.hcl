# The desired state of the demo platform: two Terraform stacks, an ECS
# service and a Lambda function. Paths are relative to the repository root.

stack "network" {
  path = "infra/network"
  vars = { env = "demo" }
  backend_config = {
    bucket         = "driftless-demo-state"
    key            = "network/terraform.tfstate"
    dynamodb_table = "driftless-demo-locks"
  }
}

stack "app" {
  path       = "infra/app"
  depends_on = [stack.network]
  var_files  = ["infra/app/demo.tfvars"]
  vars = {
    # Outputs of one stack flow into another (and make it depend on it).
    network_id = stack.network.outputs.network_id
  }
  backend_config = {
    bucket         = "driftless-demo-state"
    key            = "app/terraform.tfstate"
    dynamodb_table = "driftless-demo-locks"
  }
}

ecs_service "web" {
  cluster         = stack.network.outputs.cluster_name
  task_definition = jsondecode(file("services/web/taskdef.json"))
  desired_count   = 1
  wait_timeout    = "2m"
}

lambda_function "hello" {
  role          = stack.network.outputs.lambda_role_arn
  zip_dir       = "functions/hello"
  runtime       = "nodejs20.x"
  handler       = "index.handler"
  memory_size   = 128
  environment   = { GREETING = "hello" }
  alias         = "live"
}
