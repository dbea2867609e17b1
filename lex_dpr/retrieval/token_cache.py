"""Kiwi morphemes on disk, so that a rerun skips Kiwi and an interrupted run resumes where it stopped.

Keyed by a hash of the text and of the tokeniser settings (Kiwi version, kept tags, options); written
as append-only JSONL in chunks while tokenising. A line cut by a crash, or any line that is not
``[key, [token, ...]]``, is a cache miss: skipped and counted (``bad_lines``), never an error.

Several runs may share one cache: appends hold an ``flock`` on ``<cache>.lock`` and first read what the
others appended, so each key is written once. Duplicates from older versions are dropped on read, and the
file is rewritten without them (and without bad lines) when they make up more than a quarter of it.
A cache that cannot be written (read-only folder, full disk) is used read-only, with one warning.

Example:
    >>> import tempfile
    >>> cache = TokenCache(tempfile.mkdtemp())
    >>> cache.add(["민법"], [["민법"]])
    >>> TokenCache(cache.path.parent).get_many(["민법", "형법"])
    [['민법'], None]
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO

import orjson

from lex_dpr.utils.io import atomic_open

log = logging.getLogger(__name__)

# Rewrite the file when duplicate or bad lines exceed this share of it (and this many lines).
COMPACT_SHARE = 0.25
COMPACT_MIN_LINES = 1000


def _settings_key() -> str:
    from importlib.metadata import version

    from lex_dpr.retrieval import tokenize as t

    raw = f"{version('kiwipiepy')}|{t.KEPT_TAGS}|{t._OPTIONS}|{t._PIECES.pattern}|nodicts|{t.CUTOFF_THRESHOLD}|irregular-stems"
    return hashlib.sha1(raw.encode()).hexdigest()[:12]


def text_key(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


def _entry(line: bytes) -> tuple[str, list[str]] | None:
    """``(key, tokens)`` of a cache line, or None when it is not one (cut, or valid JSON of another shape).

    Example:
        >>> [_entry(x) for x in (b'["k", ["a", "b"]]', b'[1, 2]', b'{"k": 3}', b'"s"', b'["k", ["a", 3]]', b'["k"')]
        [('k', ['a', 'b']), None, None, None, None, None]
    """
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if (isinstance(obj, list) and len(obj) == 2 and isinstance(obj[0], str) and isinstance(obj[1], list)
            and all(isinstance(t, str) for t in obj[1])):
        return obj[0], obj[1]
    return None


class TokenCache:
    def __init__(self, folder: str | Path) -> None:
        self.path = Path(folder) / f"kiwi-tokens-{_settings_key()}.jsonl"
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self._tokens: dict[str, list[str]] = {}  # what get_many serves: the file plus this run's additions
        self._disk: dict[str, None] = {}  # keys in the file, in file order
        self.bad_lines = 0  # lines skipped as cache misses
        self.duplicates = 0  # keys found more than once in the file
        self._lines = 0
        self._offset = 0  # bytes read: up to the end of the last complete line
        self._inode: int | None = None
        self.writable = True
        if not self.path.is_file():
            return
        try:
            with self._locked(shared=True):
                self._read_new()
        except OSError as exc:
            log.warning("%s: cannot read the token cache (%s); tokenising without it", self.path, exc.strerror)
            return
        if self.bad_lines:
            log.warning("%s: %d line(s) are not cache entries; skipped (re-tokenised on demand)",
                        self.path, self.bad_lines)
        waste = self.bad_lines + self.duplicates
        if waste >= COMPACT_MIN_LINES and waste > COMPACT_SHARE * self._lines:
            self._compact()

    def __len__(self) -> int:
        return len(self._tokens)

    def get_many(self, texts: Sequence[str]) -> list[list[str] | None]:
        return [self._tokens.get(text_key(t)) for t in texts]

    def add(self, texts: Sequence[str], tokens: Sequence[list[str]]) -> None:
        """Remember ``tokens`` for ``texts``; appends the keys nobody (this or another process) wrote yet."""
        new = {}
        for text, toks in zip(texts, tokens, strict=True):
            key = text_key(text)
            if key not in self._tokens:
                new[key] = list(toks)
        self._tokens.update(new)
        if not new or not self.writable:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._locked(shared=False):
                self._read_new()  # what other runs appended meanwhile is not written twice
                self._append([orjson.dumps([k, v]) for k, v in new.items() if k not in self._disk])
        except OSError as exc:
            self.writable = False
            log.warning("%s: cannot write the token cache (%s); going on without saving tokens",
                        self.path, exc.strerror)

    @contextlib.contextmanager
    def _locked(self, shared: bool) -> Iterator[None]:
        """An flock on the lock file beside the cache (not on the cache, which compaction replaces)."""
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: one writer at a time is up to the user
            yield
            return
        try:
            fh: IO[str] = self.lock_path.open("a+")
        except OSError:
            if not shared:
                raise
            yield  # a read-only cache folder: nobody can be writing in there
            return
        try:
            fcntl.flock(fh, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
            yield
        finally:
            fh.close()

    def _read_new(self) -> None:
        """Read the lines appended since the last read (all of them when the file was replaced)."""
        try:
            fh = self.path.open("rb")
        except FileNotFoundError:
            self._offset, self._inode = 0, None
            return
        with fh:
            inode = os.fstat(fh.fileno()).st_ino
            if inode != self._inode:  # the first read, or compacted by another run
                self._offset, self._inode, self._lines = 0, inode, 0
                self._disk.clear()
            fh.seek(self._offset)
            for line in fh:
                entry = _entry(line)
                if entry is None and not line.endswith(b"\n"):
                    break  # the last line, cut by a crash: glued over by the next append
                self._offset += len(line)
                if not line.strip():
                    continue
                self._lines += 1
                if entry is None:
                    self.bad_lines += 1
                elif entry[0] in self._disk:
                    self.duplicates += 1
                else:
                    self._disk[entry[0]] = None
                    self._tokens.setdefault(*entry)

    def _append(self, lines: list[bytes]) -> None:
        if not lines:
            return
        with self.path.open("ab+") as fh:
            end = fh.seek(0, 2)
            if end:  # after a crash the last line may lack its newline: never glue onto it
                fh.seek(-1, 2)
                if fh.read(1) != b"\n":
                    fh.write(b"\n")
                    end += 1
            data = b"\n".join(lines) + b"\n"
            fh.write(data)
            fh.flush()
            self._inode, self._offset = os.fstat(fh.fileno()).st_ino, end + len(data)
        self._disk.update(dict.fromkeys(orjson.loads(line)[0] for line in lines))
        self._lines += len(lines)

    def _compact(self) -> None:
        """Rewrite the cache with one line per key and no bad lines (atomically, under the lock)."""
        try:
            with self._locked(shared=False):
                self._inode = None
                self.bad_lines = self.duplicates = 0
                self._read_new()
                with atomic_open(self.path) as fh:
                    for key in self._disk:
                        fh.write(orjson.dumps([key, self._tokens[key]]) + b"\n")
                self._inode = None
                self._read_new()
        except OSError as exc:
            log.warning("%s: cannot compact the token cache (%s)", self.path, exc.strerror)
