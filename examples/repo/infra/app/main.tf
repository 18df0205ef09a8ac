# The "app" stack: the application's settings, as SSM parameters.
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

variable "network_id" {
  type = string
}

variable "greeting" {
  type = string
}

resource "aws_ssm_parameter" "greeting" {
  name  = "/demo/app/greeting"
  type  = "String"
  value = var.greeting
}

resource "aws_ssm_parameter" "network" {
  name  = "/demo/app/network"
  type  = "String"
  value = var.network_id
}

output "greeting" {
  value = var.greeting
}
