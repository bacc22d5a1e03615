# One service account per function, granted only what that function touches (locals.tf).

resource "google_service_account" "fn" {
  for_each = toset(keys(local.functions))

  account_id   = "${replace(each.key, "_", "-")}-${var.env}"
  display_name = "bcm ${each.key} (${var.env})"
  description  = "Runtime identity of the ${each.key} function."
}

# The identity Cloud Tasks signs OIDC tokens as: it may invoke only the queues' target functions.
resource "google_service_account" "tasks_invoker" {
  account_id   = "tasks-invoker-${var.env}"
  display_name = "bcm tasks invoker (${var.env})"
  description  = "OIDC identity of Cloud Tasks deliveries."
}

# The identity Cloud Scheduler signs OIDC tokens as: it may invoke only the maintenance function.
resource "google_service_account" "scheduler_invoker" {
  account_id   = "scheduler-invoker-${var.env}"
  display_name = "bcm scheduler invoker (${var.env})"
  description  = "OIDC identity of Cloud Scheduler's maintenance jobs."
}

# The identity the functions are built as (Cloud Build): see local.build_roles.
resource "google_service_account" "build" {
  account_id   = "fn-build-${var.env}"
  display_name = "bcm function builds (${var.env})"
  description  = "Cloud Build identity of the functions' builds: logs, image push, source read."
}

resource "google_project_iam_member" "fn_roles" {
  for_each = local.function_roles

  project = var.project
  role    = each.value.role
  member  = each.value.member
}

# The build reads the function's source zip, and no other bucket.
resource "google_storage_bucket_iam_member" "build_sources" {
  bucket = google_storage_bucket.sources.name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.build.email}"
}

resource "google_secret_manager_secret_iam_member" "fn_secrets" {
  for_each = local.function_secrets

  secret_id = google_secret_manager_secret.secret[each.value.secret].id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.fn[each.value.fn].email}"
}

resource "google_cloud_tasks_queue_iam_member" "fn_enqueue" {
  for_each = local.function_queues

  name     = google_cloud_tasks_queue.queue[each.value.queue].name
  location = var.region
  role     = "roles/cloudtasks.enqueuer"
  member   = "serviceAccount:${google_service_account.fn[each.value.fn].email}"
}

# Creating a task with an OIDC token "as" the invoker needs actAs on that account.
resource "google_service_account_iam_member" "fn_act_as_invoker" {
  for_each = local.enqueuers

  service_account_id = google_service_account.tasks_invoker.name
  role               = "roles/iam.serviceAccountUser"
  member             = "serviceAccount:${google_service_account.fn[each.value].email}"
}

resource "google_storage_bucket_iam_member" "fn_buckets" {
  for_each = local.function_buckets

  bucket = each.value.bucket == "exports" ? google_storage_bucket.exports.name : google_storage_bucket.evidence.name
  role   = "roles/storage.objectUser"
  member = "serviceAccount:${google_service_account.fn[each.value.fn].email}"
}

# Signed URLs without a private key: the function signs through IAM signBlob as itself.
resource "google_service_account_iam_member" "fn_sign_as_self" {
  for_each = local.signers

  service_account_id = google_service_account.fn[each.value].name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = "serviceAccount:${google_service_account.fn[each.value].email}"
}

# Internal functions: the tasks invoker may call the queues' targets, nothing else.
resource "google_cloud_run_v2_service_iam_member" "tasks_invoker" {
  for_each = local.task_targets

  project  = var.project
  location = var.region
  name     = google_cloudfunctions2_function.fn[each.value].service_config[0].service
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.tasks_invoker.email}"
}

# ...and the scheduler invoker the maintenance function only.
resource "google_cloud_run_v2_service_iam_member" "scheduler_invoker" {
  project  = var.project
  location = var.region
  name     = google_cloudfunctions2_function.fn[local.scheduler_target].service_config[0].service
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.scheduler_invoker.email}"
}

# Public functions: the platform lets anyone in; the app checks the JWT or the webhook header.
resource "google_cloud_run_v2_service_iam_member" "public_invoker" {
  for_each = local.public

  project  = var.project
  location = var.region
  name     = google_cloudfunctions2_function.fn[each.value].service_config[0].service
  role     = "roles/run.invoker"
  member   = "allUsers"
}
