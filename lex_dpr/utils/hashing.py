"""Content hashes: the few digests lex-dpr persists or compares, each made one way.

Text is hashed as its UTF-8 bytes. What each digest keys, and why its size, is the caller's business; what
must never change is the bytes a digest is made from, since cache keys, split and merge ids, model
fingerprints and resume checks are stored on disk (``tests/utils/test_hashing.py`` pins them).

- :func:`sha256_hex`: fingerprints and short keys (``n`` hex digits: 16 for settings, 12 for a folder stamp).
- :func:`sha256_file`: a file's sha256, read in 1 MiB blocks (run records, index manifests, resume checks).
- :func:`blake2b_digest` / :func:`blake2b_hex`: small fast keys (token-cache keys, duplicate checks, tie-breaks).
- :func:`sha1_hex`: only the token cache's settings key, kept so that existing caches stay valid.

Example:
    >>> sha256_hex("민법", 16), blake2b_hex("민법", 12), blake2b_digest(b"x", 8).hex()
    ('2ddc9cc2ce2c1ecb', '549bde737014788663ba6a06', '4adf4367f96e584f')
"""

from __future__ import annotations

import hashlib
from pathlib import Path


def _bytes(data: str | bytes) -> bytes:
    return data.encode("utf-8") if isinstance(data, str) else data


def sha256_hex(data: str | bytes, n: int | None = None) -> str:
    """The sha256 of ``data`` (text as UTF-8) as hex, its first ``n`` digits when ``n`` is given."""
    digest = hashlib.sha256(_bytes(data)).hexdigest()
    return digest if n is None else digest[:n]


def sha1_hex(data: str | bytes, n: int | None = None) -> str:
    """The sha1 of ``data`` as hex (first ``n`` digits); for old keys only, never for anything new."""
    digest = hashlib.sha1(_bytes(data)).hexdigest()
    return digest if n is None else digest[:n]


def blake2b_digest(data: str | bytes, size: int) -> bytes:
    """The ``size``-byte blake2b of ``data`` (text as UTF-8)."""
    return hashlib.blake2b(_bytes(data), digest_size=size).digest()


def blake2b_hex(data: str | bytes, size: int) -> str:
    """:func:`blake2b_digest` as hex (``2 * size`` digits)."""
    return hashlib.blake2b(_bytes(data), digest_size=size).hexdigest()


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes, read ``chunk`` bytes at a time (memory does not grow with the file)."""
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()
