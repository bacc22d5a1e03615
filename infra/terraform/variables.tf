variable "project" {
  description = "Google Cloud project id."
  type        = string
}

variable "region" {
  description = "Region of the functions, queues, Memorystore, buckets and Vertex AI calls."
  type        = string
  default     = "asia-south1"
}

variable "env" {
  description = "Environment name (staging, production): part of resource names and labels."
  type        = string

  validation {
    # Service account ids are at most 30 characters: "payment-reconcile-" + env must fit.
    condition     = can(regex("^[a-z][a-z0-9-]{0,8}[a-z0-9]$", var.env))
    error_message = "env must be 2-10 lowercase letters, digits or hyphens."
  }
}

variable "app_env" {
  description = "APP_ENV given to the functions (production refuses dev routes and the local dispatcher)."
  type        = string
  default     = "production"
}

variable "network" {
  description = "VPC network Memorystore peers with and the Serverless VPC Access connector joins."
  type        = string
  default     = "default"
}

variable "connector_cidr" {
  description = "Unused /28 range for the Serverless VPC Access connector."
  type        = string
  default     = "10.8.0.0/28"
}

variable "redis_tier" {
  description = "Memorystore tier: BASIC (staging) or STANDARD_HA (production; a failover loses nothing, it is a cache)."
  type        = string
  default     = "STANDARD_HA"
}

variable "redis_memory_gb" {
  description = "Memorystore size: sessions, BCM cache, rate-limit counters and locks fit comfortably in 1 GB."
  type        = number
  default     = 1
}

variable "redis_transit_encryption" {
  description = "SERVER_AUTHENTICATION (TLS, REDIS_URL uses rediss://) or DISABLED (private VPC only)."
  type        = string
  default     = "SERVER_AUTHENTICATION"
}

variable "firestore_location" {
  description = "Firestore location (cannot change after creation)."
  type        = string
  default     = "asia-south1"
}

variable "frontend_url" {
  description = "Origin of the frontend: PhonePe redirect target and CORS origin for signed uploads."
  type        = string
}

variable "supabase_url" {
  description = "Supabase project URL (https://<ref>.supabase.co); JWT issuer and JWKS derive from it."
  type        = string
}

variable "phonepe_env" {
  description = "sandbox or production."
  type        = string
  default     = "sandbox"
}

variable "phonepe_client_id" {
  description = "PhonePe client id (not a secret; the client secret is in Secret Manager)."
  type        = string
}

variable "phonepe_client_version" {
  description = "PhonePe client version (1 in sandbox)."
  type        = number
  default     = 1
}

variable "phonepe_api_base" {
  description = "PhonePe pay/status/refund host."
  type        = string
  default     = "https://api-preprod.phonepe.com/apis/pg-sandbox"
}

variable "phonepe_token_url" {
  description = "PhonePe OAuth token URL."
  type        = string
  default     = "https://api-preprod.phonepe.com/apis/pg-sandbox/v1/oauth/token"
}

variable "resend_from" {
  description = "Verified Resend sender."
  type        = string
}

variable "vertex_model" {
  description = "Gemini model for onboarding suggestions."
  type        = string
  default     = "gemini-2.5-flash"
}

variable "maintenance_schedule" {
  description = "Cron schedule of the maintenance job (UTC)."
  type        = string
  default     = "*/15 * * * *"
}

variable "alert_email" {
  description = "Where alerts are sent; empty creates the policies without a notification channel."
  type        = string
  default     = ""
}

variable "log_level" {
  description = "LOG_LEVEL of every function."
  type        = string
  default     = "INFO"
}

variable "min_instances" {
  description = "Warm instances per function (default 0). Production keeps the latency-sensitive ones warm; see examples/."
  type        = map(number)
  default     = {}

  validation {
    condition     = alltrue([for v in values(var.min_instances) : v >= 0 && v <= 3])
    error_message = "min_instances values must be between 0 and 3."
  }
}

variable "source_objects" {
  description = "Rollback: function name -> an earlier source zip: its object name and generation (`gcloud storage ls -a gs://<sources>/<fn>/`)."
  type = map(object({
    object     = string
    generation = number
  }))
  default = {}
}

variable "db_client_connections" {
  description = "Client connections the Supabase pooler allows (plan-dependent); every function at max scale must fit."
  type        = number
  default     = 400
}

variable "internal_ingress" {
  description = "Ingress of the internal functions. ALLOW_INTERNAL_ONLY: Cloud Tasks and Scheduler deliveries count as internal traffic of the project; if they are refused (403/404 on the first Scheduler run), ALLOW_ALL still admits only the tasks invoker (IAM). docs/deploy.md step 9."
  type        = string
  default     = "ALLOW_INTERNAL_ONLY"

  validation {
    condition     = contains(["ALLOW_INTERNAL_ONLY", "ALLOW_ALL"], var.internal_ingress)
    error_message = "internal_ingress is ALLOW_INTERNAL_ONLY or ALLOW_ALL."
  }
}
