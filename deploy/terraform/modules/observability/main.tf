# CloudWatch alarms to an SNS topic: the application's own signals (namespace SaveIt, published
# from /metrics by the collector; names in deploy/METRICS.md) and AWS's (ALB, RDS, ElastiCache).
# The Prometheus rules in deploy/prometheus/alerts.yml say the same for compose setups.
terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = ">= 5.40" }
  }
}

resource "aws_sns_topic" "alarms" {
  name              = "${var.name}-alarms"
  kms_master_key_id = var.kms_key_arn
  tags              = var.tags
}

resource "aws_sns_topic_subscription" "email" {
  for_each  = toset(var.alarm_emails)
  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = each.value
}

locals {
  actions = [aws_sns_topic.alarms.arn]
  # The application's alarms: metric in namespace SaveIt, statistic, threshold, periods.
  app_alarms = {
    DoubleBookingDetected = {
      metric = "DoubleBookingDetected", stat = "Maximum", threshold = 0, periods = 1
      text   = "The audit found overlapping bookings on one table (docs/runbooks/double-booking.md)"
    }
    OutboxBacklog = {
      metric = "OutboxBacklog", stat = "Maximum", threshold = 1000, periods = 5
      text   = "Committed events wait to be relayed (docs/runbooks/webhook-backlog.md)"
    }
    RelayLag = {
      metric = "RelayLagSeconds", stat = "Maximum", threshold = 60, periods = 2
      text   = "The outbox relay is stalled (docs/runbooks/redis-down.md)"
    }
    DeadLetters = {
      metric = "DeadLetters", stat = "Sum", threshold = 0, periods = 1
      text   = "Events or messages were given up on (docs/runbooks/webhook-backlog.md)"
    }
    WebhookBadSignatures = {
      metric = "WebhookBadSignatures", stat = "Sum", threshold = 60, periods = 5
      text   = "Webhooks fail signature checks (docs/runbooks/webhook-backlog.md)"
    }
    ChannelSendFailures = {
      metric = "ChannelSendFailures", stat = "Sum", threshold = 20, periods = 10
      text   = "Outbound messages fail (docs/runbooks/whatsapp-24h-window.md)"
    }
    BotReplySlow = {
      metric = "BotReplyP95Seconds", stat = "Maximum", threshold = 5, periods = 10
      text   = "Bot reply p95 above 5 s (docs/runbooks/webhook-backlog.md)"
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "app" {
  for_each            = local.app_alarms
  alarm_name          = "${var.name}-${each.key}"
  alarm_description   = each.value.text
  namespace           = var.metrics_namespace
  metric_name         = each.value.metric
  statistic           = each.value.stat
  period              = 60
  evaluation_periods  = each.value.periods
  datapoints_to_alarm = each.value.periods
  threshold           = each.value.threshold
  comparison_operator = "GreaterThanThreshold"
  # A double-booking audit that stops reporting must not look like "no double booking".
  treat_missing_data = each.key == "DoubleBookingDetected" ? "breaching" : "notBreaching"
  alarm_actions      = local.actions
  ok_actions         = local.actions
  tags               = var.tags
}

resource "aws_cloudwatch_metric_alarm" "api_5xx_ratio" {
  alarm_name          = "${var.name}-Api5xxRatio"
  alarm_description   = "More than 1% of API answers are 5xx (docs/runbooks/database-failover.md)"
  comparison_operator = "GreaterThanThreshold"
  evaluation_periods  = 5
  datapoints_to_alarm = 5
  threshold           = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags

  metric_query {
    id          = "ratio"
    expression  = "100 * errors / MAX([requests, 1])"
    label       = "5xx percent"
    return_data = true
  }
  metric_query {
    id = "errors"
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "HTTPCode_Target_5XX_Count"
      dimensions  = { LoadBalancer = var.alb_arn_suffix, TargetGroup = var.api_target_group_arn_suffix }
      period      = 60
      stat        = "Sum"
    }
  }
  metric_query {
    id = "requests"
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "RequestCount"
      dimensions  = { LoadBalancer = var.alb_arn_suffix, TargetGroup = var.api_target_group_arn_suffix }
      period      = 60
      stat        = "Sum"
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "api_latency_p95" {
  alarm_name          = "${var.name}-ApiLatencyP95"
  alarm_description   = "API p95 above 500 ms for 10 minutes (docs/runbooks/database-failover.md)"
  namespace           = "AWS/ApplicationELB"
  metric_name         = "TargetResponseTime"
  extended_statistic  = "p95"
  dimensions          = { LoadBalancer = var.alb_arn_suffix, TargetGroup = var.api_target_group_arn_suffix }
  period              = 60
  evaluation_periods  = 10
  datapoints_to_alarm = 8
  threshold           = 0.5
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "api_unhealthy_hosts" {
  alarm_name          = "${var.name}-ApiUnhealthyTargets"
  alarm_description   = "API tasks fail /readyz (docs/runbooks/database-failover.md)"
  namespace           = "AWS/ApplicationELB"
  metric_name         = "UnHealthyHostCount"
  statistic           = "Maximum"
  dimensions          = { LoadBalancer = var.alb_arn_suffix, TargetGroup = var.api_target_group_arn_suffix }
  period              = 60
  evaluation_periods  = 3
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "db_cpu" {
  alarm_name          = "${var.name}-DatabaseCPU"
  alarm_description   = "Database CPU above 80% (docs/runbooks/database-failover.md)"
  namespace           = "AWS/RDS"
  metric_name         = "CPUUtilization"
  statistic           = "Average"
  dimensions          = { DBInstanceIdentifier = var.db_instance_id }
  period              = 60
  evaluation_periods  = 10
  threshold           = 80
  comparison_operator = "GreaterThanThreshold"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "db_storage" {
  alarm_name          = "${var.name}-DatabaseFreeStorage"
  alarm_description   = "Less than 10 GB free on the database"
  namespace           = "AWS/RDS"
  metric_name         = "FreeStorageSpace"
  statistic           = "Minimum"
  dimensions          = { DBInstanceIdentifier = var.db_instance_id }
  period              = 300
  evaluation_periods  = 1
  threshold           = 10737418240
  comparison_operator = "LessThanThreshold"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "cache_cpu" {
  alarm_name          = "${var.name}-RedisEngineCPU"
  alarm_description   = "Redis engine CPU above 80% (docs/runbooks/redis-down.md)"
  namespace           = "AWS/ElastiCache"
  metric_name         = "EngineCPUUtilization"
  statistic           = "Average"
  dimensions          = { ReplicationGroupId = var.cache_replication_group_id }
  period              = 60
  evaluation_periods  = 10
  threshold           = 80
  comparison_operator = "GreaterThanThreshold"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags
}
