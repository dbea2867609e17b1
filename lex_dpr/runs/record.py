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

import subprocess
import time
from enum import StrEnum
from pathlib import Path
from typing import Any

import orjson

from lex_dpr.errors import InputError
from lex_dpr.utils.io import read_json_file, sha256_file, write_json

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
    record |= {"status": str(status), "updated": time.strftime("%Y-%m-%dT%H:%M:%S")}
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


def read_metrics(run: str | Path) -> list[dict[str, Any]]:
    """The rows of ``metrics.jsonl``; a line cut by a crash is skipped, the rest is still good."""
    path = Path(run) / METRICS_FILE
    if not path.is_file():
        return []
    rows = []
    for line in path.read_bytes().splitlines():
        try:
            row = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows


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
