"""``rag batch --workers N``: N processes answer the shards of one question file, and their parts are merged.

Each worker is a spawned process that opens the index itself and runs :func:`~lex_dpr.rag.batch.run_batch` on
shard ``i/N`` (every N-th distinct question from the i-th, :func:`~lex_dpr.rag.batch.shard_rows`) into its own part, in a hidden folder beside the output
(``.answers.jsonl.workers/part-1-of-2.jsonl`` …); when every part is complete, :func:`~lex_dpr.rag.batch.merge_shards`
writes the output (the bytes one worker writes) and the folder is removed. Retrieval is mostly single-threaded
Python and Kiwi (whose Python side holds the GIL), so one process leaves a core idle: on 2 cores two workers
answered 1,000 statements 1.3–1.4x faster than one (``docs/scale.md``).

- **Threads**: a worker takes its share of the cores for BLAS (threadpoolctl), torch and Kiwi (``cores // N``,
  at least 1), so N workers do not fight over them.
- **Interrupted**: each part is resumable like any output (fsynced a batch at a time). A worker dies with its
  parent (``PR_SET_PDEATHSIG`` on Linux), and each holds a lock on its part; the run holds one beside the output.
  The same command with ``--resume`` finishes the parts; without ``--resume`` an unfinished folder is refused, as
  an existing output is.
- **Resuming** (``--resume``): the rows of the output and of the parts there are first dealt again into the parts
  of the input as it is now (each row to its question's shard), so only the rest is answered, whatever was
  edited in the input since.
- **Messages**: a worker's warnings and errors reach the parent, which prints them naming the output.

Example:
    >>> job = BatchJob(index_dir="index", input_path="q.csv", output_path="answers.jsonl", workers=2)
    >>> parts_folder(job.output_path).name, part_path(job.output_path, 1, 2).name
    ('.answers.jsonl.workers', 'part-1-of-2.jsonl')
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import re
import shutil
import signal
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lex_dpr import errors
from lex_dpr.errors import ConfigError, InputError, LexDprError
from lex_dpr.rag.batch import BatchSummary, merge_shards, run_batch, settings_path, shard_rows
from lex_dpr.rag.output import Output
from lex_dpr.rag.questions_file import read_questions
from lex_dpr.utils.io import BadLine, atomic_open, ensure_writable, read_json_file, write_json
from lex_dpr.utils.locks import hold_lock
from lex_dpr.utils.signals import die_with_parent

log = logging.getLogger(__name__)


@dataclass
class BatchJob:
    """What every worker needs to open the answerer and answer its shard (plain values: sent to spawned processes)."""

    index_dir: str | Path
    input_path: str | Path
    output_path: str | Path
    workers: int = 2
    cfg_path: str | Path | None = None
    overrides: Sequence[str] = field(default_factory=tuple)
    model: str | None = None
    device: str | None = None
    fmt: str = "full"
    id_column: str = "id"
    question_column: str = "question"
    cache_dir: str | Path | None = None


def parts_folder(output: str | Path) -> Path:
    """The hidden folder beside ``output`` where the workers write their parts."""
    output = Path(output)
    return output.with_name(f".{output.name}.workers")


def part_path(output: str | Path, i: int, n: int) -> Path:
    """Worker ``i`` of ``n``'s part (the output's suffix, so it is written in the output's form)."""
    output = Path(output)
    return parts_folder(output) / f"part-{i}-of-{n}{output.suffix}"


def run_batch_workers(job: BatchJob, *, resume: bool = False, show_progress: bool = False,
                      on_batch: Callable[[int], None] | None = None) -> BatchSummary:
    """Answer ``job.input_path`` into ``job.output_path`` with ``job.workers`` processes; see the module docstring.

    Raises:
        InputError: the output (or an unfinished workers' folder) exists and ``resume`` is off; an unfinished
            folder of another worker count; no usable row; a worker's own input error (named with its shard).
        ConfigError: fewer than 2 workers, or a worker's configuration error.
    """
    from lex_dpr.utils.progress import Bar

    n = int(job.workers)
    if n < 2:
        raise ConfigError(f"--workers {n}: workers run in 2 or more processes (1 is `rag batch` without --workers)")
    _preflight(job)
    output, folder = Path(job.output_path), parts_folder(job.output_path)
    out = Output(output, job.fmt)
    if output.resolve() == Path(job.input_path).resolve():
        raise ConfigError(f"--output {output} is the input file: write the answers elsewhere")
    bad: list[BadLine] = []
    questions = read_questions(job.input_path, job.id_column, job.question_column, bad)
    for b in bad:
        log.warning("skipped %s", b)
    if not questions:
        raise InputError(f"{job.input_path}: " + (f"no usable question rows ({len(bad)} bad; see the warnings above)"
                                                  if bad else "no question rows (an empty file?)"))
    ensure_writable(output, flag="--output", example="answers.jsonl")  # named as the user gave it, not its lock
    lock = output.with_name(f".{output.name}.workers.lock")
    with hold_lock(lock, blocking=False,
                   held=lambda pid: InputError(f"{output} is being answered by another rag batch (pid {pid}); "
                                               "wait for it to finish or choose another --output")):
        found = _parts(folder, output.suffix)
        other = sorted(set(found) - {n})
        if other:
            raise InputError(f"{folder} holds the parts of an unfinished run with --workers {other[0]}: finish it "
                             f"with --workers {other[0]} --resume, or delete {folder}")
        if not resume:
            if output.is_file() and output.stat().st_size > 0:
                raise InputError(f"{output} exists: pass --resume to continue it, or choose another --output")
            if found:
                raise InputError(f"{folder} holds the parts of an unfinished run: pass --resume to finish it, "
                                 "or delete it")
            shutil.rmtree(folder, ignore_errors=True)  # lock or settings files of a run that wrote no part
        folder.mkdir(parents=True, exist_ok=True)
        dropped = _deal(out, questions, job, n) if resume else 0
        start = time.perf_counter()
        summaries = _run(job, n, len(questions), show_progress, on_batch, Bar)
        merge_shards(job.input_path, [part_path(output, i, n) for i in range(1, n + 1)], output, fmt=job.fmt,
                     id_column=job.id_column, question_column=job.question_column)
        seconds = time.perf_counter() - start
        shutil.rmtree(folder, ignore_errors=True)
    summary = _summed(job, summaries, len(questions), bad, seconds)
    summary.dropped += dropped
    return summary


def _parts(folder: Path, suffix: str) -> dict[int, list[Path]]:
    """The parts in ``folder`` by their run's worker count (``part-I-of-N`` + the output's suffix)."""
    found: dict[int, list[Path]] = {}
    pattern = re.compile(r"part-(\d+)-of-(\d+)" + re.escape(suffix))
    for p in sorted(folder.iterdir()) if folder.is_dir() else ():
        if (m := pattern.fullmatch(p.name)) and p.is_file():
            found.setdefault(int(m.group(2)), []).append(p)
    return found


def _preflight(job: BatchJob) -> None:
    """What each worker would fail on at once, checked here first (no model, no index loaded): the index's manifest,
    the settings and the template folder."""
    from lex_dpr.rag.config import load_rag_config, read_index_settings
    from lex_dpr.rag.prompts import load_templates
    from lex_dpr.retrieval.index.manifest import read_manifest

    read_manifest(Path(job.index_dir))
    cfg = load_rag_config(job.cfg_path, job.overrides, read_index_settings(job.index_dir))
    load_templates(cfg.templates)


def _deal(out: Output, questions, job: BatchJob, n: int) -> int:
    """Before a resumed run: the rows of the output and of every part there (a part's row over the output's), dealt
    again into the parts of the input as it is now, with their settings; returns how many rows were dropped (ids
    no longer in the input). Dealt again every time, so an edited input (a question added before the others moves
    every later question to another shard) keeps every answer, and a deal cut short is done again whole."""
    sources = [out.path] + [part_path(out.path, i, n) for i in range(1, n + 1)]
    rows: dict[str, bytes] = {}
    asked: dict[str, str] = {}
    fingerprint: tuple[Path, str] | None = None
    for src in sources:
        if not src.is_file() or src.stat().st_size == 0:
            continue
        got, _ = Output(src, job.fmt)._rows()  # a torn last row (a kill mid-write) is left out
        rows.update((r[0], r[1]) for r in got)
        settings = read_json_file(settings_path(src)) if settings_path(src).is_file() else None
        if not isinstance(settings, dict) or not got:
            continue
        if fingerprint is not None and settings.get("fingerprint") != fingerprint[1]:
            raise InputError(f"{out.path}: answered with other settings than its unfinished parts in "
                             f"{parts_folder(out.path)}: resume with the flags of the run that wrote them, or delete "
                             "that folder")
        fingerprint = (src, settings.get("fingerprint"))
        if isinstance(settings.get("questions"), dict):
            asked.update(settings["questions"])
    if not rows:
        return 0
    order = {str(q.id): j for j, q in enumerate(questions)}
    header = out._csv_bytes(out.columns) if out.kind == "csv" else b""
    for i in range(1, n + 1):
        ids = [str(q.id) for q in shard_rows(questions, (i, n))]
        part = part_path(out.path, i, n)
        with atomic_open(part) as fh:
            fh.write(header + b"".join(rows[qid] for qid in ids if qid in rows))
        if fingerprint is not None:
            write_json(settings_path(part), {"fingerprint": fingerprint[1],
                                             "questions": {qid: asked[qid] for qid in ids if qid in asked}})
    gone = sorted((qid for qid in rows if qid not in order))
    if gone:
        log.warning("%s: %d row(s) have an id no longer in %s (ids %s): dropped from the output", out.path, len(gone),
                    job.input_path, ", ".join(gone[:5]) + (f" … ({len(gone) - 5} more)" if len(gone) > 5 else ""))
    return len(gone)


def _run(job: BatchJob, n: int, rows: int, show_progress: bool, on_batch, Bar) -> list[dict]:
    """Start the n workers, follow their progress, and return their summaries; the first failure stops the rest."""
    import multiprocessing

    before = 0  # rows already in the parts (a resumed run): where the bar starts
    for i in range(1, n + 1):
        with contextlib.suppress(LexDprError, OSError):
            before += len(Output(part_path(job.output_path, i, n), job.fmt)._rows()[0])

    ctx = multiprocessing.get_context("spawn")  # torch and OpenMP do not survive a fork
    events = ctx.Queue()
    threads = max(1, (os.cpu_count() or 1) // n)
    procs = [ctx.Process(target=_worker, args=(job, i, n, threads, events), name=f"rag-batch-{i}-of-{n}", daemon=True)
             for i in range(1, n + 1)]
    done: dict[int, dict] = {}
    answered = [0] * (n + 1)
    silent: set[int] = set()  # workers found dead with nothing more in the queue once
    try:
        for p in procs:
            p.start()
        with Bar("answering", total=rows, unit="questions", enabled=show_progress, completed=min(before, rows)) as bar:
            while len(done) < n:
                try:
                    kind, i, payload = events.get(timeout=0.5)
                except queue.Empty:
                    # a worker flushes its last event before it exits: dead, and still nothing after another wait,
                    # it died without reporting (killed, out of memory)
                    for i, p in enumerate(procs, start=1):
                        if i not in done and not p.is_alive():
                            if i in silent:
                                raise InputError(f"rag batch worker {i}/{n} died (exit code {p.exitcode}) before "
                                                 f"finishing {part_path(job.output_path, i, n)}: rerun the same "
                                                 "command with --resume") from None
                            silent.add(i)
                    continue
                if kind == "log":
                    level, message = payload
                    log.log(level, "%s", _as_output(message, job, i, n))
                elif kind == "progress":
                    bar.advance(payload - answered[i])
                    answered[i] = payload
                    if on_batch is not None:
                        on_batch(sum(answered))
                elif kind == "done":
                    done[i] = payload
                else:
                    _raise(kind, i, n, payload if kind != "error" else (payload[0], _as_output(payload[1], job, i, n)))
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
        for p in procs:
            p.join(timeout=30)
        events.close()
        events.join_thread()
    return [done[i] for i in range(1, n + 1)]


def _as_output(message: str, job: BatchJob, i: int, n: int) -> str:
    """A worker's message about its part, about the output instead (the part is a hidden detail of the run)."""
    part = part_path(job.output_path, i, n)
    return message.replace(str(settings_path(part)), str(settings_path(job.output_path))).replace(
        str(part), f"{job.output_path} (worker {i}/{n})")


def _raise(kind: str, i: int, n: int, payload) -> None:
    if kind == "error":
        name, message = payload
        cls = getattr(errors, name, LexDprError)
        raise (cls if isinstance(cls, type) and issubclass(cls, LexDprError) else LexDprError)(
            f"rag batch worker {i}/{n}: {message}")
    raise RuntimeError(f"rag batch worker {i}/{n} failed:\n{payload}")


def _summed(job: BatchJob, parts: list[dict], rows: int, bad: list[BadLine], seconds: float) -> BatchSummary:
    s = BatchSummary(str(job.input_path), str(job.output_path), rows=rows, bad_rows=len(bad),
                     bad=[str(b) for b in bad[:20]])
    for part in parts:
        for key in ("already_done", "retried", "edited", "dropped", "answered", "unique_questions", "cache_hits",
                    "generated", "errors"):
            setattr(s, key, getattr(s, key) + int(part.get(key, 0)))
        for flag, count in (part.get("flags") or {}).items():
            s.flags[flag] = s.flags.get(flag, 0) + count
    s.workers = [{"shard": f"{i}/{len(parts)}", "answered": int(part.get("answered", 0)),
                  "seconds": part.get("seconds", 0.0), "questions_per_s": part.get("questions_per_s", 0.0)}
                 for i, part in enumerate(parts, start=1)]
    s.seconds = round(seconds, 3)  # from the workers' start (each opens the index) to the merged output
    s.questions_per_s = round(s.answered / seconds, 1) if seconds > 0 else 0.0
    return s


def _worker(job: BatchJob, i: int, n: int, threads: int, events) -> None:
    """One worker, in its own process: its share of the cores, its part locked, its shard answered."""
    die_with_parent(signal.SIGKILL)  # the part stays resumable as it stands
    _no_tqdm_process_lock()
    _log_to_parent(i, events)
    try:
        _share_cores(threads)
        part = part_path(job.output_path, i, n)
        with hold_lock(part.with_name(part.name + ".lock"), blocking=False,
                       held=lambda pid: InputError(f"{part} is being written by another worker (pid {pid})")):
            from lex_dpr.rag.answer import open_answerer

            answerer = open_answerer(job.index_dir, job.cfg_path, job.overrides, job.model, job.device)
            _share_cores(threads)  # again, for the OpenMP runtimes the answerer loaded (FAISS, LightGBM)
            summary = run_batch(answerer, job.input_path, part, fmt=job.fmt, resume=True, id_column=job.id_column,
                                question_column=job.question_column, cache_dir=job.cache_dir,
                                on_batch=lambda k: events.put(("progress", i, k)), shard=(i, n))
        events.put(("done", i, summary.to_dict()))
    except LexDprError as exc:
        events.put(("error", i, (type(exc).__name__, str(exc))))
    except BaseException:  # a bug: its traceback goes to the parent
        events.put(("crash", i, traceback.format_exc()))
    finally:
        events.close()
        events.join_thread()


class _ToParent(logging.Handler):
    """A worker's warnings, sent to the parent, which logs them as its own (the CLI's one line each)."""

    def __init__(self, i: int, events) -> None:
        super().__init__(logging.WARNING)
        self.i, self.events = i, events

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if record.name == "lex_dpr.rag.batch" and message.startswith("skipped "):
            return  # the input's bad rows: the parent read the same file and said so once
        with contextlib.suppress(Exception):
            self.events.put(("log", self.i, (record.levelno, message)))


def _log_to_parent(i: int, events) -> None:
    root = logging.getLogger()
    root.handlers[:] = [_ToParent(i, events)]
    root.setLevel(logging.WARNING)


def _share_cores(threads: int) -> None:
    """This process's share of the cores: for the thread pools loaded already (threadpoolctl: numpy's BLAS, and
    FAISS's and LightGBM's OpenMP once the answerer is open) and those loaded later (their environment), torch and
    Kiwi. Each pool left at every core spins on the other worker's core: two workers answered 370 questions/s
    each that way, and 480 limited."""
    from threadpoolctl import threadpool_limits

    from lex_dpr.data.tokenize import use_threads

    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "RAYON_NUM_THREADS"):
        os.environ[var] = str(threads)
    threadpool_limits(threads)
    use_threads(threads)
    if "torch" in sys.modules:  # a model that runs on torch (a static model does not: no torch to import for it)
        sys.modules["torch"].set_num_threads(threads)


def _no_tqdm_process_lock() -> None:
    """A thread lock for tqdm (bm25s draws its bars with it): its default also makes a multiprocessing lock, a
    semaphore that a worker never releases, and Python warns of it as leaked when the run ends."""
    import threading

    from tqdm import tqdm

    tqdm.set_lock(threading.RLock())


