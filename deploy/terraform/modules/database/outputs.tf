output "endpoint" {
  description = "host:port of the writer (follows a Multi-AZ failover)."
  value       = aws_db_instance.this.endpoint
}

output "instance_id" {
  description = "RDS instance identifier (CloudWatch dimension DBInstanceIdentifier)."
  value       = aws_db_instance.this.identifier
}

output "database_url" {
  description = "SAVEIT_DATABASE_URL, TLS required."
  value       = "postgresql://${aws_db_instance.this.username}:${random_password.master.result}@${aws_db_instance.this.endpoint}/${aws_db_instance.this.db_name}?sslmode=require"
  sensitive   = true
}
