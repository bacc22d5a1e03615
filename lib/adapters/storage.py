"""``Blobs`` on Cloud Storage (google-cloud-storage).

Exports and evidence live here; the frontend downloads them through v4 signed
URLs.  In production the function runs with metadata-server credentials that
hold no private key, so URLs are signed through IAM ``signBlob``: the SDK does
that when given ``service_account_email`` and a fresh ``access_token`` (the
signing account needs ``roles/iam.serviceAccountTokenCreator`` on itself).

Against ``gcp-storage-emulator`` the client uses anonymous credentials and the
URL is v4-signed with a throwaway key made on first use, pointed at the
emulator (``{host}/{bucket}/{name}?X-Goog-...``, which the emulator serves
for GET and PUT).  The emulator does NOT check signatures: tests there prove
the URL reaches the object, not that the signature is valid.

Calls carry a short timeout and a bounded retry, so a stopped emulator or an
outage is ``Unavailable`` within seconds; the client is built on first use.
"""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager
from datetime import timedelta
from typing import Any

from lib.adapters.google_errors import google_errors
from lib.adapters.lazy import Lazy
from lib.errors import Rejected

SERVICE = "storage"
# (connect, read) seconds for one HTTP call; exports are small JSON/PDF files.
CALL_TIMEOUT_S = (3.0, 10.0)
# Transient errors are retried with backoff for at most this long in total.
RETRY_BUDGET_S = 5.0
# Google caps v4 signed URLs at 7 days.
MAX_SIGNED_URL_S = 7 * 24 * 3600
_CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
# The throwaway key only needs to look like a service account to the signer.
_EMULATOR_SIGNER_EMAIL = "local-signer@emulator.iam.gserviceaccount.com"


class GcsBlobs:
    """``lib.ports.Blobs`` over Cloud Storage; errors translated to ``lib.errors``."""

    def __init__(
        self,
        project: str,
        *,
        emulator_host: str | None = None,
        signing_service_account: str | None = None,
        retry_budget_s: float = RETRY_BUDGET_S,
        client: Any | None = None,
        credentials: Any | None = None,
    ) -> None:
        self._project = project
        self._retry_budget_s = retry_budget_s
        self._emulator_host = emulator_host.rstrip("/") if emulator_host else None
        if self._emulator_host and "://" not in self._emulator_host:
            self._emulator_host = f"http://{self._emulator_host}"
        self._signing_account = signing_service_account
        self._client: Lazy[Any] = Lazy(self._build_client, client)
        self._credentials = credentials
        self._emulator_signer: Any | None = None
        self._lock = threading.Lock()

    # --- lazily built clients -------------------------------------------------------
    @property
    def client(self) -> Any:
        return self._client.get()

    def _build_client(self) -> Any:
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import storage  # type: ignore[attr-defined]

        if self._emulator_host:
            return storage.Client(
                project=self._project,
                credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
                client_options={"api_endpoint": self._emulator_host},
            )
        with _translated():
            return storage.Client(project=self._project, credentials=self._production_credentials())

    def _production_credentials(self) -> Any:
        if self._credentials is None:
            import google.auth

            self._credentials, _ = google.auth.default(scopes=[_CLOUD_PLATFORM_SCOPE])
        return self._credentials

    def _retry(self) -> Any:
        from google.cloud.storage.retry import DEFAULT_RETRY

        return DEFAULT_RETRY.with_timeout(self._retry_budget_s)

    # --- the port ---------------------------------------------------------------------
    def put(self, bucket: str, name: str, data: bytes, *, content_type: str) -> None:
        with _translated():
            blob = self.client.bucket(bucket).blob(name)
            blob.upload_from_string(data, content_type=content_type, timeout=CALL_TIMEOUT_S, retry=self._retry())

    def get(self, bucket: str, name: str) -> bytes:
        with _translated():
            data = self.client.bucket(bucket).blob(name).download_as_bytes(timeout=CALL_TIMEOUT_S, retry=self._retry())
        return bytes(data)

    def ping(self, bucket: str) -> None:
        """The bucket's metadata: proves reachability, auth and that the bucket exists."""
        with _translated():
            self.client.get_bucket(bucket, timeout=CALL_TIMEOUT_S, retry=self._retry())

    def signed_url(
        self,
        bucket: str,
        name: str,
        *,
        expires_s: int,
        method: str = "GET",
        content_type: str | None = None,
        download_name: str | None = None,
        response_type: str | None = None,
    ) -> str:
        if not 0 < expires_s <= MAX_SIGNED_URL_S:
            raise Rejected(f"expires_s must be within 1..{MAX_SIGNED_URL_S}", SERVICE)
        blob = self.client.bucket(bucket).blob(name)
        kwargs: dict[str, Any] = {
            "version": "v4",
            "expiration": timedelta(seconds=expires_s),
            "method": method,
            "content_type": content_type,
        }
        if download_name is not None:
            # Signed into the URL (response-content-disposition): the browser saves it under this name.
            kwargs["response_disposition"] = f'attachment; filename="{download_name}"'
        if response_type is not None:
            # response-content-type: served with this type (a text export's charset), whatever was stored.
            kwargs["response_type"] = response_type
        if self._emulator_host:
            kwargs["credentials"] = self._emulator_credentials()
            kwargs["api_access_endpoint"] = self._emulator_host
        else:
            kwargs.update(self._production_signing())
        with _translated():
            return str(blob.generate_signed_url(**kwargs))

    # --- signing ------------------------------------------------------------------------
    def _production_signing(self) -> dict[str, Any]:
        """Sign locally when the credentials carry a key; else through IAM signBlob."""
        from google.auth.credentials import Signing
        from google.auth.transport.requests import Request

        creds = self._production_credentials()
        if isinstance(creds, Signing) and self._signing_account is None:
            return {"credentials": creds}
        with _translated():
            if not creds.valid:
                creds.refresh(Request())
        email = self._signing_account or getattr(creds, "service_account_email", None)
        if not email or email == "default":
            raise Rejected("no service account to sign URLs with (set SIGNING_SERVICE_ACCOUNT)", SERVICE)
        return {"service_account_email": email, "access_token": creds.token}

    def _emulator_credentials(self) -> Any:
        if self._emulator_signer is None:
            with self._lock:
                if self._emulator_signer is None:
                    self._emulator_signer = _throwaway_signer()
        return self._emulator_signer


def _throwaway_signer() -> Any:
    """Service-account credentials around a fresh RSA key (emulator only)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from google.oauth2 import service_account

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    info = {
        "type": "service_account",
        "client_email": _EMULATOR_SIGNER_EMAIL,
        "private_key": pem,
        "private_key_id": "local",
        "token_uri": "http://127.0.0.1/unused",
    }
    return service_account.Credentials.from_service_account_info(info)  # type: ignore[no-untyped-call]


def _translated() -> AbstractContextManager[None]:
    """Google client exceptions -> ``lib.errors``: the one table in ``lib.adapters.google_errors``."""
    return google_errors(SERVICE)
