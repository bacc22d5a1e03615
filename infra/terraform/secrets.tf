# The secrets exist here; their values never do (no google_secret_manager_secret_version).
# Add a version by hand after the first apply (docs/deploy.md), then redeploy.
resource "google_secret_manager_secret" "secret" {
  for_each = local.secrets

  secret_id = "${local.name_prefix}-${lower(replace(each.value, "_", "-"))}"
  labels    = local.labels

  replication {
    auto {}
  }

  depends_on = [google_project_service.apis]
}
