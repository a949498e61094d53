output "alarm_topic_arn" {
  description = "SNS topic every alarm notifies (subscribe a pager to it)."
  value       = aws_sns_topic.alarms.arn
}
