variable "name" {
  description = "Replication group id and name prefix."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets in two zones or more."
  type        = list(string)
}

variable "security_group_id" {
  description = "Security group admitting the SaveIt tasks on 6379."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key for encryption at rest."
  type        = string
}

variable "engine_version" {
  description = "Redis version."
  type        = string
  default     = "7.1"
}

variable "node_type" {
  description = "Node type."
  type        = string
  default     = "cache.r7g.large"
}

variable "replicas" {
  description = "Read replicas besides the primary (one at least, for failover)."
  type        = number
  default     = 1
}

variable "tags" {
  description = "Tags on every resource."
  type        = map(string)
  default     = {}
}
