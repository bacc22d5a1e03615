# Production, an example: copy to a file outside git (terraform.tfvars is ignored) and fill in.
#   terraform init -backend-config=examples/backend-prod.hcl
#   terraform apply -var-file=prod.tfvars
# Secrets are never here: they live in Secret Manager (docs/deploy.md).
project      = "bcm-prod-123456"
env          = "prod"
region       = "asia-south1"
frontend_url = "https://app.example.com"
supabase_url = "https://abcdefghijklmnop.supabase.co"
resend_from  = "Founders <billing@example.com>"
alert_email  = "oncall@example.com"

phonepe_env       = "production"
phonepe_client_id = "M22EXAMPLEPROD"
phonepe_api_base  = "https://api.phonepe.com/apis/pg"
phonepe_token_url = "https://api.phonepe.com/apis/identity-manager/v1/oauth/token"

# Memorystore with a replica: a failover loses nothing (it is a cache) and keeps latency flat.
redis_tier               = "STANDARD_HA"
redis_memory_gb          = 1
redis_transit_encryption = "SERVER_AUTHENTICATION"

# One warm instance where a cold start (~0.4 s import + ~80 ms first request, bench/) is felt:
# PhonePe's webhook, autosave and the manifest every AI feature reads.
min_instances = {
  payment_webhook = 1
  onboarding_step = 1
  context         = 1
}

# Supabase pooler client limit of the production plan (every function at max scale must fit).
db_client_connections = 400
