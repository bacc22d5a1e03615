# Source zips come from `make build` (tools/stage.py): build/<name>.zip, deterministic, so the
# object name (content hash) changes only when the code or its pins do. A new release replaces
# the object, which deletes the previous one: versioning keeps it as a noncurrent generation for
# 90 days, and var.source_objects can pin a function back to it (docs/deploy.md, "Rollback").

resource "google_storage_bucket" "sources" {
  # checkov:skip=CKV_GCP_62: object access is recorded by the Data Access audit logs (audit.tf)
  name                        = "${var.project}-${local.name_prefix}-sources"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  labels                      = local.labels

  versioning {
    enabled = true
  }

  # Previous releases' zips stay restorable for 90 days, then go. Live ones are never aged out.
  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 90
      with_state                 = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }
}

resource "google_storage_bucket_object" "source" {
  for_each = toset(keys(local.functions))

  name   = "${each.key}/${filemd5("${path.module}/../../build/${each.key}.zip")}.zip"
  bucket = google_storage_bucket.sources.name
  source = "${path.module}/../../build/${each.key}.zip"
}

locals {
  common_env = {
    APP_ENV                = var.app_env
    LOG_LEVEL              = var.log_level
    GCP_PROJECT            = var.project
    GCP_REGION             = var.region
    FUNCTIONS_BASE_URL     = local.functions_base_url
    FRONTEND_URL           = var.frontend_url
    SUPABASE_URL           = var.supabase_url
    FIRESTORE_DATABASE     = google_firestore_database.main.name
    GCS_BUCKET_EXPORTS     = google_storage_bucket.exports.name
    GCS_BUCKET_EVIDENCE    = google_storage_bucket.evidence.name
    TASKS_MODE             = "cloud"
    TASKS_QUEUE_AI         = google_cloud_tasks_queue.queue["onboarding_ai"].name
    TASKS_QUEUE_BCM        = google_cloud_tasks_queue.queue["bcm_rebuild"].name
    TASKS_QUEUE_PAYMENTS   = google_cloud_tasks_queue.queue["payment_reconcile"].name
    TASKS_QUEUE_OUTBOX     = google_cloud_tasks_queue.queue["outbox_relay"].name
    TASKS_INVOKER_EMAIL    = google_service_account.tasks_invoker.email
    VERTEX_LOCATION        = var.region
    VERTEX_MODEL           = var.vertex_model
    PHONEPE_ENV            = var.phonepe_env
    PHONEPE_CLIENT_ID      = var.phonepe_client_id
    PHONEPE_CLIENT_VERSION = tostring(var.phonepe_client_version)
    PHONEPE_API_BASE       = var.phonepe_api_base
    PHONEPE_TOKEN_URL      = var.phonepe_token_url
    RESEND_FROM            = var.resend_from
    # Public, not secret: the Memorystore server CA, for rediss:// certificate checks.
    REDIS_CA_PEM = var.redis_transit_encryption == "DISABLED" ? "" : google_redis_instance.cache.server_ca_certs[0].cert
  }
}

resource "google_cloudfunctions2_function" "fn" {
  # checkov:skip=CKV_GCP_124: ALLOW_ALL only for the public functions (the frontend and PhonePe call them from the internet; the app checks the JWT or the webhook credentials); internal ones are ALLOW_INTERNAL_ONLY
  for_each = toset(keys(local.functions))

  name     = each.key
  location = var.region
  labels   = local.labels

  build_config {
    runtime     = "python312"
    entry_point = "main"
    # Its own least-privilege account, not the default build account (iam.tf, local.build_roles).
    service_account = google_service_account.build.id
    source {
      storage_source {
        bucket = google_storage_bucket.sources.name
        # Rollback: var.source_objects pins a function to an earlier zip (object and generation).
        object = try(var.source_objects[each.key].object, google_storage_bucket_object.source[each.key].name)
        # Always explicit: the provider keeps a generation from state when this is left null.
        generation = try(var.source_objects[each.key].generation, google_storage_bucket_object.source[each.key].generation)
      }
    }
  }

  service_config {
    available_cpu                    = local.functions[each.key].cpu
    available_memory                 = local.functions[each.key].memory
    timeout_seconds                  = local.functions[each.key].timeout
    min_instance_count               = lookup(var.min_instances, each.key, 0)
    max_instance_count               = local.functions[each.key].max_instances
    max_instance_request_concurrency = local.functions[each.key].concurrency
    service_account_email            = google_service_account.fn[each.key].email
    # Internal functions accept only Google-internal traffic (Cloud Tasks and Scheduler of this
    # project count as internal) on top of the IAM invoker check; see var.internal_ingress.
    ingress_settings               = local.functions[each.key].public ? "ALLOW_ALL" : var.internal_ingress
    all_traffic_on_latest_revision = true
    vpc_connector                  = google_vpc_access_connector.connector.id
    vpc_connector_egress_settings  = "PRIVATE_RANGES_ONLY" # Supabase, PhonePe and Resend stay on the internet path

    environment_variables = merge(
      local.common_env,
      {
        SIGNING_SERVICE_ACCOUNT = google_service_account.fn[each.key].email
        # functions-framework runs gunicorn with this many threads: one per concurrent request.
        THREADS     = tostring(local.functions[each.key].concurrency)
        DB_POOL_MAX = tostring(local.functions[each.key].db_pool)
        # Who may call its internal routes: the invokers bound to it in iam.tf, and no one else.
        OIDC_ALLOWED_EMAILS = local.oidc_allowed_email[each.key]
        # The audience Cloud Tasks and Scheduler put in the OIDC token: this function's own URL.
        OIDC_AUDIENCE = local.function_urls[each.key]
      },
    )

    dynamic "secret_environment_variables" {
      for_each = toset(local.functions[each.key].secrets)
      content {
        key        = secret_environment_variables.value
        project_id = var.project
        secret     = google_secret_manager_secret.secret[secret_environment_variables.value].secret_id
        version    = "latest"
      }
    }
  }

  depends_on = [
    google_project_service.apis,
    google_secret_manager_secret_iam_member.fn_secrets,
    # The build needs its grants before the first build starts.
    google_project_iam_member.fn_roles,
    google_storage_bucket_iam_member.build_sources,
  ]
}
