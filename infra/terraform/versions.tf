# Providers. The Google provider cannot be downloaded in the build sandbox: CI runs
# `terraform fmt -check` and tests/unit/tools/test_terraform.py (python-hcl2) instead of `validate`,
# and tools/tfschema.py checks every resource against this exact provider version's schema
# (tools/tfschema/google-<version>.json): change the pin only with `tools/tfschema.py --refresh`.
terraform {
  required_version = ">= 1.6"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "6.50.0"
    }
  }

  # Remote state: pass the bucket at init time (see docs/deploy.md):
  #   terraform init -backend-config="bucket=<project>-tfstate" -backend-config="prefix=bcm/<env>"
  backend "gcs" {}
}

provider "google" {
  project = var.project
  region  = var.region
}
