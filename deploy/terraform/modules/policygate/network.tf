# Security groups: callers -> ALB listener -> task port, and nothing else in.
# Tasks may only open HTTPS connections out (ECR, CloudWatch Logs, through a
# NAT gateway or VPC endpoints); DNS goes to the VPC resolver, which security
# groups do not filter.

resource "aws_security_group" "alb" {
  name        = "${var.name}-alb"
  description = "PolicyGate ${var.name} load balancer: listener open to the allowed callers only"
  vpc_id      = var.vpc_id
  tags        = merge(local.tags, { Name = "${var.name}-alb" })
}

resource "aws_vpc_security_group_ingress_rule" "alb_from_cidr" {
  for_each = toset(var.allowed_ingress_cidr_blocks)

  security_group_id = aws_security_group.alb.id
  description       = "Callers in ${each.value} to the PolicyGate listener"
  ip_protocol       = "tcp"
  from_port         = local.listener_port
  to_port           = local.listener_port
  cidr_ipv4         = each.value
  tags              = local.tags
}

resource "aws_vpc_security_group_ingress_rule" "alb_from_sg" {
  for_each = toset(var.allowed_ingress_security_group_ids)

  security_group_id            = aws_security_group.alb.id
  description                  = "Callers in ${each.value} to the PolicyGate listener"
  ip_protocol                  = "tcp"
  from_port                    = local.listener_port
  to_port                      = local.listener_port
  referenced_security_group_id = each.value
  tags                         = local.tags
}

resource "aws_vpc_security_group_egress_rule" "alb_to_tasks" {
  security_group_id            = aws_security_group.alb.id
  description                  = "Load balancer to PolicyGate tasks (traffic and health checks)"
  ip_protocol                  = "tcp"
  from_port                    = var.container_port
  to_port                      = var.container_port
  referenced_security_group_id = aws_security_group.task.id
  tags                         = local.tags
}

resource "aws_security_group" "task" {
  name        = "${var.name}-task"
  description = "PolicyGate ${var.name} tasks: only the load balancer may connect"
  vpc_id      = var.vpc_id
  tags        = merge(local.tags, { Name = "${var.name}-task" })
}

resource "aws_vpc_security_group_ingress_rule" "task_from_alb" {
  security_group_id            = aws_security_group.task.id
  description                  = "Load balancer to the PolicyGate container port"
  ip_protocol                  = "tcp"
  from_port                    = var.container_port
  to_port                      = var.container_port
  referenced_security_group_id = aws_security_group.alb.id
  tags                         = local.tags
}

resource "aws_vpc_security_group_egress_rule" "task_https" {
  security_group_id = aws_security_group.task.id
  description       = "HTTPS to AWS APIs (ECR image pull, CloudWatch Logs) via NAT or VPC endpoints"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
  tags              = local.tags
}
