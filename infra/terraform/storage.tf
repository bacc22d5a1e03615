# BCM exports: served through short-lived signed URLs; a copy older than a week is stale anyway.
resource "google_storage_bucket" "exports" {
  # checkov:skip=CKV_GCP_62: object access is recorded by the Data Access audit logs (audit.tf), Google's replacement for usage-log buckets
  # checkov:skip=CKV_GCP_78: exports are regenerated on demand from Postgres and expire after 7 days; old copies have no value
  name                        = "${var.project}-${local.name_prefix}-exports"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  labels                      = local.labels

  lifecycle_rule {
    condition {
      age = 7
    }
    action {
      type = "Delete"
    }
  }
}

# Evidence uploads: user-provided documents, uploaded by the browser through signed URLs.
resource "google_storage_bucket" "evidence" {
  # checkov:skip=CKV_GCP_62: object access is recorded by the Data Access audit logs (audit.tf), Google's replacement for usage-log buckets
  name                        = "${var.project}-${local.name_prefix}-evidence"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  labels                      = local.labels

  versioning {
    enabled = true
  }

  # An overwritten or deleted upload stays recoverable for 30 days.
  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 30
      with_state                 = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  cors {
    origin          = [var.frontend_url]
    method          = ["PUT", "GET"]
    response_header = ["Content-Type"]
    max_age_seconds = 3600
  }
}
