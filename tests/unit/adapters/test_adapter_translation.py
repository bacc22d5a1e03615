"""Adapters translate vendor exceptions into ``lib.errors`` and sign URLs the
right way in production; checked with hand-written client stand-ins (no
network, no credentials)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
import redis
import requests
from google.api_core import exceptions as gexc
from google.auth import exceptions as auth_exc
from google.auth.credentials import Credentials, Signing

from lib.adapters.firestore import FirestoreDocuments
from lib.adapters.redis import RedisKeyValue
from lib.adapters.storage import MAX_SIGNED_URL_S, GcsBlobs
from lib.errors import AdapterError, AlreadyExists, Missing, Rejected, Unavailable

# --- Redis ---------------------------------------------------------------------------


class RaisingRedis:
    """Every command raises ``error``."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def __getattr__(self, name: str) -> Any:
        def command(*args: Any, **kwargs: Any) -> Any:
            raise self.error

        return command


@pytest.mark.parametrize(
    ("vendor", "ours"),
    [
        (redis.exceptions.ConnectionError("refused"), Unavailable),
        (redis.exceptions.TimeoutError("slow"), Unavailable),
        (redis.exceptions.AuthenticationError("bad password"), Rejected),
        (redis.exceptions.ResponseError("WRONGTYPE"), Rejected),
        (redis.exceptions.RedisError("other"), Unavailable),
    ],
)
def test_redis_errors_are_translated(vendor: Exception, ours: type[AdapterError]) -> None:
    kv = RedisKeyValue("redis://unused", client=RaisingRedis(vendor))  # type: ignore[arg-type]
    for call in (
        lambda: kv.get("k"),
        lambda: kv.mget(["k"]),
        lambda: kv.set("k", b"v"),
        lambda: kv.set_if_absent("k", b"v", ttl_s=1),
        lambda: kv.delete("k"),
        lambda: kv.expire("k", 1),
        kv.ping,
    ):
        with pytest.raises(ours) as err:
            call()
        assert err.value.__cause__ is vendor


def test_redis_trivial_calls_and_bad_ttls_need_no_server() -> None:
    kv = RedisKeyValue("redis://unused", client=RaisingRedis(RuntimeError("must not be called")))  # type: ignore[arg-type]
    assert kv.mget([]) == []
    assert kv.delete() == 0
    for call in (lambda: kv.set("k", b"v", ttl_s=0), lambda: kv.set_if_absent("k", b"v", ttl_s=-1)):
        with pytest.raises(Rejected):
            call()


def test_redis_client_is_lazy_and_configured_to_fail_fast() -> None:
    kv = RedisKeyValue.from_url("redis://127.0.0.1:1/0", timeout_ms=250)
    assert kv._client is None
    kwargs = kv.client.connection_pool.connection_kwargs
    assert kwargs["socket_timeout"] == 0.25
    assert kwargs["socket_connect_timeout"] == 0.25
    assert kwargs["health_check_interval"] > 0
    assert kv.client.get_retry().get_retries() == 2
    kv.close()
    assert kv._client is None


# --- Firestore --------------------------------------------------------------------------


@dataclass
class RaisingFirestore:
    """collection().document().<op>() and queries raise ``error``."""

    error: Exception

    def collection(self, name: str) -> RaisingFirestore:
        return self

    def document(self, doc_id: str) -> RaisingFirestore:
        return self

    def where(self, **kwargs: Any) -> RaisingFirestore:
        return self

    def limit(self, n: int) -> RaisingFirestore:
        return self

    def _raise(self, *args: Any, **kwargs: Any) -> Any:
        raise self.error

    get = set = create = delete = stream = _raise


@pytest.mark.parametrize(
    ("vendor", "ours"),
    [
        (gexc.NotFound("gone"), Missing),
        (gexc.AlreadyExists("dup"), AlreadyExists),
        (gexc.Conflict("dup"), AlreadyExists),
        (gexc.Aborted("contention"), Unavailable),
        (gexc.FailedPrecondition("index"), Unavailable),
        (gexc.ServiceUnavailable("down"), Unavailable),
        (gexc.DeadlineExceeded("slow"), Unavailable),
        (gexc.RetryError("gave up", cause=gexc.ServiceUnavailable("down")), Unavailable),
        (gexc.PermissionDenied("no"), Rejected),
        # No credentials at all is configuration, as for Storage and Cloud Tasks (lib.adapters.google_errors).
        (auth_exc.DefaultCredentialsError("none"), Rejected),
        (auth_exc.TransportError("metadata server unreachable"), Unavailable),
        (gexc.TooManyRequests("slow down"), Unavailable),
    ],
)
def test_firestore_errors_are_translated(vendor: Exception, ours: type[AdapterError]) -> None:
    docs = FirestoreDocuments("p", client=RaisingFirestore(vendor))
    for call in (
        lambda: docs.get("c", "d"),
        lambda: docs.set("c", "d", {}),
        lambda: docs.create("c", "d", {}),
        lambda: docs.delete("c", "d"),
        lambda: docs.query("c", where=[("a", "==", 1)]),
        docs.ping,
    ):
        with pytest.raises(ours) as err:
            call()
        assert err.value.__cause__ is vendor
        assert err.value.service == "firestore"


def test_firestore_rejects_unknown_query_operators() -> None:
    docs = FirestoreDocuments("p", client=RaisingFirestore(RuntimeError("not reached")))
    with pytest.raises(Rejected):
        docs.query("c", where=[("a", "~=", 1)])


# --- Cloud Storage -------------------------------------------------------------------------


@dataclass
class FakeBlob:
    bucket: str
    name: str
    error: Exception | None
    signed: list[dict[str, Any]]

    def generate_signed_url(self, **kwargs: Any) -> str:
        self.signed.append(kwargs)
        return f"https://signed.example/{self.bucket}/{self.name}"

    def _raise(self, *args: Any, **kwargs: Any) -> Any:
        assert self.error is not None
        raise self.error

    upload_from_string = download_as_bytes = _raise


@dataclass
class FakeStorageClient:
    error: Exception | None = None
    signed: list[dict[str, Any]] = field(default_factory=list)

    def bucket(self, name: str) -> FakeStorageClient:
        self._bucket = name
        return self

    def blob(self, name: str) -> FakeBlob:
        return FakeBlob(self._bucket, name, self.error, self.signed)

    def get_bucket(self, name: str, **kwargs: Any) -> None:
        if self.error is not None:
            raise self.error


class MetadataCredentials(Credentials):
    """Like Cloud Functions' metadata credentials: a token, no private key."""

    def __init__(self) -> None:
        super().__init__()
        self.service_account_email = "fn@proj.iam.gserviceaccount.com"
        self.refreshed = 0

    def refresh(self, request: Any) -> None:
        self.refreshed += 1
        self.token = f"access-token-{self.refreshed}"
        self.expiry = None


class KeyedCredentials(MetadataCredentials, Signing):
    """Like a service-account key file: can sign locally."""

    def sign_bytes(self, message: bytes) -> bytes:
        return b"sig"

    @property
    def signer_email(self) -> str:
        return self.service_account_email

    @property
    def signer(self) -> Any:
        return None


def test_production_signing_goes_through_iam_sign_blob_without_a_key() -> None:
    client, creds = FakeStorageClient(), MetadataCredentials()
    blobs = GcsBlobs("p", client=client, credentials=creds)
    url = blobs.signed_url("exports", "w1/bcm.json", expires_s=600)
    assert url == "https://signed.example/exports/w1/bcm.json"
    (kwargs,) = client.signed
    assert kwargs["version"] == "v4"
    assert kwargs["expiration"].total_seconds() == 600
    assert kwargs["method"] == "GET"
    assert kwargs["service_account_email"] == "fn@proj.iam.gserviceaccount.com"
    assert kwargs["access_token"] == "access-token-1"
    assert "credentials" not in kwargs
    assert creds.refreshed == 1


def test_configured_signing_account_wins_and_keys_sign_locally() -> None:
    client = FakeStorageClient()
    GcsBlobs("p", client=client, credentials=MetadataCredentials(), signing_service_account="signer@p.iam").signed_url(
        "b", "n", expires_s=60, method="PUT", content_type="application/pdf"
    )
    assert client.signed[0]["service_account_email"] == "signer@p.iam"
    assert client.signed[0]["content_type"] == "application/pdf"
    keyed = KeyedCredentials()
    GcsBlobs("p", client=client, credentials=keyed).signed_url("b", "n", expires_s=60)
    assert client.signed[1]["credentials"] is keyed
    assert keyed.refreshed == 0


def test_signing_without_any_account_is_rejected() -> None:
    creds = MetadataCredentials()
    creds.service_account_email = "default"
    with pytest.raises(Rejected):
        GcsBlobs("p", client=FakeStorageClient(), credentials=creds).signed_url("b", "n", expires_s=60)


@pytest.mark.parametrize("expires_s", [0, MAX_SIGNED_URL_S + 1])
def test_signed_url_lifetime_is_bounded(expires_s: int) -> None:
    with pytest.raises(Rejected):
        GcsBlobs("p", client=FakeStorageClient()).signed_url("b", "n", expires_s=expires_s)


@pytest.mark.parametrize(
    ("vendor", "ours"),
    [
        (gexc.NotFound("gone"), Missing),
        (gexc.ServiceUnavailable("down"), Unavailable),
        (gexc.TooManyRequests("slow down"), Unavailable),
        (gexc.RetryError("gave up", cause=None), Unavailable),
        (gexc.Forbidden("no"), Rejected),
        (requests.ConnectionError("refused"), Unavailable),
        (requests.Timeout("slow"), Unavailable),
        (auth_exc.TransportError("metadata"), Unavailable),
        (auth_exc.RefreshError("revoked"), Rejected),
    ],
)
def test_storage_errors_are_translated(vendor: Exception, ours: type[AdapterError]) -> None:
    blobs = GcsBlobs("p", client=FakeStorageClient(error=vendor))
    for call in (
        lambda: blobs.put("b", "n", b"x", content_type="text/plain"),
        lambda: blobs.get("b", "n"),
        lambda: blobs.ping("b"),
    ):
        with pytest.raises(ours) as err:
            call()
        assert err.value.__cause__ is vendor
        assert err.value.service == "storage"


def test_emulator_host_without_scheme_gets_http() -> None:
    assert GcsBlobs("p", emulator_host="127.0.0.1:9023")._emulator_host == "http://127.0.0.1:9023"
    assert GcsBlobs("p", emulator_host="http://h:1/")._emulator_host == "http://h:1"
