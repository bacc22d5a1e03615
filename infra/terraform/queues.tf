resource "google_cloud_tasks_queue" "queue" {
  for_each = local.queues

  name     = "${each.value.name}-${var.env}"
  location = var.region

  retry_config {
    max_attempts  = each.value.max_attempts
    min_backoff   = each.value.min_backoff
    max_backoff   = each.value.max_backoff
    max_doublings = each.value.max_doublings
  }

  rate_limits {
    max_dispatches_per_second = each.value.max_rate
    max_concurrent_dispatches = each.value.max_inflight
  }

  stackdriver_logging_config {
    sampling_ratio = 1.0
  }

  depends_on = [google_project_service.apis]
}
