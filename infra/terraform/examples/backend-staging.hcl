# terraform init -backend-config=examples/backend-staging.hcl
bucket = "bcm-staging-123456-tfstate"
prefix = "bcm/staging"
