terraform {
  required_version = ">= 1.6.0"
  required_providers {
    aws    = { source = "hashicorp/aws", version = "~> 5.40" }
    random = { source = "hashicorp/random", version = "~> 3.5" }
  }

  # State in S3 (versioned, encrypted bucket made once by hand or by a bootstrap stack) with a
  # DynamoDB table (partition key LockID, string) so two applies never run at once.
  backend "s3" {
    bucket         = "saveit-terraform-state"
    key            = "production/terraform.tfstate"
    region         = "eu-west-1"
    dynamodb_table = "saveit-terraform-locks"
    encrypt        = true
  }
}

provider "aws" {
  region = var.region
  default_tags {
    tags = local.tags
  }
}
