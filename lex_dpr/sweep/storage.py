"""Where a sweep lives: ``sweeps/{sweep_id}/`` (the spec, the study journal, the trials' run folders, plots).

The study is an Optuna study named after the sweep id. By default it is stored in an Optuna journal file
in the sweep folder: agents on one machine, or on several machines sharing the folder over a network
filesystem, cooperate through it with no server. ``--storage postgresql://...`` (any Optuna RDB URL) puts
it in a database instead, for agents without a shared filesystem. SQLite is refused for more than one
agent: it locks under parallel writers.

Example:
    >>> import tempfile
    >>> folder = sweep_dir("demo-1a2b3c4d", tempfile.mkdtemp())
    >>> folder.name, storage_url(folder).endswith("journal.log")
    ('demo-1a2b3c4d', True)
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path

from lex_dpr.errors import ConfigError, InputError

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
    """An Optuna storage for ``url``: a journal file path, or an RDB URL (SQLite only for one agent)."""
    import optuna

    if "://" not in url:
        from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

        Path(url).parent.mkdir(parents=True, exist_ok=True)
        return optuna.storages.JournalStorage(JournalFileBackend(url, lock_obj=JournalFileOpenLock(url)))
    if url.startswith("sqlite") and agents_hint > 1:
        raise ConfigError(f"--storage {url}: SQLite locks under parallel writers; use the default journal "
                          "file or a PostgreSQL/MySQL URL for several agents")
    try:
        return optuna.storages.RDBStorage(url, heartbeat_interval=None)
    except Exception as exc:  # sqlalchemy raises its own types for bad URLs, drivers and refused connections
        raise InputError(f"--storage {_redact(url)}: cannot open ({str(exc).splitlines()[0]})") from None


def find_sweep(sweep_id: str | None, config: str | Path | None, root: str | Path = SWEEPS_DIR) -> str:
    """The sweep id from an argument, or from the ``sweep_id`` a sweep file had written back into it."""
    if sweep_id:
        return sweep_id
    if config is not None:
        from lex_dpr.sweep.config import load_sweep

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
