"""``lex-dpr merge-corpus``: law + admin (+ precedent) passages → one corpus file."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lex_dpr.utils.io import BadLine, iter_jsonl, write_jsonl


@dataclass
class MergeReport:
    passages: int = 0
    by_input: dict[str, int] = field(default_factory=dict)
    identical_duplicates: int = 0
    conflicts: list[str] = field(default_factory=list)
    bad_lines: list[str] = field(default_factory=list)


def _newer(a: dict, b: dict) -> bool:
    return str(b.get("effective_date") or "") > str(a.get("effective_date") or "")


def merge_corpus(inputs: list[str | Path], out: str | Path) -> MergeReport:
    """Concatenate passage files in the order given, merging duplicate ids.

    Rule for a conflict (same id, different content): the passage with the later
    ``effective_date`` wins; on a tie the first one read wins. Every conflict is reported.
    Output order is first-seen order, so the same inputs always give the same bytes.

    Example:
        >>> merge_corpus(["out/law.jsonl", "out/admin.jsonl"], "out/merged_corpus.jsonl")  # doctest: +SKIP
    """
    report = MergeReport()
    merged: dict[str, dict] = {}
    for path in inputs:
        bad: list[BadLine] = []
        n = 0
        for p in iter_jsonl(path, bad):
            pid = p.get("id")
            if not pid:
                bad.append(BadLine(str(path), 0, "passage without an id"))
                continue
            n += 1
            if pid not in merged:
                merged[pid] = p
            elif merged[pid] == p:
                report.identical_duplicates += 1
            else:
                keep_new = _newer(merged[pid], p)
                report.conflicts.append(f"{pid}: differs between inputs; kept the "
                                        f"{'later' if keep_new else 'first'} version ({path})")
                if keep_new:
                    merged[pid] = p
        report.by_input[str(path)] = n
        report.bad_lines += [str(b) for b in bad]
    report.passages = write_jsonl(out, merged.values())
    return report
