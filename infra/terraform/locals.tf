# What each function is and what it may touch (ARCHITECTURE.md, "Functions"): the one table
# the service accounts, IAM bindings, secrets and deploy settings below are derived from.
locals {
  name_prefix = "bcm-${var.env}"
  labels = {
    app = "bcm"
    env = var.env
  }

  # Gen2 functions are reachable at https://<region>-<project>.cloudfunctions.net/<name>.
  functions_base_url = "https://${var.region}-${var.project}.cloudfunctions.net"

  # public:    true = anyone may call it (auth is in the app: Supabase JWT or the webhook header);
  #            false = only the tasks invoker (Cloud Tasks, Scheduler) may call it.
  # secrets:   Secret Manager secrets exposed as env vars (accessor granted per secret).
  # queues:    Cloud Tasks queues it enqueues to (enqueuer granted per queue).
  # buckets:   buckets it reads/writes (objectUser granted per bucket); signs URLs for them.
  # roles:     project-level roles (Firestore and Vertex AI have no finer grain).
  functions = {
    initiate_payment = {
      public        = true
      memory        = "512Mi"
      timeout       = 30
      max_instances = 20
      secrets       = ["DATABASE_URL", "REDIS_URL", "SUPABASE_JWT_SECRET", "PHONEPE_CLIENT_SECRET"]
      queues        = ["payment_reconcile", "outbox_relay"]
      buckets       = []
      roles         = []
    }
    payment_status = {
      public        = true
      memory        = "512Mi"
      timeout       = 30
      max_instances = 20
      secrets       = ["DATABASE_URL", "REDIS_URL", "SUPABASE_JWT_SECRET", "PHONEPE_CLIENT_SECRET"]
      queues        = []
      buckets       = []
      roles         = []
    }
    payment_webhook = {
      public        = true
      memory        = "512Mi"
      timeout       = 30
      max_instances = 20
      secrets       = ["DATABASE_URL", "REDIS_URL", "PHONEPE_CLIENT_SECRET", "PHONEPE_WEBHOOK_PASSWORD", "RESEND_API_KEY"]
      queues        = ["outbox_relay"]
      buckets       = []
      roles         = []
    }
    payment_reconcile = {
      public        = false
      memory        = "512Mi"
      timeout       = 60
      max_instances = 10
      secrets       = ["DATABASE_URL", "REDIS_URL", "PHONEPE_CLIENT_SECRET", "RESEND_API_KEY"]
      queues        = ["payment_reconcile", "outbox_relay"]
      buckets       = []
      roles         = []
    }
    onboarding_step = {
      public        = true
      memory        = "512Mi"
      timeout       = 30
      max_instances = 40
      secrets       = ["DATABASE_URL", "REDIS_URL", "SUPABASE_JWT_SECRET"]
      queues        = ["onboarding_ai"]
      buckets       = ["evidence"]
      roles         = ["roles/datastore.user"]
    }
    onboarding_ai = {
      public        = false
      memory        = "512Mi"
      timeout       = 60 # the AI call has 30 s; the rest is margin to record the outcome
      max_instances = 10
      secrets       = ["DATABASE_URL", "REDIS_URL"]
      queues        = []
      buckets       = []
      roles         = ["roles/datastore.user", "roles/aiplatform.user"]
    }
    finalize = {
      public        = true
      memory        = "1Gi"
      timeout       = 60
      max_instances = 10
      secrets       = ["DATABASE_URL", "REDIS_URL", "SUPABASE_JWT_SECRET"]
      queues        = ["bcm_rebuild", "outbox_relay"]
      buckets       = []
      roles         = ["roles/datastore.user"]
    }
    context = {
      public        = true
      memory        = "1Gi"
      timeout       = 60
      max_instances = 20
      secrets       = ["DATABASE_URL", "REDIS_URL", "SUPABASE_JWT_SECRET"]
      queues        = ["bcm_rebuild"]
      buckets       = ["exports"]
      roles         = ["roles/datastore.user"]
    }
    bcm_rebuild = {
      public        = false
      memory        = "1Gi"
      timeout       = 120
      max_instances = 5
      secrets       = ["DATABASE_URL", "REDIS_URL"]
      queues        = []
      buckets       = []
      roles         = ["roles/datastore.user"]
    }
    maintenance = {
      public        = false
      memory        = "512Mi"
      timeout       = 300
      max_instances = 2
      secrets       = ["DATABASE_URL", "REDIS_URL", "PHONEPE_CLIENT_SECRET", "RESEND_API_KEY"]
      queues        = ["payment_reconcile", "outbox_relay"]
      buckets       = []
      roles         = ["roles/datastore.user"]
    }
  }

  # Cloud Tasks queues, with the retry configs of lib/local/dispatcher.py (the local stand-in
  # uses the same numbers) and the function each delivers to.
  queues = {
    onboarding_ai = {
      name          = "onboarding-ai"
      target        = "onboarding_ai"
      max_attempts  = 3 # a suggestion is worth 3 tries; the last failure is recorded
      min_backoff   = "2s"
      max_backoff   = "30s"
      max_doublings = 16
      max_rate      = 5 # Vertex AI quota per region, with headroom
      max_inflight  = 10
    }
    bcm_rebuild = {
      name          = "bcm-rebuild"
      target        = "bcm_rebuild"
      max_attempts  = 5 # deterministic work: a few retries ride out a DB blip
      min_backoff   = "1s"
      max_backoff   = "60s"
      max_doublings = 16
      max_rate      = 10
      max_inflight  = 5
    }
    payment_reconcile = {
      name          = "payment-reconcile"
      target        = "payment_reconcile"
      max_attempts  = 20 # PhonePe may be slow to settle: keep asking for about 15 minutes
      min_backoff   = "3s"
      max_backoff   = "60s"
      max_doublings = 16
      max_rate      = 10
      max_inflight  = 10
    }
    outbox_relay = {
      name          = "outbox-relay"
      target        = "maintenance"
      max_attempts  = 10 # emails must eventually go out
      min_backoff   = "2s"
      max_backoff   = "300s"
      max_doublings = 16
      max_rate      = 5 # Resend's default rate limit is a few requests per second
      max_inflight  = 5
    }
  }

  secrets = toset([
    "DATABASE_URL",
    "REDIS_URL",
    "SUPABASE_JWT_SECRET",
    "PHONEPE_CLIENT_SECRET",
    "PHONEPE_WEBHOOK_PASSWORD",
    "RESEND_API_KEY",
  ])

  function_urls = { for name, _ in local.functions : name => "${local.functions_base_url}/${name}" }

  # Flattened (function, thing) pairs for the per-resource IAM bindings.
  function_secrets = merge([
    for fn, cfg in local.functions : { for s in cfg.secrets : "${fn}/${s}" => { fn = fn, secret = s } }
  ]...)
  function_queues = merge([
    for fn, cfg in local.functions : { for q in cfg.queues : "${fn}/${q}" => { fn = fn, queue = q } }
  ]...)
  function_buckets = merge([
    for fn, cfg in local.functions : { for b in cfg.buckets : "${fn}/${b}" => { fn = fn, bucket = b } }
  ]...)
  function_roles = merge([
    for fn, cfg in local.functions : { for r in cfg.roles : "${fn}/${r}" => { fn = fn, role = r } }
  ]...)
  enqueuers = toset([for fn, cfg in local.functions : fn if length(cfg.queues) > 0])
  signers   = toset([for fn, cfg in local.functions : fn if length(cfg.buckets) > 0])
  internal  = toset([for fn, cfg in local.functions : fn if !cfg.public])
  public    = toset([for fn, cfg in local.functions : fn if cfg.public])
}
