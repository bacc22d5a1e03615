# Data Access audit logs for Cloud Storage: who read or wrote which evidence upload, export or
# function source (Google's replacement for bucket usage logs), and for Secret Manager: who read
# a secret's value.
resource "google_project_iam_audit_config" "data_access" {
  for_each = toset(["storage.googleapis.com", "secretmanager.googleapis.com"])

  project = var.project
  service = each.value

  audit_log_config {
    log_type = "DATA_READ"
  }
  audit_log_config {
    log_type = "DATA_WRITE"
  }
}
