# One Secrets Manager secret per SAVEIT_ secret, encrypted with the deployment's KMS key. The
# ECS task definitions read them by ARN (module compute), so no secret is in a task definition,
# an image or a log. SaveIt's own keys are generated here; the providers' secrets (Meta,
# Twilio, SMTP relay) are created empty and set by an operator:
#   aws secretsmanager put-secret-value --secret-id saveit-production/SAVEIT_META_APP_SECRET --secret-string '...'
terraform {
  required_providers {
    aws    = { source = "hashicorp/aws", version = ">= 5.40" }
    random = { source = "hashicorp/random", version = ">= 3.5" }
  }
}

locals {
  generated = toset(["SAVEIT_SECRET_KEY", "SAVEIT_ADMIN_TOKEN"])
  provided = toset([
    "SAVEIT_QR_KEYS",
    "SAVEIT_META_APP_SECRET",
    "SAVEIT_META_VERIFY_TOKEN",
    "SAVEIT_TWILIO_ACCOUNT_SID",
    "SAVEIT_TWILIO_AUTH_TOKEN",
    "SAVEIT_SMTP_RELAY_PASSWORD",
  ])
  from_infrastructure = {
    SAVEIT_DATABASE_URL = var.database_url
    SAVEIT_REDIS_URL    = var.redis_url
  }
  all = setunion(local.generated, local.provided, toset(keys(local.from_infrastructure)))
}

resource "aws_secretsmanager_secret" "this" {
  #checkov:skip=CKV2_AWS_57:rotated by the documented procedure (README, AWS with Terraform); a rotation Lambda would change keys under running tasks and provider secrets are issued by the providers
  for_each                = local.all
  name                    = "${var.name}/${each.key}"
  description             = "${each.key} for ${var.name}"
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = 30
  tags                    = var.tags
}

resource "random_password" "generated" {
  for_each = local.generated
  length   = 48
  special  = false
}

resource "aws_secretsmanager_secret_version" "generated" {
  for_each      = local.generated
  secret_id     = aws_secretsmanager_secret.this[each.key].id
  secret_string = random_password.generated[each.key].result
}

resource "aws_secretsmanager_secret_version" "from_infrastructure" {
  # The names are fixed here: for_each may not take keys of a map with sensitive values.
  for_each      = toset(["SAVEIT_DATABASE_URL", "SAVEIT_REDIS_URL"])
  secret_id     = aws_secretsmanager_secret.this[each.key].id
  secret_string = local.from_infrastructure[each.key]
}
