"""``lex-dpr merge-corpus``: law + admin (+ precedent) passages → one corpus file."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from lex_dpr.errors import InputError
from lex_dpr.utils.hashing import blake2b_digest
from lex_dpr.utils.io import BadLine, ensure_writable, iter_numbered_jsonl, write_jsonl


@dataclass
class MergeReport:
    passages: int = 0
    by_input: dict[str, int] = field(default_factory=dict)
    identical_duplicates: int = 0
    conflicts: list[str] = field(default_factory=list)
    bad_lines: list[str] = field(default_factory=list)


def _digest(record: dict) -> int:
    """A content hash that, like dict equality, ignores key order."""
    raw = orjson.dumps(record, option=orjson.OPT_SORT_KEYS)
    return int.from_bytes(blake2b_digest(raw, 16), "big")


def _passage_id(p: dict) -> str | None:
    pid = p.get("id")
    return pid if pid and isinstance(pid, str) else None


def merge_corpus(inputs: list[str | Path], out: str | Path) -> MergeReport:
    """Concatenate passage files in the order given, merging duplicate ids.

    Rule for a conflict (same id, different content): the passage with the later
    ``effective_date`` wins; on a tie the first one read wins. Every conflict is reported.
    Output order is first-seen order, so the same inputs always give the same bytes.

    Two passes over the inputs, so memory holds a hash per id (and the few later versions that won a
    conflict), never the corpus: the first pass decides, the second writes each id at its first place.

    Example:
        >>> merge_corpus(["out/law.jsonl", "out/admin.jsonl"], "out/merged_corpus.jsonl")  # doctest: +SKIP
    """
    ensure_writable(out)
    report = MergeReport()
    kept: dict[str, tuple[int, int, str]] = {}  # id -> (position of its first record, kept version's hash, its date)
    won: dict[str, dict] = {}  # id -> a later version that won a conflict (written at the first record's place)
    position = 0
    dates: dict[str, str] = {}
    for path in inputs:
        bad: list[BadLine] = []
        n = 0
        for lineno, p in iter_numbered_jsonl(path, bad):
            pid = _passage_id(p)
            if pid is None:
                reason = "passage without an id" if not p.get("id") else f"id is not a string ({p.get('id')!r:.40})"
                bad.append(BadLine(str(path), lineno, reason))
                continue
            n += 1
            digest = _digest(p)
            date = str(p.get("effective_date") or "")
            date = dates.setdefault(date, date)  # one string per distinct date
            if pid not in kept:
                kept[pid] = (position, digest, date)
            elif kept[pid][1] == digest:
                report.identical_duplicates += 1
            else:
                first, _, kept_date = kept[pid]
                keep_new = date > kept_date
                report.conflicts.append(f"{pid}: differs between inputs; kept the "
                                        f"{'later' if keep_new else 'first'} version ({path})")
                if keep_new:
                    kept[pid] = (first, digest, date)
                    won[pid] = p
            position += 1
        report.by_input[str(path)] = n
        report.bad_lines += [str(b) for b in sorted(bad, key=lambda b: b.line)]
    if not kept:
        raise InputError(f"no passages in {', '.join(map(str, inputs))} (empty files? run `lex-dpr preprocess` first)")

    def merged() -> Iterator[dict]:
        seen = 0
        for path in inputs:
            for _, p in iter_numbered_jsonl(path, []):
                pid = _passage_id(p)
                if pid is None:
                    continue
                if kept[pid][0] == seen:
                    yield won.get(pid, p)
                seen += 1
        if seen != position:
            raise InputError(f"{', '.join(map(str, inputs))}: changed while merging; run merge-corpus again")

    report.passages = write_jsonl(out, merged())
    return report
