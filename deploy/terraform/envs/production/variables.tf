variable "region" {
  description = "AWS region."
  type        = string
  default     = "eu-west-1"
}

variable "environment" {
  description = "Environment name (resource prefix saveit-<environment>)."
  type        = string
  default     = "production"
}

variable "vpc_cidr" {
  description = "The VPC's address range."
  type        = string
  default     = "10.40.0.0/16"
}

variable "availability_zones" {
  description = "Availability zones of the region to spread over (two at least)."
  type        = list(string)
  default     = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
}

variable "image" {
  description = "SaveIt image URI in ECR, by digest (built by deploy/build-image, pushed by CI)."
  type        = string
}

variable "certificate_arn" {
  description = "ACM certificate for the public host name."
  type        = string
}

variable "public_base_url" {
  description = "SAVEIT_PUBLIC_BASE_URL, e.g. https://book.example.com."
  type        = string
}

variable "access_logs_bucket" {
  description = "Existing S3 bucket for load balancer access logs."
  type        = string
}

variable "waf_web_acl_arn" {
  description = "WAFv2 web ACL for the ALB (null: none)."
  type        = string
  default     = null
}

variable "alarm_emails" {
  description = "Addresses that receive the alarms."
  type        = list(string)
  default     = []
}

variable "db_instance_class" {
  description = "RDS instance class."
  type        = string
  default     = "db.r6g.large"
}

variable "cache_node_type" {
  description = "ElastiCache node type."
  type        = string
  default     = "cache.r7g.large"
}

variable "api_min_count" {
  description = "API tasks at least."
  type        = number
  default     = 2
}

variable "api_max_count" {
  description = "API tasks at most."
  type        = number
  default     = 12
}

variable "saveit_settings" {
  description = "Further plain SAVEIT_ settings for every task (README's configuration table)."
  type        = map(string)
  default     = {}
}
