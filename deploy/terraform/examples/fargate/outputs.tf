# Outputs used by docs/deploy.md (push, smoke test, log queries).

output "url" {
  description = "PolicyGate base URL (reachable from inside the VPC)."
  value       = module.policygate.url
}

output "ecr_repository_url" {
  description = "Where to push images."
  value       = module.policygate.ecr_repository_url
}

output "ecs_cluster_name" {
  description = "ECS cluster."
  value       = module.policygate.ecs_cluster_name
}

output "ecs_service_name" {
  description = "ECS service."
  value       = module.policygate.ecs_service_name
}

output "audit_log_group_name" {
  description = "Log group with the audit events."
  value       = module.policygate.audit_log_group_name
}

output "operational_log_group_name" {
  description = "Log group with operational logs."
  value       = module.policygate.operational_log_group_name
}
