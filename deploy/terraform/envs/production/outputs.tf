output "api_load_balancer" {
  description = "DNS name to point the public host name at."
  value       = module.compute.alb_dns_name
}

output "smtp_load_balancer" {
  description = "DNS name for the restaurants' MX records."
  value       = module.compute.smtp_dns_name
}

output "database_endpoint" {
  description = "RDS writer endpoint."
  value       = module.database.endpoint
}

output "alarm_topic_arn" {
  description = "SNS topic of every alarm."
  value       = module.observability.alarm_topic_arn
}

output "secret_arns" {
  description = "Secrets Manager ARNs by SAVEIT_ variable (set the provider secrets in them)."
  value       = module.secrets.secret_arns
}
