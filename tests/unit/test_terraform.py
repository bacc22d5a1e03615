"""Static checks of infra/terraform (the Google provider cannot be downloaded here, so no `validate`).

Every .tf file is parsed with python-hcl2 and its structure checked against the
rules of the deploy: one service account per function, retry config on every
queue (the same numbers as the local dispatcher), TTL on ``expires_at``, bucket
lifecycles, secrets without values, and a ``terraform fmt``-like layout check
(plus the real ``terraform fmt -check`` where the binary is installed).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import hcl2
import pytest

from lib.config import Settings
from lib.local import dispatcher
from tools.requirements import function_names

TF_DIR = Path(__file__).resolve().parents[2] / "infra" / "terraform"
TF_FILES = sorted(TF_DIR.glob("*.tf"))
OPTIONS = hcl2.SerializationOptions(with_comments=False, explicit_blocks=False, strip_string_quotes=True)
INTERNAL = {"payment_reconcile", "onboarding_ai", "bcm_rebuild", "maintenance"}
PAYMENTS = {"initiate_payment", "payment_status", "payment_webhook", "payment_reconcile"}
SECRETS = {
    "DATABASE_URL",
    "REDIS_URL",
    "SUPABASE_JWT_SECRET",
    "PHONEPE_CLIENT_SECRET",
    "PHONEPE_WEBHOOK_PASSWORD",
    "RESEND_API_KEY",
}
ALLOWED_PROJECT_ROLES = {"roles/datastore.user", "roles/aiplatform.user"}
MAX_ENV_LEN = 10  # variables.tf's validation of var.env
SA_ID_MAX = 30  # Google's limit on service account ids


class Config:
    """Every .tf file merged: resources by type and name, locals, variables, outputs."""

    def __init__(self) -> None:
        self.resources: dict[str, dict[str, dict[str, Any]]] = {}
        self.data: dict[str, dict[str, dict[str, Any]]] = {}
        self.locals: dict[str, Any] = {}
        self.variables: dict[str, dict[str, Any]] = {}
        self.outputs: dict[str, dict[str, Any]] = {}
        self.terraform: list[dict[str, Any]] = []
        for path in TF_FILES:
            with path.open() as f:
                doc = hcl2.load(f, serialization_options=OPTIONS)
            for kind, target in (("resource", self.resources), ("data", self.data)):
                for block in doc.get(kind, []):
                    for rtype, named in block.items():
                        for name, body in named.items():
                            assert name not in target.get(rtype, {}), f"duplicate {rtype}.{name}"
                            target.setdefault(rtype, {})[name] = body
            for block in doc.get("locals", []):
                self.locals.update(block)
            for block in doc.get("variable", []):
                self.variables.update(block)
            for block in doc.get("output", []):
                self.outputs.update(block)
            self.terraform += doc.get("terraform", [])

    def resource(self, rtype: str, name: str) -> dict[str, Any]:
        assert name in self.resources.get(rtype, {}), f"missing {rtype}.{name}"
        return self.resources[rtype][name]


@pytest.fixture(scope="module")
def tf() -> Config:
    return Config()


def block(body: dict[str, Any], name: str) -> dict[str, Any]:
    """The single nested block ``name`` (hcl2 gives blocks as one-element lists)."""
    (inner,) = body[name]
    return inner  # type: ignore[no-any-return]


def test_every_file_parses_and_the_expected_files_exist(tf: Config) -> None:
    names = {p.name for p in TF_FILES}
    assert {"versions.tf", "variables.tf", "locals.tf", "functions.tf", "outputs.tf"} <= names
    providers = tf.terraform[0]["required_providers"][0]
    assert providers["google"]["version"] == "~> 6.0"
    assert {"project", "region", "env"} <= set(tf.variables)


def test_the_ten_functions_are_declared_once_with_python312_and_entry_point_main(tf: Config) -> None:
    assert set(tf.locals["functions"]) == set(function_names())
    fn = tf.resource("google_cloudfunctions2_function", "fn")
    assert fn["for_each"] == "${toset(keys(local.functions))}"
    build = block(fn, "build_config")
    assert build["runtime"] == "python312"
    assert build["entry_point"] == "main"
    source = tf.resource("google_storage_bucket_object", "source")
    assert "build/${each.key}.zip" in source["source"]
    assert "filemd5(" in source["name"]  # a new object (and deploy) only when the zip changes


def test_every_function_runs_as_its_own_service_account(tf: Config) -> None:
    sa = tf.resource("google_service_account", "fn")
    assert sa["for_each"] == "${toset(keys(local.functions))}"
    service = block(tf.resource("google_cloudfunctions2_function", "fn"), "service_config")
    assert service["service_account_email"] == "${google_service_account.fn[each.key].email}"
    for name in tf.locals["functions"]:
        account_id = f"{name.replace('_', '-')}-{'x' * MAX_ENV_LEN}"
        assert len(account_id) <= SA_ID_MAX, account_id


def test_roles_are_least_privilege(tf: Config) -> None:
    functions = tf.locals["functions"]
    for name, cfg in functions.items():
        assert set(cfg["roles"]) <= ALLOWED_PROJECT_ROLES, name
        assert set(cfg["secrets"]) <= SECRETS, name
        assert {"DATABASE_URL", "REDIS_URL"} <= set(cfg["secrets"]), name
        assert set(cfg["queues"]) <= set(tf.locals["queues"]), name
        assert set(cfg["buckets"]) <= {"exports", "evidence"}, name
    for name in PAYMENTS:
        assert functions[name]["roles"] == [], name
    assert [n for n, c in functions.items() if "roles/aiplatform.user" in c["roles"]] == ["onboarding_ai"]
    assert [n for n, c in functions.items() if "PHONEPE_WEBHOOK_PASSWORD" in c["secrets"]] == ["payment_webhook"]
    assert {n for n, c in functions.items() if not c["public"]} == INTERNAL
    # No project-wide editor/owner anywhere, and only the table's roles are bound at project level.
    text = "\n".join(p.read_text() for p in TF_FILES)
    assert not re.search(r"roles/(owner|editor|viewer)\b", text)
    roles = tf.resource("google_project_iam_member", "fn_roles")
    assert roles["for_each"] == "${local.function_roles}"


def test_internal_functions_are_invoked_only_by_the_tasks_invoker(tf: Config) -> None:
    internal = tf.resource("google_cloud_run_v2_service_iam_member", "internal_invoker")
    assert internal["for_each"] == "${local.internal}"
    assert internal["member"] == "serviceAccount:${google_service_account.tasks_invoker.email}"
    public = tf.resource("google_cloud_run_v2_service_iam_member", "public_invoker")
    assert public["for_each"] == "${local.public}"
    for queue in tf.locals["queues"].values():
        assert queue["target"] in INTERNAL, queue


def test_every_queue_has_the_retry_config_of_the_local_dispatcher(tf: Config) -> None:
    resource = tf.resource("google_cloud_tasks_queue", "queue")
    retry = block(resource, "retry_config")
    assert set(retry) == {"max_attempts", "min_backoff", "max_backoff", "max_doublings"}
    assert "rate_limits" in resource
    settings = Settings()
    expected = {
        settings.tasks_queue_ai: dispatcher.AI_RETRY,
        settings.tasks_queue_bcm: dispatcher.BCM_RETRY,
        settings.tasks_queue_payments: dispatcher.PAYMENTS_RETRY,
        settings.tasks_queue_outbox: dispatcher.OUTBOX_RETRY,
    }
    queues = {q["name"]: q for q in tf.locals["queues"].values()}
    assert set(queues) == set(expected)
    for name, config in expected.items():
        q = queues[name]
        assert q["max_attempts"] == config.max_attempts, name
        assert q["min_backoff"] == f"{config.min_backoff_s:g}s", name
        assert q["max_backoff"] == f"{config.max_backoff_s:g}s", name
        assert q["max_doublings"] == config.max_doublings, name
    ai = queues["onboarding-ai"]
    assert (ai["max_attempts"], ai["min_backoff"], ai["max_backoff"]) == (3, "2s", "30s")


def test_firestore_ttl_policies_use_expires_at(tf: Config) -> None:
    ttl = tf.resource("google_firestore_field", "ttl")
    assert ttl["for_each"] == '${toset(["onboarding_drafts", "bcm_cache"])}'
    assert ttl["field"] == "expires_at"
    assert ttl["ttl_config"] == [{}]


def test_buckets_exports_expire_in_7_days_and_evidence_is_versioned(tf: Config) -> None:
    exports = tf.resource("google_storage_bucket", "exports")
    rule = block(exports, "lifecycle_rule")
    assert block(rule, "condition")["age"] == 7
    assert block(rule, "action")["type"] == "Delete"
    evidence = tf.resource("google_storage_bucket", "evidence")
    assert block(evidence, "versioning")["enabled"] is True
    for name, bucket in tf.resources["google_storage_bucket"].items():
        assert bucket["uniform_bucket_level_access"] is True, name
        assert bucket["public_access_prevention"] == "enforced", name


def test_secrets_exist_without_values_and_reach_functions_as_secret_env_vars(tf: Config) -> None:
    assert (
        set(tf.locals["secrets"].removeprefix("${toset([").removesuffix("])}").replace('"', "").split(", ")) == SECRETS
    )
    assert "google_secret_manager_secret_version" not in tf.resources
    service = block(tf.resource("google_cloudfunctions2_function", "fn"), "service_config")
    (dynamic,) = service["dynamic"]
    secret_env = dynamic["secret_environment_variables"]
    assert secret_env["for_each"] == "${toset(local.functions[each.key].secrets)}"
    assert block(secret_env, "content")["version"] == "latest"
    accessor = tf.resource("google_secret_manager_secret_iam_member", "fn_secrets")
    assert accessor["role"] == "roles/secretmanager.secretAccessor"
    assert accessor["for_each"] == "${local.function_secrets}"


def test_redis_sits_behind_a_vpc_connector_every_function_uses(tf: Config) -> None:
    redis = tf.resource("google_redis_instance", "cache")
    assert redis["auth_enabled"] is True
    assert "google_vpc_access_connector" in tf.resources
    service = block(tf.resource("google_cloudfunctions2_function", "fn"), "service_config")
    assert service["vpc_connector"] == "${google_vpc_access_connector.connector.id}"
    assert service["vpc_connector_egress_settings"] == "PRIVATE_RANGES_ONLY"


def test_scheduler_calls_every_maintenance_route_every_15_minutes_with_oidc(tf: Config) -> None:
    from tools.openapi import load_routes

    job = tf.resource("google_cloud_scheduler_job", "maintenance")
    assert tf.variables["maintenance_schedule"]["default"] == "*/15 * * * *"
    assert job["for_each"] == "${local.maintenance_jobs}"
    target = block(job, "http_target")
    assert target["uri"] == '${google_cloudfunctions2_function.fn["maintenance"].url}/${each.key}'
    oidc = block(target, "oidc_token")
    assert oidc["service_account_email"] == "${google_service_account.tasks_invoker.email}"
    # Every route of the maintenance function has a job, and every job a route.
    routes = {spec.path.strip("/") for spec in load_routes()["maintenance"]}
    assert set(tf.locals["maintenance_jobs"]) == routes


def test_alert_policies_cover_5xx_webhook_401_queue_depth_and_ai_failures(tf: Config) -> None:
    policies = tf.resources["google_monitoring_alert_policy"]
    assert set(policies) == {"function_5xx", "webhook_401", "queue_depth", "ai_task_failures"}
    filters = {name: block(block(p, "conditions"), "condition_threshold")["filter"] for name, p in policies.items()}
    assert 'metric.labels.response_code_class = "5xx"' in filters["function_5xx"]
    assert "401" in filters["webhook_401"]
    assert "queue/depth" in filters["queue_depth"]
    assert "task_attempt_count" in filters["ai_task_failures"]


def test_outputs_include_function_urls(tf: Config) -> None:
    assert "fn.url" in tf.outputs["function_urls"]["value"]


SECRET_PATTERNS = {
    "Resend key": re.compile(r"\bre_[A-Za-z0-9]{16,}"),
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "Google API key": re.compile(r"AIza[0-9A-Za-z_-]{30,}"),
    "URL with a password": re.compile(r"[a-z]+://[^\s:/@\"$]+:[^\s@\"$]+@"),
    "secret value attribute": re.compile(r"\b(secret_data|password|client_secret)\s*=\s*\"[^\"$]+\""),
}


@pytest.mark.parametrize("path", TF_FILES, ids=lambda p: p.name)
def test_no_secret_literal(path: Path) -> None:
    text = path.read_text()
    for what, pattern in SECRET_PATTERNS.items():
        assert not pattern.search(text), f"{path.name}: looks like a {what}"


_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


def _net_brackets(line: str) -> int:
    code = _STRING.sub('""', line).split("#", 1)[0]
    return sum(code.count(c) for c in "{[(") - sum(code.count(c) for c in "}])")


@pytest.mark.parametrize("path", TF_FILES, ids=lambda p: p.name)
def test_layout_is_terraform_fmt_like(path: Path) -> None:
    """What `terraform fmt` enforces that a text check can see: 2-space indents, no tabs, clean ends.

    Each line that leaves brackets open indents what follows by one level
    (however many it opened); a line starting with a closer sits one level out.
    """
    text = path.read_text()
    assert text.endswith("\n"), "ends with a newline"
    assert not text.endswith("\n\n"), "exactly one trailing newline"
    levels: list[int] = []  # brackets still open per indentation level
    for number, line in enumerate(text.splitlines(), 1):
        where = f"{path.name}:{number}"
        assert "\t" not in line, f"{where}: tab"
        assert line == line.rstrip(), f"{where}: trailing whitespace"
        stripped = line.strip()
        if not stripped:
            continue
        indent = len(line) - len(line.lstrip(" "))
        expected = 2 * (len(levels) - 1 if stripped[0] in "}])" else len(levels))
        assert indent == expected, f"{where}: indent {indent}, expected {expected}"
        net = 0 if stripped.startswith("#") else _net_brackets(stripped)
        if net > 0:
            levels.append(net)
        while net < 0:
            assert levels, f"{where}: closes a bracket never opened"
            take = min(levels[-1], -net)
            levels[-1] -= take
            net += take
            if levels[-1] == 0:
                levels.pop()
    assert not levels, f"{path.name}: unbalanced brackets"


def test_terraform_fmt_check() -> None:
    if shutil.which("terraform") is None:
        # Same gate as conftest.needs(): a visible skip locally, a failure in CI (REQUIRE_EMULATORS=1).
        if os.environ.get("REQUIRE_EMULATORS") == "1":
            pytest.fail("REQUIRE_EMULATORS=1 but the terraform binary is not installed")
        pytest.skip("terraform binary not installed")
    proc = subprocess.run(
        ["terraform", "fmt", "-check", "-diff", "-recursive"], cwd=TF_DIR, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout
