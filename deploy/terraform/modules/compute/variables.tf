variable "name" {
  description = "Cluster name and name prefix."
  type        = string
}

variable "image" {
  description = "The SaveIt image (deploy/Dockerfile) in a registry ECS can pull, e.g. an ECR URI with a digest."
  type        = string
}

variable "vpc_id" {
  description = "The VPC."
  type        = string
}

variable "public_subnet_ids" {
  description = "Subnets of the load balancers."
  type        = list(string)
}

variable "private_subnet_ids" {
  description = "Subnets of the tasks."
  type        = list(string)
}

variable "alb_security_group_id" {
  description = "Security group of the ALB."
  type        = string
}

variable "app_security_group_id" {
  description = "Security group of the tasks."
  type        = string
}

variable "certificate_arn" {
  description = "ACM certificate of the public host name."
  type        = string
}

variable "public_base_url" {
  description = "SAVEIT_PUBLIC_BASE_URL, e.g. https://book.example.com."
  type        = string
}

variable "secret_arns" {
  description = "Environment variable name to Secrets Manager ARN (module secrets)."
  type        = map(string)
}

variable "environment" {
  description = "Further plain SAVEIT_ settings (README's configuration table)."
  type        = map(string)
  default     = {}
}

variable "kms_key_arn" {
  description = "KMS key of the log groups and the secrets."
  type        = string
}

variable "access_logs_bucket" {
  description = "Existing S3 bucket that receives the load balancers' access logs."
  type        = string
}

variable "waf_web_acl_arn" {
  description = "WAFv2 web ACL to put in front of the ALB (null: none)."
  type        = string
  default     = null
}

variable "app_port" {
  description = "Port of the API containers."
  type        = number
  default     = 8000
}

variable "smtp_port" {
  description = "Port of the SMTP containers."
  type        = number
  default     = 2525
}

variable "metrics_port" {
  description = "Port the worker serves its metrics on."
  type        = number
  default     = 9464
}

variable "api_cpu" {
  description = "CPU units of one API task."
  type        = number
  default     = 1024
}

variable "api_memory" {
  description = "Memory (MiB) of one API task."
  type        = number
  default     = 2048
}

variable "api_min_count" {
  description = "API tasks at least (two or more: one per zone)."
  type        = number
  default     = 2
}

variable "api_max_count" {
  description = "API tasks at most (mind the database's max_connections)."
  type        = number
  default     = 12
}

variable "api_requests_per_task" {
  description = "ALB requests per minute per API task that autoscaling aims at."
  type        = number
  default     = 3000
}

variable "worker_cpu" {
  description = "CPU units of one worker task."
  type        = number
  default     = 512
}

variable "worker_memory" {
  description = "Memory (MiB) of one worker task."
  type        = number
  default     = 1024
}

variable "worker_min_count" {
  description = "Worker tasks at least."
  type        = number
  default     = 2
}

variable "worker_max_count" {
  description = "Worker tasks at most."
  type        = number
  default     = 6
}

variable "smtp_count" {
  description = "SMTP ingress tasks."
  type        = number
  default     = 2
}

variable "tags" {
  description = "Tags on every resource."
  type        = map(string)
  default     = {}
}
