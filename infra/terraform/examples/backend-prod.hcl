# terraform init -backend-config=examples/backend-prod.hcl
# The state bucket is created once by hand (docs/deploy.md, "From zero"), versioned.
bucket = "bcm-prod-123456-tfstate"
prefix = "bcm/prod"
