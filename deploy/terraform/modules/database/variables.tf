variable "name" {
  description = "Instance identifier and name prefix."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets in two zones or more."
  type        = list(string)
}

variable "security_group_id" {
  description = "Security group admitting the SaveIt tasks on 5432."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key for storage and Performance Insights."
  type        = string
}

variable "engine_version" {
  description = "PostgreSQL version (15.x)."
  type        = string
  default     = "15.7"
}

variable "instance_class" {
  description = "RDS instance class."
  type        = string
  default     = "db.r6g.large"
}

variable "allocated_storage_gb" {
  description = "Initial storage; autoscaling may grow it to four times this."
  type        = number
  default     = 100
}

variable "database_name" {
  description = "Database SaveIt uses."
  type        = string
  default     = "saveit"
}

variable "master_username" {
  description = "Master user (SaveIt connects as this user)."
  type        = string
  default     = "saveit"
}

variable "backup_retention_days" {
  description = "Days of automated backups and point-in-time recovery."
  type        = number
  default     = 14
}

variable "max_connections" {
  description = "max_connections: API tasks x workers x 2 x SAVEIT_DB_POOL_SIZE, plus headroom."
  type        = number
  default     = 500
}

variable "tags" {
  description = "Tags on every resource."
  type        = map(string)
  default     = {}
}
