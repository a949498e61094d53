output "primary_endpoint" {
  description = "Primary endpoint (follows a failover)."
  value       = aws_elasticache_replication_group.this.primary_endpoint_address
}

output "replication_group_id" {
  description = "Replication group id (CloudWatch dimension)."
  value       = aws_elasticache_replication_group.this.id
}

output "redis_url" {
  description = "SAVEIT_REDIS_URL: TLS (rediss) with the AUTH token."
  value       = "rediss://:${random_password.auth.result}@${aws_elasticache_replication_group.this.primary_endpoint_address}:6379/0"
  sensitive   = true
}
