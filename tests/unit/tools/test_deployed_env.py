"""tools/deployed_env.py against a fake ``gcloud`` first on PATH: merge, secrets, file mode, conflicts, errors.

The fake is a small Python script that answers ``functions describe`` with
canned JSON per function and ``secrets versions access`` with canned payloads,
and appends every call (its argv) to calls.jsonl.  Real gcloud is never run:
each test checks the fake recorded the calls it expected.
"""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from devtools.checkenv import read_env_file, settings_from_env_file
from tools import deployed_env
from tools.deployed_env import PER_FUNCTION_VARIABLES, GcloudError, main, quote, run_gcloud
from tools.functions import REPO, function_names

PROJECT = "bcm-prod"
REGION = "asia-south1"
DB_URL = 'postgresql://app:Pa55"w\\rd${HOME}@db.example.supabase.co:6543/postgres'
PHONEPE_SECRET = "phonepe-Client-S3cret-0x9f"
WEBHOOK_PASSWORD = "hookPass1234"
RESEND_KEY = "re_live_9d8c7b6a5f"
SECRET_VALUES = [DB_URL, PHONEPE_SECRET, WEBHOOK_PASSWORD, RESEND_KEY]

FAKE_GCLOUD = r"""#!{python}
import base64, json, sys, time
from pathlib import Path

here = Path(__file__).resolve().parent
state = json.loads((here / "state.json").read_text())
args = sys.argv[1:]
with (here / "calls.jsonl").open("a") as log:
    log.write(json.dumps(args) + "\n")
for rule in state.get("fail", []):
    if rule["when"] in " ".join(args):
        time.sleep(rule.get("sleep", 0))
        sys.stderr.write(rule["stderr"])
        sys.exit(rule.get("code", 1))

def opt(name):
    return args[args.index(name) + 1]

if args[:2] == ["functions", "describe"]:
    fn = state["functions"].get(args[2])
    if fn is None:
        sys.stderr.write("ERROR: (gcloud.functions.describe) NOT_FOUND: Resource not found\n")
        sys.exit(1)
    print(json.dumps(fn))
elif args[:3] == ["secrets", "versions", "access"]:
    key = "/".join([opt("--project"), opt("--secret"), args[3]])
    value = state["secrets"][key]
    data = base64.urlsafe_b64encode(value.encode()).decode()
    print(json.dumps({{"name": key, "payload": {{"data": data, "dataCrc32c": "1"}}}}))
else:
    sys.stderr.write("ERROR: unexpected call\n")
    sys.exit(3)
"""


def describe(name: str, plain: dict[str, str], secrets: dict[str, tuple[str, str, str | None]]) -> dict[str, Any]:
    """A `functions describe --format=json` document; secrets: key -> (secret, version, projectId)."""
    entries = []
    for key, (secret, version, project) in secrets.items():
        entry = {"key": key, "secret": secret, "version": version}
        if project is not None:
            entry["projectId"] = project
        entries.append(entry)
    return {
        "name": f"projects/{PROJECT}/locations/{REGION}/functions/{name}",
        "environment": "GEN_2",
        "serviceConfig": {
            "environmentVariables": {"LOG_EXECUTION_ID": "true", **plain},
            "secretEnvironmentVariables": entries,
        },
    }


def common(name: str) -> dict[str, str]:
    return {
        "APP_ENV": "production",
        "TASKS_MODE": "cloud",
        "GCP_PROJECT": PROJECT,
        "OIDC_ALLOWED_EMAILS": '["tasks-invoker@bcm-prod.iam.gserviceaccount.com"]',
        "SIGNING_SERVICE_ACCOUNT": f"fn-{name}@{PROJECT}.iam.gserviceaccount.com",
        "OIDC_AUDIENCE": f"https://{REGION}-{PROJECT}.cloudfunctions.net/{name}",
    }


def standard_state() -> dict[str, Any]:
    return {
        "functions": {
            "initiate_payment": describe(
                "initiate_payment",
                common("initiate_payment"),
                {"DATABASE_URL": ("DATABASE_URL", "latest", PROJECT), "PHONEPE_CLIENT_SECRET": ("phonepe", "3", None)},
            ),
            "payment_webhook": describe(
                "payment_webhook",
                common("payment_webhook"),
                {
                    "DATABASE_URL": ("DATABASE_URL", "latest", PROJECT),
                    "PHONEPE_WEBHOOK_PASSWORD": ("webhook-pw", "7", "secrets-project"),
                    "RESEND_API_KEY": (f"projects/{PROJECT}/secrets/resend/versions/2", "latest", None),
                },
            ),
        },
        "secrets": {
            f"{PROJECT}/DATABASE_URL/latest": DB_URL,
            f"{PROJECT}/phonepe/3": PHONEPE_SECRET,
            f"{PROJECT}/phonepe/latest": "WRONG-VERSION",
            "secrets-project/webhook-pw/7": WEBHOOK_PASSWORD,
            f"{PROJECT}/resend/2": RESEND_KEY,
        },
    }


class FakeGcloud:
    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.state: dict[str, Any] = standard_state()
        script = bindir / "gcloud"
        script.write_text(FAKE_GCLOUD.format(python=sys.executable))
        script.chmod(0o755)
        self.save()

    def save(self) -> None:
        (self.bindir / "state.json").write_text(json.dumps(self.state))

    def fail(self, when: str, stderr: str, code: int = 1, sleep: float = 0) -> None:
        self.state.setdefault("fail", []).append({"when": when, "stderr": stderr, "code": code, "sleep": sleep})
        self.save()

    def calls(self) -> list[list[str]]:
        log = self.bindir / "calls.jsonl"
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


@pytest.fixture
def gcloud(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeGcloud:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
    return FakeGcloud(bindir)


def run(out: Path, *extra: str) -> int:
    return main(["--project", PROJECT, "--region", REGION, "--out", str(out), *extra])


TWO = ["--function", "initiate_payment", "--function", "payment_webhook"]


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        for value in SECRET_VALUES:
            assert value not in text


def test_merges_the_functions_plain_and_secret_variables_into_one_file(
    gcloud: FakeGcloud, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "deployed.env"
    assert run(out, *TWO) == 0
    values = read_env_file(out)
    assert values["DATABASE_URL"] == DB_URL  # quotes, backslash and ${HOME} survive literally
    assert values["PHONEPE_CLIENT_SECRET"] == PHONEPE_SECRET  # version 3, not latest
    assert values["PHONEPE_WEBHOOK_PASSWORD"] == WEBHOOK_PASSWORD  # from the entry's own projectId
    assert values["RESEND_API_KEY"] == RESEND_KEY  # a full resource name with its version
    assert values["APP_ENV"] == "production"
    assert values["OIDC_ALLOWED_EMAILS"] == '["tasks-invoker@bcm-prod.iam.gserviceaccount.com"]'
    # Per-function by design: taken from the first function read, and said so.
    assert values["OIDC_AUDIENCE"].endswith("/initiate_payment")
    assert values["SIGNING_SERVICE_ACCOUNT"].startswith("fn-initiate_payment@")
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "read 2 function(s) in bcm-prod/asia-south1: initiate_payment, payment_webhook" in captured.err
    assert "4 from Secret Manager: DATABASE_URL, PHONEPE_CLIENT_SECRET, PHONEPE_WEBHOOK_PASSWORD, RESEND_API_KEY" in (
        captured.err
    )
    assert "OIDC_AUDIENCE differs per function by design; taken from initiate_payment" in captured.err
    assert_no_secret(captured.out, captured.err)


def test_calls_gcloud_as_documented_and_reads_each_secret_version_once(gcloud: FakeGcloud, tmp_path: Path) -> None:
    assert run(tmp_path / "e.env", *TWO) == 0
    calls = gcloud.calls()
    describes = [c for c in calls if c[:2] == ["functions", "describe"]]
    assert describes == [
        ["functions", "describe", fn, "--gen2", "--region", REGION, "--project", PROJECT, "--format=json", "--quiet"]
        for fn in ("initiate_payment", "payment_webhook")
    ]
    accesses = sorted(
        (c[c.index("--project") + 1], c[c.index("--secret") + 1], c[3])
        for c in calls
        if c[:2] == ["secrets", "versions"]
    )
    # DATABASE_URL is referenced by both functions but read once.
    assert accesses == [
        (PROJECT, "DATABASE_URL", "latest"),
        (PROJECT, "phonepe", "3"),
        (PROJECT, "resend", "2"),
        ("secrets-project", "webhook-pw", "7"),
    ]
    assert all("--format=json" in c and "--quiet" in c for c in calls)


def test_without_function_it_describes_all_eleven(gcloud: FakeGcloud, tmp_path: Path) -> None:
    names = function_names()
    assert len(names) == 11
    for name in names:
        gcloud.state["functions"].setdefault(name, describe(name, common(name), {}))
    gcloud.save()
    assert run(tmp_path / "e.env") == 0
    assert [c[2] for c in gcloud.calls() if c[:2] == ["functions", "describe"]] == names


@pytest.mark.parametrize("umask", [0o000, 0o277], ids=["open-umask", "narrow-umask"])
def test_the_file_is_exactly_0600_over_a_world_readable_one_whatever_the_umask(
    gcloud: FakeGcloud, tmp_path: Path, umask: int
) -> None:
    out = tmp_path / "deployed.env"
    out.write_text("OLD=1\n")
    out.chmod(0o644)
    old_umask = os.umask(umask)
    try:
        assert run(out, *TWO) == 0
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert "OLD" not in read_env_file(out)
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_conflicting_values_name_the_variable_and_functions_never_the_values(
    gcloud: FakeGcloud, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    webhook = gcloud.state["functions"]["payment_webhook"]
    webhook["serviceConfig"]["environmentVariables"]["APP_ENV"] = "staging-typo"
    webhook["serviceConfig"]["secretEnvironmentVariables"].append(
        {"key": "PHONEPE_CLIENT_SECRET", "secret": "phonepe", "version": "latest"}
    )
    gcloud.save()
    out = tmp_path / "deployed.env"
    assert run(out, *TWO) == deployed_env.EXIT_CONFLICT
    err = capsys.readouterr().err
    assert "APP_ENV differs between functions: [initiate_payment] vs [payment_webhook]" in err
    assert "PHONEPE_CLIENT_SECRET differs between functions: [initiate_payment] vs [payment_webhook]" in err
    assert "staging-typo" not in err
    assert "WRONG-VERSION" not in err
    assert_no_secret(err)
    assert not out.exists()


def test_gcloud_missing_is_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    out = tmp_path / "deployed.env"
    assert run(out) == deployed_env.EXIT_GCLOUD
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "error: gcloud not found on PATH: install the Google Cloud CLI (https://cloud.google.com/sdk)"
    ]
    assert not out.exists()


def test_not_authenticated_is_one_line_and_stops_asking(
    gcloud: FakeGcloud, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gcloud.fail(
        "functions describe",
        "ERROR: (gcloud.functions.describe) You do not currently have an active account selected.\n"
        "Please run:\n\n  $ gcloud auth login\n",
    )
    assert run(tmp_path / "e.env") == deployed_env.EXIT_GCLOUD
    assert capsys.readouterr().err.splitlines() == ["error: gcloud is not authenticated: run `gcloud auth login`"]
    assert len(gcloud.calls()) == 1


def test_permission_denied_on_a_secret_names_the_command_and_role_not_the_value(
    gcloud: FakeGcloud, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gcloud.fail(
        "--secret webhook-pw",
        "ERROR: (gcloud.secrets.versions.access) PERMISSION_DENIED: Permission 'secretmanager.versions.access' "
        "denied for resource 'projects/secrets-project/secrets/webhook-pw/versions/7'\n",
    )
    out = tmp_path / "e.env"
    assert run(out, *TWO) == deployed_env.EXIT_GCLOUD
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        "error: gcloud secrets versions access 7 --secret webhook-pw --project secrets-project: "
        "permission denied (the account needs roles/secretmanager.secretAccessor)"
    ]
    assert_no_secret(captured.out, captured.err)
    assert not out.exists()


def test_unknown_function_and_unexpected_errors_are_one_line_each(
    gcloud: FakeGcloud, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    del gcloud.state["functions"]["payment_webhook"]
    gcloud.save()
    gcloud.fail("describe initiate_payment", "WARNING: something\nERROR: (gcloud.functions.describe) boom\n", code=5)
    assert run(tmp_path / "e.env", *TWO) == deployed_env.EXIT_GCLOUD
    lines = capsys.readouterr().err.splitlines()
    prefix = f"error: gcloud functions describe {{}} --gen2 --region {REGION} --project {PROJECT}: "
    assert lines == [
        prefix.format("initiate_payment") + "failed (exit 5): ERROR: (gcloud.functions.describe) boom",
        prefix.format("payment_webhook") + "not found (check --project, --region and the name)",
    ]


def test_a_gcloud_that_hangs_is_cut_at_the_timeout(gcloud: FakeGcloud) -> None:
    gcloud.fail("functions describe", "", sleep=5)
    with pytest.raises(GcloudError, match=r"no answer within 0\.5s") as info:
        run_gcloud(["functions", "describe", "x"], timeout_s=0.5)
    assert info.value.fatal


@pytest.mark.parametrize(
    "value",
    [
        "",
        "plain",
        "with \"double\" and 'single' quotes",
        "back\\slash \\n not a newline \\\\",
        "${HOME} and $USER stay literal",
        "hash # not a comment = equals",
        "multi\nline\r\nPEM\n",
        "  spaces around  ",
        "unicode ₹ ✓",
    ],
)
def test_quoted_values_read_back_exactly(tmp_path: Path, value: str) -> None:
    path = tmp_path / "v.env"
    path.write_text(f"X={quote(value)}\nY=after\n")
    assert read_env_file(path) == {"X": value, "Y": "after"}


def test_check_env_reads_the_written_file_as_the_deployed_settings(gcloud: FakeGcloud, tmp_path: Path) -> None:
    out = tmp_path / "deployed.env"
    assert run(out, *TWO) == 0
    settings = settings_from_env_file(out)
    assert settings.database_url.get_secret_value() == DB_URL
    assert settings.phonepe_client_secret.get_secret_value() == PHONEPE_SECRET
    assert settings.oidc_allowed_emails == ["tasks-invoker@bcm-prod.iam.gserviceaccount.com"]
    assert settings.app_env.value == "production"


def test_end_to_end_script_then_check_env_cli(gcloud: FakeGcloud, tmp_path: Path) -> None:
    """The runbook's two commands as subprocesses: the script, then check-env on its file."""
    out = tmp_path / "deployed.env"
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    script = subprocess.run(
        [sys.executable, str(REPO / "tools" / "deployed_env.py"), "--project", PROJECT, "--region", REGION, *TWO,
         "--out", str(out)],
        capture_output=True, text=True, env={**env, "PYTHONPATH": str(REPO)}, timeout=60, check=False,
    )  # fmt: skip
    assert script.returncode == 0, script.stderr
    assert_no_secret(script.stdout, script.stderr)
    skips = [arg for name in ("postgres", "redis", "firestore", "storage", "cloud_tasks", "vertex_ai", "phonepe",
                              "resend") for arg in ("--skip", name)]  # fmt: skip
    check = subprocess.run(
        [sys.executable, "-m", "devtools", "check-env", "--env-file", str(out), *skips],
        capture_output=True, text=True, env={**env, "PYTHONPATH": str(REPO), "APP_ENV": "local"}, cwd=REPO,
        timeout=60, check=False,
    )  # fmt: skip
    assert check.returncode == 0, check.stdout + check.stderr
    assert f"settings: ok (env file {out}; app_env=production, tasks_mode=cloud)" in check.stdout
    assert check.stdout.count("skipped by --skip") == 8
    assert_no_secret(check.stdout, check.stderr)


def test_per_function_variables_match_terraform() -> None:
    """The variables allowed to differ are exactly the ones functions.tf sets per function."""
    from tools.tfcheck import Terraform

    assert Terraform.load().per_function_env == PER_FUNCTION_VARIABLES


def test_secret_payload_is_decoded_from_url_safe_base64_without_padding() -> None:
    def answers(args: object) -> str:
        return json.dumps({"payload": {"data": "fn5-Pw"}})  # "~~~?" in the url-safe alphabet, padding dropped

    assert deployed_env.access_secret(answers, deployed_env.SecretRef("p", "s", "1")) == "~~~?"
    assert base64.b64decode("fn5+Pw==") == b"~~~?"


def test_a_payload_that_is_not_text_is_one_clear_error() -> None:
    def answers(args: object) -> str:
        return json.dumps({"payload": {"data": base64.urlsafe_b64encode(b"\xff\xfe").decode()}})

    with pytest.raises(GcloudError, match="--secret s --project p: the secret is not UTF-8 text"):
        deployed_env.access_secret(answers, deployed_env.SecretRef("p", "s", "1"))
