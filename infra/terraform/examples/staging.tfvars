# Staging, an example: PhonePe's sandbox (UAT), the cheapest Memorystore, nothing kept warm.
#   terraform init -backend-config=examples/backend-staging.hcl
#   terraform apply -var-file=staging.tfvars
project      = "bcm-staging-123456"
env          = "staging"
region       = "asia-south1"
frontend_url = "https://staging.app.example.com"
supabase_url = "https://qrstuvwxyzabcdef.supabase.co"
resend_from  = "Founders staging <billing-staging@example.com>"
alert_email  = "dev-alerts@example.com"

phonepe_env            = "sandbox"
phonepe_client_id      = "M22EXAMPLEUAT"
phonepe_client_version = 1
phonepe_api_base       = "https://api-preprod.phonepe.com/apis/pg-sandbox"
phonepe_token_url      = "https://api-preprod.phonepe.com/apis/pg-sandbox/v1/oauth/token"

redis_tier      = "BASIC"
redis_memory_gb = 1

min_instances = {}

log_level             = "DEBUG"
db_client_connections = 400
