# Inputs of the PolicyGate ECS/Fargate module. Every input that AWS would
# reject late (during apply), and every combination that would deploy a PDP
# nobody can reach, is validated here so that `terraform plan` fails early with
# a message that says how to fix it. Validations that compare two variables
# need Terraform >= 1.9. scripts/check-deploy.sh exercises them offline.

# --- Naming and identity -----------------------------------------------------

variable "name" {
  description = "Base name for every resource (ECR repository, cluster, service, ALB, target group, roles, log groups). Lowercase letters, digits and hyphens; at most 28 characters so that derived names stay within AWS limits."
  type        = string
  default     = "policygate"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,26}[a-z0-9]$", var.name))
    error_message = "name must be 2-28 characters of lowercase letters, digits and hyphens, start with a letter and not end with a hyphen (ALB and target group names are limited to 32 characters)."
  }
}

variable "environment" {
  description = "Environment name recorded in every audit event (POLICYGATE_ENVIRONMENT), e.g. \"prod\"."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9][a-zA-Z0-9._-]{0,63}$", var.environment))
    error_message = "environment must match ^[a-zA-Z0-9][a-zA-Z0-9._-]{0,63}$ (the same rule as a request's env.name)."
  }
}

variable "tags" {
  description = "Tags added to every resource that supports them."
  type        = map(string)
  default     = {}
}

# --- Network -----------------------------------------------------------------

variable "vpc_id" {
  description = "VPC that holds the load balancer and the tasks."
  type        = string

  validation {
    condition     = can(regex("^vpc-[0-9a-f]{8,17}$", var.vpc_id))
    error_message = "vpc_id must look like vpc-0123456789abcdef0."
  }
}

variable "task_subnet_ids" {
  description = "Private subnets for the Fargate tasks (tasks never get a public IP). They need a route to ECR and CloudWatch Logs: a NAT gateway or VPC endpoints (ecr.api, ecr.dkr, s3 gateway, logs)."
  type        = list(string)

  validation {
    condition     = length(var.task_subnet_ids) >= 1 && alltrue([for s in var.task_subnet_ids : can(regex("^subnet-[0-9a-f]{8,17}$", s))])
    error_message = "task_subnet_ids must hold at least one subnet id (subnet-...); use two or more in different Availability Zones for resilience."
  }
}

variable "alb_subnet_ids" {
  description = "Subnets for the load balancer: at least two, in different Availability Zones. Private subnets for an internal ALB (the default), public subnets only if internal = false."
  type        = list(string)

  validation {
    condition     = length(var.alb_subnet_ids) >= 2 && alltrue([for s in var.alb_subnet_ids : can(regex("^subnet-[0-9a-f]{8,17}$", s))])
    error_message = "alb_subnet_ids must hold at least two subnet ids (subnet-...) in different Availability Zones: an ALB requires two."
  }
}

variable "internal" {
  description = "Create an internal (VPC-only) load balancer. PolicyGate is a PDP for trusted services, not a public endpoint: keep true unless callers are outside the VPC and you add TLS, WAF and tight ingress rules."
  type        = bool
  default     = true
}

variable "allowed_ingress_cidr_blocks" {
  description = "IPv4 CIDR blocks allowed to reach the load balancer listener (e.g. the subnets of the calling services)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.allowed_ingress_cidr_blocks : can(cidrhost(c, 0)) && !strcontains(c, ":")])
    error_message = "allowed_ingress_cidr_blocks must be IPv4 CIDR blocks such as 10.0.0.0/16."
  }
}

variable "allowed_ingress_security_group_ids" {
  description = "Security groups (of the calling services) allowed to reach the load balancer listener. Preferred over CIDR blocks."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for g in var.allowed_ingress_security_group_ids : can(regex("^sg-[0-9a-f]{8,17}$", g))])
    error_message = "allowed_ingress_security_group_ids must be security group ids (sg-...)."
  }

  validation {
    condition     = length(var.allowed_ingress_security_group_ids) + length(var.allowed_ingress_cidr_blocks) > 0
    error_message = "Set allowed_ingress_security_group_ids (preferred) or allowed_ingress_cidr_blocks: without either, no caller can reach PolicyGate."
  }
}

# --- Load balancer -----------------------------------------------------------

variable "certificate_arn" {
  description = "ACM certificate for an HTTPS listener on port 443. When null, the listener is plain HTTP on port 80: acceptable only for an internal ALB whose callers are inside the VPC."
  type        = string
  default     = null

  validation {
    condition     = var.certificate_arn == null || can(regex("^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/.+$", var.certificate_arn))
    error_message = "certificate_arn must be an ACM certificate ARN (arn:aws:acm:REGION:ACCOUNT:certificate/ID) or null."
  }

  validation {
    condition     = var.internal || var.certificate_arn != null
    error_message = "An internet-facing load balancer (internal = false) must use HTTPS: set certificate_arn."
  }
}

variable "ssl_policy" {
  description = "TLS policy of the HTTPS listener."
  type        = string
  default     = "ELBSecurityPolicy-TLS13-1-2-2021-06"

  validation {
    condition     = startswith(var.ssl_policy, "ELBSecurityPolicy-TLS13-") || startswith(var.ssl_policy, "ELBSecurityPolicy-FS-1-2-")
    error_message = "ssl_policy must be a TLS 1.2+ policy (ELBSecurityPolicy-TLS13-* or ELBSecurityPolicy-FS-1-2-*)."
  }
}

variable "enable_deletion_protection" {
  description = "Protect the load balancer against deletion. Set false only for throw-away environments (terraform destroy fails while it is on)."
  type        = bool
  default     = true
}

variable "alb_access_logs_bucket" {
  description = "S3 bucket for ALB access logs (the bucket policy must allow the regional ELB log delivery). Null disables access logs."
  type        = string
  default     = null

  validation {
    condition     = var.alb_access_logs_bucket == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.alb_access_logs_bucket))
    error_message = "alb_access_logs_bucket must be an S3 bucket name (not an ARN) or null."
  }
}

variable "web_acl_arn" {
  description = "WAFv2 web ACL to associate with the load balancer. Strongly recommended when internal = false."
  type        = string
  default     = null

  validation {
    condition     = var.web_acl_arn == null || can(regex("^arn:aws[a-z-]*:wafv2:", var.web_acl_arn))
    error_message = "web_acl_arn must be a WAFv2 web ACL ARN or null."
  }
}

# --- Image -------------------------------------------------------------------

variable "create_ecr_repository" {
  description = "Create the ECR repository (scan on push, immutable tags, KMS encryption). Set false to pull from an existing repository named by image_repository_url."
  type        = bool
  default     = true
}

variable "image_repository_url" {
  description = "Existing ECR repository URL (ACCOUNT.dkr.ecr.REGION.amazonaws.com/NAME) when create_ecr_repository = false."
  type        = string
  default     = null

  validation {
    condition     = var.image_repository_url == null || can(regex("^[0-9]{12}\\.dkr\\.ecr\\.[a-z0-9-]+\\.amazonaws\\.com(\\.cn)?/[a-z0-9._/-]+$", var.image_repository_url))
    error_message = "image_repository_url must be a private ECR repository URL such as 123456789012.dkr.ecr.eu-west-1.amazonaws.com/policygate."
  }

  validation {
    condition     = var.create_ecr_repository || var.image_repository_url != null
    error_message = "Set image_repository_url when create_ecr_repository = false."
  }
}

variable "image_tag" {
  description = "Tag of the PolicyGate image to run. Tags are immutable: use one per build, e.g. \"<app version>-<policy_version>\" or the git revision. The image carries the policy, so a new policy version is a new tag."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", var.image_tag)) && var.image_tag != "latest"
    error_message = "image_tag must be a valid image tag (1-128 of [A-Za-z0-9_.-]) and not \"latest\": deployments must name an immutable build."
  }
}

variable "ecr_keep_images" {
  description = "How many most recent images the ECR lifecycle policy keeps (older ones are expired). Keep enough to roll back."
  type        = number
  default     = 50

  validation {
    condition     = var.ecr_keep_images >= 5 && var.ecr_keep_images <= 1000 && floor(var.ecr_keep_images) == var.ecr_keep_images
    error_message = "ecr_keep_images must be a whole number between 5 and 1000."
  }
}

variable "log_router_image" {
  description = "AWS for Fluent Bit image used as the FireLens log router that sends audit events (stdout) and operational logs (stderr) to separate log groups. Mirror it into private ECR (pull-through cache) if tasks cannot reach public.ecr.aws."
  type        = string
  default     = "public.ecr.aws/aws-observability/aws-for-fluent-bit:3.2.2"

  validation {
    condition     = length(var.log_router_image) > 0 && !endswith(var.log_router_image, ":latest") && !endswith(var.log_router_image, ":stable")
    error_message = "log_router_image must be pinned to a version tag or digest, not :latest or :stable."
  }
}

# --- Task and service --------------------------------------------------------

variable "container_port" {
  description = "Port PolicyGate listens on inside the task (POLICYGATE_LISTEN=0.0.0.0:PORT)."
  type        = number
  default     = 8000

  validation {
    condition     = var.container_port >= 1024 && var.container_port <= 65535 && var.container_port != 24224
    error_message = "container_port must be 1024-65535 (the container runs as a non-root user) and not 24224 (used by the FireLens log router)."
  }
}

variable "task_cpu" {
  description = "Fargate task CPU units (1024 = 1 vCPU). Shared by PolicyGate and the log router sidecar."
  type        = number
  default     = 512

  validation {
    condition     = contains([256, 512, 1024, 2048, 4096, 8192, 16384], var.task_cpu)
    error_message = "task_cpu must be one of the Fargate sizes 256, 512, 1024, 2048, 4096, 8192, 16384."
  }
}

variable "task_memory" {
  description = "Fargate task memory in MiB; must be a valid combination with task_cpu."
  type        = number
  default     = 1024

  # Valid Fargate memory sizes (MiB) for each CPU size.
  validation {
    condition = contains(lookup({
      "256"   = [512, 1024, 2048]
      "512"   = [for m in range(1024, 4097, 1024) : m]
      "1024"  = [for m in range(2048, 8193, 1024) : m]
      "2048"  = [for m in range(4096, 16385, 1024) : m]
      "4096"  = [for m in range(8192, 30721, 1024) : m]
      "8192"  = [for m in range(16384, 61441, 4096) : m]
      "16384" = [for m in range(32768, 122881, 8192) : m]
    }, tostring(var.task_cpu), []), var.task_memory)
    error_message = "task_memory is not a valid Fargate size for task_cpu: 256 CPU takes 512, 1024 or 2048; 512 takes 1024-4096; 1024 takes 2048-8192; 2048 takes 4096-16384 (steps of 1024); 4096 takes 8192-30720 (steps of 1024); 8192 takes 16384-61440 (steps of 4096); 16384 takes 32768-122880 (steps of 8192)."
  }
}

variable "cpu_architecture" {
  description = "CPU architecture of the task; must match the image (X86_64 or ARM64)."
  type        = string
  default     = "X86_64"

  validation {
    condition     = contains(["X86_64", "ARM64"], var.cpu_architecture)
    error_message = "cpu_architecture must be X86_64 or ARM64."
  }
}

variable "desired_count" {
  description = "Number of tasks at first deployment; afterwards autoscaling owns the count (between min_capacity and max_capacity)."
  type        = number
  default     = 2

  validation {
    condition     = var.desired_count >= 1 && floor(var.desired_count) == var.desired_count
    error_message = "desired_count must be a whole number >= 1."
  }

  validation {
    condition     = var.desired_count >= var.min_capacity && var.desired_count <= var.max_capacity
    error_message = "desired_count must lie between min_capacity and max_capacity."
  }
}

variable "min_capacity" {
  description = "Autoscaling minimum number of tasks. Two or more keeps the PDP available during a zone or task failure (an unreachable PDP makes every enforcer fail closed)."
  type        = number
  default     = 2

  validation {
    condition     = var.min_capacity >= 1 && floor(var.min_capacity) == var.min_capacity
    error_message = "min_capacity must be a whole number >= 1."
  }
}

variable "max_capacity" {
  description = "Autoscaling maximum number of tasks."
  type        = number
  default     = 10

  validation {
    condition     = var.max_capacity >= 1 && var.max_capacity <= 1000 && floor(var.max_capacity) == var.max_capacity
    error_message = "max_capacity must be a whole number between 1 and 1000."
  }

  validation {
    condition     = var.max_capacity >= var.min_capacity
    error_message = "max_capacity must be >= min_capacity."
  }
}

variable "cpu_target_percent" {
  description = "Target average CPU utilisation of the service for target-tracking autoscaling."
  type        = number
  default     = 60

  validation {
    condition     = var.cpu_target_percent >= 10 && var.cpu_target_percent <= 90
    error_message = "cpu_target_percent must be between 10 and 90."
  }
}

variable "requests_per_target" {
  description = "Target ALB requests per task per minute for target-tracking autoscaling; null disables this policy (CPU tracking stays)."
  type        = number
  default     = 6000

  validation {
    condition     = var.requests_per_target == null || try(var.requests_per_target >= 1, false)
    error_message = "requests_per_target must be >= 1 or null."
  }
}

variable "health_check_grace_period_seconds" {
  description = "Seconds ECS ignores load balancer health checks after a task starts."
  type        = number
  default     = 30

  validation {
    condition     = var.health_check_grace_period_seconds >= 0 && var.health_check_grace_period_seconds <= 2147483647
    error_message = "health_check_grace_period_seconds must be >= 0."
  }
}

variable "wait_for_steady_state" {
  description = "Make terraform apply wait until the service deployment is steady (healthy new tasks, or rolled back by the circuit breaker)."
  type        = bool
  default     = true
}

# --- Logs --------------------------------------------------------------------

variable "log_group_prefix" {
  description = "Prefix of the CloudWatch log group names; null means /policygate/<name>. Audit events go to <prefix>/stdout, operational logs to <prefix>/stderr (FireLens routes by the stream each line was written to)."
  type        = string
  default     = null

  validation {
    condition     = var.log_group_prefix == null || can(regex("^/[A-Za-z0-9_./#-]{1,400}[A-Za-z0-9_#-]$", var.log_group_prefix))
    error_message = "log_group_prefix must start with / and contain only letters, digits and _ . / # - (no trailing slash)."
  }
}

variable "audit_log_retention_days" {
  description = "Retention of the audit log group (decision events). Choose it from your record-keeping obligations; at least a year is recommended."
  type        = number
  default     = 400

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.audit_log_retention_days)
    error_message = "audit_log_retention_days must be a CloudWatch Logs retention value: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653."
  }
}

variable "operational_log_retention_days" {
  description = "Retention of the operational log group (server and log router diagnostics)."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.operational_log_retention_days)
    error_message = "operational_log_retention_days must be a CloudWatch Logs retention value: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653."
  }
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for the log groups and the ECR repository. Null creates a dedicated key with rotation enabled. An existing key's policy must allow logs.<region>.amazonaws.com to use it."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID) or null."
  }
}

# --- Secrets -----------------------------------------------------------------

variable "auth_tokens_secret_arn" {
  description = "Secrets Manager secret holding the callers' bearer tokens (`name:token` entries separated by newlines or commas). ECS injects it as POLICYGATE_AUTH_TOKENS (task definition `secrets`), which turns authentication on. Null leaves authentication off (then keep the service private)."
  type        = string
  default     = null

  validation {
    condition     = var.auth_tokens_secret_arn == null || can(regex("^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+$", var.auth_tokens_secret_arn))
    error_message = "auth_tokens_secret_arn must be a Secrets Manager secret ARN (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME) or null."
  }
}

variable "auth_tokens_secret_kms_key_arn" {
  description = "Customer-managed KMS key the tokens secret is encrypted with, if not the AWS-managed key: the execution role may then decrypt with it."
  type        = string
  default     = null
}

# --- Alarms ------------------------------------------------------------------

variable "alarm_actions" {
  description = "ARNs (e.g. SNS topics) notified when the service has unhealthy targets or answers 5xx."
  type        = list(string)
  default     = []
}
