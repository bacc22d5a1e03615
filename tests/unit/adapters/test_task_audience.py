"""Task senders mint OIDC tokens for the receiving function's URL; receivers accept only their own."""

from __future__ import annotations

import pytest

from devtools.local.oidc_signer import LocalOidcSigner
from lib.adapters.task_names import function_audience
from lib.errors import Unauthorized
from lib.http.jwks import JwksCache
from lib.http.oidc import GoogleOidcVerifier

BASE = "http://127.0.0.1:8080"
INVOKER = "tasks-invoker@bcm-local.iam.gserviceaccount.com"


@pytest.mark.parametrize(
    ("url", "audience"),
    [
        (f"{BASE}/payment_reconcile/", f"{BASE}/payment_reconcile"),
        (f"{BASE}/onboarding_ai/run?x=1", f"{BASE}/onboarding_ai"),
        (
            "https://asia-south1-p.cloudfunctions.net/bcm_rebuild",
            "https://asia-south1-p.cloudfunctions.net/bcm_rebuild",
        ),
        ("https://maintenance-abc.a.run.app/", "https://maintenance-abc.a.run.app"),
    ],
)
def test_function_audience_is_the_target_functions_url(url: str, audience: str) -> None:
    assert function_audience(url) == audience


def test_receiver_accepts_tokens_for_its_own_url_only() -> None:
    signer = LocalOidcSigner()
    verifier = GoogleOidcVerifier(
        audience=None,
        base_url=BASE + "/",
        allowed_emails=[INVOKER],
        jwks=JwksCache("local", fetcher=lambda _url: signer.jwks()),
    )
    token = signer.sign(function_audience(f"{BASE}/bcm_rebuild/"), INVOKER)
    assert verifier.verify(token, function="bcm_rebuild").email == INVOKER
    with pytest.raises(Unauthorized) as exc:
        verifier.verify(token, function="payment_reconcile")
    assert exc.value.code == "token_bad_audience"
