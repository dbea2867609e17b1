"""The run record: ``training_config.json`` and ``metrics.jsonl`` in a run folder, one writer and one reader.

Training writes the record when a run starts (status ``running``) and again when it ends, whatever the
outcome: ``finished``, ``failed`` (with the error text) or ``interrupted`` (Ctrl-C, SIGTERM). The record
holds the resolved config, the override list that rebuilds it from the defaults and the one command
line that reproduces the run, the sha256 of every input file, package versions and the git commit.

Example:
    >>> import tempfile, pathlib
    >>> run = pathlib.Path(tempfile.mkdtemp())
    >>> write_record(run, RunStatus.FAILED, config={"trainer": {"lr": 0.1}}, error="NaN loss")
    >>> read_record(run)["status"], read_record(run)["error"]
    ('failed', 'NaN loss')
"""

from __future__ import annotations

import contextlib
import logging
import subprocess
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Any

import orjson

from lex_dpr.errors import InputError
from lex_dpr.utils.clock import utc_now
from lex_dpr.utils.hashing import sha256_file
from lex_dpr.utils.io import BadLine, read_json_file, write_json
from lex_dpr.utils.journal import read_journal
from lex_dpr.utils.locks import hold_lock

log = logging.getLogger(__name__)

CONFIG_FILE = "training_config.json"
METRICS_FILE = "metrics.jsonl"


class RunStatus(StrEnum):
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    INTERRUPTED = "interrupted"


def write_record(run_dir: str | Path, status: RunStatus, *, config: dict[str, Any] | None = None,
                 overrides: list[str] | None = None, inputs: dict[str, str | None] | None = None,
                 error: str | None = None, extra: dict[str, Any] | None = None) -> None:
    """Create or update ``training_config.json``; fields from an earlier write are kept unless given again.

    Args:
        status: the run's state now.
        config: the resolved config as a plain dict.
        overrides: the ``key=value`` list that rebuilds ``config`` from the defaults; the record's
            ``command`` is ``lex-dpr train`` followed by them.
        inputs: name → file path; each file's sha256 is recorded once, when the run starts.
        error: why the run failed or stopped (one line).
        extra: more top-level fields (results, health).
    """
    import shlex

    path = Path(run_dir) / CONFIG_FILE
    record: dict[str, Any] = {}
    if path.is_file():
        try:
            record = orjson.loads(path.read_bytes())
        except orjson.JSONDecodeError:
            record = {}  # the old record was cut short; this write replaces it whole
    if inputs is not None and "inputs" not in record:
        record["inputs"] = {k: {"path": v, "sha256": sha256_file(v)} for k, v in inputs.items()
                            if v and Path(v).is_file()}
    if config is not None:
        record["config"] = config
    if overrides is not None:
        record["overrides"] = overrides
        record["command"] = shlex.join(["lex-dpr", "train", *overrides])
    record.setdefault("versions", _versions())
    record.setdefault("git_commit", _git_commit())
    record |= {"status": str(status), "updated": utc_now()}
    if error is not None:
        record["error"] = error
    elif status in (RunStatus.RUNNING, RunStatus.FINISHED):
        record.pop("error", None)
    record |= extra or {}
    write_json(path, record)


def read_record(run: str | Path) -> dict[str, Any]:
    """The run's ``training_config.json`` as a dict; an unreadable one is a one-line InputError."""
    record = read_json_file(Path(run) / CONFIG_FILE)
    if not isinstance(record, dict):
        raise InputError(f"{Path(run) / CONFIG_FILE}: expected a JSON object")
    return record


_NON_FINITE = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf"), None: float("nan")}


def metric_value(value: float) -> float | str:
    """A metric as JSON can hold it: NaN and ±inf become ``"NaN"``/``"Infinity"``/``"-Infinity"``."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    return value


_WARNED: set[tuple[str, int]] = set()  # bad lines already warned about (the sweep agent reads the file every poll)


def read_metrics(run: str | Path, bad: list[BadLine] | None = None) -> list[dict[str, Any]]:
    """The rows of ``metrics.jsonl``, an append-only journal (:mod:`lex_dpr.utils.journal`): a last line cut
    by a crash (or still being written) is left out; a damaged line elsewhere is left out and reported, into
    ``bad`` when given, else as a warning (once per line), never as an error, since the rest is still good.

    Non-finite values come back as floats (written as ``"NaN"``, or ``null`` by older versions), so a
    NaN loss is seen as one.
    """
    path = Path(run) / METRICS_FILE
    if not path.is_file():
        return []
    found: list[BadLine] = []
    entries, _ = read_journal(path, check=lambda row: None if isinstance(row, dict) else "not a JSON object",
                              bad=found)
    if bad is not None:
        bad.extend(found)
    else:
        for b in found:
            if (b.path, b.line) not in _WARNED:
                _WARNED.add((b.path, b.line))
                log.warning("%s; the row is left out", b)
    return [{k: _NON_FINITE[v] if k != "step" and (v is None or isinstance(v, str)) and v in _NON_FINITE
             else v for k, v in e.value.items()} for e in entries]


def checkpoint_step(folder: Path) -> int:
    """``checkpoint-120`` → 120."""
    return int(folder.name.rsplit("-", 1)[1])


def checkpoints(run_dir: Path, complete: bool = True) -> list[Path]:
    """The run's ``checkpoint-{step}`` folders, oldest first (by step, not by name).

    With ``complete`` only those with a readable ``trainer_state.json`` (written last): a folder cut
    short by a kill in an older lex-dpr, or by hand, is left out.
    """
    found = [p for p in run_dir.glob("checkpoint-*") if p.is_dir() and p.name.rsplit("-", 1)[1].isdigit()]
    if complete:
        found = [p for p in found if _readable_state(p)]
    return sorted(found, key=checkpoint_step)


def _readable_state(folder: Path) -> bool:
    try:
        return isinstance(orjson.loads((folder / "trainer_state.json").read_bytes()), dict)
    except (OSError, orjson.JSONDecodeError):
        return False


WEIGHT_FILES = ("model.safetensors", "adapter_model.safetensors", "model.safetensors.index.json")


def has_weights(folder: Path) -> bool:
    """Whether a saved model folder holds weights lex-dpr can load (safetensors, full or adapter)."""
    return any((folder / name).is_file() for name in WEIGHT_FILES)


LOCK_FILE = ".lock"


@contextlib.contextmanager
def run_lock(run_dir: str | Path) -> Iterator[None]:
    """Hold the run folder for this process; a second process on the same folder fails at once.

    An ``flock`` on ``.lock`` (:func:`~lex_dpr.utils.locks.hold_lock`): the kernel releases it when the
    process dies, however it dies (SIGKILL, power loss on a local disk), so a dead run never blocks the next one.

    Raises:
        InputError: another process holds the folder (its pid is named).
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)

    def held(pid: str) -> InputError:
        return InputError(f"{run_dir} is in use by another lex-dpr process (pid {pid}); wait for it to end "
                          "or choose another out_dir")

    with hold_lock(run_dir / LOCK_FILE, blocking=False, held=held):
        yield


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("lex-dpr", "torch", "transformers", "sentence-transformers", "peft", "datasets"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out


def _git_commit() -> str | None:
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                              cwd=Path(__file__).parent)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None
