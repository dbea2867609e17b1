"""Atomic, deterministic JSON/JSONL input and output.

Its neighbours hold the other crash-safety primitives: :mod:`lex_dpr.utils.locks` (``flock``),
:mod:`lex_dpr.utils.journal` (append-only JSONL that drops a torn last line), :mod:`lex_dpr.utils.hashing`
(content hashes), :mod:`lex_dpr.utils.folders` (folder commits) and :mod:`lex_dpr.utils.clock` (UTC times).
"""

from __future__ import annotations

import contextlib
import errno
import gc
import gzip
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, BinaryIO

import orjson

from lex_dpr.errors import InputError

# Kept importable from here for the modules that import them from io; they live in their own homes.
from lex_dpr.utils.hashing import sha256_file as sha256_file
from lex_dpr.utils.locks import folder_lock as folder_lock
from lex_dpr.utils.locks import try_lock as try_lock

_DUMP_OPTS = orjson.OPT_APPEND_NEWLINE
_UMASK = os.umask(0)
os.umask(_UMASK)

# What the user can do about each way a write fails; anything else gets the system's own words.
_WRITE_REASONS = {
    errno.EACCES: "no permission", errno.EPERM: "no permission", errno.EROFS: "read-only file system",
    errno.ENOSPC: "no space left on device", errno.EDQUOT: "disk quota exceeded",
    errno.ENOTDIR: "a part of the path is a file, not a folder", errno.EEXIST: "a part of the path is a file, not a folder",
    errno.EISDIR: "it is a folder", errno.EFBIG: "file too large", errno.ENAMETOOLONG: "file name too long",
}
# errnos a write into an open file can only mean one thing by: the output, not an input, is the problem
_WRITE_ONLY_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG}


class WriteError(InputError, OSError):
    """An output could not be written: one line for the CLI (exit 1), still an ``OSError`` for code catching those.

    Example:
        >>> err = WriteError("out/x.jsonl", OSError(errno.ENOSPC, "No space left on device"))
        >>> str(err), err.errno == errno.ENOSPC
        ('cannot write out/x.jsonl (no space left on device); free space or choose another output path', True)
    """

    def __init__(self, path: str | Path, exc: OSError, fix: str = "") -> None:
        OSError.__init__(self, exc.errno, exc.strerror, str(path))
        reason = _WRITE_REASONS.get(exc.errno or 0, exc.strerror or type(exc).__name__)
        if not fix:
            fix = ("free space or choose another output path" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else
                   "choose another output path or fix the folder's permissions")
        self.message = f"cannot write {path} ({reason}); {fix}"

    def __str__(self) -> str:
        return self.message


def ensure_writable(path: str | Path, *, folder: bool = False, flag: str = "--out", example: str = "out.jsonl") -> Path:
    """Check before any work that an output can be written; returns the folder checked.

    ``path`` is an output file (its parent folder is checked) or, with ``folder=True``, an output folder.
    Missing folders are created; writability is tested by creating and removing a temporary file, which
    also catches read-only mounts and full disks that permission bits do not show.

    Raises:
        InputError: one line naming the path and the flag to change.

    Example:
        >>> import tempfile
        >>> base = Path(tempfile.mkdtemp())
        >>> ensure_writable(base / "new" / "out.jsonl") == base / "new"
        True
        >>> _ = (base / "f").write_text("x")
        >>> ensure_writable(base / "f" / "out.jsonl")
        Traceback (most recent call last):
        lex_dpr.utils.io.WriteError: cannot write .../f (a part of the path is a file, not a folder); choose another --out
    """
    path = Path(path)
    if not folder and path.is_dir():
        raise InputError(f"{path} is a folder; {flag} takes a file name (e.g. {path / example})")
    target = path if folder else path.parent
    try:
        target.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".lexdpr-write-check.", suffix=".tmp", dir=target)
        os.close(fd)
        os.unlink(probe)
    except FileExistsError as exc:  # target (or a parent) is a regular file
        raise WriteError(target, OSError(errno.ENOTDIR, exc.strerror), f"choose another {flag}") from None
    except OSError as exc:
        fix = f"choose another {flag}"
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            fix += " (read-only folder or no permission)"
        raise WriteError(target, exc, fix) from None
    return target


@contextlib.contextmanager
def atomic_open(path: str | Path) -> Iterator[BinaryIO]:
    """Open a temporary file beside ``path`` and rename it into place on success.

    A crash or Ctrl-C leaves the previous file (or no file) instead of half a file. A failure to write
    (no permission, read-only file system, disk full) is a :class:`WriteError` naming ``path``.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except FileExistsError as exc:
        raise WriteError(path, OSError(errno.ENOTDIR, exc.strerror)) from None
    except OSError as exc:
        raise WriteError(path, exc) from None
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; outputs should get the usual mode
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and not isinstance(exc, WriteError) and exc.errno in _WRITE_ONLY_ERRNOS:
            raise WriteError(path, exc) from None
        if isinstance(exc, OSError) and exc.filename == tmp:  # chmod or the rename into place
            raise WriteError(path, exc) from None
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


def iter_numbered_jsonl(path: str | Path, bad_lines: list[BadLine]) -> Iterator[tuple[int, dict]]:
    """``(line number, object)`` for each JSON object of a JSONL file; bad lines go to ``bad_lines``."""
    return _numbered_jsonl(path, bad_lines)


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a large file becomes millions of small dicts and lists.

    Each collection of the oldest generation walks every object alive, and reading creates enough objects to
    trigger many of them, so reading grows faster than the file: the growth bench's 1M index passages read in
    8.0–8.1 s with it paused against 13.3–20.7 s (bench/bench_read.py, 2 cores). Records hold no reference
    cycles; what is created while paused is collected as usual afterwards.

    Example:
        >>> with gc_paused():
        ...     rows = [{"id": str(i)} for i in range(3)]
        >>> gc.isenabled()
        True
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def iter_passages(path: str | Path, bad_lines: list[BadLine]) -> Iterator[dict]:
    """Yield the passage records of a JSONL file that have an id and a non-empty text, first of each id.

    Malformed lines, records without id or text, and repeated ids are recorded in ``bad_lines``
    with their line number.

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "p.jsonl"
        >>> _ = path.write_text('{"id": "a", "text": "x"}\\n{"id": "b", "text": " "}\\n{"id": "a", "text": "y"}\\n'
        ...                     '{"id": 12345, "text": "z"}\\n{"id": "c", "text": ["z"]}\\n')
        >>> bad = []
        >>> [p["text"] for p in iter_passages(path, bad)], [b.reason for b in bad]  # doctest: +NORMALIZE_WHITESPACE
        (['x'], ['passage b: empty text', 'passage a: duplicate id (first on line 1)',
                 'passage id 12345 is int, not text: quote it ("id": "12345")', 'passage c: text is list, not a string'])
    """
    first_line: dict[str, int] = {}
    for lineno, rec in _numbered_jsonl(path, bad_lines):
        pid, text = rec.get("id"), rec.get("text")
        if pid is None or pid == "":
            reason = "passage without an id"
        elif not isinstance(pid, str):
            reason = f"passage id {pid!r} is {type(pid).__name__}, not text: quote it (\"id\": \"{pid}\")"
        elif text is not None and not isinstance(text, str):
            reason = f"passage {pid}: text is {type(text).__name__}, not a string"
        elif not isinstance(text, str) or not text.strip():
            reason = f"passage {pid}: empty text"
        elif pid in first_line:
            reason = f"passage {pid}: duplicate id (first on line {first_line[pid]})"
        else:
            first_line[pid] = lineno
            yield rec
            continue
        bad_lines.append(BadLine(str(path), lineno, reason))


_COMPRESSED = {b"PK\x03\x04": "a zip archive", b"\x28\xb5\x2f\xfd": "zstd-compressed", b"BZh": "bzip2-compressed",
               b"\xfd7zXZ\x00": "xz-compressed"}
_BOM = b"\xef\xbb\xbf"
# A file whose first lines are all unreadable is not JSONL at all (a binary, UTF-16 or a pretty-printed JSON):
# say so once instead of recording every line of it as a bad line.
BAD_PREFIX_LINES = 100


def open_jsonl(path: str | Path) -> IO[bytes]:
    """Open a JSONL file for reading bytes; gzip files (``.jsonl.gz``, or gzip under any name) are decompressed.

    Raises:
        InputError: missing file, a folder, no permission, another compression or UTF-16 text, naming the file.
    """
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not a JSONL file")
    try:
        fh: IO[bytes] = path.open("rb")
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    head = fh.read(6)
    fh.seek(0)
    if head.startswith(b"\x1f\x8b"):
        return gzip.GzipFile(fileobj=fh, mode="rb")  # type: ignore[return-value]
    kind = next((name for magic, name in _COMPRESSED.items() if head.startswith(magic)), None)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        kind = "UTF-16 text"
    if kind:
        fh.close()
        fix = "save it as UTF-8" if kind == "UTF-16 text" else "decompress it first"
        raise InputError(f"{path}: {kind}, not JSON Lines; {fix}")
    return fh


def _numbered_jsonl(path: str | Path, bad_lines: list[BadLine] | None) -> Iterator[tuple[int, dict]]:
    path = Path(path)
    good = bad_prefix = 0
    with open_jsonl(path) as fh:
        try:
            for lineno, raw in enumerate(fh, start=1):
                if lineno == 1 and raw.startswith(_BOM):  # Windows editors save UTF-8 with a BOM
                    raw = raw[len(_BOM):]
                if not raw.strip():
                    continue
                try:
                    obj = orjson.loads(raw)  # a trailing \r (CRLF line ends) is JSON whitespace
                except orjson.JSONDecodeError as exc:
                    bad = BadLine(str(path), lineno, f"invalid JSON ({exc.msg})")
                else:
                    if isinstance(obj, dict):
                        good += 1
                        yield lineno, obj
                        continue
                    bad = BadLine(str(path), lineno, f"expected a JSON object, got {type(obj).__name__}")
                if bad_lines is None:
                    raise InputError(str(bad))
                bad_lines.append(bad)
                if not good:
                    bad_prefix += 1
                    if bad_prefix == BAD_PREFIX_LINES:
                        first = bad_lines[-BAD_PREFIX_LINES]
                        raise InputError(f"{path}: not JSON Lines (the first {BAD_PREFIX_LINES} lines are not JSON "
                                         f"objects; line {first.line}: {first.reason})")
        except (EOFError, gzip.BadGzipFile, OSError) as exc:
            if isinstance(exc, InputError):
                raise
            raise InputError(f"{path}: cannot read ({exc.strerror if isinstance(exc, OSError) and exc.strerror else exc}; "
                             "truncated or corrupt file?)") from None


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
