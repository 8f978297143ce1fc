# The Terraform and AWS provider versions this configuration is written for.

terraform {
  # 1.10: S3 backend locking with use_lockfile; 1.9: validations that read other variables.
  required_version = ">= 1.10.0, < 2.0.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # Validated with 5.100 (the template's offline tests) and with the newest 6.x
      # (this project's CI, `terraform init` online); 7.0 may change what this uses.
      version = ">= 5.100, < 7.0"
    }
  }
}
