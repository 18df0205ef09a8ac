# The "network" stack: an ECS cluster, a role for Lambda, and a parameter
# recording the network id. Endpoints come from AWS_ENDPOINT_URL, which
# driftless sets from aws.endpoint (the demo points it at moto).
terraform {
  backend "s3" {
    region                      = "us-east-1"
    use_path_style              = true
    skip_credentials_validation = true
    skip_requesting_account_id  = true
    skip_metadata_api_check     = true
    skip_region_validation      = true
  }
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.0"
    }
  }
}

provider "aws" {
  region                      = "us-east-1"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  s3_use_path_style           = true
}

variable "env" {
  type = string
}

locals {
  network_id = "net-${var.env}-1"
}

resource "aws_ssm_parameter" "network_id" {
  name  = "/${var.env}/network/id"
  type  = "String"
  value = local.network_id
}

resource "aws_ecs_cluster" "main" {
  name = "${var.env}-cluster"
}

resource "aws_iam_role" "lambda" {
  name = "${var.env}-lambda"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}

output "network_id" {
  value = local.network_id
}

output "cluster_name" {
  value = aws_ecs_cluster.main.name
}

output "lambda_role_arn" {
  value = aws_iam_role.lambda.arn
}
