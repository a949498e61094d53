variable "name" {
  description = "Prefix of every resource name, e.g. saveit-production."
  type        = string
}

variable "cidr_block" {
  description = "The VPC's address range; subnets are /24s carved from it."
  type        = string
  default     = "10.40.0.0/16"
}

variable "availability_zones" {
  description = "Zones to spread the subnets over, by name (two at least)."
  type        = list(string)
  validation {
    condition     = length(var.availability_zones) >= 2
    error_message = "SaveIt runs Multi-AZ: name two zones or more."
  }
}

variable "app_port" {
  description = "Port the API containers listen on."
  type        = number
  default     = 8000
}

variable "smtp_port" {
  description = "Port the SMTP ingress containers listen on."
  type        = number
  default     = 2525
}

variable "metrics_port" {
  description = "Port the worker serves its metrics on."
  type        = number
  default     = 9464
}

variable "kms_key_arn" {
  description = "KMS key encrypting the flow-log group."
  type        = string
}

variable "tags" {
  description = "Tags on every resource."
  type        = map(string)
  default     = {}
}
