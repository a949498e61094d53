output "secret_arns" {
  description = "Environment variable name to secret ARN, for the task definitions."
  value       = { for key, secret in aws_secretsmanager_secret.this : key => secret.arn }
}
