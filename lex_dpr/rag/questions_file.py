"""The question file ``rag batch`` reads: rows with an id and a question, from CSV columns or JSONL keys.

Column and key names are overridable (``--id-column``, ``--question-column``). A row with an empty question,
no id, an id that is not text or a whole number, a duplicate id, or a line that does not parse is reported
with its line (a :class:`~lex_dpr.utils.io.BadLine`) and skipped; a CSV quote never closed is one bad row,
and the rows after it are read. Ids keep their type (text, or a whole number in JSONL).

Example:
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "q.csv"
    >>> _ = path.write_text("id,question\\n1,민법 제750조의 요건은?\\n2,\\n1,다시\\n", encoding="utf-8")
    >>> bad = []
    >>> read_questions(path, bad=bad), [str(b).split(": ", 1)[1] for b in bad]  # doctest: +NORMALIZE_WHITESPACE
    ([InputQuestion(line=2, id='1', question='민법 제750조의 요건은?')],
     ['empty question', "duplicate id '1' (first on line 2)"])
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from lex_dpr.errors import ConfigError, InputError
from lex_dpr.utils.hashing import sha256_hex
from lex_dpr.utils.io import BadLine, iter_numbered_jsonl
from lex_dpr.utils.text import normalize_query


@dataclass
class InputQuestion:
    """One good row of a question file: where it was, its id as given, its question (stripped)."""

    line: int
    id: str | int  # as given: text, or a whole number in JSONL
    question: str


def read_questions(path: str | Path, id_column: str = "id", question_column: str = "question",
                   bad: list[BadLine] | None = None) -> list[InputQuestion]:
    """The good rows of a CSV or JSONL question file; bad rows go to ``bad`` with their line and reason."""
    path = Path(path)
    bad = bad if bad is not None else []
    _require_file(path)
    kind = file_kind(path, "--input")
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
            out.append(InputQuestion(line, qid, question.strip()))
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
    if file_kind(path, "--input") == "csv":
        next(iter(_csv_rows(path, id_column, question_column)), None)


def file_kind(path: Path, flag: str) -> str:
    """``"csv"`` or ``"jsonl"`` by the file's suffix (``.csv``; ``.jsonl``, ``.ndjson``); ``flag`` names the option."""
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
    yield from iter_numbered_jsonl(path, bad)


def question_key(question: str) -> str:
    """A question as resume compares it: normalised (:func:`~lex_dpr.utils.text.normalize_query`), hashed short."""
    return sha256_hex(normalize_query(question) or question, 16)
