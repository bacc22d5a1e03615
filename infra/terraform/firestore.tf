resource "google_firestore_database" "main" {
  name                              = "(default)"
  location_id                       = var.firestore_location
  type                              = "FIRESTORE_NATIVE"
  concurrency_mode                  = "OPTIMISTIC"
  point_in_time_recovery_enablement = "POINT_IN_TIME_RECOVERY_ENABLED"
  delete_protection_state           = "DELETE_PROTECTION_ENABLED"
  deletion_policy                   = "ABANDON"

  depends_on = [google_project_service.apis]
}

# TTL policies: Firestore deletes a document some time after its `expires_at` passes.
# Abandoned onboarding drafts and the BCM cold tier (7 days) expire this way.
resource "google_firestore_field" "ttl" {
  for_each = toset(["onboarding_drafts", "bcm_cache"])

  project    = var.project
  database   = google_firestore_database.main.name
  collection = each.value
  field      = "expires_at"

  ttl_config {}

  # No single-field index on a timestamp nobody queries (and it avoids a write hotspot).
  index_config {}
}
