variable "name" {
  description = "Prefix of alarm names."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key of the SNS topic."
  type        = string
}

variable "alarm_emails" {
  description = "Addresses subscribed to the alarm topic (each confirms by email)."
  type        = list(string)
  default     = []
}

variable "metrics_namespace" {
  description = "CloudWatch namespace the collector publishes SaveIt's metrics to."
  type        = string
  default     = "SaveIt"
}

variable "alb_arn_suffix" {
  description = "The API ALB's CloudWatch dimension."
  type        = string
}

variable "api_target_group_arn_suffix" {
  description = "The API target group's CloudWatch dimension."
  type        = string
}

variable "db_instance_id" {
  description = "RDS instance identifier."
  type        = string
}

variable "cache_replication_group_id" {
  description = "ElastiCache replication group id."
  type        = string
}

variable "tags" {
  description = "Tags on every resource."
  type        = map(string)
  default     = {}
}
