output "vpc_id" {
  description = "The VPC."
  value       = aws_vpc.this.id
}

output "public_subnet_ids" {
  description = "Public subnets, one per zone (load balancers)."
  value       = aws_subnet.public[*].id
}

output "private_subnet_ids" {
  description = "Private subnets, one per zone (tasks, database, cache)."
  value       = aws_subnet.private[*].id
}

output "alb_security_group_id" {
  description = "Security group of the public ALB."
  value       = aws_security_group.alb.id
}

output "app_security_group_id" {
  description = "Security group of every SaveIt task."
  value       = aws_security_group.app.id
}

output "db_security_group_id" {
  description = "Security group of the database."
  value       = aws_security_group.db.id
}

output "cache_security_group_id" {
  description = "Security group of the Redis replication group."
  value       = aws_security_group.cache.id
}
