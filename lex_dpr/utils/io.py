"""Atomic, deterministic JSON/JSONL input and output."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from lex_dpr.errors import InputError

_DUMP_OPTS = orjson.OPT_APPEND_NEWLINE
_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_open(path: str | Path) -> Iterator[BinaryIO]:
    """Open a temporary file beside ``path`` and rename it into place on success.

    A crash or Ctrl-C leaves the previous file (or no file) instead of half a file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; outputs should get the usual mode
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def dumps(record: Any) -> bytes:
    """One JSON line, keys in insertion order, UTF-8 (Korean stays readable)."""
    return orjson.dumps(record, option=_DUMP_OPTS)


def write_jsonl(path: str | Path, records: Iterable[Any]) -> int:
    """Write records as JSON lines atomically; returns the number written."""
    n = 0
    with atomic_open(path) as fh:
        for record in records:
            fh.write(dumps(record))
            n += 1
    return n


def write_json(path: str | Path, obj: Any) -> None:
    """Write one pretty JSON document atomically."""
    with atomic_open(path) as fh:
        fh.write(orjson.dumps(obj, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE))


@dataclass(frozen=True)
class BadLine:
    """A JSONL line that could not be parsed."""

    path: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.reason}"


def iter_jsonl(path: str | Path, bad_lines: list[BadLine] | None = None) -> Iterator[dict]:
    """Yield the JSON objects of a JSONL file.

    Malformed lines are skipped and recorded in ``bad_lines`` when given;
    without it the first bad line raises :class:`InputError` naming file and line.
    """
    for _, obj in _numbered_jsonl(path, bad_lines):
        yield obj


def iter_passages(path: str | Path, bad_lines: list[BadLine]) -> Iterator[dict]:
    """Yield the passage records of a JSONL file that have an id and a non-empty text, first of each id.

    Malformed lines, records without id or text, and repeated ids are recorded in ``bad_lines``
    with their line number.

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "p.jsonl"
        >>> _ = path.write_text('{"id": "a", "text": "x"}\\n{"id": "b", "text": " "}\\n{"id": "a", "text": "y"}\\n')
        >>> bad = []
        >>> [p["text"] for p in iter_passages(path, bad)], [b.reason for b in bad]
        (['x'], ['passage b: empty text', 'passage a: duplicate id (first on line 1)'])
    """
    first_line: dict[str, int] = {}
    for lineno, rec in _numbered_jsonl(path, bad_lines):
        pid, text = rec.get("id"), rec.get("text")
        if not pid or not isinstance(pid, str):
            reason = "passage without an id"
        elif not isinstance(text, str) or not text.strip():
            reason = f"passage {pid}: empty text"
        elif pid in first_line:
            reason = f"passage {pid}: duplicate id (first on line {first_line[pid]})"
        else:
            first_line[pid] = lineno
            yield rec
            continue
        bad_lines.append(BadLine(str(path), lineno, reason))


def _numbered_jsonl(path: str | Path, bad_lines: list[BadLine] | None) -> Iterator[tuple[int, dict]]:
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                obj = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                bad = BadLine(str(path), lineno, f"invalid JSON ({exc.msg})")
            else:
                if isinstance(obj, dict):
                    yield lineno, obj
                    continue
                bad = BadLine(str(path), lineno, f"expected a JSON object, got {type(obj).__name__}")
            if bad_lines is None:
                raise InputError(str(bad))
            bad_lines.append(bad)


def read_json_file(path: str | Path) -> Any:
    """Parse a JSON file, accepting UTF-8 with or without BOM and CP949 (EUC-KR) exports.

    Raises:
        InputError: with the file name and the reason (truncated JSON, bad encoding).
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    if not raw.strip():
        raise InputError(f"{path}: empty file")
    text = _decode(raw, path)
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise InputError(f"{path}: invalid JSON at line {exc.lineno} column {exc.colno} ({exc.msg})") from None


def _decode(raw: bytes, path: Path) -> str:
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp949")
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 or CP949 text (wrong encoding?)") from None


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, for fingerprints in run records."""
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()
