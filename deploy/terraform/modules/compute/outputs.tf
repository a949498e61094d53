output "cluster_name" {
  description = "ECS cluster name (CloudWatch dimension ClusterName)."
  value       = aws_ecs_cluster.this.name
}

output "service_names" {
  description = "ECS service names by role."
  value       = { for key, service in aws_ecs_service.service : key => service.name }
}

output "alb_dns_name" {
  description = "Point the public host name (CNAME/alias) here."
  value       = aws_lb.api.dns_name
}

output "alb_arn_suffix" {
  description = "ALB dimension for CloudWatch (LoadBalancer)."
  value       = aws_lb.api.arn_suffix
}

output "api_target_group_arn_suffix" {
  description = "API target group dimension for CloudWatch (TargetGroup)."
  value       = aws_lb_target_group.api.arn_suffix
}

output "smtp_dns_name" {
  description = "Point the restaurants' MX records here."
  value       = aws_lb.smtp.dns_name
}
