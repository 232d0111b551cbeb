# PolicyGate on AWS ECS/Fargate: shared lookups, names and the KMS key.
#
# Resource files: ecr.tf (image repository), logs.tf (audit and operational log
# groups), iam.tf (execution role and task role), network.tf (security groups),
# alb.tf (load balancer), ecs.tf (cluster, task definition, service),
# autoscaling.tf, alarms.tf.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.region

  log_group_prefix = coalesce(var.log_group_prefix, "/policygate/${var.name}")

  # FireLens records carry `source` = "stdout" | "stderr"; the log router
  # templates the log group name from it. PolicyGate writes audit events, and
  # only audit events, to stdout.
  audit_log_group_name       = "${local.log_group_prefix}/stdout"
  operational_log_group_name = "${local.log_group_prefix}/stderr"

  repository_url = var.create_ecr_repository ? one(aws_ecr_repository.this[*].repository_url) : var.image_repository_url
  repository_arn = var.create_ecr_repository ? one(aws_ecr_repository.this[*].arn) : (
    var.image_repository_url == null ? null : format(
      "arn:%s:ecr:%s:%s:repository/%s",
      local.partition,
      split(".", var.image_repository_url)[3],
      split(".", var.image_repository_url)[0],
      join("/", slice(split("/", var.image_repository_url), 1, length(split("/", var.image_repository_url)))),
    )
  )
  image = "${local.repository_url}:${var.image_tag}"

  kms_key_arn = var.kms_key_arn != null ? var.kms_key_arn : one(aws_kms_key.this[*].arn)

  listener_port     = var.certificate_arn == null ? 80 : 443
  listener_protocol = var.certificate_arn == null ? "HTTP" : "HTTPS"
  listener_arn      = var.certificate_arn == null ? one(aws_lb_listener.http[*].arn) : one(aws_lb_listener.https[*].arn)

  tags = merge({
    "app.kubernetes.io/name" = "policygate"
    "policygate:name"        = var.name
    "policygate:environment" = var.environment
    "managed-by"             = "terraform"
  }, var.tags)
}

# A dedicated key for the log groups and the ECR repository, unless the caller
# brings one. CloudWatch Logs may use it only for this deployment's log groups.
data "aws_iam_policy_document" "kms" {
  count = var.kms_key_arn == null ? 1 : 0

  # Key administration stays with the account (IAM policies decide who).
  #checkov:skip=CKV_AWS_109:A KMS key policy's Resource is always the key itself; "*" here does not widen access.
  #checkov:skip=CKV_AWS_111:A KMS key policy's Resource is always the key itself; "*" here does not widen access.
  #checkov:skip=CKV_AWS_356:A KMS key policy's Resource is always the key itself; "*" here does not widen access.
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid = "CloudWatchLogsUsesKeyForThisDeployment"
    actions = [
      "kms:Encrypt",
      "kms:Decrypt",
      "kms:ReEncrypt*",
      "kms:GenerateDataKey*",
      "kms:Describe*",
    ]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:${local.log_group_prefix}/*"]
    }
  }
}

resource "aws_kms_key" "this" {
  count = var.kms_key_arn == null ? 1 : 0

  description             = "PolicyGate ${var.name}: audit/operational log groups and ECR images"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms[0].json
  tags                    = local.tags
}

resource "aws_kms_alias" "this" {
  count = var.kms_key_arn == null ? 1 : 0

  name          = "alias/${var.name}"
  target_key_id = aws_kms_key.this[0].key_id
}
