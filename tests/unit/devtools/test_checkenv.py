"""devtools.checkenv: the table, the exit code, timeouts, and that no secret is ever printed."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest
from pydantic_settings import SettingsError

from devtools import checkenv
from devtools.__main__ import main as cli
from devtools.checkenv import Skipped, run_check
from lib.config import Settings

SECRET = "Sup3r-Secret-Value-9f8e7d"
DB_PASSWORD = "pg-Pa55word-77"
PROXY_PASSWORD = "pr0xy-t0ken"  # not a setting: only the URL-password rule can catch it


def make_settings() -> Settings:
    return Settings(
        database_url=f"postgresql://app:{DB_PASSWORD}@db.example.internal:5432/postgres",
        phonepe_client_secret=SECRET,
        supabase_jwt_secret=SECRET + "-jwt",
        resend_api_key="re_local_placeholder",
    )


def ok(settings: Settings, timeout_s: float) -> str:
    return "select 1 ok"


def failed(settings: Settings, timeout_s: float) -> str:
    raise ConnectionError("connection refused")


def skipped(settings: Settings, timeout_s: float) -> str:
    raise Skipped("no GCP credentials")


def leaky(settings: Settings, timeout_s: float) -> str:
    # A vendor error that echoes the URL and a secret must still print neither.
    raise RuntimeError(
        f"cannot reach {settings.database_url.get_secret_value()} with {SECRET} via https://proxy:{PROXY_PASSWORD}@proxy.example:8080/"
    )


def check(probes: dict[str, checkenv.Probe], timeout_s: float = checkenv.PROBE_TIMEOUT_S) -> tuple[int, str]:
    out = io.StringIO()
    code = run_check(probes=probes, load_settings=make_settings, out=out, timeout_s=timeout_s)
    return code, out.getvalue()


def rows(output: str) -> dict[str, list[str]]:
    table = {}
    for line in output.splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) == 4 and cells[0] != "service":
            table[cells[0]] = cells[1:]
    return table


def test_table_lists_every_probe_with_status_latency_and_detail_and_fails_on_a_failure() -> None:
    code, output = check({"postgres": ok, "redis": failed, "firestore": skipped})
    assert code == 1
    table = rows(output)
    assert list(table) == ["postgres", "redis", "firestore"]
    assert table["postgres"][0] == "ok"
    assert table["postgres"][2] == "select 1 ok"
    assert 0.0 <= float(table["postgres"][1]) < 1000.0  # an instant probe: well under a second, in ms
    assert table["redis"][0] == "failed"
    assert table["redis"][2] == "ConnectionError: connection refused"
    assert table["firestore"] == ["skipped", "-", "no GCP credentials"]
    assert output.splitlines()[1].startswith("service")
    assert "failed: redis" in output


def test_latency_column_is_the_probes_duration_in_milliseconds() -> None:
    def slow(settings: Settings, timeout_s: float) -> str:
        time.sleep(0.05)
        return "slow ok"

    code, output = check({"postgres": slow})
    assert code == 0
    latency_ms = float(rows(output)["postgres"][1])
    assert 50.0 <= latency_ms < checkenv.PROBE_TIMEOUT_S * 1000


def test_ok_and_skipped_only_exit_zero() -> None:
    code, output = check({"postgres": ok, "firestore": skipped})
    assert code == 0
    assert "failed:" not in output


def test_no_secret_or_url_password_reaches_the_output() -> None:
    code, output = check({"postgres": leaky, "phonepe": ok})
    assert code == 1
    assert SECRET not in output
    assert DB_PASSWORD not in output
    assert PROXY_PASSWORD not in output
    assert "cannot reach *** with *** via https://***@proxy.example:8080/" in output


def test_a_probe_that_hangs_is_reported_failed_at_the_timeout_without_delaying_the_rest() -> None:
    def hangs(settings: Settings, timeout_s: float) -> str:
        time.sleep(5)
        return "never"

    start = time.monotonic()
    code, output = check({"slow": hangs, "postgres": ok}, timeout_s=0.3)
    assert time.monotonic() - start < 2
    assert code == 1
    table = rows(output)
    assert table["slow"] == ["failed", "300.0", "no answer within 0.3s"]
    assert table["postgres"][0] == "ok"


def test_probes_run_concurrently() -> None:
    def naps(settings: Settings, timeout_s: float) -> str:
        time.sleep(0.4)
        return "ok"

    start = time.monotonic()
    code, _ = check({f"svc{i}": naps for i in range(4)}, timeout_s=5)
    assert code == 0
    assert time.monotonic() - start < 1.2  # 4 x 0.4 s in sequence would be 1.6 s


def test_invalid_settings_are_listed_per_variable_without_their_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DB_POOL_MIN", "not-a-number")
    monkeypatch.setenv("PHONEPE_CLIENT_SECRET", SECRET)
    out = io.StringIO()
    assert run_check(probes={"postgres": ok}, out=out) == 1
    output = out.getvalue()
    assert "DB_POOL_MIN:" in output
    assert "not-a-number" not in output
    assert "postgres" not in output  # nothing is probed with invalid settings


def test_a_model_level_error_prints_its_reason_but_no_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("DEV_ROUTES", "true")
    monkeypatch.setenv("TASKS_MODE", "cloud")
    monkeypatch.setenv("PHONEPE_CLIENT_SECRET", SECRET)
    out = io.StringIO()
    assert run_check(probes={}, out=out) == 1
    output = out.getvalue()
    assert "DEV_ROUTES must not be enabled in production" in output
    assert SECRET not in output


def test_resend_with_the_local_placeholder_key_is_skipped_without_a_request() -> None:
    with pytest.raises(Skipped, match="placeholder"):
        checkenv.probe_resend(make_settings(), 1.0)


def test_the_registry_probes_every_service_the_architecture_names() -> None:
    assert set(checkenv.PROBES) == {
        "postgres",
        "redis",
        "firestore",
        "storage",
        "cloud_tasks",
        "vertex_ai",
        "phonepe",
        "resend",
    }


def test_secret_values_lists_every_secret_longest_first() -> None:
    secrets = checkenv.secret_values(make_settings())
    assert SECRET in secrets
    assert SECRET + "-jwt" in secrets
    assert secrets.index(SECRET + "-jwt") < secrets.index(SECRET)


@pytest.mark.parametrize("probe", [checkenv.probe_firestore, checkenv.probe_storage, checkenv.probe_vertex])
def test_google_services_without_credentials_or_emulator_are_skipped(
    monkeypatch: pytest.MonkeyPatch, probe: checkenv.Probe
) -> None:
    # ADC from a key file that does not exist fails at once, with no metadata-server lookup.
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent/key.json")
    # The session's service fixture exports emulator hosts; this case is about having none.
    for name in ("FIRESTORE_EMULATOR_HOST", "STORAGE_EMULATOR_HOST", "GENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(Skipped, match="no GCP credentials"):
        probe(Settings(), 1.0)


def test_cloud_tasks_in_cloud_mode_without_credentials_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent/key.json")
    with pytest.raises(Skipped, match="no GCP credentials"):
        checkenv.probe_tasks(Settings(tasks_mode="cloud"), 1.0)


# --- --env-file: a deployed environment's variables -----------------------------------------

FILE_DB_URL = "postgresql://app:FilePa55@db.deployed.example:6543/postgres"


def write_env(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "deployed.env"
    path.write_text(text)
    return path


class Seen:
    """A probe that records the settings it was given."""

    def __init__(self) -> None:
        self.settings: list[Settings] = []

    def __call__(self, settings: Settings, timeout_s: float) -> str:
        self.settings.append(settings)
        return "seen"


def test_env_file_values_are_what_the_probes_see_and_beat_the_process_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_env(
        tmp_path,
        f'APP_ENV=production\nTASKS_MODE=cloud\nDATABASE_URL="{FILE_DB_URL}"\n'
        'PHONEPE_CLIENT_SECRET="lit${HOME}eral"\nOIDC_ALLOWED_EMAILS=["a@p.iam.gserviceaccount.com"]\n',
    )
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/local")  # the developer's own
    monkeypatch.setenv("APP_ENV", "local")
    monkeypatch.setenv("PHONEPE_CLIENT_ID", "DEV_SHELL_CLIENT")  # not in the file: must not fill the gap
    seen = Seen()
    out = io.StringIO()
    assert run_check(probes={"postgres": seen}, env_file=path, out=out) == 0
    (settings,) = seen.settings
    assert settings.database_url.get_secret_value() == FILE_DB_URL
    assert settings.app_env.value == "production"
    assert settings.phonepe_client_secret.get_secret_value() == "lit${HOME}eral"  # no interpolation
    assert settings.phonepe_client_id == Settings.model_fields["phonepe_client_id"].default
    assert settings.oidc_allowed_emails == ["a@p.iam.gserviceaccount.com"]
    output = out.getvalue()
    assert f"settings: ok (env file {path}; app_env=production, tasks_mode=cloud)" in output
    assert "FilePa55" not in output


def test_env_file_invalid_values_are_listed_by_variable_without_values(tmp_path: Path) -> None:
    path = write_env(tmp_path, f"DB_POOL_MIN=lots-{SECRET}\n")
    out = io.StringIO()
    assert run_check(probes={"postgres": ok}, env_file=path, out=out) == checkenv.EXIT_FAILED
    output = out.getvalue()
    assert f"settings: invalid (env file {path})" in output
    assert "DB_POOL_MIN:" in output
    assert SECRET not in output


def test_a_missing_or_unparsable_env_file_is_a_usage_error(tmp_path: Path) -> None:
    out = io.StringIO()
    assert run_check(probes={"postgres": ok}, env_file=tmp_path / "absent.env", out=out) == checkenv.EXIT_USAGE
    assert "absent.env: cannot read (FileNotFoundError)" in out.getvalue()
    broken = write_env(tmp_path, f'A=1\nB="{SECRET}\n')  # an unterminated quote would silently drop B
    out = io.StringIO()
    assert run_check(probes={"postgres": ok}, env_file=broken, out=out) == checkenv.EXIT_USAGE
    assert "line 2 cannot be parsed" in out.getvalue()
    assert SECRET not in out.getvalue()


def test_a_list_setting_that_is_not_json_is_named_not_crashed() -> None:
    def raises() -> Settings:
        raise SettingsError('error parsing value for field "oidc_allowed_emails" from source "EnvSettingsSource"')

    out = io.StringIO()
    assert run_check(probes={"postgres": ok}, load_settings=raises, out=out) == checkenv.EXIT_FAILED
    assert "  OIDC_ALLOWED_EMAILS: cannot be decoded" in out.getvalue()


def test_an_emulator_host_in_the_shell_refuses_a_deployed_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_env(tmp_path, "APP_ENV=production\nTASKS_MODE=cloud\n")
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", "127.0.0.1:8681")
    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    seen = Seen()
    out = io.StringIO()
    assert run_check(probes={"firestore": seen, "postgres": seen}, env_file=path, out=out) == checkenv.EXIT_USAGE
    assert "FIRESTORE_EMULATOR_HOST is set in this shell but not in the env file" in out.getvalue()
    assert seen.settings == []
    # Skipping the probe the variable would mislead lets the rest run.
    out = io.StringIO()
    code = run_check(probes={"firestore": seen, "postgres": seen}, env_file=path, skip=["firestore"], out=out)
    assert code == 0
    assert len(seen.settings) == 1


def test_an_emulator_host_the_file_itself_sets_is_not_a_conflict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_env(tmp_path, "STORAGE_EMULATOR_HOST=http://127.0.0.1:9023\n")
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", "http://127.0.0.1:1111")
    monkeypatch.delenv("FIRESTORE_EMULATOR_HOST", raising=False)
    seen = Seen()
    assert run_check(probes={"storage": seen}, env_file=path, out=io.StringIO()) == 0
    assert seen.settings[0].storage_emulator_host == "http://127.0.0.1:9023"


# --- --skip ------------------------------------------------------------------------------------


def test_skipped_probes_do_not_run_and_print_as_skipped_by_flag() -> None:
    seen = Seen()
    code, output = check_with(skip=["redis", "postgres"], probes={"postgres": seen, "redis": failed, "resend": ok})
    assert code == 0  # the failing probe was skipped
    assert seen.settings == []
    table = rows(output)
    assert table["postgres"] == ["skipped", "-", "skipped by --skip"]
    assert table["redis"] == ["skipped", "-", "skipped by --skip"]
    assert table["resend"][0] == "ok"
    assert list(table) == ["postgres", "redis", "resend"]  # registry order kept


def test_skipping_an_unknown_service_is_refused_with_the_valid_names() -> None:
    code, output = check_with(skip=["mongo"], probes={"postgres": ok})
    assert code == checkenv.EXIT_USAGE
    assert "unknown service(s) to skip: mongo; known: postgres" in output


def check_with(*, skip: list[str], probes: dict[str, checkenv.Probe]) -> tuple[int, str]:
    out = io.StringIO()
    code = run_check(probes=probes, load_settings=make_settings, skip=skip, out=out)
    return code, out.getvalue()


# --- the command line -------------------------------------------------------------------------


def test_cli_rejects_an_unknown_skip_listing_every_service(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli(["check-env", "--skip", "mongo"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'mongo'" in err
    for name in checkenv.PROBES:
        assert f"'{name}'" in err


def test_cli_passes_env_file_and_skips_through(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_env(tmp_path, "APP_ENV=production\nTASKS_MODE=cloud\nGCP_PROJECT=bcm-prod\n")
    monkeypatch.setenv("APP_ENV", "test")
    skips = [arg for name in checkenv.PROBES for arg in ("--skip", name)]
    assert cli(["check-env", "--env-file", str(path), *skips]) == 0
    output = capsys.readouterr().out
    assert f"settings: ok (env file {path}; app_env=production, tasks_mode=cloud)" in output
    assert output.count("skipped by --skip") == len(checkenv.PROBES)
