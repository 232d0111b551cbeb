# Versions for the example root module. Pin the provider further in your own
# root module (and commit .terraform.lock.hcl) once `terraform init` has run.
terraform {
  required_version = ">= 1.9.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 6.0.0, < 7.0.0"
    }
  }

  # Keep state remote and locked in real use, for example:
  # backend "s3" {
  #   bucket       = "my-terraform-state"
  #   key          = "policygate/prod.tfstate"
  #   region       = "eu-west-1"
  #   encrypt      = true
  #   use_lockfile = true
  # }
}
