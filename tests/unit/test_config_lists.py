"""List settings as deployments set them: Terraform writes OIDC_ALLOWED_EMAILS as plain comma-separated text."""

from __future__ import annotations

import pytest

from lib.config import Settings


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("tasks-invoker-prod@p.iam.gserviceaccount.com", ["tasks-invoker-prod@p.iam.gserviceaccount.com"]),
        (" a@p.iam , b@p.iam ,", ["a@p.iam", "b@p.iam"]),
        ('["a@p.iam", "b@p.iam"]', ["a@p.iam", "b@p.iam"]),
        ("", []),
    ],
)
def test_oidc_allowed_emails_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, raw: str, expected: list[str]
) -> None:
    monkeypatch.setenv("OIDC_ALLOWED_EMAILS", raw)
    assert Settings().oidc_allowed_emails == expected
