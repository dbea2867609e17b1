"""``rag batch``: hundreds of questions from a CSV or JSONL file, answered in batches, resumable.

- **Input**: rows with an id and a question (CSV columns or JSONL keys; names overridable). A row with an
  empty question, no id, a duplicate id, or a line that does not parse is reported with its line and skipped.
- **Work**: questions are deduplicated after normalisation (:func:`~lex_dpr.utils.text.normalize_query`); a cache
  keyed by the normalised question and the answerer's fingerprint (index, retrieval, generator, generation
  settings, templates) keeps answers across runs; retrieval and generation run a batch of questions at a time.
- **Output**: appended (and fsynced) a batch at a time, in input order, every row keeping its input ``id``;
  ``resume=True`` keeps the rows already there (dropping a torn last row after a kill) and skips their ids.
  ``full`` rows carry the question, answer, type, ranked contexts with their passage ids, cited ids and
  flags; ``submission`` is the ``id,answer`` CSV competitions ask for.
- **Workers**: ``shard=(i, n)`` answers every n-th usable row from the i-th (its own output, resumable, its own
  cache file); :func:`merge_shards` puts the n outputs back in input order, the same bytes one worker writes
  (dense scores do not depend on which questions share a batch: :meth:`~lex_dpr.retrieval.dense.DenseIndex.search`).
"""

from __future__ import annotations

import csv
import io
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from lex_dpr.errors import ConfigError, InputError
from lex_dpr.rag.answer import Answer, Answerer
from lex_dpr.utils.io import BadLine
from lex_dpr.utils.text import normalize_query

log = logging.getLogger(__name__)

FORMATS = ("full", "submission")
FULL_CSV_COLUMNS = ("id", "question", "answer", "qtype", "context_ids", "cited", "flags", "error", "contexts")


@dataclass
class Question:
    line: int
    id: str | int  # as given: text, or a whole number in JSONL
    question: str


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

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def read_questions(path: str | Path, id_column: str = "id", question_column: str = "question",
                   bad: list[BadLine] | None = None) -> list[Question]:
    """The good rows of a CSV or JSONL question file; bad rows go to ``bad`` with their line and reason."""
    path = Path(path)
    bad = bad if bad is not None else []
    _require_file(path)
    kind = _kind(path, "--input")
    rows = _csv_rows(path, id_column, question_column) if kind == "csv" else _jsonl_rows(path, bad)
    out, first_line = [], {}
    for line, rec in rows:
        if isinstance(rec, BadLine):
            bad.append(rec)
            continue
        qid, question = rec.get(id_column), rec.get(question_column)
        if qid is None or (isinstance(qid, str) and not qid.strip()):
            bad.append(BadLine(path, line, f"no {id_column!r}: every row needs an id (or set --id-column)"))
        elif isinstance(qid, bool) or not isinstance(qid, str | int):
            bad.append(BadLine(path, line, f"{id_column!r} is {type(qid).__name__} {qid!r}: ids are text or whole numbers"))
        elif question is None:
            bad.append(BadLine(path, line, f"no {question_column!r} (or set --question-column)"))
        elif not isinstance(question, str):
            bad.append(BadLine(path, line, f"{question_column!r} is {type(question).__name__}, not text"))
        elif not question.strip():
            bad.append(BadLine(path, line, "empty question"))
        elif str(qid).strip() in first_line:
            bad.append(BadLine(path, line, f"duplicate id {str(qid).strip()!r} (first on line {first_line[str(qid).strip()]})"))
        else:
            qid = qid.strip() if isinstance(qid, str) else qid
            first_line[str(qid)] = line
            out.append(Question(line, qid, question.strip()))
    return out


def _require_file(path: Path) -> None:
    if path.is_dir():
        raise InputError(f"{path}: a folder, not a question file (.csv or .jsonl)")
    if not path.is_file():
        raise InputError(f"{path}: no such question file")


def check_input(path: str | Path, id_column: str = "id", question_column: str = "question") -> None:
    """Fail early (before any model loads) on a missing file, a wrong suffix or CSV columns that are not there."""
    path = Path(path)
    _require_file(path)
    if _kind(path, "--input") == "csv":
        next(iter(_csv_rows(path, id_column, question_column)), None)


def _kind(path: Path, flag: str) -> str:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    raise ConfigError(f"{flag} {path}: use a .csv or .jsonl file")


def _csv_rows(path: Path, id_column: str, question_column: str) -> Iterator[tuple[int, dict | BadLine]]:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    records = _csv_records(io.StringIO(text, newline="").readlines())
    first = next(records, None)
    columns = first[1] if first is not None and isinstance(first[1], list) else []
    missing = [(name, flag) for name, flag in ((id_column, "--id-column"), (question_column, "--question-column"))
               if name not in columns]
    if missing:
        raise InputError(f"{path}: no {' or '.join(repr(n) for n, _ in missing)} column (columns: "
                         f"{', '.join(columns) or 'none'}); name {'them' if len(missing) > 1 else 'it'} with "
                         f"{' and '.join(f for _, f in missing)}")
    for line, row in records:
        if isinstance(row, str):
            yield line, BadLine(path, line, row)
        elif not row:
            continue  # a blank line
        elif len(row) > len(columns):
            yield line, BadLine(path, line, f"{len(row) - len(columns)} more field(s) than the header has")
        else:
            yield line, dict(zip(columns, [*row, *[None] * (len(columns) - len(row))], strict=True))


def _csv_records(lines: list[str]) -> Iterator[tuple[int, list[str] | str]]:
    r"""``(line where the record starts, its fields)`` for each CSV record of ``lines`` (physical lines), or
    ``(line, why)`` for one that does not parse; reading goes on at the line after a bad record's first.

    A quoted field may span lines, so a quote that is never closed would swallow every row after it: it is
    reported on its own line instead, and the rows after it are read.

    Example:
        >>> list(_csv_records(['id,q\n', '1,"never closed\n', '2,ok\n']))
        [(1, ['id', 'q']), (2, 'a quote opened on this line is never closed; the row is skipped'), (3, ['2', 'ok'])]
    """
    import itertools

    pos = 0  # index of the line the reader starts at
    while pos < len(lines):
        reader = csv.reader(itertools.islice(lines, pos, None), strict=True)
        consumed = 0  # lines of this reader's records so far
        try:
            for row in reader:
                start, consumed = pos + consumed + 1, reader.line_num
                yield start, row
            return
        except csv.Error as exc:
            start = pos + consumed + 1
            if "end of data" in str(exc):
                why = "a quote opened on this line is never closed; the row is skipped"
            elif reader.line_num > start - pos:
                why = (f"a quote opened on this line is never closed properly (line {pos + reader.line_num}: {exc}); "
                       "the row is skipped")
            else:
                why = f"unreadable CSV ({exc}); the row is skipped"
            yield start, why
            pos = start  # the line after the bad record's first


def _jsonl_rows(path: Path, bad: list[BadLine]) -> Iterator[tuple[int, dict | BadLine]]:
    from lex_dpr.utils.io import iter_numbered_jsonl

    yield from iter_numbered_jsonl(path, bad)


# --- output ----------------------------------------------------------------------------------------------

class Output:
    """The answers file: ``full`` JSONL/CSV or ``submission`` CSV, appended row by row and fsynced per batch."""

    def __init__(self, path: str | Path, fmt: str = "full") -> None:
        if fmt not in FORMATS:
            raise ConfigError(f"--format {fmt!r} is not one of {', '.join(FORMATS)}")
        self.path, self.fmt = Path(path), fmt
        self.kind = "csv" if fmt == "submission" else _kind(self.path, "--output")
        if fmt == "submission" and self.path.suffix.lower() != ".csv":
            raise ConfigError(f"--format submission writes id,answer CSV: name the output .csv, not {self.path.name}")
        self.columns = ("id", "answer") if fmt == "submission" else FULL_CSV_COLUMNS
        self._fh = None

    def _rows(self) -> tuple[list[tuple[str, bytes, bool, str | None]], bool]:
        """The complete rows of the file as (id, bytes as written, failed, question or None for a submission),
        and whether the end was torn."""
        raw = self.path.read_bytes()
        rows: list[tuple[str, bytes, bool, str | None]] = []
        if self.kind == "jsonl":
            lines = raw.split(b"\n")
            for i, line in enumerate(lines):
                if not line.strip():
                    continue
                try:
                    rec = orjson.loads(line)
                except orjson.JSONDecodeError:
                    if i == len(lines) - 1:  # torn at the end
                        return rows, True
                    raise InputError(f"{self.path}: line {i + 1} is not JSON; this is not an output of rag batch "
                                     "(or it was edited): write to a new --output") from None
                if not isinstance(rec, dict) or "id" not in rec:
                    raise InputError(f"{self.path}: line {i + 1} has no id; write to a new --output")
                question = rec.get("question")
                rows.append((str(rec["id"]), line + b"\n", rec.get("error") is not None,
                             question if isinstance(question, str) else None))
            return rows, False
        text = raw.decode("utf-8-sig", errors="replace")
        reader = csv.reader(io.StringIO(text, newline=""), strict=True)
        parsed, torn = [], False
        try:
            for row in reader:
                parsed.append(row)
        except csv.Error:  # an open quote at the end: the last record was cut inside a field
            torn = True
        if not parsed or tuple(parsed[0]) != self.columns:
            raise InputError(f"{self.path}: its columns are not {','.join(self.columns)}: it was written with "
                             "another --format; write to a new --output")
        body = parsed[1:]
        if not torn and body and not raw.endswith(b"\n"):
            body, torn = body[:-1], True  # cut inside an unquoted field
        err = self.columns.index("error") if "error" in self.columns else None
        for row in body:
            if len(row) != len(self.columns):
                torn = True
                continue
            failed = bool(row[err]) if err is not None else not row[1]
            question = row[self.columns.index("question")] if "question" in self.columns else None
            rows.append((row[0], self._csv_bytes(row), failed, question))
        return rows, torn

    def done_ids(self, questions: dict[str, str] | None = None,
                 answered: dict[str, str] | None = None) -> tuple[set[str], int, list[str], list[str]]:
        """Ids already answered; how many rows failed (kept out: they are answered again); the ids whose
        question was edited since (answered again) and the ids no longer in the input (dropped).

        ``questions`` maps each input id to its question now; ``answered`` the question each output row was
        answered for, where the rows do not carry it (a submission: the settings file's record). A torn last
        row (a kill mid-write), failed, edited and deleted rows are removed from the file before appending.
        """
        if not self.path.is_file() or self.path.stat().st_size == 0:
            return set(), 0, [], []
        rows, _ = self._rows()
        keep, edited, deleted, failed = [], [], [], 0
        for row in rows:
            qid = row[0]
            was = _question_key(row[3]) if row[3] is not None else (answered or {}).get(qid)
            if row[2]:
                failed += 1
            elif questions is not None and qid not in questions:
                deleted.append(qid)
            elif questions is not None and was is not None and was != _question_key(questions[qid]):
                edited.append(qid)
            else:
                keep.append(row)
        data = (self._csv_bytes(self.columns) if self.kind == "csv" else b"") + b"".join(r[1] for r in keep)
        if data != self.path.read_bytes():
            from lex_dpr.utils.io import atomic_open

            with atomic_open(self.path) as fh:
                fh.write(data)
        return {r[0] for r in keep}, failed, edited, deleted

    def reorder(self, ids: list[str]) -> None:
        """Rewrite the file with its rows in the order of ``ids`` (after a resume answered some again)."""
        rows, _ = self._rows()
        position = {qid: i for i, qid in enumerate(ids)}
        ordered = sorted(rows, key=lambda r: position.get(r[0], len(position)))
        if ordered == rows:
            return
        from lex_dpr.utils.io import atomic_open

        with atomic_open(self.path) as fh:
            fh.write((self._csv_bytes(self.columns) if self.kind == "csv" else b"") + b"".join(r[1] for r in ordered))

    @staticmethod
    def _csv_bytes(values) -> bytes:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerow(values)
        return buf.getvalue().encode("utf-8")

    def open(self, append: bool) -> None:
        from lex_dpr.utils.io import ensure_writable

        ensure_writable(self.path, flag="--output", example="answers.jsonl")
        fresh = not append or not self.path.is_file() or self.path.stat().st_size == 0
        self._fh = self.path.open("wb" if fresh else "ab")
        if fresh and self.kind == "csv":
            self._write_csv(self.columns)

    def write(self, qid: str | int, answer: Answer) -> None:
        if self.fmt == "submission":
            self._write_csv((str(qid), answer.answer))
            return
        d = answer.to_dict()
        row = {"id": qid, "question": answer.question, "answer": answer.answer, "qtype": answer.qtype,
               "context_ids": [c.pid for c in answer.contexts], "cited": answer.cited, "flags": answer.flags,
               "error": answer.error, "contexts": [{k: c[k] for k in ("id", "title", "article", "score")}
                                                   for c in d["contexts"]]}
        if self.kind == "jsonl":
            self._fh.write(orjson.dumps(row) + b"\n")
        else:
            self._write_csv((str(qid), answer.question, answer.answer, answer.qtype, ";".join(row["context_ids"]),
                             ";".join(answer.cited), ";".join(answer.flags), answer.error or "",
                             orjson.dumps(row["contexts"]).decode()))

    def _write_csv(self, values) -> None:
        self._fh.write(self._csv_bytes(values))

    def sync(self) -> None:
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        if self._fh is not None:
            self.sync()
            self._fh.close()
            self._fh = None


# --- cache -----------------------------------------------------------------------------------------------

class AnswerCache:
    """Answers by normalised question, one append-only JSONL file per answerer fingerprint."""

    def __init__(self, folder: str | Path | None, fingerprint: str) -> None:
        self.entries: dict[str, dict] = {}
        self.path = Path(folder) / f"{fingerprint}.jsonl" if folder is not None else None
        self._fh = None
        if self.path is None:
            return
        if self.path.is_file():
            for line in self.path.read_bytes().split(b"\n"):
                try:
                    rec = orjson.loads(line) if line.strip() else None
                except orjson.JSONDecodeError:
                    continue  # a torn line from a kill: that answer is simply computed again
                if isinstance(rec, dict) and isinstance(rec.get("q"), str) and isinstance(rec.get("answer"), dict):
                    self.entries[rec["q"]] = rec["answer"]
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = self.path.open("ab")
        except OSError as exc:
            log.warning("%s: cannot write the answer cache (%s); answering without it", self.path, exc.strerror)
            self.path = None

    def get(self, key: str) -> Answer | None:
        d = self.entries.get(key)
        return Answer.from_dict(d) if d is not None else None

    def put(self, key: str, answer: Answer) -> None:
        if answer.error is not None:
            return  # a failed generation is retried next time
        d = answer.to_dict()
        self.entries[key] = d
        if self._fh is not None:
            self._fh.write(orjson.dumps({"q": key, "answer": d}) + b"\n")

    def flush(self) -> None:
        if self._fh is not None:
            self._fh.flush()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


# --- the job ---------------------------------------------------------------------------------------------

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
                keys = [normalize_query(q.question) or q.question for q in chunk]
                need: dict[str, str] = {}
                for q, key in zip(chunk, keys, strict=True):
                    if key in memo or key in need:
                        continue
                    cached = cache.get(key)
                    if cached is not None:
                        memo[key] = cached
                        summary.cache_hits += 1
                    else:
                        need[key] = q.question
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


def shard_rows(questions: list, shard: tuple[int, int]) -> list:
    """Every n-th usable row from the i-th (1-based): each row in exactly one of the n shards."""
    i, n = shard
    return [q for j, q in enumerate(questions) if j % n == i - 1]


def merge_shards(input_path: str | Path, parts: list[str | Path], output_path: str | Path, *, fmt: str = "full",
                 id_column: str = "id", question_column: str = "question") -> int:
    """Put the outputs of ``rag batch --shard i/N`` (i = 1 … N) back in input order in ``output_path``.

    The result is the file one worker writes (same rows, same bytes) and can be resumed like one.

    Raises:
        InputError: a part is missing, was answered with other settings, or lacks rows of its shard (named).
    """
    from lex_dpr.utils.io import atomic_open, read_json_file

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
    recorded (``{id: hash}``, as :func:`_question_key` makes them; a submission's rows do not carry their
    question), or None."""
    from lex_dpr.utils.io import read_json_file

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
    from lex_dpr.utils.io import write_json

    write_json(settings_path(output), {"fingerprint": fingerprint,
                                       "questions": {k: _question_key(q) for k, q in questions.items()}})


def _question_key(question: str) -> str:
    """A question as resume compares it: normalised (:func:`normalize_query`), hashed short."""
    import hashlib

    return hashlib.sha256((normalize_query(question) or question).encode()).hexdigest()[:16]


def _some(ids: list[str], n: int = 5) -> str:
    return ", ".join(ids[:n]) + (f" … ({len(ids) - n} more)" if len(ids) > n else "")
