"""GcsBlobs against gcp-storage-emulator: signed URLs really fetch (and upload)
the object over HTTP, and a stopped emulator is Unavailable within seconds.
The emulator does not verify signatures; the signing path for production is
unit-tested in tests/unit/adapters/test_adapter_translation.py."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from devtools.local.services import ServiceSet, free_port
from lib.adapters.storage import GcsBlobs
from lib.errors import Missing, Unavailable

BUCKET = "bcm-exports-test"


@pytest.fixture
def blobs(services: ServiceSet) -> GcsBlobs:
    return GcsBlobs("bcm-test", emulator_host=services.env["STORAGE_EMULATOR_HOST"])


@pytest.mark.services
def test_signed_get_url_downloads_the_object(blobs: GcsBlobs) -> None:
    name = f"exports/{uuid.uuid4().hex}/bcm v1.json"
    blobs.put(BUCKET, name, b'{"v":1}', content_type="application/json")
    url = blobs.signed_url(BUCKET, name, expires_s=300)
    query = parse_qs(urlsplit(url).query)
    assert query["X-Goog-Algorithm"] == ["GOOG4-RSA-SHA256"]
    assert query["X-Goog-Expires"] == ["300"]
    assert "X-Goog-Signature" in query
    response = httpx.get(url)
    assert response.status_code == 200
    assert response.content == b'{"v":1}'
    assert response.headers["content-type"].startswith("application/json")


@pytest.mark.services
def test_signed_put_url_uploads(blobs: GcsBlobs) -> None:
    name = f"evidence/{uuid.uuid4().hex}.txt"
    url = blobs.signed_url(BUCKET, name, expires_s=60, method="PUT", content_type="text/plain")
    response = httpx.put(url, content=b"proof", headers={"Content-Type": "text/plain"})
    assert response.status_code == 200
    assert blobs.get(BUCKET, name) == b"proof"


@pytest.mark.services
def test_missing_bucket_and_object(blobs: GcsBlobs) -> None:
    with pytest.raises(Missing):
        blobs.ping("no-such-bucket")
    with pytest.raises(Missing):
        blobs.get(BUCKET, f"nothing-{uuid.uuid4().hex}")


def test_stopped_emulator_is_unavailable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)  # start a private one, not reuse the session's
    svc = ServiceSet(root=tmp_path)
    host = svc.start_storage(None, ["gone-bucket"], port=free_port())
    blobs = GcsBlobs("bcm-test", emulator_host=host, retry_budget_s=1)
    blobs.put("gone-bucket", "x", b"1", content_type="text/plain")
    svc.stop()
    start = time.monotonic()
    with pytest.raises(Unavailable):
        blobs.get("gone-bucket", "x")
    assert time.monotonic() - start < 5


@pytest.mark.services
def test_a_signed_download_names_the_file_and_keeps_utf8(blobs: GcsBlobs) -> None:
    """Text exports download under the API's filename and read as UTF-8 (no "â€”" for "—")."""
    name = f"exports/{uuid.uuid4().hex}/bcm.md"
    text = "# Acme — BCM ✓\n".encode()
    blobs.put(BUCKET, name, text, content_type="text/markdown; charset=utf-8")
    url = blobs.signed_url(
        BUCKET, name, expires_s=300, download_name="bcm-acme-v1.0.0.md", response_type="text/markdown; charset=utf-8"
    )
    query = parse_qs(urlsplit(url).query)
    # Both are signed into the URL: Cloud Storage serves the object with them.
    assert query["response-content-disposition"] == ['attachment; filename="bcm-acme-v1.0.0.md"']
    assert query["response-content-type"] == ["text/markdown; charset=utf-8"]
    response = httpx.get(url)
    assert response.status_code == 200
    assert response.content == text
    assert response.headers["content-disposition"] == 'attachment; filename="bcm-acme-v1.0.0.md"'
    # The emulator honours the disposition but not response-content-type, and drops the stored type's
    # charset on multipart uploads; the bytes are the UTF-8 that was written either way.
    assert response.content.decode("utf-8") == "# Acme — BCM ✓\n"
