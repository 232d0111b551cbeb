# Application load balancer in front of the tasks: internal by default, HTTPS
# when a certificate is given, target group health-checked on GET /ready
# (200 only while a valid policy is loaded).

resource "aws_lb" "this" {
  #checkov:skip=CKV_AWS_91:Access logs are enabled by setting alb_access_logs_bucket; the bucket (and its ELB delivery policy) is owned by the caller.
  #checkov:skip=CKV2_AWS_28:The ALB is internal by default and serves only trusted services; set web_acl_arn to attach a WAF (recommended when internal = false).
  #checkov:skip=CKV2_AWS_20:There is never a port-80 listener next to HTTPS: with certificate_arn only 443 exists; without it the single HTTP listener serves an internal ALB.
  name                       = var.name
  internal                   = var.internal
  load_balancer_type         = "application"
  security_groups            = [aws_security_group.alb.id]
  subnets                    = var.alb_subnet_ids
  drop_invalid_header_fields = true
  desync_mitigation_mode     = "strictest"
  enable_deletion_protection = var.enable_deletion_protection
  idle_timeout               = 60

  dynamic "access_logs" {
    for_each = var.alb_access_logs_bucket == null ? [] : [var.alb_access_logs_bucket]
    content {
      bucket  = access_logs.value
      prefix  = var.name
      enabled = true
    }
  }

  tags = local.tags
}

resource "aws_wafv2_web_acl_association" "this" {
  count = var.web_acl_arn == null ? 0 : 1

  resource_arn = aws_lb.this.arn
  web_acl_arn  = var.web_acl_arn
}

resource "aws_lb_target_group" "this" {
  #checkov:skip=CKV_AWS_378:TLS ends at the ALB (HTTPS listener when certificate_arn is set); ALB-to-task traffic stays inside the VPC and is limited by security groups to the ALB.
  name                 = var.name
  port                 = var.container_port
  protocol             = "HTTP"
  protocol_version     = "HTTP1"
  target_type          = "ip"
  vpc_id               = var.vpc_id
  deregistration_delay = 30

  health_check {
    enabled             = true
    path                = "/ready"
    port                = "traffic-port"
    protocol            = "HTTP"
    matcher             = "200"
    interval            = 15
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }

  tags = local.tags
}

resource "aws_lb_listener" "https" {
  count = var.certificate_arn == null ? 0 : 1

  load_balancer_arn = aws_lb.this.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = var.ssl_policy
  certificate_arn   = var.certificate_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.this.arn
  }

  tags = local.tags
}

resource "aws_lb_listener" "http" {
  #checkov:skip=CKV_AWS_2:Created only when certificate_arn is null, i.e. for an internal ALB reached from inside the VPC; set certificate_arn for HTTPS.
  #checkov:skip=CKV_AWS_103:Created only when certificate_arn is null (plain HTTP inside the VPC); with a certificate the HTTPS listener enforces TLS 1.2+.
  count = var.certificate_arn == null ? 1 : 0

  load_balancer_arn = aws_lb.this.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.this.arn
  }

  tags = local.tags
}
