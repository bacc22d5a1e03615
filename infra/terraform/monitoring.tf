# Alerts: what each means and what to do is in docs/alerts.md (a test keeps the two in step).
# Log-based metrics count the structured events named in lib/ops_events.py: the functions log
# them as jsonPayload.event, and a rename there must be made here too (tests/unit/tools/test_terraform.py).

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
  # service_config[0].service is the full name (projects/.../services/<name>); metrics label the short one.
  webhook_service = basename(google_cloudfunctions2_function.fn["payment_webhook"].service_config[0].service)
  # Gen2 functions run on Cloud Run: their request metrics and logs are cloud_run_revision's.
  run_requests = "resource.type = \"cloud_run_revision\" AND metric.type = \"run.googleapis.com/request_count\""

  # One counter per event; the filter is the event name the code logs (lib/ops_events.py).
  # Each counter pages through its alert policy when it counts more than `above` in `window_s`
  # (google_monitoring_alert_policy.counted; what to do is docs/alerts.md, by policy name).
  log_counters = {
    payments_needing_review = {
      description = "Payments a person must look at: COMPLETED after FAILED/EXPIRED (NEEDS_REVIEW), or an amount/owner mismatch."
      events      = ["payment.needs_review", "payment.mismatch"]
      # Money taken and nothing granted, or PhonePe's numbers disagree with ours: page on the first one.
      alert = { policy = "payments_needing_review", title = "payment needs review", condition = "any NEEDS_REVIEW or mismatched payment", above = 0, window_s = 300 }
    }
    webhook_unknown_events = {
      description = "PhonePe webhooks of a kind nothing handles (not a checkout order's nor a refund's)."
      events      = ["payment.webhook_unknown_event"]
      # PhonePe sends events nothing handles: most likely the dashboard's webhook is set for another product.
      alert = { policy = "webhook_unknown_events", title = "PhonePe webhooks nothing handles", condition = "any webhook of an unhandled kind in an hour", above = 0, window_s = 3600 }
    }
    ai_suggestion_failures = {
      description = "AI suggestions that failed their last attempt."
      events      = ["ai.suggestion_failed"]
      # AI suggestions failing for good: Vertex AI down, quota exhausted, or the model's answers keep failing our step schemas (a prompt or model change).
      alert = { policy = "ai_failures", title = "AI suggestion failures", condition = "more than 5 failed suggestions in 15 minutes", above = 5, window_s = 900 }
    }
    bcm_rebuild_failures = {
      description = "BCM rebuilds that failed for good (the previous version keeps serving)."
      events      = ["bcm.rebuild_failed"]
      # A rebuild that gave up leaves a stale manifest serving: every AI feature reads old context.
      alert = { policy = "rebuild_failures", title = "BCM rebuild failures", condition = "more than 2 rebuilds gave up in 30 minutes", above = 2, window_s = 1800 }
    }
    redemption_failures = {
      description = "UPI AutoPay debits PhonePe reported FAILED (the customer is asked to renew by hand)."
      events      = ["payment.redemption_failed"]
      # UPI AutoPay debits failing above their usual rate: a bank or PhonePe problem, or mandates gone bad.
      alert = { policy = "redemption_failures", title = "AutoPay debits failing", condition = "more than 5 failed AutoPay debits in an hour", above = 5, window_s = 3600 }
    }
    redemptions_stuck = {
      description = "UPI AutoPay debits still not final an hour after they were asked for (logged each hourly run)."
      events      = ["payment.redemption_stuck"]
      # An AutoPay debit that PhonePe has not settled an hour after it was asked for.
      alert = { policy = "redemptions_stuck", title = "AutoPay debit stuck", condition = "any AutoPay debit open for over an hour", above = 0, window_s = 3600 }
    }
    refund_failures = {
      description = "Refunds PhonePe refused or failed, and refunds still open after their week-long ladder."
      events      = ["payment.refund_failed", "payment.refund_stuck"]
      # A refund that failed or is stuck: the customer is still owed money an operator promised.
      alert = { policy = "refund_failures", title = "refund failed or stuck", condition = "any failed or stuck refund", above = 0, window_s = 300 }
    }
  }
}

locals {
  # "a" OR "b": the events of each counter, quoted for the logging filter.
  event_filters = { for name, counter in local.log_counters : name => join(" OR ", formatlist("\"%s\"", counter.events)) }
}

resource "google_logging_metric" "counter" {
  for_each = local.log_counters

  name        = "${local.name_prefix}/${each.key}"
  description = each.value.description
  filter      = "resource.type=\"cloud_run_revision\" AND jsonPayload.event=(${local.event_filters[each.key]})"

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
  }
}

# One alert policy per counter (its `alert` in local.log_counters).
resource "google_monitoring_alert_policy" "counted" {
  for_each = { for name, counter in local.log_counters : counter.alert.policy => merge(counter.alert, { counter = name }) }

  display_name          = "bcm ${var.env}: ${each.value.title}"
  combiner              = "OR"
  notification_channels = local.notification_channels

  conditions {
    display_name = each.value.condition
    condition_threshold {
      filter          = "resource.type = \"cloud_run_revision\" AND metric.type = \"logging.googleapis.com/user/${google_logging_metric.counter[each.value.counter].name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = each.value.above
      duration        = "0s"
      aggregations {
        alignment_period     = "${each.value.window_s}s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }
}

# The policies above were single resources once: move them into the map instead of replacing them.
moved {
  from = google_monitoring_alert_policy.payments_needing_review
  to   = google_monitoring_alert_policy.counted["payments_needing_review"]
}

moved {
  from = google_monitoring_alert_policy.redemption_failures
  to   = google_monitoring_alert_policy.counted["redemption_failures"]
}

moved {
  from = google_monitoring_alert_policy.redemptions_stuck
  to   = google_monitoring_alert_policy.counted["redemptions_stuck"]
}

moved {
  from = google_monitoring_alert_policy.refund_failures
  to   = google_monitoring_alert_policy.counted["refund_failures"]
}

moved {
  from = google_monitoring_alert_policy.ai_failures
  to   = google_monitoring_alert_policy.counted["ai_failures"]
}

moved {
  from = google_monitoring_alert_policy.rebuild_failures
  to   = google_monitoring_alert_policy.counted["rebuild_failures"]
}

moved {
  from = google_monitoring_alert_policy.webhook_unknown_events
  to   = google_monitoring_alert_policy.counted["webhook_unknown_events"]
}

# Emails waiting in the outbox: every sweep logs the count and the oldest row's age.
resource "google_logging_metric" "outbox_oldest_age" {
  name            = "${local.name_prefix}/outbox_oldest_age"
  description     = "Age in seconds of the oldest unsent email, logged by every outbox sweep."
  filter          = "resource.type=\"cloud_run_revision\" AND jsonPayload.event=\"outbox.backlog\""
  value_extractor = "EXTRACT(jsonPayload.oldest_age_s)"

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "DISTRIBUTION"
    unit        = "s"
  }

  bucket_options {
    exponential_buckets {
      num_finite_buckets = 20
      growth_factor      = 2
      scale              = 1
    }
  }
}

# Any function answering 5xx to more than 5% of its requests: bad input is a 4xx by design,
# so a 5xx is a bug or an outage of something behind the function.
resource "google_monitoring_alert_policy" "function_error_rate" {
  display_name          = "bcm ${var.env}: function error rate"
  combiner              = "OR"
  notification_channels = local.notification_channels

  conditions {
    display_name = "5xx above 5% of a function's requests for 5 minutes"
    condition_threshold {
      filter             = "${local.run_requests} AND metric.labels.response_code_class = \"5xx\""
      denominator_filter = local.run_requests
      comparison         = "COMPARISON_GT"
      threshold_value    = 0.05
      duration           = "300s"
      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["resource.labels.service_name"]
      }
      denominator_aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["resource.labels.service_name"]
      }
    }
  }
}

# Webhook 4xx: a wrong password in the dashboard, a rotated secret, someone probing, or PhonePe
# changed its payload. Webhook 5xx: PhonePe is retrying because we could not record deliveries.
resource "google_monitoring_alert_policy" "webhook_errors" {
  display_name          = "bcm ${var.env}: payment webhook 4xx/5xx spike"
  combiner              = "OR"
  notification_channels = local.notification_channels

  conditions {
    display_name = "more than 10 webhook 4xx in 5 minutes"
    condition_threshold {
      filter          = "${local.run_requests} AND resource.labels.service_name = \"${local.webhook_service}\" AND metric.labels.response_code_class = \"4xx\""
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

  conditions {
    display_name = "more than 3 webhook 5xx in 5 minutes"
    condition_threshold {
      filter          = "${local.run_requests} AND resource.labels.service_name = \"${local.webhook_service}\" AND metric.labels.response_code_class = \"5xx\""
      comparison      = "COMPARISON_GT"
      threshold_value = 3
      duration        = "0s"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }
}

# Emails not going out: Resend down or rejecting us, or the sweep itself failing.
resource "google_monitoring_alert_policy" "outbox_backlog" {
  display_name          = "bcm ${var.env}: email outbox backlog"
  combiner              = "OR"
  notification_channels = local.notification_channels

  conditions {
    display_name = "an email has waited more than an hour (two sweeps in a row)"
    condition_threshold {
      filter          = "resource.type = \"cloud_run_revision\" AND metric.type = \"logging.googleapis.com/user/${google_logging_metric.outbox_oldest_age.name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 3600
      duration        = "1800s"
      aggregations {
        alignment_period     = "900s"
        per_series_aligner   = "ALIGN_PERCENTILE_99"
        cross_series_reducer = "REDUCE_MAX"
      }
    }
  }

  # The sweep runs every 15 minutes; no sweep at all for 45 minutes means the job is broken.
  conditions {
    display_name = "no outbox sweep reported for 45 minutes"
    condition_absent {
      filter   = "resource.type = \"cloud_run_revision\" AND metric.type = \"logging.googleapis.com/user/${google_logging_metric.outbox_oldest_age.name}\""
      duration = "2700s"
      aggregations {
        alignment_period     = "900s"
        per_series_aligner   = "ALIGN_PERCENTILE_99"
        cross_series_reducer = "REDUCE_MAX"
      }
    }
  }
}

# A queue that keeps growing means its worker is failing or too slow (every queue).
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
