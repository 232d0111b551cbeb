# Two roles, kept apart:
# - the task execution role is used by ECS itself, before the containers run:
#   pull the image from this repository, write the log router's own logs;
# - the task role is what code inside the task can use. PolicyGate calls no
#   AWS API; the only holder of these credentials that does is the FireLens log
#   router, which may create streams in and write to the two log groups of this
#   deployment and nothing else.

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    sid     = "EcsTasksOfThisAccount"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }

    # Confused-deputy protection: only ECS acting for this account and region.
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:ecs:${local.region}:${local.account_id}:*"]
    }
  }
}

# --- Task execution role -------------------------------------------------------

resource "aws_iam_role" "execution" {
  name                 = "${var.name}-execution"
  description          = "ECS task execution role for PolicyGate ${var.name}: image pull and log router logs"
  assume_role_policy   = data.aws_iam_policy_document.ecs_tasks_assume.json
  max_session_duration = 3600
  tags                 = local.tags
}

data "aws_iam_policy_document" "execution" {
  # GetAuthorizationToken has no resource-level permissions: AWS requires "*".
  statement {
    sid       = "EcrLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid = "PullPolicyGateImage"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchGetImage",
      "ecr:GetDownloadUrlForLayer",
    ]
    resources = [local.repository_arn]
  }

  statement {
    sid       = "LogRouterOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.operational.arn}:*"]
  }

  # The tokens secret (POLICYGATE_AUTH_TOKENS), only when one is configured.
  dynamic "statement" {
    for_each = var.auth_tokens_secret_arn == null ? [] : [var.auth_tokens_secret_arn]
    content {
      sid       = "ReadAuthTokensSecret"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = [statement.value]
    }
  }

  dynamic "statement" {
    for_each = var.auth_tokens_secret_kms_key_arn == null ? [] : [var.auth_tokens_secret_kms_key_arn]
    content {
      sid       = "DecryptAuthTokensSecret"
      actions   = ["kms:Decrypt"]
      resources = [statement.value]
    }
  }
}

resource "aws_iam_role_policy" "execution" {
  name   = "pull-image-and-write-router-logs"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

# --- Task role -----------------------------------------------------------------

resource "aws_iam_role" "task" {
  name                 = "${var.name}-task"
  description          = "ECS task role for PolicyGate ${var.name}: FireLens writes audit and operational logs"
  assume_role_policy   = data.aws_iam_policy_document.ecs_tasks_assume.json
  max_session_duration = 3600
  tags                 = local.tags
}

data "aws_iam_policy_document" "task" {
  statement {
    sid     = "FireLensWritesThisDeploymentsLogGroups"
    actions = ["logs:CreateLogStream", "logs:PutLogEvents"]
    # "<group arn>:*" covers the group (CreateLogStream) and its streams (PutLogEvents).
    resources = [
      "${aws_cloudwatch_log_group.audit.arn}:*",
      "${aws_cloudwatch_log_group.operational.arn}:*",
    ]
  }
}

resource "aws_iam_role_policy" "task" {
  name   = "firelens-write-log-groups"
  role   = aws_iam_role.task.id
  policy = data.aws_iam_policy_document.task.json
}
