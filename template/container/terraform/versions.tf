# The Terraform and AWS provider versions this configuration is written for.

terraform {
  # 1.10: S3 backend locking with use_lockfile; 1.9: validations that read other variables.
  required_version = ">= 1.10.0, < 2.0.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0"
    }
  }
}
