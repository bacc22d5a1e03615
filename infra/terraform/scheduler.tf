resource "google_cloud_scheduler_job" "maintenance" {
  name             = "${local.name_prefix}-maintenance"
  region           = var.region
  description      = "Expire abandoned sessions, sweep the email outbox, reconcile old PENDING orders."
  schedule         = var.maintenance_schedule
  time_zone        = "Etc/UTC"
  attempt_deadline = "320s" # the function's 300 s timeout plus the round trip

  # The next run comes in 15 minutes: retrying a failed sweep sooner only piles up work.
  retry_config {
    retry_count = 0
  }

  http_target {
    http_method = "POST"
    uri         = google_cloudfunctions2_function.fn["maintenance"].url
    headers = {
      "Content-Type" = "application/json"
    }
    body = base64encode(jsonencode({ job = "all" }))

    oidc_token {
      service_account_email = google_service_account.tasks_invoker.email
      audience              = local.function_urls["maintenance"]
    }
  }

  depends_on = [google_project_service.apis]
}
