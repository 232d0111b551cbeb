# Inputs of the example; the module validates them further.

variable "region" {
  description = "AWS region to deploy into."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as eu-west-1."
  }
}

variable "name" {
  description = "Base name for all resources."
  type        = string
  default     = "policygate"
}

variable "environment" {
  description = "Environment name recorded in audit events."
  type        = string
}

variable "vpc_id" {
  description = "Existing VPC."
  type        = string
}

variable "private_subnet_ids" {
  description = "Private subnets (two or more Availability Zones) for the internal ALB and the tasks."
  type        = list(string)
}

variable "caller_security_group_ids" {
  description = "Security groups of the services that call PolicyGate."
  type        = list(string)
  default     = []
}

variable "caller_cidr_blocks" {
  description = "CIDR blocks of the services that call PolicyGate (when security groups cannot be referenced)."
  type        = list(string)
  default     = []
}

variable "certificate_arn" {
  description = "ACM certificate for HTTPS on the internal ALB; null for plain HTTP inside the VPC."
  type        = string
  default     = null
}

variable "image_tag" {
  description = "Immutable tag of the PolicyGate image pushed to the module's ECR repository."
  type        = string
}

variable "task_cpu" {
  description = "Fargate task CPU units."
  type        = number
  default     = 512
}

variable "task_memory" {
  description = "Fargate task memory (MiB)."
  type        = number
  default     = 1024
}

variable "min_capacity" {
  description = "Minimum number of tasks."
  type        = number
  default     = 2
}

variable "max_capacity" {
  description = "Maximum number of tasks."
  type        = number
  default     = 10
}

variable "audit_log_retention_days" {
  description = "Retention of audit events in CloudWatch Logs."
  type        = number
  default     = 400
}

variable "operational_log_retention_days" {
  description = "Retention of operational logs in CloudWatch Logs."
  type        = number
  default     = 30
}

variable "enable_deletion_protection" {
  description = "Protect the ALB against deletion."
  type        = bool
  default     = true
}

variable "alarm_actions" {
  description = "SNS topic ARNs notified by the alarms."
  type        = list(string)
  default     = []
}

variable "auth_tokens_secret_arn" {
  description = "Secrets Manager secret with the callers' tokens (`name:token` entries, newline- or comma-separated), injected as POLICYGATE_AUTH_TOKENS. Null: no authentication."
  type        = string
  default     = null
}

variable "tags" {
  description = "Extra tags."
  type        = map(string)
  default     = {}
}
