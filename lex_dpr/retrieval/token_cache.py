"""Kiwi morphemes on disk, so that a rerun skips Kiwi and an interrupted run resumes where it stopped.

Keyed by a hash of the text and of the tokeniser settings (Kiwi version, kept tags, options); written
as an append-only journal (:mod:`lex_dpr.utils.journal`) in chunks while tokenising. A last line cut by a
crash is dropped, and cut away before the next append; any other line that is not ``[key, [token, ...]]`` is
a cache miss: skipped, counted (``bad_lines``) and named in one warning, never an error.

Several runs may share one cache: appends hold an exclusive ``flock`` on ``<cache>.lock``
(:func:`~lex_dpr.utils.locks.hold_lock`; reads a shared one) and first read what the others appended, so
each key is written once. Duplicates from older versions are dropped on read, and the file is rewritten
without them (and without bad lines) when they make up more than a quarter of it. A cache that cannot be
written (read-only folder, full disk) is used read-only, with one warning.

Example:
    >>> import tempfile
    >>> cache = TokenCache(tempfile.mkdtemp())
    >>> cache.add(["민법"], [["민법"]])
    >>> TokenCache(cache.path.parent).get_many(["민법", "형법"])
    [['민법'], None]
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lex_dpr.data.tokenize import settings_key
from lex_dpr.utils.hashing import blake2b_hex
from lex_dpr.utils.io import BadLine, atomic_open, dumps, gc_paused
from lex_dpr.utils.journal import Position, append, open_append, scan
from lex_dpr.utils.locks import hold_lock

log = logging.getLogger(__name__)

# The cache `make-pairs` keeps beside its pairs (its --cache-dir default), which `index build` borrows from.
CACHE_DIR = ".lexdpr_cache"

# Rewrite the file when duplicate or bad lines exceed this share of it (and this many lines).
COMPACT_SHARE = 0.25
COMPACT_MIN_LINES = 1000
APPEND_CHUNK = 4096  # entries joined into one write


def text_key(text: str) -> str:
    return blake2b_hex(text, 12)


def _not_entry(obj: Any) -> str | None:
    """Why a parsed cache line is not ``[key, [token, ...]]``, or None when it is one.

    Example:
        >>> [_not_entry(x) for x in (["k", ["a", "b"]], [1, 2], {"k": 3}, ["k", ["a", 3]])]
        [None, 'not a cache entry', 'not a cache entry', 'not a cache entry']
    """
    if (isinstance(obj, list) and len(obj) == 2 and isinstance(obj[0], str) and isinstance(obj[1], list)
            and set(map(type, obj[1])) <= {str}):  # C-speed: a cache holds millions of tokens
        return None
    return "not a cache entry"


class TokenCache:
    def __init__(self, folder: str | Path) -> None:
        self.path = Path(folder) / f"kiwi-tokens-{settings_key()}.jsonl"
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self._tokens: dict[str, list[str]] = {}  # what get_many serves: the file plus this run's additions
        self._disk: dict[str, None] = {}  # keys in the file, in file order
        self._bad: list[BadLine] = []  # lines skipped as cache misses
        self.duplicates = 0  # keys found more than once in the file
        self._lines = 0
        self._pos = Position()  # read up to the end of the last whole line
        self._inode: int | None = None
        self.writable = True
        if not self.path.is_file():
            return
        try:
            with hold_lock(self.lock_path, shared=True):
                self._read_new()
        except OSError as exc:
            log.warning("%s: cannot read the token cache (%s); tokenising without it", self.path, exc.strerror)
            return
        if self.bad_lines:
            log.warning("%s: %d line(s) are not cache entries; skipped (re-tokenised on demand); the first: %s",
                        self.path, self.bad_lines, self._bad[0])
        waste = self.bad_lines + self.duplicates
        if waste >= COMPACT_MIN_LINES and waste > COMPACT_SHARE * self._lines:
            self._compact()

    @property
    def bad_lines(self) -> int:
        """Lines of the file that are not cache entries (cache misses)."""
        return len(self._bad)

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
                new[key] = toks if type(toks) is list else list(toks)  # kept, not copied: an index's are 100k+
        self._tokens.update(new)
        if not new or not self.writable:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with hold_lock(self.lock_path):
                self._read_new()  # what other runs appended meanwhile is not written twice
                self._append([[k, v] for k, v in new.items() if k not in self._disk])
        except OSError as exc:
            self.writable = False
            log.warning("%s: cannot write the token cache (%s); going on without saving tokens",
                        self.path, exc.strerror)

    def _read_new(self) -> None:
        """Read the lines appended since the last read (all of them when the file was replaced)."""
        try:
            fh = self.path.open("rb")
        except FileNotFoundError:
            self._pos, self._inode = Position(), None
            return
        with fh:
            inode = os.fstat(fh.fileno()).st_ino
            if inode != self._inode:  # the first read, or compacted by another run
                self._pos, self._inode, self._lines, self.duplicates = Position(), inode, 0, 0
                self._disk.clear()
                self._bad.clear()
            before = len(self._bad)
            with gc_paused():  # millions of token lists (1.7 GB at the growth bench's 1M passages)
                for entry in scan(fh, self.path, self._pos, check=_not_entry, bad=self._bad):
                    key, tokens = entry.value
                    self._lines += 1
                    if key in self._disk:
                        self.duplicates += 1
                    else:
                        self._disk[key] = None
                        self._tokens.setdefault(key, list(map(sys.intern, tokens)))
            self._lines += len(self._bad) - before

    def _append(self, entries: list[list]) -> None:
        """Append ``[key, tokens]`` entries, right after what :meth:`_read_new` read (under the exclusive lock)."""
        if not entries:
            return
        with open_append(self.path) as fh:  # a last line cut by a crash is cut away first, never glued onto
            end = fh.seek(0, os.SEEK_END)
            written = 0
            for start in range(0, len(entries), APPEND_CHUNK):  # whole lines a block at a time, not one blob of all
                written += append(fh, entries[start:start + APPEND_CHUNK])
            self._inode = os.fstat(fh.fileno()).st_ino
        self._pos = Position(end + written, self._pos.line + len(entries))
        self._disk.update(dict.fromkeys(key for key, _ in entries))
        self._lines += len(entries)

    def _compact(self) -> None:
        """Rewrite the cache with one line per key and no bad lines (atomically, under the lock)."""
        try:
            with hold_lock(self.lock_path):
                self._inode = None  # read the whole file again
                self._read_new()
                with atomic_open(self.path) as fh:
                    for key in self._disk:
                        fh.write(dumps([key, self._tokens[key]]))
                self._inode = None
                self._read_new()
        except OSError as exc:
            log.warning("%s: cannot compact the token cache (%s)", self.path, exc.strerror)
