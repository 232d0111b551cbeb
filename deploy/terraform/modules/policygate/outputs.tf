# What callers, CI pipelines and operators need after an apply.

output "url" {
  description = "Base URL of PolicyGate behind the load balancer (POST <url>/evaluate)."
  value       = "${lower(local.listener_protocol)}://${aws_lb.this.dns_name}"
}

output "alb_dns_name" {
  description = "DNS name of the load balancer (point a private DNS record at it)."
  value       = aws_lb.this.dns_name
}

output "alb_zone_id" {
  description = "Hosted zone id of the load balancer, for a Route 53 alias record."
  value       = aws_lb.this.zone_id
}

output "alb_arn" {
  description = "ARN of the load balancer."
  value       = aws_lb.this.arn
}

output "listener_arn" {
  description = "ARN of the listener (HTTPS when certificate_arn is set, HTTP otherwise)."
  value       = local.listener_arn
}

output "alb_security_group_id" {
  description = "Security group of the load balancer."
  value       = aws_security_group.alb.id
}

output "task_security_group_id" {
  description = "Security group of the PolicyGate tasks."
  value       = aws_security_group.task.id
}

output "ecr_repository_url" {
  description = "Repository to push PolicyGate images to (docker push <url>:<tag>)."
  value       = local.repository_url
}

output "image" {
  description = "Image the service runs."
  value       = local.image
}

output "ecs_cluster_name" {
  description = "ECS cluster name."
  value       = aws_ecs_cluster.this.name
}

output "ecs_service_name" {
  description = "ECS service name."
  value       = aws_ecs_service.this.name
}

output "task_definition_arn" {
  description = "ARN (with revision) of the task definition in use."
  value       = aws_ecs_task_definition.this.arn
}

output "execution_role_arn" {
  description = "Task execution role (image pull, log router logs)."
  value       = aws_iam_role.execution.arn
}

output "task_role_arn" {
  description = "Task role (FireLens writes to the two log groups)."
  value       = aws_iam_role.task.arn
}

output "audit_log_group_name" {
  description = "CloudWatch log group holding the audit events (one JSON object per decision or rejected request)."
  value       = aws_cloudwatch_log_group.audit.name
}

output "operational_log_group_name" {
  description = "CloudWatch log group holding operational logs (server and log router)."
  value       = aws_cloudwatch_log_group.operational.name
}

output "kms_key_arn" {
  description = "KMS key encrypting the log groups and the ECR repository."
  value       = local.kms_key_arn
}
