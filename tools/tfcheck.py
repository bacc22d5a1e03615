"""Invariants of ``infra/terraform``, checked statically (no provider, no network).

CI cannot run ``terraform validate`` (the Google provider cannot be
downloaded there), so the rules that make the deploy safe are checked here on
the HCL itself, parsed with python-hcl2, and compared with the code where the
code is the truth: which functions exist (``[tool.bcm.functions]`` of
pyproject.toml, read by ``tools/functions.py``) and who calls them (the routers),
which settings are secrets (``SecretStr`` fields of ``lib.config.Settings``),
the queues (``lib/queues.json``), the Firestore TTL fields, the events the
alerts count (``lib/ops_events.py``), the maintenance routes.

Each check takes a parsed directory and returns its violations, one readable
line each; an empty list means the invariant holds.  ``tests/unit/tools/test_terraform.py``
runs every check on the real directory and on copies broken on purpose, so a
check that could not fail would be noticed.

    python tools/tfcheck.py                  # infra/terraform; exit 1 on any violation
    python tools/tfcheck.py path/to/terraform
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2
from pydantic import SecretStr

from tools.functions import function_names

REPO = Path(__file__).resolve().parents[1]
TF_DIR = REPO / "infra" / "terraform"
OPTIONS = hcl2.SerializationOptions(with_comments=False, explicit_blocks=False, strip_string_quotes=True)

# Project-level roles a function may hold: Firestore and Vertex AI have no finer-grained binding.
ALLOWED_PROJECT_ROLES = frozenset({"roles/datastore.user", "roles/aiplatform.user"})
# Roles nobody gets from this configuration.
FORBIDDEN_ROLES = re.compile(r"roles/(owner|editor|viewer)\b|roles/iam\.securityAdmin|roles/resourcemanager\.")
# Members that make a resource public.
PUBLIC_MEMBERS = ("allUsers", "allAuthenticatedUsers")
# Environment variables that are not Settings fields: read by the platform or the framework.
PLATFORM_ENV = frozenset({"THREADS"})
# Google's limit on service account ids, and the longest env name variables.tf allows.
SA_ID_MAX = 30
ENV_NAME_MAX = 10
# The function every Scheduler job calls.
MAINTENANCE = "maintenance"
# Route auth modes that mean "called from the internet" (the frontend with a JWT, PhonePe with its header).
PUBLIC_AUTH = frozenset({"user", "none"})
EXPR = re.compile(r"^\$\{(.*)\}$", re.S)
ENV_KEY = re.compile(r"\b([A-Z][A-Z0-9_]*)\s*=")
SECRET_LITERALS = {
    "a Resend key": re.compile(r"\bre_[A-Za-z0-9]{16,}"),
    "a private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "a Google API key": re.compile(r"AIza[0-9A-Za-z_-]{30,}"),
    "a URL with a password": re.compile(r"[a-z]+://[^\s:/@\"$]+:[^\s@\"$]+@"),
    "a secret value attribute": re.compile(r"\b(secret_data|password|client_secret)\s*=\s*\"[^\"$]+\""),
}


@dataclass
class Terraform:
    """Every ``.tf`` file of one directory, merged: resources by type and name, locals, variables..."""

    root: Path
    resources: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    data: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    locals: dict[str, Any] = field(default_factory=dict)
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    checks: dict[str, dict[str, Any]] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)
    duplicates: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, root: Path = TF_DIR) -> Terraform:
        tf = cls(root)
        for path in sorted(root.glob("*.tf")):
            text = path.read_text()
            tf.texts[path.name] = text
            doc = hcl2.loads(text, serialization_options=OPTIONS)
            for kind, target in (("resource", tf.resources), ("data", tf.data)):
                for block in doc.get(kind, []):
                    for rtype, named in block.items():
                        for name, body in named.items():
                            if name in target.get(rtype, {}):
                                tf.duplicates.append(f"{rtype}.{name}")
                            target.setdefault(rtype, {})[name] = body
            for key, target2 in (("locals", tf.locals), ("variable", tf.variables), ("output", tf.outputs)):
                for block in doc.get(key, []):
                    target2.update(block)
            for block in doc.get("check", []):
                tf.checks.update(block)
        return tf

    def resource(self, rtype: str, name: str) -> dict[str, Any]:
        return self.resources.get(rtype, {}).get(name, {})

    @property
    def functions(self) -> dict[str, dict[str, Any]]:
        fns = self.locals.get("functions", {})
        return fns if isinstance(fns, dict) else {}

    @property
    def alert_policies(self) -> set[str]:
        """Every alert policy by name: the single resources, and one per log counter (``counted``)."""
        singles = set(self.resources.get("google_monitoring_alert_policy", {})) - {COUNTED_ALERTS}
        counters = self.locals.get("log_counters", {})
        return singles | {str(c["alert"]["policy"]) for c in counters.values() if isinstance(c, dict) and "alert" in c}

    @property
    def function_resource(self) -> dict[str, Any]:
        return self.resource("google_cloudfunctions2_function", "fn")

    @property
    def service_config(self) -> dict[str, Any]:
        return one(self.function_resource, "service_config")

    @property
    def per_function_env(self) -> set[str]:
        """Env names each function sets for itself (the object merged after ``local.common_env``)."""
        return set(ENV_KEY.findall(str(self.service_config.get("environment_variables"))))

    @property
    def plain_env(self) -> set[str]:
        """Every plain (non-secret) env name a function gets."""
        return set(self.locals.get("common_env", {})) | self.per_function_env

    def read_json_local(self, name: str) -> Any:
        """A local written as ``jsondecode(file("${path.module}/..."))``: the decoded file, else None."""
        match = re.fullmatch(r'\$\{jsondecode\(file\("\$\{path\.module\}/([^"]+)"\)\)\}', str(self.locals.get(name)))
        if match is None:
            return None
        return json.loads((self.root / match.group(1)).read_text())


def one(body: dict[str, Any], block: str) -> dict[str, Any]:
    """The single nested block ``block`` (hcl2 gives blocks as one-element lists); {} when absent."""
    found = body.get(block)
    if isinstance(found, list) and len(found) == 1 and isinstance(found[0], dict):
        return found[0]
    return {}


def expr(value: Any) -> str:
    """An expression without its ``${}``."""
    text = str(value)
    match = EXPR.match(text)
    return match.group(1) if match else text


def walk(node: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every (dotted path, leaf value) under ``node``."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from walk(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from walk(value, f"{path}[{i}]")
    else:
        yield path, node


# ------------------------------------------------------------------------------------- the code's side
def code_functions() -> dict[str, set[str]]:
    """Function name -> the auth modes of its routes, from the routers of the listed functions."""
    from tools.openapi import load_routes

    return {name: {spec.auth for spec in specs} for name, specs in load_routes().items()}


def secret_settings() -> set[str]:
    """Env names of the Settings fields typed SecretStr (``SecretStr | None`` too)."""
    from lib.config import Settings

    names = set()
    for name, info in Settings.model_fields.items():
        if SecretStr in (info.annotation, *getattr(info.annotation, "__args__", ())):
            names.add(name.upper())
    return names


def settings_env_names() -> set[str]:
    from lib.config import Settings

    return {name.upper() for name in Settings.model_fields}


# ------------------------------------------------------------------------------------- the checks
def check_parses_once(tf: Terraform) -> list[str]:
    problems = [f"{d} is declared twice" for d in tf.duplicates]
    for required in ("project", "region", "env"):
        if required not in tf.variables:
            problems.append(f"variable {required!r} is missing")
    return problems


def check_functions_match_the_code(tf: Terraform) -> list[str]:
    problems = []
    listed = function_names()
    if set(tf.functions) != set(listed):
        missing, extra = sorted(set(listed) - set(tf.functions)), sorted(set(tf.functions) - set(listed))
        problems.append(
            f"local.functions != [tool.bcm.functions] of pyproject.toml (missing {missing}, not listed {extra})"
        )
    code = code_functions()
    fn = tf.function_resource
    if fn.get("for_each") != "${toset(keys(local.functions))}":
        problems.append("google_cloudfunctions2_function.fn must be one per local.functions entry")
    build = one(fn, "build_config")
    if build.get("runtime") != "python312" or build.get("entry_point") != "main":
        problems.append("functions must run python312 with entry point main")
    for name, cfg in tf.functions.items():
        auths = code.get(name, set())
        public = bool(auths & PUBLIC_AUTH)
        if cfg.get("public") is not public:
            who = "the frontend or PhonePe" if public else "only Cloud Tasks/Scheduler (auth=internal)"
            problems.append(f"{name}: public = {cfg.get('public')} but its routes are called by {who}")
    return problems


def check_one_service_account_per_function(tf: Terraform) -> list[str]:
    problems = []
    sa = tf.resource("google_service_account", "fn")
    if sa.get("for_each") != "${toset(keys(local.functions))}":
        problems.append("google_service_account.fn must be one per function")
    if tf.service_config.get("service_account_email") != "${google_service_account.fn[each.key].email}":
        problems.append("each function must run as its own google_service_account.fn[each.key]")
    for name in tf.functions:
        account_id = f"{name.replace('_', '-')}-{'x' * ENV_NAME_MAX}"
        if len(account_id) > SA_ID_MAX:
            problems.append(f"{name}: service account id {account_id!r} exceeds {SA_ID_MAX} characters")
    return problems


def check_least_privilege(tf: Terraform) -> list[str]:
    problems = []
    secrets = set(_string_set(tf.locals.get("secrets")))
    queues = tf.read_json_local("queues") or {}
    for name, cfg in tf.functions.items():
        if extra := set(cfg.get("roles", [])) - ALLOWED_PROJECT_ROLES:
            problems.append(f"{name}: project roles {sorted(extra)} beyond {sorted(ALLOWED_PROJECT_ROLES)}")
        if extra := set(cfg.get("secrets", [])) - secrets:
            problems.append(f"{name}: secrets {sorted(extra)} are not declared in local.secrets")
        if extra := set(cfg.get("queues", [])) - set(queues):
            problems.append(f"{name}: queues {sorted(extra)} are not in lib/queues.json")
        if extra := set(cfg.get("buckets", [])) - {"exports", "evidence"}:
            problems.append(f"{name}: unknown buckets {sorted(extra)}")
    ai = [n for n, c in tf.functions.items() if "roles/aiplatform.user" in c.get("roles", [])]
    if ai not in ([], ["onboarding_ai"]):
        problems.append(f"only onboarding_ai may call Vertex AI, not {ai}")
    hook = [n for n, c in tf.functions.items() if "PHONEPE_WEBHOOK_PASSWORD" in c.get("secrets", [])]
    if hook != ["payment_webhook"]:
        problems.append(f"only payment_webhook may read the webhook password, not {hook}")
    for file, text in tf.texts.items():
        if found := FORBIDDEN_ROLES.search(text):
            problems.append(f"{file}: grants {found.group(0)}")
    for rtype, named in tf.resources.items():
        for rname, body in named.items():
            if rtype == "google_project_iam_member" and body.get("for_each") != "${local.function_roles}":
                problems.append(f"{rtype}.{rname}: project roles come only from local.functions[*].roles")
            if rtype.endswith(("_iam_member", "_iam_binding", "_iam_policy")) and rtype != (
                "google_cloud_run_v2_service_iam_member"
            ):
                for path, value in walk(body):
                    if any(m in str(value) for m in PUBLIC_MEMBERS):
                        problems.append(f"{rtype}.{rname}.{path}: grants {value} outside the public invoker")
    return problems


TASKS_MEMBER = "serviceAccount:${google_service_account.tasks_invoker.email}"
SCHEDULER_MEMBER = "serviceAccount:${google_service_account.scheduler_invoker.email}"


def check_invokers(tf: Terraform) -> list[str]:
    """Public functions: allUsers (the app authenticates). Internal ones: only their own callers,
    the tasks invoker for the queues' targets and the scheduler invoker for maintenance."""
    problems = []
    members = tf.resources.get("google_cloud_run_v2_service_iam_member", {})
    by_member: dict[str, list[dict[str, Any]]] = {}
    for rname, body in members.items():
        member = str(body.get("member"))
        by_member.setdefault(member, []).append(body)
        if member in PUBLIC_MEMBERS and body.get("for_each") != "${local.public}":
            problems.append(f"run invoker {rname}: {member} may only be granted on local.public")
    tasks = by_member.get(TASKS_MEMBER, [])
    if [b.get("for_each") for b in tasks] != ["${local.task_targets}"]:
        problems.append("the tasks invoker must be bound exactly to local.task_targets")
    if tf.locals.get("task_targets") != "${toset([for q in local.queues : q.target])}":
        problems.append("local.task_targets must be the queues' targets (lib/queues.json)")
    scheduler = by_member.get(SCHEDULER_MEMBER, [])
    if len(scheduler) != 1 or "fn[local.scheduler_target]" not in str(scheduler[0].get("name")):
        problems.append("the scheduler invoker must be bound to the maintenance function only")
    if tf.locals.get("scheduler_target") != MAINTENANCE:
        problems.append(f"local.scheduler_target must be {MAINTENANCE!r}")
    queues = tf.read_json_local("queues") or {}
    internal = {n for n, c in tf.functions.items() if not c.get("public")}
    invoked = {q.get("target") for q in queues.values()} | {MAINTENANCE}
    if internal != invoked:
        problems.append(
            f"internal functions {sorted(internal)} != those a queue or the Scheduler calls {sorted(invoked)}"
        )
    env = str(tf.service_config.get("environment_variables"))
    if "OIDC_ALLOWED_EMAILS = local.oidc_allowed_email[each.key]" not in env:
        problems.append("OIDC_ALLOWED_EMAILS must be each function's own invokers (local.oidc_allowed_email)")
    if "OIDC_ALLOWED_EMAILS" in tf.locals.get("common_env", {}):
        problems.append("OIDC_ALLOWED_EMAILS must not be shared by every function")
    ingress = expr(tf.service_config.get("ingress_settings"))
    if ingress != 'local.functions[each.key].public ? "ALLOW_ALL" : var.internal_ingress':
        problems.append(f"ingress must be var.internal_ingress for internal functions, got {ingress!r}")
    if tf.variables.get("internal_ingress", {}).get("default") != "ALLOW_INTERNAL_ONLY":
        problems.append("internal functions must default to ALLOW_INTERNAL_ONLY ingress")
    return problems


def check_no_secret_in_plain_env(tf: Terraform) -> list[str]:
    problems = []
    secrets = set(_string_set(tf.locals.get("secrets")))
    must_be_secret = secret_settings() | {"PHONEPE_WEBHOOK_USERNAME"}  # the webhook credentials are a pair
    known = settings_env_names()
    plain = tf.plain_env
    for name in sorted(plain & (must_be_secret | secrets)):
        problems.append(f"{name} is a secret but is set as a plain environment variable")
    for name in sorted(plain - known - PLATFORM_ENV):
        problems.append(f"environment variable {name} is not a Settings field (typo?)")
    for name in sorted(secrets - known):
        problems.append(f"secret {name} is not a Settings field")
    needed = {s for cfg in tf.functions.values() for s in cfg.get("secrets", [])}
    for name in sorted((must_be_secret & needed) - secrets):
        problems.append(f"{name} is used but not a Secret Manager secret")
    if "google_secret_manager_secret_version" in tf.resources:
        problems.append("secret values must not be in Terraform (no google_secret_manager_secret_version)")
    dynamic = tf.service_config.get("dynamic", [{}])[0].get("secret_environment_variables", {})
    if dynamic.get("for_each") != "${toset(local.functions[each.key].secrets)}":
        problems.append("secrets must reach each function as secret_environment_variables from its own list")
    for file, text in tf.texts.items():
        for what, pattern in SECRET_LITERALS.items():
            if pattern.search(text):
                problems.append(f"{file}: contains what looks like {what}")
    return problems


def check_queues_come_from_the_code(tf: Terraform) -> list[str]:
    from lib.queues import SOURCE

    problems = []
    queues = tf.read_json_local("queues")
    if queues is None:
        return ['local.queues must be jsondecode(file("${path.module}/../../lib/queues.json"))']
    expected = json.loads(SOURCE.read_text())
    if queues != expected:
        problems.append("local.queues reads a file that differs from lib/queues.json")
    queue = tf.resource("google_cloud_tasks_queue", "queue")
    if queue.get("for_each") != "${local.queues}":
        problems.append("google_cloud_tasks_queue.queue must be one per local.queues entry")
    wanted = {
        ("retry_config", "max_attempts"): "each.value.max_attempts",
        ("retry_config", "min_backoff"): '"${each.value.min_backoff_s}s"',
        ("retry_config", "max_backoff"): '"${each.value.max_backoff_s}s"',
        ("retry_config", "max_doublings"): "each.value.max_doublings",
        ("rate_limits", "max_dispatches_per_second"): "each.value.max_dispatches_per_second",
        ("rate_limits", "max_concurrent_dispatches"): "each.value.max_concurrent_dispatches",
    }
    for (block, attr), want in wanted.items():
        got = one(queue, block).get(attr)
        ok = got == "${" + want + "}" or (want.startswith('"') and got == want.strip('"'))
        if not ok:
            problems.append(f"queue {block}.{attr} = {got!r}: it must come from lib/queues.json ({want})")
    internal = {n for n, c in tf.functions.items() if not c.get("public")}
    for key, q in queues.items():
        if q.get("target") not in internal:
            problems.append(f"queue {key} delivers to {q.get('target')!r}, which is not an internal function")
    return problems


def check_buckets_private(tf: Terraform) -> list[str]:
    problems = []
    for name, bucket in tf.resources.get("google_storage_bucket", {}).items():
        if bucket.get("uniform_bucket_level_access") is not True:
            problems.append(f"bucket {name}: uniform_bucket_level_access must be true")
        if bucket.get("public_access_prevention") != "enforced":
            problems.append(f"bucket {name}: public_access_prevention must be enforced")
        if not bucket.get("lifecycle_rule"):
            problems.append(f"bucket {name}: needs a lifecycle rule")
    exports = tf.resource("google_storage_bucket", "exports")
    rule = one(exports, "lifecycle_rule")
    if one(rule, "condition").get("age") != 7 or one(rule, "action").get("type") != "Delete":
        problems.append("bucket exports: exports must be deleted after 7 days")
    if one(tf.resource("google_storage_bucket", "evidence"), "versioning").get("enabled") is not True:
        problems.append("bucket evidence: user uploads must be versioned")
    return problems


# How long a previous release's zip must stay restorable (the rollback window).
MIN_ROLLBACK_DAYS = 30


def check_rollback_by_source_object(tf: Terraform) -> list[str]:
    problems = []
    sources = tf.resource("google_storage_bucket", "sources")
    if one(sources, "versioning").get("enabled") is not True:
        problems.append("bucket sources: versioning must be on (a release deletes the previous zip)")
    kept = [one(r, "condition").get("days_since_noncurrent_time") for r in sources.get("lifecycle_rule", [])]
    if any(isinstance(days, int) and days < MIN_ROLLBACK_DAYS for days in kept):
        problems.append(f"bucket sources: previous zips must stay at least {MIN_ROLLBACK_DAYS} days")
    if any("age" in one(r, "condition") for r in sources.get("lifecycle_rule", [])):
        problems.append("bucket sources: an age rule would delete the zips live functions run")
    storage = one(one(one(tf.function_resource, "build_config"), "source"), "storage_source")
    if "var.source_objects" not in str(storage.get("object")) or "var.source_objects" not in str(
        storage.get("generation")
    ):
        problems.append("functions must be pinnable to a previous source object (var.source_objects)")
    return problems


def check_firestore_ttl_on_the_fields_the_code_sets(tf: Terraform) -> list[str]:
    from lib.adapters import firestore_drafts
    from lib.services.bcm import tiers

    expected = {firestore_drafts.COLLECTION: firestore_drafts.TTL_FIELD, tiers.COLLECTION: tiers.TTL_FIELD}
    ttl = tf.resource("google_firestore_field", "ttl")
    collections = set(_string_set(ttl.get("for_each")))
    problems = []
    if collections != set(expected):
        problems.append(f"TTL policies on {sorted(collections)}, the code sets TTL fields on {sorted(expected)}")
    if ttl.get("field") not in set(expected.values()) or ttl.get("ttl_config") != [{}]:
        problems.append(f"TTL policy field {ttl.get('field')!r} is not the one the code sets")
    return problems


def check_redis_is_private(tf: Terraform) -> list[str]:
    problems = []
    redis = tf.resource("google_redis_instance", "cache")
    if redis.get("auth_enabled") is not True:
        problems.append("Memorystore must require AUTH")
    if tf.variables.get("redis_transit_encryption", {}).get("default") != "SERVER_AUTHENTICATION":
        problems.append("Memorystore must default to TLS (SERVER_AUTHENTICATION)")
    if tf.service_config.get("vpc_connector") != "${google_vpc_access_connector.connector.id}":
        problems.append("functions must reach Memorystore through the VPC connector")
    if tf.service_config.get("vpc_connector_egress_settings") != "PRIVATE_RANGES_ONLY":
        problems.append("only private ranges may go through the connector")
    return problems


def check_sizing(tf: Terraform) -> list[str]:
    problems = []
    budget = tf.variables.get("db_client_connections", {}).get("default")
    total = sum(int(c.get("max_instances", 0)) * int(c.get("db_pool", 0)) for c in tf.functions.values())
    if not isinstance(budget, int) or total > budget:
        problems.append(f"max_instances x db_pool over all functions = {total} > db_client_connections {budget}")
    if "db_connections_fit_the_pooler" not in tf.checks:
        problems.append("checks.tf must assert the connection budget at plan time")
    for name, cfg in tf.functions.items():
        concurrency = int(cfg.get("concurrency", 0))
        if concurrency < 1:
            problems.append(f"{name}: concurrency must be at least 1")
        if concurrency > 1 and float(cfg.get("cpu", 0)) < 1:
            problems.append(f"{name}: concurrency {concurrency} needs at least 1 vCPU")
        if int(cfg.get("db_pool", 0)) < 1:
            problems.append(f"{name}: db_pool must be at least 1")
    service = tf.service_config
    expected = {
        "max_instance_request_concurrency": "${local.functions[each.key].concurrency}",
        "available_cpu": "${local.functions[each.key].cpu}",
    }
    for attr, want in expected.items():
        if service.get(attr) != want:
            problems.append(f"service_config.{attr} must be {want}")
    env = str(service.get("environment_variables"))
    if "THREADS = tostring(local.functions[each.key].concurrency)" not in env:
        problems.append("THREADS (gunicorn threads) must equal the function's concurrency")
    if "DB_POOL_MAX = tostring(local.functions[each.key].db_pool)" not in env:
        problems.append("DB_POOL_MAX must be the function's db_pool")
    return problems


def check_scheduler_covers_every_maintenance_route(tf: Terraform) -> list[str]:
    from tools.openapi import load_routes

    problems = []
    from tools.openapi import load_function

    operator_paths: frozenset[str] = getattr(load_function(MAINTENANCE), "OPERATOR_PATHS", frozenset())
    routes = {
        spec.path.strip("/")
        for spec in load_routes()[MAINTENANCE]
        if spec.auth == "internal" and spec.path not in operator_paths
    }
    jobs = set(tf.locals.get("maintenance_jobs", {}))
    if jobs != routes:
        problems.append(f"Scheduler jobs {sorted(jobs)} != maintenance routes {sorted(routes)}")
    job = tf.resource("google_cloud_scheduler_job", "maintenance")
    oidc = one(one(job, "http_target"), "oidc_token")
    if oidc.get("service_account_email") != "${google_service_account.scheduler_invoker.email}":
        problems.append("Scheduler jobs must call with the scheduler invoker's OIDC token")
    return problems


# The for_each alert policy that pages on each log counter (its ``alert`` in local.log_counters).
COUNTED_ALERTS = "counted"
REQUIRED_ALERTS = frozenset(
    {
        "function_error_rate",
        "webhook_errors",
        "payments_needing_review",
        "ai_failures",
        "rebuild_failures",
        "refund_failures",
        "redemption_failures",
        "redemptions_stuck",
        "outbox_backlog",
        "queue_depth",
    }
)


def check_alerts_count_the_events_the_code_logs(tf: Terraform) -> list[str]:
    from lib import ops_events

    problems = []
    if COUNTED_ALERTS not in tf.resources.get("google_monitoring_alert_policy", {}):
        problems.append(f"the per-counter alert policies ({COUNTED_ALERTS}) are missing")
    if missing := REQUIRED_ALERTS - tf.alert_policies:
        problems.append(f"alert policies missing: {sorted(missing)}")
    counted = {e for c in tf.locals.get("log_counters", {}).values() for e in c.get("events", [])}
    for metric in tf.resources.get("google_logging_metric", {}).values():
        counted |= set(re.findall(r'jsonPayload\.event="([^"]+)"', str(metric.get("filter"))))
    if not str(tf.locals.get("webhook_service", "")).startswith("${basename("):
        problems.append("webhook alerts must filter on the short service name (basename of service_config.service)")
    if unknown := counted - ops_events.ALL:
        problems.append(f"log metrics count events the code never logs: {sorted(unknown)}")
    if uncounted := ops_events.ALL - counted:
        problems.append(f"events logged for alerting but counted by no metric: {sorted(uncounted)}")
    return problems


CHECKS: dict[str, Callable[[Terraform], list[str]]] = {
    "parses_once": check_parses_once,
    "functions_match_the_code": check_functions_match_the_code,
    "one_service_account_per_function": check_one_service_account_per_function,
    "least_privilege": check_least_privilege,
    "invokers": check_invokers,
    "no_secret_in_plain_env": check_no_secret_in_plain_env,
    "queues_come_from_the_code": check_queues_come_from_the_code,
    "buckets_private": check_buckets_private,
    "rollback": check_rollback_by_source_object,
    "firestore_ttl": check_firestore_ttl_on_the_fields_the_code_sets,
    "redis_private": check_redis_is_private,
    "sizing": check_sizing,
    "scheduler": check_scheduler_covers_every_maintenance_route,
    "alerts": check_alerts_count_the_events_the_code_logs,
}


def violations(tf: Terraform) -> dict[str, list[str]]:
    return {name: found for name, check in CHECKS.items() if (found := check(tf))}


def _string_set(value: Any) -> list[str]:
    """The strings of ``toset([...])`` / a list, as hcl2 renders them."""
    if isinstance(value, list):
        return [str(v) for v in value]
    return re.findall(r'"([^"]+)"', str(value))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", nargs="?", type=Path, default=TF_DIR)
    args = parser.parse_args(argv)
    found = violations(Terraform.load(args.directory))
    for check, problems in found.items():
        for problem in problems:
            print(f"{check}: {problem}")
    if not found:
        print(f"{len(CHECKS)} invariants hold for {args.directory}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
