# Two log groups so that audit events are retained, protected and queried on
# their own terms:
# - audit (<prefix>/stdout): one JSON object per decision, long retention;
# - operational (<prefix>/stderr): server diagnostics and the log router's own
#   logs, short retention.
# The FireLens log router (ecs.tf) writes each line to the group named after
# the stream it came from.

resource "aws_cloudwatch_log_group" "audit" {
  name              = local.audit_log_group_name
  retention_in_days = var.audit_log_retention_days
  kms_key_id        = local.kms_key_arn

  tags = merge(local.tags, { "policygate:log-stream" = "audit" })
}

resource "aws_cloudwatch_log_group" "operational" {
  #checkov:skip=CKV_AWS_338:Operational logs are diagnostics, not records; their retention is a cost choice (operational_log_retention_days). Audit events live in the audit group, retained >= 1 year by default.
  name              = local.operational_log_group_name
  retention_in_days = var.operational_log_retention_days
  kms_key_id        = local.kms_key_arn

  tags = merge(local.tags, { "policygate:log-stream" = "operational" })
}
