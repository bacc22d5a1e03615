output "function_urls" {
  description = "HTTPS URL of every function."
  value       = { for name, fn in google_cloudfunctions2_function.fn : name => fn.url }
}

output "service_accounts" {
  description = "Runtime service account of every function."
  value       = { for name, sa in google_service_account.fn : name => sa.email }
}

output "scheduler_invoker_email" {
  description = "The OIDC identity of the Cloud Scheduler maintenance jobs."
  value       = google_service_account.scheduler_invoker.email
}

output "tasks_invoker_email" {
  description = "The OIDC identity of Cloud Tasks deliveries."
  value       = google_service_account.tasks_invoker.email
}

output "redis_host" {
  description = "Memorystore host and port, for the REDIS_URL secret."
  value       = "${google_redis_instance.cache.host}:${google_redis_instance.cache.port}"
}

output "secret_ids" {
  description = "Secret Manager secrets to fill (docs/deploy.md)."
  value       = { for name, s in google_secret_manager_secret.secret : name => s.secret_id }
}

output "buckets" {
  description = "Exports, evidence and function-source buckets."
  value = {
    exports  = google_storage_bucket.exports.name
    evidence = google_storage_bucket.evidence.name
    sources  = google_storage_bucket.sources.name
  }
}

output "source_objects" {
  description = "The source zip each function runs: note them in the release notes with their generations (gcloud storage ls -a), they are the rollback."
  value       = { for name, object in google_storage_bucket_object.source : name => object.name }
}
