"""A training run's folder through its life: held, checked, recorded, resumed, and given its ``final/`` model.

The recipe (:mod:`lex_dpr.training.train`) calls these in order:

1. :func:`hold_run_folder`: rank 0 locks ``{out_dir}/bi_encoder`` for the whole run (a second training on it
   fails at once, naming the pid); a full or unwritable disk becomes one line naming the file.
2. :func:`open_run`: the folder is checked (:func:`check_run_dir`: a new run needs an empty one, ``--resume``
   the newest complete checkpoint, whose later metric lines are dropped by :func:`truncate_metrics`), a
   resume compared with the recorded run (:func:`resume_changes`) and added to its ``resumed`` history, and
   the run recorded as running.
3. :func:`record_outcome`: around the training, records ``interrupted`` or ``failed`` with the reason.
4. :func:`save_final`: the model to keep is committed whole into ``final/``; :func:`record_finished` then
   records the result.

The folder names themselves (``bi_encoder``, ``final``) live in :mod:`lex_dpr.models.run_folder`, which
every loader reads them from.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lex_dpr.errors import InputError, LexDprError
from lex_dpr.models.metadata import ModelMetadata, write_metadata
from lex_dpr.models.run_folder import FINAL
from lex_dpr.runs.record import (
    METRICS_FILE,
    RunStatus,
    checkpoint_step,
    checkpoints,
    read_record,
    run_lock,
    write_record,
)
from lex_dpr.utils.clock import utc_now
from lex_dpr.utils.config import to_overrides
from lex_dpr.utils.folders import staged_folder

if TYPE_CHECKING:
    from lex_dpr.training.config import TrainConfig

log = logging.getLogger(__name__)

# A write into the run folder failed for a reason the user fixes by freeing space or choosing another out_dir.
DISK_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOTDIR}
# Keys that may differ on --resume without changing what is trained.
RESUME_FREE = ("wandb.", "trainer.logging_steps", "eval.batch_size", "trainer.save_total_limit", "out_dir")


class TrainingError(LexDprError):
    """Training stopped on a condition the user must act on (NaN loss, finished run, ...)."""


@contextlib.contextmanager
def hold_run_folder(run_dir: Path) -> Iterator[None]:
    """Rank 0 holds ``run_dir`` (its lock) while the body runs; a disk error in it is one line naming the file.

    A lock that cannot be taken is told to the other ranks (:func:`lex_dpr.training.distributed.share`), so
    they stop instead of waiting at the first collective.

    Raises:
        InputError: another process holds the folder, or the disk is full, read-only or not writable.
    """
    from lex_dpr.training import distributed

    try:
        try:
            lock = run_lock(run_dir)
            lock.__enter__()
        except BaseException as exc:
            distributed.share(error=exc)
            raise
        try:
            yield
        finally:
            lock.__exit__(None, None, None)
    except OSError as exc:
        if exc.errno not in DISK_ERRORS:
            raise
        raise InputError(f"{exc.filename or run_dir}: {exc.strerror} while writing the run; free space or "
                         "choose another out_dir") from None


def run_inputs(cfg: TrainConfig) -> dict[str, str | None]:
    """The input files a run records (and hashes), by name, for ``--resume`` to compare."""
    inputs = {"pairs": cfg.data.pairs, "valid_pairs": cfg.data.valid_pairs, "passages": cfg.data.passages}
    return inputs | {f"extra_pairs[{i}]": path for i, path in enumerate(cfg.data.extra_pairs)}


def open_run(cfg: TrainConfig, run_dir: Path, resume: bool, allow_changes: bool) -> Path | None:
    """Check the run folder (and a resume), record the run as running; the checkpoint to continue from.

    Raises:
        TrainingError: the folder holds another run, has nothing to resume, or the resume changes the
            settings or inputs without ``allow_changes``.
    """
    checkpoint = check_run_dir(run_dir, resume)
    inputs = run_inputs(cfg)
    extra = None
    if checkpoint is not None:
        changes = resume_changes(run_dir, cfg, inputs)
        if changes and not allow_changes:
            raise TrainingError(f"{run_dir}: --resume with other settings or data than the run started with: "
                                f"{'; '.join(changes)}. Resume with the same command, or pass --allow-changes "
                                "if the change is deliberate")
        history = read_record(run_dir).get("resumed", [])
        extra = {"resumed": [*history, {"from": checkpoint.name, "at": utc_now(), "changes": changes}]}
    write_record(run_dir, RunStatus.RUNNING, config=cfg.to_dict(), overrides=to_overrides(cfg), inputs=inputs,
                 extra=extra)
    return checkpoint


def check_run_dir(run_dir: Path, resume: bool) -> Path | None:
    """A new run's folder is made empty of metrics; a resume's newest complete checkpoint is returned.

    A checkpoint a kill cut short (still in ``.staging/``, or without a readable trainer state) is skipped.
    """
    from lex_dpr.training.st_trainer import STAGING

    shutil.rmtree(run_dir / STAGING, ignore_errors=True)  # a checkpoint a kill cut short: never renamed in
    saved = checkpoints(run_dir)
    for cut in sorted(set(checkpoints(run_dir, complete=False)) - set(saved)):
        log.warning("%s: incomplete checkpoint (no readable trainer_state.json); skipped", cut)
    if resume:
        if (run_dir / FINAL).is_dir():
            raise TrainingError(f"{run_dir} already finished ({FINAL}/ exists); nothing to resume")
        if not saved:
            raise TrainingError(f"{run_dir}: no checkpoint to resume from; run without --resume")
        truncate_metrics(run_dir / METRICS_FILE, checkpoint_step(saved[-1]))
        return saved[-1]
    if saved or (run_dir / FINAL).is_dir():
        raise TrainingError(f"{run_dir} already holds a run; pass --resume to continue it or choose another "
                            "--out-dir")
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / METRICS_FILE).unlink(missing_ok=True)
    return None


def truncate_metrics(path: Path, step: int) -> None:
    """Cut ``metrics.jsonl`` back to the checkpoint a resume starts from: the lines logged after it go (they are
    logged again), and so does a last line a kill cut short (:func:`lex_dpr.utils.journal.truncate_after`).

    A damaged line before the cut is the journal rule's damage, not a kill's: it stays, and is warned about.
    """
    from lex_dpr.utils.io import BadLine
    from lex_dpr.utils.journal import truncate_after

    bad: list[BadLine] = []
    truncate_after(path, lambda row: not isinstance(row, dict) or row.get("step", 0) <= step, bad=bad)
    for line in bad:
        log.warning("%s; left in place", line)


def resume_changes(run_dir: Path, cfg: TrainConfig, inputs: dict[str, str | None]) -> list[str]:
    """What differs between the recorded run and this one: config keys (old → new) and input files (sha256)."""
    from lex_dpr.utils.config import flatten
    from lex_dpr.utils.io import sha256_file

    record = read_record(run_dir)
    now = flatten(cfg.to_dict())
    # a key the record does not hold was added after the run started: it ran with that key's default
    before = {**flatten(type(cfg)().to_dict()), **flatten(record.get("config") or {})}
    changes = [f"{k}: {before.get(k)!r} → {now.get(k)!r}" for k in sorted(set(before) | set(now))
               if before.get(k) != now.get(k) and not k.startswith(RESUME_FREE)]
    for name, entry in (record.get("inputs") or {}).items():
        path = inputs.get(name)
        if not path or not Path(path).is_file():
            changes.append(f"{name}: {entry.get('path')} is no longer given")
        elif sha256_file(path) != entry.get("sha256"):
            changes.append(f"{name}: {path} differs from the file the run started with (sha256)")
    return changes


@contextlib.contextmanager
def record_outcome(run_dir: Path) -> Iterator[None]:
    """Around the training: an exit by Ctrl-C or SIGTERM is recorded ``interrupted``, any other ``failed``,
    each with its reason; the exception goes on."""
    try:
        yield
    except (KeyboardInterrupt, SystemExit) as exc:
        record_end(run_dir, RunStatus.INTERRUPTED, " ".join(str(exc).split()) or "interrupted")
        raise
    except BaseException as exc:
        record_end(run_dir, RunStatus.FAILED, failure_reason(exc))
        raise


def record_end(run_dir: Path, status: RunStatus, error: str) -> None:
    """Best effort: a full disk must not hide the error that ended the run."""
    try:
        write_record(run_dir, status, error=error)
    except OSError as exc:
        log.warning("%s: could not record the run as %s (%s)", run_dir, status, exc.strerror)


def failure_reason(exc: BaseException) -> str:
    """``TypeName: message`` on one line, as the record's ``error`` holds it."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def save_final(model: Any, final_dir: Path, meta: ModelMetadata) -> None:
    """Commit the model and its ``lexdpr_model.json`` into ``final_dir`` whole: it appears complete or not at all."""
    with staged_folder(final_dir) as tmp:
        model.save(str(tmp))
        write_metadata(tmp, meta)


def record_finished(run_dir: Path, result: dict[str, Any], health: dict[str, Any]) -> None:
    """Record the run as finished, with its result and the final model's health."""
    write_record(run_dir, RunStatus.FINISHED, extra={"result": result, "health": health})
