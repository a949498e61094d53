# SaveIt in production on AWS: the modules under ../../modules wired together.
#   cd deploy/terraform/envs/production
#   terraform init && terraform plan -out plan && terraform apply plan
locals {
  name = "saveit-${var.environment}"
  tags = { Project = "saveit", Environment = var.environment, ManagedBy = "terraform" }
}

data "aws_caller_identity" "current" {}

# A key policy's resource is always "*": it means this key, the one the policy is attached to.
data "aws_iam_policy_document" "kms" {
  #checkov:skip=CKV_AWS_356:a key policy's "*" is the key itself
  #checkov:skip=CKV_AWS_111:a key policy's "*" is the key itself; writes are limited to the account and the named services
  #checkov:skip=CKV_AWS_109:a key policy's "*" is the key itself; administration is limited to the account root
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:aws:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }
  statement {
    sid       = "ServicesEncrypt"
    actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${var.region}.amazonaws.com", "sns.amazonaws.com", "cloudwatch.amazonaws.com"]
    }
  }
}

# One customer-managed key for everything SaveIt stores: database, cache, secrets, logs, alarms.
resource "aws_kms_key" "saveit" {
  description             = "${local.name} data"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms.json
}

resource "aws_kms_alias" "saveit" {
  name          = "alias/${local.name}"
  target_key_id = aws_kms_key.saveit.key_id
}

module "network" {
  source             = "../../modules/network"
  name               = local.name
  cidr_block         = var.vpc_cidr
  availability_zones = var.availability_zones
  kms_key_arn        = aws_kms_key.saveit.arn
  tags               = local.tags
}

module "database" {
  source            = "../../modules/database"
  name              = local.name
  subnet_ids        = module.network.private_subnet_ids
  security_group_id = module.network.db_security_group_id
  kms_key_arn       = aws_kms_key.saveit.arn
  instance_class    = var.db_instance_class
  tags              = local.tags
}

module "cache" {
  source            = "../../modules/cache"
  name              = local.name
  subnet_ids        = module.network.private_subnet_ids
  security_group_id = module.network.cache_security_group_id
  kms_key_arn       = aws_kms_key.saveit.arn
  node_type         = var.cache_node_type
  tags              = local.tags
}

module "secrets" {
  source       = "../../modules/secrets"
  name         = local.name
  kms_key_arn  = aws_kms_key.saveit.arn
  database_url = module.database.database_url
  redis_url    = module.cache.redis_url
  tags         = local.tags
}

module "compute" {
  source                = "../../modules/compute"
  name                  = local.name
  image                 = var.image
  vpc_id                = module.network.vpc_id
  public_subnet_ids     = module.network.public_subnet_ids
  private_subnet_ids    = module.network.private_subnet_ids
  alb_security_group_id = module.network.alb_security_group_id
  app_security_group_id = module.network.app_security_group_id
  certificate_arn       = var.certificate_arn
  public_base_url       = var.public_base_url
  secret_arns           = module.secrets.secret_arns
  kms_key_arn           = aws_kms_key.saveit.arn
  access_logs_bucket    = var.access_logs_bucket
  waf_web_acl_arn       = var.waf_web_acl_arn
  environment           = var.saveit_settings
  api_min_count         = var.api_min_count
  api_max_count         = var.api_max_count
  tags                  = local.tags
}

module "observability" {
  source                      = "../../modules/observability"
  name                        = local.name
  kms_key_arn                 = aws_kms_key.saveit.arn
  alarm_emails                = var.alarm_emails
  alb_arn_suffix              = module.compute.alb_arn_suffix
  api_target_group_arn_suffix = module.compute.api_target_group_arn_suffix
  db_instance_id              = module.database.instance_id
  cache_replication_group_id  = module.cache.replication_group_id
  tags                        = local.tags
}
