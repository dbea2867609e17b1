"""Kiwi morphemes on disk, so that a rerun skips Kiwi and an interrupted run resumes where it stopped.

Keyed by a hash of the text and of the tokeniser settings (Kiwi version, kept tags, options); written
as append-only JSONL in chunks while tokenising. A line cut by a crash is ignored on the next read.

Example:
    >>> import tempfile
    >>> cache = TokenCache(tempfile.mkdtemp())
    >>> cache.add(["민법"], [["민법"]])
    >>> TokenCache(cache.path.parent).get_many(["민법", "형법"])
    [['민법'], None]
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import orjson


def _settings_key() -> str:
    from importlib.metadata import version

    from lex_dpr.retrieval import tokenize as t

    raw = f"{version('kiwipiepy')}|{t.KEPT_TAGS}|{t._OPTIONS}|{t._PIECES.pattern}|nodicts|{t.CUTOFF_THRESHOLD}"
    return hashlib.sha1(raw.encode()).hexdigest()[:12]


def text_key(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


class TokenCache:
    def __init__(self, folder: str | Path) -> None:
        self.path = Path(folder) / f"kiwi-tokens-{_settings_key()}.jsonl"
        self._tokens: dict[str, list[str]] = {}
        if self.path.is_file():
            for line in self.path.read_bytes().splitlines():
                try:
                    key, tokens = orjson.loads(line)
                except (orjson.JSONDecodeError, ValueError):
                    continue
                self._tokens[key] = tokens

    def __len__(self) -> int:
        return len(self._tokens)

    def get_many(self, texts: Sequence[str]) -> list[list[str] | None]:
        return [self._tokens.get(text_key(t)) for t in texts]

    def add(self, texts: Sequence[str], tokens: Sequence[list[str]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lines = []
        for text, toks in zip(texts, tokens, strict=True):
            key = text_key(text)
            if key not in self._tokens:
                self._tokens[key] = list(toks)
                lines.append(orjson.dumps([key, list(toks)]))
        if lines:
            with self.path.open("ab+") as fh:
                fh.seek(0, 2)
                if fh.tell():  # after a crash the last line may lack its newline: never glue onto it
                    fh.seek(-1, 2)
                    if fh.read(1) != b"\n":
                        fh.write(b"\n")
                fh.write(b"\n".join(lines) + b"\n")
