"""The passages an index is built from, and the hashes ``update`` matches them by."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lex_dpr.data.corpus import check_encoding
from lex_dpr.errors import InputError
from lex_dpr.retrieval.bm25 import search_head, search_text
from lex_dpr.utils.hashing import sha256_file, sha256_hex
from lex_dpr.utils.io import BadLine, dumps, gc_paused, iter_passages

log = logging.getLogger(__name__)


@dataclass
class Passages:
    """A passage file as read: the records (bad lines dropped), their ids, texts and hashes, the file's sha256."""

    records: list[dict]
    ids: list[str]
    texts: list[str]
    hashes: list[str]
    record_hashes: list[str]
    sha256: str
    path: str
    skipped: int
    search_texts: list[str] | None = None  # what BM25 indexes (search_text of each record); None: the texts

    def for_bm25(self, fields: Sequence[str]) -> list[str]:
        """The records' searchable texts with ``fields`` (remembered for the manifest's tokens)."""
        self.search_texts = [search_text(r, fields) for r in self.records]
        return self.search_texts

    def bm25_parts(self, fields: Sequence[str]) -> list[tuple[str, str]]:
        """Each record's (head line, text): :meth:`for_bm25`'s texts in two parts."""
        return [(search_head(r, fields), t) for r, t in zip(self.records, self.texts, strict=True)]


def read_passages(path: str | Path) -> Passages:
    """The passages of a JSONL (lines without id or text skipped, the first 20 logged)."""
    check_encoding(path)
    bad: list[BadLine] = []
    with gc_paused():
        records = list(iter_passages(path, bad))
    for b in bad[:20]:
        log.warning("skipped %s", b)
    if len(bad) > 20:
        log.warning("%s: %d more line(s) skipped", path, len(bad) - 20)
    if not records:
        raise InputError(f"{path}: no passages with id and text")
    texts = [r["text"] for r in records]
    return Passages(records, [r["id"] for r in records], texts, [text_sha256(t) for t in texts],
                    [record_sha256(r) for r in records], sha256_file(path), str(path), len(bad))


def text_sha256(text: str) -> str:
    """The hash ``update`` compares passages by.

    Example:
        >>> text_sha256("제1조(목적)")[:12]
        'f9acd50fb8be'
    """
    return sha256_hex(text)


def record_sha256(record: dict) -> str:
    """A short hash of a passage's fields other than its text (title, article, dates, meta)."""
    return sha256_hex(dumps({k: v for k, v in record.items() if k != "text"}), 16)


def records_sha256(records: list[dict]) -> str:
    """sha256 over the records as ``passages.jsonl`` holds them (the same passages in the same order)."""
    h = hashlib.sha256()
    for rec in records:
        h.update(dumps(rec))
    return h.hexdigest()
