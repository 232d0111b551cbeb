# Example: PolicyGate as an internal PDP on ECS/Fargate in an existing VPC.
# Copy terraform.tfvars.example to terraform.tfvars, fill it in, then follow
# docs/deploy.md (push the image first: the service needs image_tag to exist).

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      project = "policygate"
    }
  }
}

module "policygate" {
  source = "../../modules/policygate"

  name        = var.name
  environment = var.environment

  vpc_id                             = var.vpc_id
  task_subnet_ids                    = var.private_subnet_ids
  alb_subnet_ids                     = var.private_subnet_ids
  internal                           = true
  allowed_ingress_security_group_ids = var.caller_security_group_ids
  allowed_ingress_cidr_blocks        = var.caller_cidr_blocks
  certificate_arn                    = var.certificate_arn

  image_tag = var.image_tag

  task_cpu     = var.task_cpu
  task_memory  = var.task_memory
  min_capacity = var.min_capacity
  max_capacity = var.max_capacity

  audit_log_retention_days       = var.audit_log_retention_days
  operational_log_retention_days = var.operational_log_retention_days

  enable_deletion_protection = var.enable_deletion_protection
  alarm_actions              = var.alarm_actions

  auth_tokens_secret_arn = var.auth_tokens_secret_arn

  tags = var.tags
}
