# What each function is and what it may touch (docs/architecture.md, "Functions"): the one table
# the service accounts, IAM bindings, secrets and deploy settings below are derived from.
locals {
  name_prefix = "bcm-${var.env}"
  labels = {
    app = "bcm"
    env = var.env
  }

  # Gen2 functions are reachable at https://<region>-<project>.cloudfunctions.net/<name>.
  functions_base_url = "https://${var.region}-${var.project}.cloudfunctions.net"

  # public:        true = anyone may call it (auth is in the app: Supabase JWT or the webhook header);
  #                false = only the tasks invoker (Cloud Tasks, Scheduler) may call it, and only from
  #                inside Google's network (ingress ALLOW_INTERNAL_ONLY).
  # secrets:       Secret Manager secrets exposed as env vars (accessor granted per secret).
  # queues:        Cloud Tasks queues it enqueues to (enqueuer granted per queue).
  # buckets:       buckets it reads/writes (objectUser granted per bucket); signs URLs for them.
  # roles:         project-level roles (Firestore and Vertex AI have no finer grain).
  # cpu, memory:   concurrency above 1 needs a whole vCPU; memory is what the function's imports and
  #                caches need plus headroom (payments import no Firestore or genai; the BCM functions
  #                load the 1.7 MB tiktoken encoding).
  # concurrency:   requests one instance serves at once (gunicorn threads, THREADS). The HTTP functions
  #                wait on the network most of the time: bench/ measured 2-5 ms of CPU per request
  #                (webhook 9.4 ms for the whole machine), so one vCPU keeps up with far more than the
  #                concurrency set here; the cap is the DB pool and the tail latency, not the CPU.
  # db_pool:       Postgres connections per instance. Requests hold one for a few milliseconds, so
  #                a small pool serves many threads; max_instances x db_pool summed over every
  #                function must stay within var.db_client_connections (the Supabase pooler's
  #                client limit), which a check block and tests/unit/tools/test_terraform.py enforce.
  # max_instances: the ceiling a traffic spike or a retry storm can scale to.
  # timeout:       seconds; the longest legitimate request plus margin.
  functions = {
    initiate_payment = {
      public        = true
      cpu           = "1"
      memory        = "512Mi"
      concurrency   = 20 # one DB transaction plus the PhonePe pay call (up to 10 s) per request
      db_pool       = 3
      timeout       = 30
      max_instances = 20
      secrets       = ["DATABASE_URL", "REDIS_URL", "SUPABASE_JWT_SECRET", "PHONEPE_CLIENT_SECRET"]
      queues        = ["payment_reconcile", "outbox_relay"]
      buckets       = []
      roles         = []
    }
    payment_status = {
      public        = true
      cpu           = "1"
      memory        = "512Mi"
      concurrency   = 40 # the checkout page polls it; mostly a Postgres read
      db_pool       = 3
      timeout       = 30
      max_instances = 10
      secrets       = ["DATABASE_URL", "REDIS_URL", "SUPABASE_JWT_SECRET", "PHONEPE_CLIENT_SECRET"]
      queues        = []
      buckets       = []
      roles         = []
    }
    billing = {
      public        = true
      cpu           = "1"
      memory        = "512Mi"
      concurrency   = 40 # the billing page; Postgres reads, the odd cancel and receipt PDFs
      db_pool       = 2
      timeout       = 30
      max_instances = 3
      secrets       = ["DATABASE_URL", "REDIS_URL", "SUPABASE_JWT_SECRET", "PHONEPE_CLIENT_SECRET"]
      queues        = []
      buckets       = ["exports"]
      roles         = []
    }
    payment_webhook = {
      public        = true
      cpu           = "1"
      memory        = "512Mi"
      concurrency   = 20 # PhonePe retries bursts; 1 in 4 deliveries is a duplicate answered in 1 round trip
      db_pool       = 4
      timeout       = 30
      max_instances = 20
      secrets       = ["DATABASE_URL", "REDIS_URL", "PHONEPE_CLIENT_SECRET", "PHONEPE_WEBHOOK_USERNAME", "PHONEPE_WEBHOOK_PASSWORD", "RESEND_API_KEY"]
      queues        = ["outbox_relay"]
      buckets       = []
      roles         = []
    }
    payment_reconcile = {
      public        = false
      cpu           = "1"
      memory        = "512Mi"
      concurrency   = 10 # one PhonePe status call per task; the queue dispatches at most 10 at once
      db_pool       = 3
      timeout       = 60
      max_instances = 10
      secrets       = ["DATABASE_URL", "REDIS_URL", "PHONEPE_CLIENT_SECRET", "RESEND_API_KEY"]
      queues        = ["payment_reconcile", "outbox_relay"]
      buckets       = []
      roles         = []
    }
    onboarding_step = {
      public        = true
      cpu           = "1"
      memory        = "512Mi"
      concurrency   = 40 # autosave: one Firestore write and a few Redis round trips per save
      db_pool       = 3
      timeout       = 30
      max_instances = 30
      secrets       = ["DATABASE_URL", "REDIS_URL", "SUPABASE_JWT_SECRET"]
      queues        = ["onboarding_ai"]
      buckets       = ["evidence"]
      roles         = ["roles/datastore.user"]
    }
    onboarding_ai = {
      public        = false
      cpu           = "1"
      memory        = "512Mi"
      concurrency   = 10 # each request waits up to 30 s on Gemini: threads, not CPU, are the limit
      db_pool       = 2
      timeout       = 60 # the AI call has 30 s; the rest is margin to record the outcome
      max_instances = 10
      secrets       = ["DATABASE_URL", "REDIS_URL"]
      queues        = []
      buckets       = []
      roles         = ["roles/datastore.user", "roles/aiplatform.user"]
    }
    finalize = {
      public        = true
      cpu           = "1"
      memory        = "1Gi"
      concurrency   = 10 # the reducer is CPU work (1-5 ms) and a finalize writes one large transaction
      db_pool       = 3
      timeout       = 60
      max_instances = 10
      secrets       = ["DATABASE_URL", "REDIS_URL", "SUPABASE_JWT_SECRET"]
      queues        = ["bcm_rebuild", "outbox_relay"]
      buckets       = []
      roles         = ["roles/datastore.user"]
    }
    context = {
      public        = true
      cpu           = "1"
      memory        = "1Gi"
      concurrency   = 40 # every AI feature reads the manifest: mostly the in-memory tier 0
      db_pool       = 2
      timeout       = 60
      max_instances = 20
      secrets       = ["DATABASE_URL", "REDIS_URL", "SUPABASE_JWT_SECRET"]
      queues        = ["bcm_rebuild"]
      buckets       = ["exports"]
      roles         = ["roles/datastore.user"]
    }
    bcm_rebuild = {
      public        = false
      cpu           = "1"
      memory        = "1Gi"
      concurrency   = 5 # CPU-bound reduce; the queue dispatches at most 5 at once
      db_pool       = 2
      timeout       = 120
      max_instances = 5
      secrets       = ["DATABASE_URL", "REDIS_URL"]
      queues        = []
      buckets       = []
      roles         = ["roles/datastore.user"]
    }
    maintenance = {
      public        = false
      cpu           = "1"
      memory        = "512Mi"
      concurrency   = 4 # three Scheduler sweeps every 15 minutes plus outbox relays
      db_pool       = 2
      timeout       = 300
      max_instances = 2
      secrets       = ["DATABASE_URL", "REDIS_URL", "PHONEPE_CLIENT_SECRET", "RESEND_API_KEY"]
      queues        = ["payment_reconcile", "outbox_relay"]
      buckets       = []
      roles         = ["roles/datastore.user"]
    }
  }

  # The identity Cloud Build builds every function as (build_config.service_account), with what
  # the Cloud Functions docs require of a build account: write the build's logs and push the
  # image to Artifact Registry (project-level), read the source zips (the sources bucket only,
  # iam.tf). Not the default build account: newer organisations no longer make it an Editor.
  build_roles = toset(["roles/logging.logWriter", "roles/artifactregistry.writer"])

  # Postgres client connections every function may open at full scale (checked in checks.tf).
  db_connections_at_scale = sum([for name, fn in local.functions : fn.max_instances * fn.db_pool])

  # Cloud Tasks queues: read from lib/queues.json, the file the code reads too (lib/queues.py),
  # so the retry configs the workers assume and the real queues cannot disagree.
  queues = jsondecode(file("${path.module}/../../lib/queues.json"))

  secrets = toset([
    "DATABASE_URL",
    "REDIS_URL",
    "SUPABASE_JWT_SECRET",
    "PHONEPE_CLIENT_SECRET",
    "PHONEPE_WEBHOOK_USERNAME",
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
  # Every project-level grant (none of these roles has a finer grain): each function's `roles`
  # above, and the build account's (local.build_roles).
  function_roles = merge(concat(
    [for fn, cfg in local.functions : { for r in cfg.roles : "${fn}/${r}" => { member = "serviceAccount:${google_service_account.fn[fn].email}", role = r } }],
    [{ for r in local.build_roles : "build/${r}" => { member = "serviceAccount:${google_service_account.build.email}", role = r } }],
  )...)
  enqueuers = toset([for fn, cfg in local.functions : fn if length(cfg.queues) > 0])
  signers   = toset([for fn, cfg in local.functions : fn if length(cfg.buckets) > 0])
  internal  = toset([for fn, cfg in local.functions : fn if !cfg.public])
  public    = toset([for fn, cfg in local.functions : fn if cfg.public])

  # Who may invoke the internal functions: the queues' targets (lib/queues.json) only the tasks
  # invoker, the maintenance function also the scheduler invoker; nobody else.
  task_targets       = toset([for q in local.queues : q.target])
  scheduler_target   = "maintenance"
  invoker_emails     = { tasks = google_service_account.tasks_invoker.email, scheduler = google_service_account.scheduler_invoker.email }
  oidc_allowed_email = { for fn, _ in local.functions : fn => join(",", concat(contains(local.task_targets, fn) ? [local.invoker_emails.tasks] : [], fn == local.scheduler_target ? [local.invoker_emails.scheduler] : [])) }
}
