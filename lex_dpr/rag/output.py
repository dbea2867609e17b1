"""``rag batch``'s answers file, resumable: ``full`` rows as JSONL or CSV, or a ``submission`` CSV (``id,answer``).

Rows are appended in input order and fsynced after every batch. A JSONL output is an append-only journal
(:mod:`lex_dpr.utils.journal`): a torn last row (a kill mid-write) is dropped on resume, and any other line
that is not a row stops the run, naming the file and line. A CSV output's torn last record (cut inside a
quoted field, or without its line end) is dropped the same way. On resume, failed rows, rows whose question
was edited since and rows whose id left the input are removed too, and answered again (or dropped).
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Any

import orjson

from lex_dpr.errors import ConfigError, InputError
from lex_dpr.rag.answer import Answer
from lex_dpr.rag.questions_file import file_kind, question_key
from lex_dpr.utils.io import atomic_open, dumps, ensure_writable
from lex_dpr.utils.journal import open_append, read_journal

FORMATS = ("full", "submission")
FULL_CSV_COLUMNS = ("id", "question", "answer", "qtype", "context_ids", "cited", "flags", "error", "contexts")
_NOT_AN_OUTPUT = "this is not an output of rag batch (or it was edited): write to a new --output"


def _row_problem(rec: Any) -> str | None:
    return None if isinstance(rec, dict) and "id" in rec else "a row without an id"


class Output:
    """The answers file: ``full`` JSONL/CSV or ``submission`` CSV, appended row by row and fsynced per batch."""

    def __init__(self, path: str | Path, fmt: str = "full") -> None:
        if fmt not in FORMATS:
            raise ConfigError(f"--format {fmt!r} is not one of {', '.join(FORMATS)}")
        self.path, self.fmt = Path(path), fmt
        self.kind = "csv" if fmt == "submission" else file_kind(self.path, "--output")
        if fmt == "submission" and self.path.suffix.lower() != ".csv":
            raise ConfigError(f"--format submission writes id,answer CSV: name the output .csv, not {self.path.name}")
        self.columns = ("id", "answer") if fmt == "submission" else FULL_CSV_COLUMNS
        self._fh = None

    def _rows(self) -> tuple[list[tuple[str, bytes, bool, str | None]], bool]:
        """The complete rows of the file as (id, bytes as written, failed, question or None for a submission),
        and whether the end was torn."""
        rows: list[tuple[str, bytes, bool, str | None]] = []
        if self.kind == "jsonl":
            entries, pos = read_journal(self.path, check=_row_problem, fix=_NOT_AN_OUTPUT)
            for e in entries:
                question = e.value.get("question")
                rows.append((str(e.value["id"]), e.raw, e.value.get("error") is not None,
                             question if isinstance(question, str) else None))
            return rows, pos.torn
        raw = self.path.read_bytes()
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
            was = question_key(row[3]) if row[3] is not None else (answered or {}).get(qid)
            if row[2]:
                failed += 1
            elif questions is not None and qid not in questions:
                deleted.append(qid)
            elif questions is not None and was is not None and was != question_key(questions[qid]):
                edited.append(qid)
            else:
                keep.append(row)
        data = (self._csv_bytes(self.columns) if self.kind == "csv" else b"") + b"".join(r[1] for r in keep)
        if data != self.path.read_bytes():
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
        with atomic_open(self.path) as fh:
            fh.write((self._csv_bytes(self.columns) if self.kind == "csv" else b"") + b"".join(r[1] for r in ordered))

    @staticmethod
    def _csv_bytes(values) -> bytes:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerow(values)
        return buf.getvalue().encode("utf-8")

    def open(self, append: bool) -> None:
        ensure_writable(self.path, flag="--output", example="answers.jsonl")
        fresh = not append or not self.path.is_file() or self.path.stat().st_size == 0
        if fresh:
            self._fh = self.path.open("wb")
        else:  # done_ids has already dropped a torn last row; a JSONL journal checks again
            self._fh = open_append(self.path) if self.kind == "jsonl" else self.path.open("ab")
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
            self._fh.write(dumps(row))
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
