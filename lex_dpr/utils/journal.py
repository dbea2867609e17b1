"""Append-only JSONL journals: one JSON record a line, appended as work gets done, read back after a crash.

Every resumable job keeps its progress this way: ``rag batch``'s answers and answer cache, ``synth``'s
journal and pairs, the Kiwi token cache, a training run's ``metrics.jsonl``. They share one rule for a
line that is not a record:

- **A torn last line is a crash's doing.** A process killed mid-append leaves the start of a line without
  its newline, and only the last line of a file can lack one. Readers drop it without a word (its record
  is done again), and :func:`open_append` cuts it away before the next append, so that a new record never
  glues onto it. A file that ends in a newline has no torn line.
- **Any other bad line is damage** (an edit, another program, a disk error): it is never skipped silently
  and never cut away. It is reported as ``file:line: reason``: raised as an :class:`~lex_dpr.errors.InputError`
  (the caller's ``fix`` appended), or, when the caller passes a ``bad`` list, collected there for it to
  warn about and go on without the line (a cache, which does the work again; the metrics log).
  A whole line is bad when it is not JSON, or when the caller's ``check`` gives a reason.

Blank lines are skipped. Appends are whole lines (:func:`dumps`); how often to flush or fsync is the
caller's: ``rag batch`` fsyncs its answers after every batch and flushes its cache; ``synth`` flushes its
journal after every attempt; the token cache flushes every chunk under its lock (:mod:`lex_dpr.utils.locks`).

Example:
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "job.jsonl"
    >>> _ = path.write_bytes(b'{"n": 1}\\n{"n": 2}\\n{"n": ')  # killed in the middle of the third record
    >>> entries, pos = read_journal(path)
    >>> [e.value["n"] for e in entries], pos.torn
    ([1, 2], True)
    >>> with open_append(path) as fh:
    ...     _ = append(fh, [{"n": 3}])
    >>> path.read_bytes()
    b'{"n": 1}\\n{"n": 2}\\n{"n":3}\\n'
    >>> _ = path.write_bytes(b'{"n": 1}\\n{"n": \\n{"n": 3}\\n')
    >>> read_journal(path)
    Traceback (most recent call last):
    lex_dpr.errors.InputError: .../job.jsonl:2: invalid JSON (...)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, BinaryIO

import orjson

from lex_dpr.errors import InputError
from lex_dpr.utils.io import BadLine, dumps

Check = Callable[[Any], "str | None"]  # a record's problem (a reason), or None when it is one


@dataclass(frozen=True)
class Entry:
    """One record of a journal: where it is and what it holds."""

    line: int  # 1-based line number
    start: int  # byte offset of the line
    raw: bytes  # the line as written, newline included
    value: Any  # the parsed JSON


@dataclass
class Position:
    """How far a journal has been read: whole lines up to ``offset`` (the next append goes there)."""

    offset: int = 0
    line: int = 1  # the number the next line has
    torn: bool = False  # the last read ended at a torn line (dropped)


def scan(fh: IO[bytes], path: str | Path, pos: Position, *, check: Check | None = None,
         bad: list[BadLine] | None = None, fix: str = "") -> Iterator[Entry]:
    """The records of ``fh`` from ``pos`` on (a file opened ``rb``), advancing ``pos`` line by line.

    For a reader that follows a file others append to (the token cache): call it again with the same
    ``pos`` to read what was appended since. A torn last line stops the scan (``pos.torn``) before it.

    Raises:
        InputError: a bad line (see the module docstring) and no ``bad`` list to collect it.
    """
    pos.torn = False
    fh.seek(pos.offset)
    for raw in fh:
        if not raw.endswith(b"\n"):
            pos.torn = True
            return
        start, number = pos.offset, pos.line
        pos.offset += len(raw)
        pos.line += 1
        if not raw.strip():
            continue
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            reason: str | None = f"invalid JSON ({exc.msg})"
        else:
            reason = check(value) if check is not None else None
            if reason is None:
                yield Entry(number, start, raw, value)
                continue
        problem = BadLine(str(path), number, reason)
        if bad is None:
            raise InputError(f"{problem}; {fix}" if fix else str(problem))
        bad.append(problem)


def read_journal(path: str | Path, *, check: Check | None = None, bad: list[BadLine] | None = None,
                 fix: str = "") -> tuple[list[Entry], Position]:
    """Every record of the journal at ``path`` and where its whole lines end; a missing file has none.

    Raises:
        InputError: a bad line (see the module docstring) and no ``bad`` list to collect it.
    """
    pos = Position()
    try:
        fh = Path(path).open("rb")
    except FileNotFoundError:
        return [], pos
    with fh:
        return list(scan(fh, path, pos, check=check, bad=bad, fix=fix)), pos


def whole_end(fh: IO[bytes]) -> int:
    """The byte offset after the file's last newline: where its whole lines end (its size when not torn)."""
    size = fh.seek(0, os.SEEK_END)
    end = size
    block = 1 << 16
    while end > 0:
        lo = max(0, end - block)
        fh.seek(lo)
        chunk = fh.read(end - lo)
        if end == size and chunk.endswith(b"\n"):
            return size
        cut = chunk.rfind(b"\n")
        if cut >= 0:
            return lo + cut + 1
        end = lo
    return 0


def cut_torn_tail(path: str | Path) -> bool:
    """Cut a torn last line off the file at ``path`` (truncated in place); whether there was one."""
    try:
        fh = Path(path).open("r+b")
    except FileNotFoundError:
        return False
    with fh:
        end = whole_end(fh)
        if end == fh.seek(0, os.SEEK_END):
            return False
        fh.truncate(end)
        return True


def open_append(path: str | Path) -> BinaryIO:
    """Open the journal for appending (created when missing), after cutting a torn last line away."""
    cut_torn_tail(path)
    return Path(path).open("ab")


def append(fh: IO[bytes], records: Iterable[Any], *, sync: bool = False) -> int:
    """Append ``records`` as JSON lines and flush (fsync too with ``sync``); returns the bytes written."""
    data = b"".join(dumps(r) for r in records)
    fh.write(data)
    fh.flush()
    if sync:
        os.fsync(fh.fileno())
    return len(data)


def truncate_after(path: str | Path, keep: Callable[[Any], bool], *, bad: list[BadLine] | None = None) -> int:
    """Cut the journal before its first record that ``keep`` rejects: that record, every line after it and a
    torn last line go (a resumed job redoes them); returns how many records stay.

    For a log written in order, e.g. a training run's ``metrics.jsonl`` cut back to the checkpoint it resumes
    from: ``truncate_after(path, lambda row: row.get("step", 0) <= step)``.

    Raises:
        InputError: a bad line before the cut (see the module docstring) and no ``bad`` list to collect it.
    """
    path = Path(path)
    if not path.is_file():
        return 0
    kept = 0
    pos = Position()
    cut = None
    with path.open("rb") as fh:
        for entry in scan(fh, path, pos, bad=bad):
            if not keep(entry.value):
                cut = entry.start
                break
            kept += 1
    cut = pos.offset if cut is None else cut
    if cut < path.stat().st_size:
        with path.open("r+b") as fh:
            fh.truncate(cut)
            fh.flush()
            os.fsync(fh.fileno())
    return kept
