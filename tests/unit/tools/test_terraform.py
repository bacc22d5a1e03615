"""infra/terraform: the invariants of tools/tfcheck.py hold, and each one fails when broken.

The Google provider cannot be downloaded here, so there is no `terraform
validate`; tools/tfcheck.py parses every .tf file with python-hcl2 and checks
the deploy's rules against the code (routers, Settings, lib/queues.json, the
TTL fields, lib/ops_events.py).  Each invariant is run on the real directory
(it must hold) and on a copy broken on purpose (it must report the break), so
no check here can pass by being unable to fail.  The layout checks and the
real `terraform fmt -check` follow.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import hcl2
import pytest

from tools.tfcheck import CHECKS, OPTIONS, Terraform, violations

REPO = Path(__file__).resolve().parents[3]
TF_DIR = REPO / "infra" / "terraform"
TF_FILES = sorted(TF_DIR.glob("*.tf"))
EXAMPLES = sorted((TF_DIR / "examples").glob("*.tfvars"))


@pytest.fixture(scope="module")
def real() -> Terraform:
    return Terraform.load(TF_DIR)


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_invariant_holds(real: Terraform, name: str) -> None:
    assert CHECKS[name](real) == []


def broken_copy(tmp_path: Path, file: str, old: str, new: str) -> Terraform:
    """infra/terraform (and the lib/queues.json it reads) copied under tmp_path, with one edit."""
    target = tmp_path / "infra" / "terraform"
    shutil.copytree(TF_DIR, target, ignore=shutil.ignore_patterns(".terraform*", "examples"))
    (tmp_path / "lib").mkdir()
    shutil.copy(REPO / "lib" / "queues.json", tmp_path / "lib" / "queues.json")
    path = target / file
    text = path.read_text()
    assert text.count(old) == 1, f"the edit must apply exactly once: {old!r} in {file}"
    path.write_text(text.replace(old, new))
    return Terraform.load(target)


PUBLIC_BUCKET = """
resource "google_storage_bucket_iam_member" "leak" {
  bucket = google_storage_bucket.exports.name
  role   = "roles/storage.objectViewer"
  member = "allUsers"
}
"""

# (check that must fail, file, text, replacement, phrase of the violation)
BREAKS = {
    "a secret as a plain env var": (
        "no_secret_in_plain_env",
        "functions.tf",
        "    APP_ENV                = var.app_env\n",
        "    APP_ENV                = var.app_env\n    DATABASE_URL           = var.database_url\n",
        "DATABASE_URL is a secret but is set as a plain environment variable",
    ),
    "the webhook username no longer a secret": (
        "no_secret_in_plain_env",
        "locals.tf",
        '    "PHONEPE_WEBHOOK_USERNAME",\n',
        "",
        "PHONEPE_WEBHOOK_USERNAME is used but not a Secret Manager secret",
    ),
    "an env var the code does not read": (
        "no_secret_in_plain_env",
        "functions.tf",
        "GCS_BUCKET_EXPORTS     =",
        "GCS_BUCKETS_EXPORT     =",
        "GCS_BUCKETS_EXPORT is not a Settings field",
    ),
    "a secret value in a file": (
        "no_secret_in_plain_env",
        "variables.tf",
        'default     = "INFO"',
        'default     = "postgres://app:hunter22@db.example.com/app"',
        "looks like a URL with a password",
    ),
    "functions sharing the invoker's identity": (
        "one_service_account_per_function",
        "functions.tf",
        "service_account_email            = google_service_account.fn[each.key].email",
        "service_account_email            = google_service_account.tasks_invoker.email",
        "its own google_service_account.fn[each.key]",
    ),
    "a retry setting typed into Terraform": (
        "queues_come_from_the_code",
        "queues.tf",
        "max_attempts  = each.value.max_attempts",
        "max_attempts  = 5",
        "retry_config.max_attempts",
    ),
    "queues defined inline": (
        "queues_come_from_the_code",
        "locals.tf",
        'queues = jsondecode(file("${path.module}/../../lib/queues.json"))',
        'queues = { ai = { name = "onboarding-ai", target = "onboarding_ai" } }',
        "local.queues must be jsondecode",
    ),
    "a bucket open to the public": (
        "buckets_private",
        "storage.tf",
        'public_access_prevention    = "enforced"\n  labels                      = local.labels\n\n  lifecycle_rule {\n'
        "    condition {\n      age = 7",
        'public_access_prevention    = "inherited"\n'
        "  labels                      = local.labels\n\n  lifecycle_rule {\n    condition {\n      age = 7",
        "bucket exports: public_access_prevention must be enforced",
    ),
    "allUsers on a bucket": (
        "least_privilege",
        "storage.tf",
        "# BCM exports:",
        PUBLIC_BUCKET + "\n# BCM exports:",
        "grants allUsers outside the public invoker",
    ),
    "a project-wide editor": (
        "least_privilege",
        "locals.tf",
        'roles         = ["roles/datastore.user", "roles/aiplatform.user"]',
        'roles         = ["roles/datastore.user", "roles/aiplatform.user", "roles/editor"]',
        "grants roles/editor",
    ),
    "an internal function made public": (
        "functions_match_the_code",
        "locals.tf",
        "    maintenance = {\n      public        = false",
        "    maintenance = {\n      public        = true",
        "maintenance: public = True",
    ),
    "a listed function without Terraform": (
        "functions_match_the_code",
        "locals.tf",
        "    maintenance = {\n      public        = false",
        "    maintenance_v2 = {\n      public        = false",
        "(missing ['maintenance'], not listed ['maintenance_v2'])",
    ),
    "internal functions open to the internet": (
        "invokers",
        "functions.tf",
        'local.functions[each.key].public ? "ALLOW_ALL" : var.internal_ingress',
        '"ALLOW_ALL"',
        "ingress must be var.internal_ingress",
    ),
    "anyone may invoke the workers": (
        "invokers",
        "iam.tf",
        'member   = "serviceAccount:${google_service_account.tasks_invoker.email}"',
        'member   = "allUsers"',
        "may only be granted on local.public",
    ),
    "the scheduler may invoke every internal function": (
        "invokers",
        "iam.tf",
        "name     = google_cloudfunctions2_function.fn[local.scheduler_target].service_config[0].service",
        "name     = google_cloudfunctions2_function.fn[each.value].service_config[0].service\n"
        "  for_each = local.internal",
        "the scheduler invoker must be bound to the maintenance function only",
    ),
    "every internal function trusting every invoker": (
        "invokers",
        "functions.tf",
        "OIDC_ALLOWED_EMAILS = local.oidc_allowed_email[each.key]",
        'OIDC_ALLOWED_EMAILS = join(",", values(local.invoker_emails))',
        "OIDC_ALLOWED_EMAILS must be each function's own invokers",
    ),
    "more Postgres connections than the pooler allows": (
        "sizing",
        "locals.tf",
        "db_pool       = 4",
        "db_pool       = 40",
        "> db_client_connections",
    ),
    "threads not matching the concurrency": (
        "sizing",
        "functions.tf",
        "THREADS     = tostring(local.functions[each.key].concurrency)",
        'THREADS     = "8"',
        "THREADS (gunicorn threads) must equal",
    ),
    "a sources bucket that forgets old releases": (
        "rollback",
        "functions.tf",
        "  versioning {\n    enabled = true\n  }\n",
        "",
        "bucket sources: versioning must be on",
    ),
    "a TTL policy on a field the code never sets": (
        "firestore_ttl",
        "firestore.tf",
        'field      = "expires_at"',
        'field      = "expiry"',
        "TTL policy field 'expiry'",
    ),
    "an alert counting an event nobody logs": (
        "alerts",
        "monitoring.tf",
        'events      = ["bcm.rebuild_failed"]',
        'events      = ["bcm.rebuild_gave_up"]',
        "count events the code never logs: ['bcm.rebuild_gave_up']",
    ),
    "webhook alerts filtering on the full service name": (
        "alerts",
        "monitoring.tf",
        'webhook_service = basename(google_cloudfunctions2_function.fn["payment_webhook"].service_config[0].service)',
        'webhook_service = google_cloudfunctions2_function.fn["payment_webhook"].service_config[0].service',
        "short service name",
    ),
    "Redis without AUTH": (
        "redis_private",
        "redis.tf",
        "auth_enabled            = true",
        "auth_enabled            = false",
        "Memorystore must require AUTH",
    ),
    "a maintenance route without a Scheduler job": (
        "scheduler",
        "scheduler.tf",
        '    "sweep-outbox"        = "Send email outbox rows that were not delivered right after commit."\n',
        "",
        "Scheduler jobs ['autopay', 'expire-sessions', 'reconcile-payments', 'sweep-subscriptions']"
        " != maintenance routes",
    ),
}


@pytest.mark.parametrize("case", sorted(BREAKS))
def test_a_broken_copy_is_reported_by_its_invariant(tmp_path: Path, case: str) -> None:
    check, file, old, new, phrase = BREAKS[case]
    broken = broken_copy(tmp_path, file, old, new)
    found = violations(broken)
    assert check in found, found
    assert any(phrase in problem for problem in found[check]), found[check]


def test_every_invariant_has_a_break_that_it_catches() -> None:
    assert {check for check, *_ in BREAKS.values()} == set(CHECKS) - {"parses_once"}


def test_a_resource_declared_twice_is_reported(tmp_path: Path) -> None:
    broken = broken_copy(tmp_path, "audit.tf", "# Data Access audit logs", "# Data Access audit logs")
    (tmp_path / "infra" / "terraform" / "extra.tf").write_text((TF_DIR / "audit.tf").read_text())
    found = violations(Terraform.load(broken.root))
    assert found["parses_once"] == ["google_project_iam_audit_config.data_access is declared twice"]


def test_the_command_line_exits_1_on_a_broken_copy(tmp_path: Path) -> None:
    from tools.tfcheck import main

    broken = broken_copy(tmp_path, "redis.tf", "auth_enabled            = true", "auth_enabled            = false")
    assert main([str(broken.root)]) == 1
    assert main([str(TF_DIR)]) == 0


# ------------------------------------------------------------------------------------------ examples
def _required_variables(real: Terraform) -> set[str]:
    return {name for name, body in real.variables.items() if "default" not in body}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_tfvars_set_every_required_variable_and_only_declared_ones(real: Terraform, path: Path) -> None:
    with path.open() as f:
        values = hcl2.load(f, serialization_options=OPTIONS)
    assert _required_variables(real) <= set(values), f"{path.name} misses {_required_variables(real) - set(values)}"
    assert set(values) <= set(real.variables), f"{path.name} sets undeclared {set(values) - set(real.variables)}"
    assert set(values.get("min_instances", {})) <= set(real.functions)
    assert re.fullmatch(r"[a-z][a-z0-9-]{0,8}[a-z0-9]", values["env"])


def test_there_is_a_prod_and_a_staging_example_with_a_backend_config() -> None:
    assert {p.stem for p in EXAMPLES} == {"prod", "staging"}
    for env in ("prod", "staging"):
        backend = (TF_DIR / "examples" / f"backend-{env}.hcl").read_text()
        assert re.search(r'^bucket\s*=\s*"[^"]+"', backend, re.M)
        assert re.search(rf'^prefix\s*=\s*"bcm/{env}"', backend, re.M)


# ------------------------------------------------------------------------------------------ layout
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
