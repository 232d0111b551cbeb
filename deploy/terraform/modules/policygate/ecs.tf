# ECS cluster, Fargate task definition and service.
#
# The task has two containers:
# - `policygate`: the PDP, read-only root filesystem, non-root, all Linux
#   capabilities dropped. Its stdout (audit events) and stderr (operational
#   logs) go to the FireLens log driver.
# - `log_router`: AWS for Fluent Bit as the FireLens router. Docker tags every
#   line with `source` = stdout | stderr, and the CloudWatch output templates
#   the log group from it, so audit events and operational logs land in
#   separate log groups with separate retention, without a custom image.
#   It writes its own diagnostics to the operational group with awslogs.
#
# Rolling deployments keep 100% healthy capacity and roll back automatically
# (deployment circuit breaker) when new tasks do not become healthy, e.g. when
# a new image carries a policy the server refuses to load.

resource "aws_ecs_cluster" "this" {
  name = var.name

  setting {
    name  = "containerInsights"
    value = "enabled"
  }

  tags = local.tags
}

resource "aws_ecs_cluster_capacity_providers" "this" {
  cluster_name       = aws_ecs_cluster.this.name
  capacity_providers = ["FARGATE"]

  default_capacity_provider_strategy {
    capacity_provider = "FARGATE"
    weight            = 1
    base              = 0
  }
}

locals {
  policygate_container = {
    name                   = "policygate"
    image                  = local.image
    essential              = true
    user                   = "65532:65532"
    readonlyRootFilesystem = true
    stopTimeout            = 30

    portMappings = [{
      name          = "http"
      containerPort = var.container_port
      protocol      = "tcp"
      appProtocol   = "http"
    }]

    # POLICYGATE_POLICY comes from the image (/etc/policygate/policy.yaml).
    environment = [
      { name = "POLICYGATE_LISTEN", value = "0.0.0.0:${var.container_port}" },
      { name = "POLICYGATE_ENVIRONMENT", value = var.environment },
      { name = "POLICYGATE_LOG_FORMAT", value = "json" },
      { name = "POLICYGATE_HEALTHCHECK_URL", value = "http://127.0.0.1:${var.container_port}/health" },
    ]

    # The callers' tokens, from Secrets Manager, injected by ECS at task start
    # (never in the task definition or the image). Rotating the secret takes
    # effect on the next deployment (`aws ecs update-service --force-new-deployment`).
    secrets = var.auth_tokens_secret_arn == null ? [] : [
      { name = "POLICYGATE_AUTH_TOKENS", valueFrom = var.auth_tokens_secret_arn },
    ]

    healthCheck = {
      command     = ["CMD", "/usr/local/bin/policygate", "healthcheck"]
      interval    = 15
      timeout     = 5
      retries     = 3
      startPeriod = 15
    }

    linuxParameters = {
      capabilities = { add = [], drop = ["ALL"] }
    }

    ulimits = [{ name = "nofile", softLimit = 65536, hardLimit = 65536 }]

    dependsOn = [{ containerName = "log_router", condition = "START" }]

    logConfiguration = {
      logDriver = "awsfirelens"
      options = {
        Name               = "cloudwatch_logs"
        region             = local.region
        log_group_name     = local.operational_log_group_name
        log_group_template = "${local.log_group_prefix}/$source"
        log_stream_prefix  = "policygate-"
        log_key            = "log"
        auto_create_group  = "false"
        retry_limit        = "no_limits"
      }
    }
  }

  log_router_container = {
    name              = "log_router"
    image             = var.log_router_image
    essential         = true
    memoryReservation = 64
    # FireLens requires the router to run as root (it creates the socket the
    # application's log driver writes to), and Fluent Bit needs a writable root
    # filesystem; it exposes no port and holds only the task role's log rights.
    user                   = "0"
    readonlyRootFilesystem = false

    firelensConfiguration = {
      type    = "fluentbit"
      options = { "enable-ecs-log-metadata" = "true" }
    }

    logConfiguration = {
      logDriver = "awslogs"
      options = {
        "awslogs-group"         = aws_cloudwatch_log_group.operational.name
        "awslogs-region"        = local.region
        "awslogs-stream-prefix" = "log-router"
      }
    }
  }
}

resource "aws_ecs_task_definition" "this" {
  #checkov:skip=CKV_AWS_336:The policygate container has a read-only root filesystem; only the FireLens log router (AWS for Fluent Bit) needs a writable one.
  family                   = var.name
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.task_cpu
  memory                   = var.task_memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  container_definitions = jsonencode([local.log_router_container, local.policygate_container])

  tags = local.tags
}

resource "aws_ecs_service" "this" {
  name                               = var.name
  cluster                            = aws_ecs_cluster.this.id
  task_definition                    = aws_ecs_task_definition.this.arn
  desired_count                      = var.desired_count
  launch_type                        = "FARGATE"
  platform_version                   = "LATEST"
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  health_check_grace_period_seconds  = var.health_check_grace_period_seconds
  enable_ecs_managed_tags            = true
  propagate_tags                     = "SERVICE"
  enable_execute_command             = false
  wait_for_steady_state              = var.wait_for_steady_state

  deployment_controller {
    type = "ECS"
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = var.task_subnet_ids
    security_groups  = [aws_security_group.task.id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.this.arn
    container_name   = "policygate"
    container_port   = var.container_port
  }

  tags = local.tags

  # Autoscaling owns the running count after the first deployment.
  lifecycle {
    ignore_changes = [desired_count]
  }

  depends_on = [aws_lb_listener.http, aws_lb_listener.https, aws_iam_role_policy.execution, aws_iam_role_policy.task]
}
