variable "name" {
  description = "Prefix of the secret names (saveit-production/SAVEIT_...)."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key encrypting every secret."
  type        = string
}

variable "database_url" {
  description = "SAVEIT_DATABASE_URL (from module database)."
  type        = string
  sensitive   = true
}

variable "redis_url" {
  description = "SAVEIT_REDIS_URL (from module cache)."
  type        = string
  sensitive   = true
}

variable "tags" {
  description = "Tags on every resource."
  type        = map(string)
  default     = {}
}
