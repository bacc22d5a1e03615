# One Scheduler job per maintenance route (functions/maintenance/main.py): each sweep
# runs, fails and is retried on its own.
locals {
  maintenance_jobs = {
    "expire-sessions"     = "Mark onboarding sessions abandoned after 7 days without a save."
    "sweep-outbox"        = "Send email outbox rows that were not delivered right after commit."
    "reconcile-payments"  = "Re-queue the status-check ladder for old PENDING orders."
    "sweep-subscriptions" = "Move subscriptions past their period or grace end; queue renewal reminders and notices."
    "autopay"             = "UPI AutoPay: pre-debit notices 48 h before a period end, debits once due and 24 h after the notice."
  }
}

resource "google_cloud_scheduler_job" "maintenance" {
  for_each = local.maintenance_jobs

  name             = "${local.name_prefix}-${each.key}"
  region           = var.region
  description      = each.value
  schedule         = var.maintenance_schedule
  time_zone        = "Etc/UTC"
  attempt_deadline = "320s" # the function's 300 s timeout plus the round trip

  # The next run comes in 15 minutes: retrying a failed sweep sooner only piles up work.
  retry_config {
    retry_count = 0
  }

  http_target {
    http_method = "POST"
    uri         = "${google_cloudfunctions2_function.fn["maintenance"].url}/${each.key}"
    headers = {
      "Content-Type" = "application/json"
    }
    body = base64encode(jsonencode({}))

    oidc_token {
      service_account_email = google_service_account.scheduler_invoker.email
      audience              = local.function_urls["maintenance"]
    }
  }

  depends_on = [google_project_service.apis]
}
