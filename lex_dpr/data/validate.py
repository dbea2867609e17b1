"""``lex-dpr validate``: check pair files against a passage corpus before training on them."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from lex_dpr.utils.hashing import blake2b_digest
from lex_dpr.utils.text import normalize_query
from lex_dpr.utils.io import BadLine, iter_jsonl

# Findings kept per check; the counts stay exact (a corpus with a million bad ids must not fill memory).
MAX_FINDINGS_PER_CHECK = 1000


@dataclass
class Finding:
    level: str  # "error" or "warning"
    check: str
    where: str
    detail: str


@dataclass
class ValidationReport:
    findings: list[Finding] = field(default_factory=list)  # the first MAX_FINDINGS_PER_CHECK of each check
    counts: Counter = field(default_factory=Counter)
    errors: int = 0

    def add(self, level: str, check: str, where: str, detail: str) -> None:
        key = f"{level}: {check}"
        self.counts[key] += 1
        self.errors += level == "error"
        if self.counts[key] <= MAX_FINDINGS_PER_CHECK:
            self.findings.append(Finding(level, check, where, detail))

    def to_dict(self) -> dict:
        return {"errors": self.errors, "counts": dict(self.counts),
                "findings": [f.__dict__ for f in self.findings]}


def validate(pair_files: list[str | Path], passage_files: list[str | Path]) -> ValidationReport:
    """Every id resolves, no empty text, no positive among negatives, no leakage across splits.

    Streams the files: memory holds the passage ids and a 16-byte hash per query, never the texts.

    Example:
        >>> report = validate(["out/pairs_train.jsonl", "out/pairs_train_valid.jsonl"],
        ...                   ["out/merged_corpus.jsonl"])  # doctest: +SKIP
        >>> report.errors  # doctest: +SKIP
        0
    """
    report = ValidationReport()
    ids: set[str] = set()
    for path in passage_files:
        bad: list[BadLine] = []
        n = 0
        for p in iter_jsonl(path, bad):
            n += 1
            pid = str(p.get("id") or "")
            if not pid:
                report.add("error", "passage without id", str(path), str(p)[:80])
            elif pid in ids:
                report.add("error", "duplicate passage id", str(path), pid)
            elif not str(p.get("text") or "").strip():
                report.add("error", "empty passage text", str(path), pid)
            ids.add(pid)
        for b in bad:
            report.add("error", "malformed line", b.path, f"line {b.line}: {b.reason}")
        if not n:
            report.add("error", "no passages", str(path), "the file holds no passage")
    report.counts["passages"] = len(ids)
    seen_prec: dict[str, str] = {}
    seen_query: dict[bytes, str] = {}
    for path in pair_files:
        _check_pairs(Path(path), ids, report, seen_prec, seen_query)
    return report


def _query_key(text: str) -> bytes:
    return blake2b_digest(normalize_query(text), 16)


def _id_list(value: object) -> list[str] | None:
    """A list of passage ids, or None when the field holds something else (a string, numbers, objects)."""
    if value is None:
        return []
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return None


def _check_pairs(path: Path, passage_ids: set[str], report: ValidationReport, seen_prec: dict[str, str],
                 seen_query: dict[bytes, str]) -> None:
    bad: list[BadLine] = []
    ids: dict[str, int] = defaultdict(int)
    n = 0
    for n, pair in enumerate(iter_jsonl(path, bad), start=1):
        where = f"{path.name}:{n}"
        qid = str(pair.get("query_id") or "")
        ids[qid] += 1
        if ids[qid] == 2:
            report.add("error", "duplicate query id", where, qid)
        if not str(pair.get("query_text") or "").strip():
            report.add("error", "empty query text", where, qid)
        positives = _id_list(pair.get("positive_passages"))
        negatives = _id_list(pair.get("hard_negatives"))
        if positives is None or negatives is None:
            field_name = "positive_passages" if positives is None else "hard_negatives"
            report.add("error", "malformed pair", where, f"{qid}: {field_name} must be a list of passage ids")
            positives, negatives = positives or [], negatives or []
        if not positives:
            report.add("error", "no positive passage", where, qid)
        for pid in positives + negatives:
            if pid not in passage_ids:
                report.add("error", "unknown passage id", where, f"{qid} → {pid}")
        for pid in set(positives) & set(negatives):
            report.add("error", "positive among negatives", where, f"{qid}: {pid}")
        if len(set(negatives)) != len(negatives):
            report.add("warning", "repeated negative", where, qid)
        meta = pair.get("meta")
        prec = str(meta.get("prec_id") or "") if isinstance(meta, dict) else ""
        if prec:
            first = seen_prec.setdefault(prec, path.name)
            if first != path.name:
                report.add("error", "precedent in two splits", where, f"{prec} also in {first}")
        key = _query_key(str(pair.get("query_text") or ""))
        first_q = seen_query.setdefault(key, path.name)
        if first_q != path.name:
            report.add("error", "query in two splits", where, f"{qid} also in {first_q}")
        report.counts["pairs"] += 1
    for b in bad:
        report.add("error", "malformed line", b.path, f"line {b.line}: {b.reason}")
    if not n:
        report.add("error", "no pairs", str(path), "the file holds no pair")
