locals {
  # The network by name, from variables, not read through a data source: a data source that
  # depends on google_project_service.apis is deferred to apply time whenever the API list
  # changes, and its unknown id would force Redis and the connector to be replaced (Redis
  # destroyed with its data). The network exists before the first apply (docs/deploy.md,
  # step 5 enables the APIs first). tests/unit/tools/test_tf_replacement.py keeps it so.
  network_id = "projects/${var.project}/global/networks/${var.network}"
}

# Functions reach Memorystore's private IP through this connector.
resource "google_vpc_access_connector" "connector" {
  name          = "${local.name_prefix}-vpc"
  region        = var.region
  network       = var.network
  ip_cidr_range = var.connector_cidr
  machine_type  = "e2-micro"
  min_instances = 2
  max_instances = 3

  depends_on = [google_project_service.apis]
}

resource "google_redis_instance" "cache" {
  name               = "${local.name_prefix}-cache"
  region             = var.region
  tier               = var.redis_tier
  memory_size_gb     = var.redis_memory_gb
  redis_version      = "REDIS_7_2"
  authorized_network = local.network_id
  connect_mode       = "DIRECT_PEERING"
  labels             = local.labels

  # The AUTH string goes into the REDIS_URL secret (docs/deploy.md), never into a variable.
  auth_enabled            = true
  transit_encryption_mode = var.redis_transit_encryption

  redis_configs = {
    # Evict only keys with a TTL (cache entries); counters and locks without one stay.
    maxmemory-policy = "volatile-lru"
  }

  depends_on = [google_project_service.apis]
}
