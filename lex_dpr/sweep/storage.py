"""Where a sweep lives: ``sweeps/{sweep_id}/`` (the spec, the study journal, the trials' run folders, plots).

The study is an Optuna study named after the sweep id. By default it is stored in an Optuna journal file
in the sweep folder: agents on one machine, or on several machines sharing the folder over a network
filesystem, cooperate through it with no server. ``--storage postgresql://...`` (any Optuna RDB URL) puts
it in a database instead, for agents without a shared filesystem. SQLite is refused for more than one
agent: it locks under parallel writers.

The journal is one JSON record a line, appended under Optuna's lock file (``journal.log.lock``). A write cut
short (a killed agent, a full disk, ``truncate``) leaves a last line with no newline: it is set aside into
``journal.log.torn-TIME`` under that lock, when the journal is opened and before every append, so no record is
ever glued onto it. A damaged line elsewhere stops with one line naming the file, the line and
``lex-dpr sweep repair ID``, which keeps every record before it (see :func:`repair_journal`).

Example:
    >>> import tempfile
    >>> folder = sweep_dir("demo-1a2b3c4d", tempfile.mkdtemp())
    >>> folder.name, storage_url(folder).endswith("journal.log")
    ('demo-1a2b3c4d', True)
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import re
import secrets
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from lex_dpr.errors import ConfigError, InputError, LexDprError
from lex_dpr.utils.clock import utc_file_stamp as file_stamp
from lex_dpr.utils.clock import utc_now as utc_now  # the time every sweep file records (study.py imports it here)

log = logging.getLogger(__name__)

SWEEPS_DIR = "sweeps"
SPEC_FILE = "sweep.yaml"
STORAGE_FILE = "storage.txt"
JOURNAL_FILE = "journal.log"
STOP_FILE = "STOP"
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,80}$")


def new_sweep_id(name: str | None) -> str:
    """``{name}-{8 hex}``: readable, and unique across machines without coordination."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", name or "sweep").strip("-")[:40] or "sweep"
    return f"{stem}-{secrets.token_hex(4)}"


def sweep_dir(sweep_id: str, root: str | Path = SWEEPS_DIR) -> Path:
    if not _ID.match(sweep_id):
        raise ConfigError(f"sweep id {sweep_id!r}: use letters, digits, '.', '_' and '-' only")
    return Path(root) / sweep_id


def storage_url(folder: Path, storage: str | None = None) -> str:
    """The study's storage: the given URL, the one recorded at create time, or the journal in ``folder``."""
    if storage:
        return storage
    recorded = folder / STORAGE_FILE
    if recorded.is_file():
        return recorded.read_text(encoding="utf-8").strip()
    return str(folder / JOURNAL_FILE)


def open_storage(url: str, agents_hint: int = 1):
    """An Optuna storage for ``url``: a journal file path, or an RDB URL (SQLite only for one agent).

    A journal's torn last line is repaired first, and a damaged line (now or later) is an InputError naming
    the file, the line and ``lex-dpr sweep repair``, never a JSONDecodeError.
    """
    import optuna

    if "://" not in url:
        from optuna.storages.journal import JournalFileOpenLock

        Path(url).parent.mkdir(parents=True, exist_ok=True)
        check_journal_tail(url)
        backend = _journal_backend_class()(url, lock_obj=JournalFileOpenLock(url))
        try:
            return optuna.storages.JournalStorage(backend)
        except LexDprError:
            raise
        except Exception as exc:  # a well-formed line Optuna cannot replay (KeyError, TypeError, AssertionError...)
            raise journal_error(url, backend.line, f"Optuna cannot replay it ({type(exc).__name__}: {exc})") from None
    if url.startswith("sqlite") and agents_hint > 1:
        raise ConfigError(f"--storage {url}: SQLite locks under parallel writers; use the default journal "
                          "file or a PostgreSQL/MySQL URL for several agents")
    try:
        return optuna.storages.RDBStorage(url, heartbeat_interval=None)
    except Exception as exc:  # sqlalchemy raises its own types for bad URLs, drivers and refused connections
        raise InputError(f"--storage {_redact(url)}: cannot open ({str(exc).splitlines()[0]})") from None


# --- the journal file: torn last lines, damaged lines, repair -------------------------------------------------

_RECORD_START = b'{"op_code":'  # Optuna writes each record compactly, op_code first


def _record_reason(line: bytes) -> str | None:
    """Why one journal line (without its newline) is not a record Optuna can read, or None when it is one."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        return "not valid UTF-8 (binary data)"
    try:
        record = json.loads(text)
    except ValueError:
        return "not valid JSON (a cut or overwritten record)"
    if not isinstance(record, dict) or record.get("op_code") not in _op_codes():
        return "not an Optuna journal record"
    return None


@functools.cache
def _op_codes() -> frozenset[int]:
    from optuna.storages.journal._storage import JournalOperation

    return frozenset(op.value for op in JournalOperation)


def journal_error(path: str | Path, line: int, reason: str) -> InputError:
    """The one line for a damaged journal: file, line, why, and the command that repairs it."""
    return InputError(f"{path} line {line}: {reason}; the sweep cannot be read past it; repair it with "
                      f"`{repair_command(path)}` (keeps every record before line {line}, and the old file as a copy)")


def repair_command(path: str | Path) -> str:
    path = Path(path)
    if path.name != JOURNAL_FILE or not _ID.match(path.parent.name):
        return f"lex-dpr sweep repair --storage {path}"
    root = path.parent.parent
    return f"lex-dpr sweep repair {path.parent.name}" + ("" if root == Path(SWEEPS_DIR) else f" --sweeps-dir {root}")


@contextlib.contextmanager
def journal_lock(path: str | Path):
    """Optuna's own lock on the journal (``PATH.lock``): no agent appends while it is held."""
    from optuna.storages.journal import JournalFileOpenLock

    lock = JournalFileOpenLock(str(path))
    lock.acquire()
    try:
        yield
    finally:
        lock.release()


def _aside(path: Path, kind: str, data: bytes) -> Path:
    """Keep ``data`` in ``PATH.KIND-TIME`` (a new file, never an existing one)."""
    stamp = file_stamp()
    for n in range(1000):
        target = path.with_name(f"{path.name}.{kind}-{stamp}" + (f"-{n}" if n else ""))
        try:
            with target.open("xb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            return target
        except FileExistsError:
            continue
    raise InputError(f"{path}: cannot find a free name for the {kind} copy")


def _tail(fh) -> tuple[int, bytes]:
    """The offset and bytes of the file's last line (with its newline, when it has one)."""
    size = fh.seek(0, os.SEEK_END)
    end = size - 1 if size else 0  # a final newline belongs to the last line
    start = end
    while start > 0:
        step = min(65536, start)
        fh.seek(start - step)
        nl = fh.read(step).rfind(b"\n")
        if nl >= 0:
            start = start - step + nl + 1
            break
        start -= step
    fh.seek(start)
    return start, fh.read()


def _tail_ok(path: Path) -> bool:
    with path.open("rb") as fh:
        _, last = _tail(fh)
    return not last or (last.endswith(b"\n") and _record_reason(last.rstrip(b"\r\n")) is None)


def _check_tail_locked(path: Path) -> Path | None:
    """With the journal lock held: a torn last line is finished (a whole record) or set aside; a damaged
    complete last line is an error (nothing may be appended after it). Returns the set-aside copy, if any."""
    with path.open("rb+") as fh:
        start, last = _tail(fh)
        if not last:
            return None
        if last.endswith(b"\n"):
            reason = _record_reason(last.rstrip(b"\r\n"))
            if reason:
                raise journal_error(path, _count_lines(path), reason)
            return None
        if _record_reason(last) is None:  # the record is whole, only its newline is missing
            fh.seek(0, os.SEEK_END)
            fh.write(b"\n")
            fh.flush()
            os.fsync(fh.fileno())
            log.warning("%s: its last record had no newline (a write cut short); completed it", path)
            return None
        kept = _aside(path, "torn", last)
        fh.truncate(start)
        fh.flush()
        os.fsync(fh.fileno())
    log.warning("%s line %d: a write cut short (%d bytes, no newline); set aside into %s", path,
                _count_lines(path) + 1, len(last), kept.name)
    return kept


def _count_lines(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))


def check_journal_tail(path: str | Path) -> Path | None:
    """Repair a torn last line, refuse a damaged one (see the module doc); returns the set-aside copy, if any.

    The check reads the last line; the lock is taken only when that line is not a whole record.
    """
    path = Path(path)
    try:
        if _tail_ok(path):
            return None
    except FileNotFoundError:
        return None
    with journal_lock(path):
        return _check_tail_locked(path)


@functools.cache
def _journal_backend_class():
    """Optuna's JournalFileBackend that drops a torn tail before each append and names a damaged line."""
    from optuna.storages.journal import JournalFileBackend
    from optuna.storages.journal._file import get_lock_file

    class SweepJournal(JournalFileBackend):
        line = 0  # the last line read (1-based): the record being replayed when Optuna fails on one

        def read_logs(self, log_number_from: int):
            n = log_number_from
            try:
                for record in super().read_logs(log_number_from):
                    n += 1
                    self.line = n
                    if not isinstance(record, dict) or "op_code" not in record:
                        raise journal_error(self._file_path, n, "not an Optuna journal record")
                    yield record
            except ValueError:  # JSONDecodeError, UnicodeDecodeError, "Invalid log format"
                line, reason = first_bad_line(self._file_path) or (n + 1, "not a journal record")
                raise journal_error(self._file_path, line, reason) from None

        def append_logs(self, logs) -> None:
            data = "".join(json.dumps(x, separators=(",", ":")) + "\n" for x in logs).encode("utf-8")
            with get_lock_file(self._lock):
                _check_tail_locked(Path(self._file_path))
                with open(self._file_path, "ab") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())

    return SweepJournal


def first_bad_line(path: str | Path) -> tuple[int, str] | None:
    """The first complete line of the journal that is not a readable record (1-based) and why, or None."""
    with Path(path).open("rb") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.endswith(b"\n"):
                return None  # a torn last line: dropped on the next open, not damage
            reason = _record_reason(line.rstrip(b"\r\n"))
            if reason:
                return number, reason
    return None


@dataclass
class Repair:
    path: Path
    kept: int = 0  # records kept
    dropped_from: int | None = None  # first line set aside with everything after it (None: nothing)
    reason: str = ""
    unglued: list[int] = field(default_factory=list)  # lines where a torn record was cut off the record after it
    backup: Path | None = None  # the journal as it was before the repair

    @property
    def changed(self) -> bool:
        return self.backup is not None


def repair_journal(path: str | Path) -> Repair:
    """Make a damaged journal readable again, under the journal lock; the old file is kept as ``PATH.bad-TIME``.

    Every record before the first damaged line is kept. A line that is a torn record with a whole record glued
    onto its end (an older lex-dpr appended onto a torn line) keeps the whole record and goes on. Any other
    damaged line is set aside with everything after it: later records may refer to trials it created, so
    keeping them could shift trial numbers. A line Optuna cannot replay counts as damaged too.
    Stop the agents first: a running agent keeps its own copy of the study.
    """

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no journal there")
    result = Repair(path)
    with journal_lock(path):
        original = path.read_bytes()
        parts = original.split(b"\n")  # as Optuna reads it: lines end at "\n" only
        lines = [x + b"\n" for x in parts[:-1]] + ([parts[-1]] if parts[-1] else [])
        good: list[bytes] = []
        for number, line in enumerate(lines, start=1):
            body = line.rstrip(b"\r\n")
            reason = _record_reason(body) if line.endswith(b"\n") else "a write cut short (no newline)"
            if reason is None:
                good.append(line)
                continue
            cut = body.rfind(_RECORD_START)
            if cut > 0 and line.endswith(b"\n") and _record_reason(body[cut:]) is None:
                good.append(body[cut:] + b"\n")
                result.unglued.append(number)
                continue
            result.dropped_from, result.reason = number, reason
            break
        while True:  # replay what is kept: a record Optuna cannot apply ends the journal there
            line = _replay_failure(b"".join(good))
            if line is None:
                break
            result.dropped_from, result.reason = line, "Optuna cannot replay it"
            good = good[:line - 1]
        repaired = b"".join(good)
        result.kept = len(good)
        if repaired != original:
            result.backup = path.with_name(f"{path.name}.bad-{file_stamp()}")
            shutil.copy2(path, result.backup)
            tmp = path.with_name(f".{path.name}.repair.tmp")
            with tmp.open("wb") as fh:
                fh.write(repaired)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
    return result


def _replay_failure(data: bytes) -> int | None:
    """The line (1-based) at which Optuna fails to replay the journal ``data``, or None when it replays."""
    import tempfile

    import optuna

    with tempfile.TemporaryDirectory() as tmp:
        file = Path(tmp) / JOURNAL_FILE
        file.write_bytes(data)
        backend = _journal_backend_class()(str(file))
        try:
            optuna.storages.JournalStorage(backend)
        except Exception:  # whatever Optuna raises on a record: that line is where the journal ends
            return max(backend.line, 1)
    return None


def find_sweep(sweep_id: str | None, config: str | Path | None, root: str | Path = SWEEPS_DIR) -> str:
    """The sweep id from an argument, or from the ``sweep_id`` a sweep file had written back into it."""
    if sweep_id:
        return sweep_id
    if config is not None:
        from lex_dpr.sweep.parse import load_sweep

        spec = load_sweep(config)
        if spec.sweep_id:
            return spec.sweep_id
        raise ConfigError(f"{config}: no sweep_id in it yet; create the sweep first: lex-dpr sweep create --config {config}")
    found = sorted((p for p in Path(root).glob(f"*/{SPEC_FILE}")), key=lambda p: p.stat().st_mtime)
    if not found:
        raise InputError(f"no sweep under {root}/; create one with `lex-dpr sweep preset` or `lex-dpr sweep create --config F`")
    return found[-1].parent.name


def _redact(url: str) -> str:
    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)
