"""``lex-dpr validate``: check pair files against a passage corpus before training on them."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from lex_dpr.utils.text import normalize_query
from lex_dpr.utils.io import BadLine, iter_jsonl


@dataclass
class Finding:
    level: str  # "error" or "warning"
    check: str
    where: str
    detail: str


@dataclass
class ValidationReport:
    findings: list[Finding] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)

    @property
    def errors(self) -> int:
        return sum(f.level == "error" for f in self.findings)

    def add(self, level: str, check: str, where: str, detail: str) -> None:
        self.findings.append(Finding(level, check, where, detail))
        self.counts[f"{level}: {check}"] += 1

    def to_dict(self) -> dict:
        return {"errors": self.errors, "counts": dict(self.counts),
                "findings": [f.__dict__ for f in self.findings]}


def validate(pair_files: list[str | Path], passage_files: list[str | Path]) -> ValidationReport:
    """Every id resolves, no empty text, no positive among negatives, no leakage across splits.

    Example:
        >>> report = validate(["out/pairs_train.jsonl", "out/pairs_train_valid.jsonl"],
        ...                   ["out/merged_corpus.jsonl"])  # doctest: +SKIP
        >>> report.errors  # doctest: +SKIP
        0
    """
    report = ValidationReport()
    texts: dict[str, str] = {}
    for path in passage_files:
        bad: list[BadLine] = []
        for p in iter_jsonl(path, bad):
            pid = str(p.get("id") or "")
            if not pid:
                report.add("error", "passage without id", str(path), str(p)[:80])
            elif pid in texts:
                report.add("error", "duplicate passage id", str(path), pid)
            elif not str(p.get("text") or "").strip():
                report.add("error", "empty passage text", str(path), pid)
            texts.setdefault(pid, str(p.get("text") or ""))
        for b in bad:
            report.add("error", "malformed line", b.path, f"line {b.line}: {b.reason}")
    report.counts["passages"] = len(texts)
    seen_prec: dict[str, str] = {}
    seen_query: dict[str, str] = {}
    for path in pair_files:
        _check_pairs(Path(path), texts, report, seen_prec, seen_query)
    return report


def _check_pairs(path: Path, texts: dict[str, str], report: ValidationReport, seen_prec: dict[str, str],
                 seen_query: dict[str, str]) -> None:
    bad: list[BadLine] = []
    ids: dict[str, int] = defaultdict(int)
    for n, pair in enumerate(iter_jsonl(path, bad), start=1):
        where = f"{path.name}:{n}"
        qid = str(pair.get("query_id") or "")
        ids[qid] += 1
        if ids[qid] == 2:
            report.add("error", "duplicate query id", where, qid)
        if not str(pair.get("query_text") or "").strip():
            report.add("error", "empty query text", where, qid)
        positives = list(pair.get("positive_passages") or [])
        negatives = list(pair.get("hard_negatives") or [])
        if not positives:
            report.add("error", "no positive passage", where, qid)
        for pid in positives + negatives:
            if pid not in texts:
                report.add("error", "unknown passage id", where, f"{qid} → {pid}")
        for pid in set(positives) & set(negatives):
            report.add("error", "positive among negatives", where, f"{qid}: {pid}")
        if len(set(negatives)) != len(negatives):
            report.add("warning", "repeated negative", where, qid)
        prec = str((pair.get("meta") or {}).get("prec_id") or "")
        if prec:
            first = seen_prec.setdefault(prec, path.name)
            if first != path.name:
                report.add("error", "precedent in two splits", where, f"{prec} also in {first}")
        key = normalize_query(str(pair.get("query_text") or ""))
        first_q = seen_query.setdefault(key, path.name)
        if first_q != path.name:
            report.add("error", "query in two splits", where, f"{qid} also in {first_q}")
        report.counts["pairs"] += 1
    for b in bad:
        report.add("error", "malformed line", b.path, f"line {b.line}: {b.reason}")
