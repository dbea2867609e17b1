"""``rag batch``: hundreds of questions from a CSV or JSONL file, answered in batches, resumable.

- **Input** (:mod:`lex_dpr.rag.questions_file`): rows with an id and a question (CSV columns or JSONL keys;
  names overridable). A row with an empty question, no id, a duplicate id, or a line that does not parse is
  reported with its line and skipped.
- **Work**: questions are deduplicated after normalisation (:func:`~lex_dpr.utils.text.normalize_query`); a
  cache (:mod:`lex_dpr.rag.cache`) keyed by the normalised question and the answerer's fingerprint (index,
  retrieval, generator, generation settings, templates) keeps answers across runs; retrieval and generation
  run a batch of questions at a time.
- **Output** (:mod:`lex_dpr.rag.output`): appended (and fsynced) a batch at a time, in input order, every row
  keeping its input ``id``; ``resume=True`` keeps the rows already there (dropping a torn last row after a
  kill) and skips their ids. ``full`` rows carry the question, answer, type, ranked contexts with their
  passage ids, cited ids and flags; ``submission`` is the ``id,answer`` CSV competitions ask for.
- **Workers** (here, with the job loop; :mod:`lex_dpr.rag.workers` runs them): ``shard=(i, n)`` answers every
  n-th distinct question from the i-th, with all its rows (:func:`shard_rows`; its own output, resumable, its own
  cache file); :func:`merge_shards` puts the n outputs back in input order, the
  same bytes one worker writes (dense scores do not depend on which questions share a batch:
  :meth:`~lex_dpr.retrieval.dense.DenseIndex.search`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lex_dpr.errors import ConfigError, InputError
from lex_dpr.rag.answer import Answer, Answerer
from lex_dpr.rag.cache import AnswerCache
from lex_dpr.rag.output import FORMATS, FULL_CSV_COLUMNS, Output
from lex_dpr.rag.questions_file import InputQuestion, check_input, question_key, read_questions
from lex_dpr.utils.io import BadLine, atomic_open, read_json_file, write_json
from lex_dpr.utils.text import normalize_query

# The pieces live in their own modules; the CLI and older callers import them from here.
__all__ = ["FORMATS", "FULL_CSV_COLUMNS", "AnswerCache", "BatchSummary", "InputQuestion", "Output", "check_input",
           "merge_shards", "parse_shard", "read_questions", "run_batch", "settings_path", "shard_rows"]

log = logging.getLogger(__name__)


@dataclass
class BatchSummary:
    input: str
    output: str
    rows: int = 0  # good input rows
    bad_rows: int = 0
    already_done: int = 0  # rows found in the output on --resume
    retried: int = 0  # failed rows found on --resume, answered again
    edited: int = 0  # rows found on --resume whose question was edited in the input since: answered again
    dropped: int = 0  # rows found on --resume whose id is no longer in the input: removed from the output
    answered: int = 0  # rows written this run
    unique_questions: int = 0  # distinct normalised questions among the rows written
    cache_hits: int = 0  # of those, answered from the cache
    generated: int = 0  # of those, retrieved (and generated) this run
    errors: int = 0  # rows whose generation failed (answer empty, error set)
    flags: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    questions_per_s: float = 0.0
    bad: list[str] = field(default_factory=list)  # the first bad rows, one line each
    workers: list[dict[str, Any]] = field(default_factory=list)  # --workers: each one's answered, seconds, rate

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def run_batch(answerer: Answerer, input_path: str | Path, output_path: str | Path, *, fmt: str = "full",
              resume: bool = False, id_column: str = "id", question_column: str = "question",
              cache_dir: str | Path | None = None, show_progress: bool = False,
              on_batch: Callable[[int], None] | None = None, shard: tuple[int, int] | None = None) -> BatchSummary:
    """Answer every good row of ``input_path`` into ``output_path``; see the module docstring.

    Raises:
        InputError: the output exists and ``resume`` is off; the input has no usable row.
    """
    from lex_dpr.utils.progress import Bar

    out = Output(output_path, fmt)
    if out.path.resolve() == Path(input_path).resolve():
        raise ConfigError(f"--output {out.path} is the input file: write the answers elsewhere")
    if not resume and out.path.is_file() and out.path.stat().st_size > 0:
        raise InputError(f"{out.path} exists: pass --resume to continue it, or choose another --output")
    bad: list[BadLine] = []
    questions = read_questions(input_path, id_column, question_column, bad)
    summary = BatchSummary(str(input_path), str(output_path), rows=len(questions), bad_rows=len(bad),
                           bad=[str(b) for b in bad[:20]])
    for b in bad:
        log.warning("skipped %s", b)
    if not questions:
        raise InputError(f"{input_path}: " + (f"no usable question rows ({len(bad)} bad; see the warnings above)"
                                              if bad else "no question rows (an empty file?)"))
    if shard is not None:
        questions = shard_rows(questions, shard)
        summary.rows = len(questions)
    fingerprint = answerer.fingerprint
    asked = {str(q.id): q.question for q in questions}
    answered = _check_settings(out.path, fingerprint, resume)
    done, summary.retried, edited, deleted = out.done_ids(asked, answered) if resume else (set(), 0, [], [])
    _write_settings(out.path, fingerprint, asked)  # after the output lost its rows for edited questions
    summary.edited, summary.dropped = len(edited), len(deleted)
    if edited:
        log.warning("%s: %d row(s) were answered for a question edited since in %s (ids %s): answered again",
                    out.path, len(edited), input_path, _some(edited))
    if deleted:
        log.warning("%s: %d row(s) have an id no longer in %s (ids %s): dropped from the output", out.path,
                    len(deleted), input_path, _some(deleted))
    todo = [q for q in questions if str(q.id) not in done]
    # each distinct question is answered from the first row asking it, as a run from the start does, also where
    # that row was answered before a resume and a later wording of it was not
    first_wording: dict[str, str] = {}
    for q in questions:
        first_wording.setdefault(question_dedup_key(q.question), q.question)
    summary.already_done = len(questions) - len(todo)
    cache = AnswerCache(cache_dir, fingerprint if shard is None else f"{fingerprint}.shard-{shard[0]}-of-{shard[1]}")
    memo: dict[str, Answer] = {}
    start = time.perf_counter()
    out.open(append=resume)
    size = answerer.cfg.batch_size
    try:
        with Bar("answering", total=len(todo), unit="questions", enabled=show_progress) as bar:
            for lo in range(0, len(todo), size):
                chunk = todo[lo: lo + size]
                keys = [question_dedup_key(q.question) for q in chunk]
                need: dict[str, str] = {}
                for key in keys:
                    if key in memo or key in need:
                        continue
                    cached = cache.get(key)
                    if cached is not None:
                        memo[key] = cached
                        summary.cache_hits += 1
                    else:
                        need[key] = first_wording[key]
                if need:
                    for key, ans in zip(need, answerer.answer(list(need.values())), strict=True):
                        memo[key] = ans
                        cache.put(key, ans)
                    summary.generated += len(need)
                for q, key in zip(chunk, keys, strict=True):
                    ans = memo[key]
                    if ans.question != q.question:  # the same question written differently keeps its own text
                        ans = Answer(**{**ans.__dict__, "question": q.question})
                    out.write(q.id, ans)
                    summary.answered += 1
                    summary.errors += ans.error is not None
                    for flag in ans.flags:
                        summary.flags[flag] = summary.flags.get(flag, 0) + 1
                out.sync()
                cache.flush()
                bar.advance(len(chunk))
                if on_batch is not None:
                    on_batch(summary.answered)
    finally:
        out.close()
        cache.close()
    if resume and (summary.retried or summary.edited):
        out.reorder([str(q.id) for q in questions])  # answered again at the end: back in input order
    summary.seconds = round(time.perf_counter() - start, 3)
    summary.unique_questions = summary.cache_hits + summary.generated
    summary.questions_per_s = round(summary.answered / summary.seconds, 1) if summary.seconds > 0 else 0.0
    return summary


def parse_shard(text: str) -> tuple[int, int]:
    """``"2/4"`` → ``(2, 4)``: the second of four workers.

    Example:
        >>> parse_shard("2/4")
        (2, 4)
    """
    try:
        i, n = (int(x) for x in str(text).split("/"))
    except ValueError:
        raise ConfigError(f"--shard {text!r}: write it as I/N, e.g. --shard 1/4 for the first of four workers") from None
    if not 1 <= i <= n:
        raise ConfigError(f"--shard {text}: I must be between 1 and N (the {n} workers are 1/{n} … {n}/{n})")
    return i, n


def shard_rows(questions: list[InputQuestion], shard: tuple[int, int]) -> list[InputQuestion]:
    """The rows of shard i of n (1-based): every n-th distinct question from the i-th, with every row asking it.

    A batch answers each distinct question (:func:`question_dedup_key`) once, from the first row asking it, and
    gives that answer to the others, so rows asking one question in other words (spacing, punctuation) must
    share a shard: dealt row by row, a later wording landed alone in another shard, was answered from its own
    text, and the merged file was not the one a single worker writes.

    Example:
        >>> rows = [InputQuestion(1, "a", "손해 배상?"), InputQuestion(2, "b", "소멸시효"), InputQuestion(3, "c", "손해배상")]
        >>> [q.id for q in shard_rows(rows, (1, 2))], [q.id for q in shard_rows(rows, (2, 2))]
        (['a', 'c'], ['b'])
    """
    i, n = shard
    slot: dict[str, int] = {}
    return [q for q in questions if slot.setdefault(question_dedup_key(q.question), len(slot) % n) == i - 1]


def question_dedup_key(question: str) -> str:
    """What makes two rows the same question for a batch (and its cache): :func:`normalize_query`, or the text
    itself when nothing is left of it (emoji only)."""
    return normalize_query(question) or question


def merge_shards(input_path: str | Path, parts: list[str | Path], output_path: str | Path, *, fmt: str = "full",
                 id_column: str = "id", question_column: str = "question") -> int:
    """Put the outputs of ``rag batch --shard i/N`` (i = 1 … N) back in input order in ``output_path``.

    The result is the file one worker writes (same rows, same bytes) and can be resumed like one.

    Raises:
        InputError: a part is missing, was answered with other settings, or lacks rows of its shard (named).
    """
    out = Output(output_path, fmt)
    questions = read_questions(input_path, id_column, question_column, [])
    if not questions:
        raise InputError(f"{input_path}: no usable question rows")
    order = [str(q.id) for q in questions]
    rows: dict[str, bytes] = {}
    fingerprints = {}
    n = len(parts)
    for i, part in enumerate(parts, start=1):
        part_out = Output(part, fmt)
        if not part_out.path.is_file():
            raise InputError(f"{part}: no such file; run `lex-dpr rag batch ... --shard {i}/{n} --output {part}` first")
        settings = read_json_file(settings_path(part)) if settings_path(part).is_file() else {}
        fingerprints[str(part)] = settings.get("fingerprint") if isinstance(settings, dict) else None
        got, torn = part_out._rows()
        want = {str(q.id) for q in shard_rows(questions, (i, n))}
        have = {r[0] for r in got}
        missing = [qid for qid in order if qid in want and qid not in have]
        if torn or missing:
            raise InputError(f"{part}: {len(missing)} question(s) of shard {i}/{n} not answered yet (ids {_some(missing)}): "
                             f"finish it with the same command and --resume")
        stray = sorted(have - want)
        if stray:
            raise InputError(f"{part}: rows {_some(stray)} are not in shard {i}/{n} of {input_path}: give the parts "
                             "in shard order (1/N first), from this input")
        rows.update((r[0], r[1]) for r in got)
    if len(set(fingerprints.values())) > 1:
        listed = ", ".join(f"{p}: {f}" for p, f in fingerprints.items())
        raise InputError(f"the parts were answered with other settings ({listed}): answer every shard with the same flags")
    if out.path.resolve() in {Path(p).resolve() for p in parts}:
        raise ConfigError(f"--output {out.path} is one of the parts: write the merged answers elsewhere")
    with atomic_open(out.path) as fh:
        fh.write((out._csv_bytes(out.columns) if out.kind == "csv" else b"") + b"".join(rows[qid] for qid in order))
    fingerprint = next(iter(fingerprints.values()))
    if fingerprint is not None:
        _write_settings(out.path, fingerprint, {str(q.id): q.question for q in questions})
    return len(order)


def settings_path(output: str | Path) -> Path:
    """Beside the output: the fingerprint of what answered it (``--resume`` refuses other settings)."""
    output = Path(output)
    return output.with_name(output.name + ".settings.json")


def _check_settings(output: Path, fingerprint: str, resume: bool) -> dict[str, str] | None:
    """Refuse to resume an output answered with other settings. Returns the questions the settings file
    recorded (``{id: hash}``, as :func:`question_key` makes them; a submission's rows do not carry their
    question), or None."""
    path = settings_path(output)
    answered = None
    if resume and path.is_file() and output.is_file() and output.stat().st_size > 0:
        before = read_json_file(path)
        if isinstance(before, dict) and before.get("fingerprint") not in (None, fingerprint):
            raise InputError(f"{output} was answered with other settings (index, retrieval, --llm, generation or "
                             f"templates; fingerprint {before['fingerprint']}, now {fingerprint}): resume with the "
                             "same flags, or write to a new --output")
        if isinstance(before, dict) and isinstance(before.get("questions"), dict):
            answered = {str(k): v for k, v in before["questions"].items() if isinstance(v, str)}
    return answered


def _write_settings(output: Path, fingerprint: str, questions: dict[str, str]) -> None:
    """Beside the output: the fingerprint of what answers it and the input's questions (hashed)."""
    write_json(settings_path(output), {"fingerprint": fingerprint,
                                       "questions": {k: question_key(q) for k, q in questions.items()}})


def _some(ids: list[str], n: int = 5) -> str:
    return ", ".join(ids[:n]) + (f" … ({len(ids) - n} more)" if len(ids) > n else "")
