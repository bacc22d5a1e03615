# Plan-time assertions about the deploy as a whole (tests/unit/tools/test_terraform.py checks the same
# statically, so CI catches them without a provider).

check "db_connections_fit_the_pooler" {
  assert {
    condition     = local.db_connections_at_scale <= var.db_client_connections
    error_message = "Every function at max_instances x db_pool opens ${local.db_connections_at_scale} Postgres connections; the pooler allows ${var.db_client_connections}."
  }
}

check "min_instances_name_real_functions" {
  assert {
    condition     = alltrue([for name in keys(var.min_instances) : contains(keys(local.functions), name)])
    error_message = "min_instances names a function that does not exist."
  }
}

check "source_objects_name_real_functions" {
  assert {
    condition     = alltrue([for name, pin in var.source_objects : contains(keys(local.functions), name) && startswith(pin.object, "${name}/")])
    error_message = "source_objects must map a function name to one of its own objects (\"<fn>/<md5>.zip\")."
  }
}
