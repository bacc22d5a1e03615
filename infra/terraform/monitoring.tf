resource "google_monitoring_notification_channel" "email" {
  count = var.alert_email == "" ? 0 : 1

  display_name = "bcm ${var.env} alerts"
  type         = "email"
  labels = {
    email_address = var.alert_email
  }
}

locals {
  notification_channels = google_monitoring_notification_channel.email[*].id
  webhook_service       = google_cloudfunctions2_function.fn["payment_webhook"].service_config[0].service
}

# Any function answering 5xx: bad input is a 4xx by design, so a 5xx is a bug or an outage.
resource "google_monitoring_alert_policy" "function_5xx" {
  display_name          = "bcm ${var.env}: function 5xx rate"
  combiner              = "OR"
  notification_channels = local.notification_channels

  conditions {
    display_name = "5xx responses above 1 per minute for 5 minutes"
    condition_threshold {
      filter          = "resource.type = \"cloud_run_revision\" AND metric.type = \"run.googleapis.com/request_count\" AND metric.labels.response_code_class = \"5xx\""
      comparison      = "COMPARISON_GT"
      threshold_value = 1
      duration        = "300s"
      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["resource.labels.service_name"]
      }
    }
  }
}

# Webhook 401s: a wrong password in the dashboard, a rotated secret, or someone probing.
resource "google_monitoring_alert_policy" "webhook_401" {
  display_name          = "bcm ${var.env}: payment webhook 401 spike"
  combiner              = "OR"
  notification_channels = local.notification_channels

  conditions {
    display_name = "more than 10 webhook 401s in 5 minutes"
    condition_threshold {
      filter          = "resource.type = \"cloud_run_revision\" AND resource.labels.service_name = \"${local.webhook_service}\" AND metric.type = \"run.googleapis.com/request_count\" AND metric.labels.response_code = \"401\""
      comparison      = "COMPARISON_GT"
      threshold_value = 10
      duration        = "0s"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }
}

# A queue that keeps growing means its worker is failing or too slow.
resource "google_monitoring_alert_policy" "queue_depth" {
  display_name          = "bcm ${var.env}: task queue depth"
  combiner              = "OR"
  notification_channels = local.notification_channels

  conditions {
    display_name = "more than 100 tasks waiting for 10 minutes"
    condition_threshold {
      filter          = "resource.type = \"cloud_tasks_queue\" AND metric.type = \"cloudtasks.googleapis.com/queue/depth\""
      comparison      = "COMPARISON_GT"
      threshold_value = 100
      duration        = "600s"
      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_MEAN"
      }
    }
  }
}

# AI attempts that fail: Vertex AI down, quota exhausted, or our schema rejected its answers.
resource "google_monitoring_alert_policy" "ai_task_failures" {
  display_name          = "bcm ${var.env}: failed AI tasks"
  combiner              = "OR"
  notification_channels = local.notification_channels

  conditions {
    display_name = "more than 5 failed onboarding-ai attempts in 10 minutes"
    condition_threshold {
      filter          = "resource.type = \"cloud_tasks_queue\" AND resource.labels.queue_id = \"${google_cloud_tasks_queue.queue["onboarding_ai"].name}\" AND metric.type = \"cloudtasks.googleapis.com/queue/task_attempt_count\" AND metric.labels.response_code != \"OK\""
      comparison      = "COMPARISON_GT"
      threshold_value = 5
      duration        = "0s"
      aggregations {
        alignment_period     = "600s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }
}
