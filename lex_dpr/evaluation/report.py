"""Score several systems on one fingerprinted query set, with breakdowns and error analysis.

Example:
    >>> from lex_dpr.data.corpus import Corpus
    >>> from lex_dpr.retrieval.bm25 import BM25Retriever
    >>> corpus = Corpus(["a", "b"], ["민법 손해배상 책임", "형법 사기죄"], [{"title": "민법"}, {"title": "형법"}])
    >>> pairs = [{"query_id": "q1", "query_text": "손해배상", "positive_passages": ["a"], "meta": {"type": "prec"}}]
    >>> report = evaluate([BM25Retriever(corpus)], pairs, corpus, train_pairs=[], k_values=[1, 10])
    >>> report.systems["bm25"]["overall"]["ndcg_at_10"]
    1.0
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from lex_dpr.evaluation.metrics import mean_scores, per_query
from lex_dpr.retrieval.base import Retriever
from lex_dpr.data.corpus import Corpus
from lex_dpr.utils.progress import track

CIVIL_CODE = "민법"
WORST_SAMPLE = 10

# The headline metrics every table, the comparison and the worst-query list show; their cut-offs are always
# computed, whatever --k asks for (map_at_100 always is).
HEADLINE = ("ndcg_at_10", "recall_at_1", "recall_at_5", "recall_at_10", "mrr_at_10", "map_at_100")
SHORT = ("nDCG@10", "R@1", "R@5", "R@10", "MRR@10", "MAP@100")
HEADLINE_CUTOFFS = (1, 5, 10)


@dataclass
class Report:
    fingerprint: str
    queries: int
    k_values: list[int]
    systems: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> {overall, breakdowns, worst}
    subset_sizes: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def fingerprint(pairs: Sequence[dict]) -> str:
    """A hash of the query set (ids, texts, positives), so reports on different sets are never compared."""
    h = hashlib.sha256()  # incremental, one line a query: utils.hashing has one-shot digests only
    for p in sorted(pairs, key=lambda p: p["query_id"]):
        h.update(f"{p['query_id']}\t{p['query_text']}\t{','.join(sorted(p['positive_passages']))}\n".encode())
    return h.hexdigest()[:16]


def query_subsets(pairs: Sequence[dict], corpus: Corpus, train_pairs: Sequence[dict]) -> dict[str, list[int]]:
    """Which queries fall in each breakdown: query type, law of the positives, 민법-only, never-seen positives."""
    seen = {pid for p in train_pairs for pid in p["positive_passages"]}
    subsets: dict[str, list[int]] = defaultdict(list)
    for i, p in enumerate(pairs):
        recs = [corpus.records[corpus.index[pid]] for pid in p["positive_passages"] if pid in corpus.index]
        types = sorted({r.get("type", "?") for r in recs})
        kind = "fallback" if p.get("meta", {}).get("type") == "fallback" else "prec→" + "+".join(types)
        subsets[f"type: {kind}"].append(i)
        laws = sorted({r.get("title", "?") for r in recs})
        subsets["law: " + (laws[0] if len(laws) == 1 else "several laws")].append(i)
        if kind != "fallback":
            subsets["민법 only" if laws == [CIVIL_CODE] else "not only 민법"].append(i)
        if any(pid not in seen for pid in p["positive_passages"]) and kind != "fallback":
            subsets["never-seen positives"].append(i)
    return dict(subsets)


def evaluate(systems: Sequence[Retriever], pairs: Sequence[dict], corpus: Corpus, train_pairs: Sequence[dict],
             k_values: Sequence[int], show_progress: bool = False, min_subset: int = 20) -> Report:
    """Rank every query with every system and aggregate the metrics overall and per subset.

    On the never-seen subset, relevance is restricted to the never-seen positives: that is where a model
    that memorised "issue → frequently cited article" fails. ``k_values`` are the cut-offs asked for (the
    report's ``k_values``); the headline cut-offs (1, 5, 10) are computed too, so every table has its columns.

    Raises:
        ConfigError: a cut-off below 1.
    """
    check_cutoffs(k_values)
    k_values = sorted(set(k_values))
    computed = sorted(set(k_values) | set(HEADLINE_CUTOFFS))
    depth = max(max(computed), 100)
    queries = [p["query_text"] for p in pairs]
    relevant = [set(p["positive_passages"]) for p in pairs]
    seen = {pid for p in train_pairs for pid in p["positive_passages"]}
    subsets = query_subsets(pairs, corpus, train_pairs)
    report = Report(fingerprint(pairs), len(pairs), list(k_values),
                    subset_sizes={k: len(v) for k, v in sorted(subsets.items())})
    for system in track(systems, "scoring systems", total=len(systems), enabled=show_progress):
        rankings = system.rank(queries, depth)
        ranked_ids = [[pid for pid, _ in r] for r in rankings]
        rows = [per_query(r, rel, computed) for r, rel in zip(ranked_ids, relevant, strict=True)]
        entry: dict[str, Any] = {"overall": mean_scores(rows), "subsets": {}}
        for name, members in sorted(subsets.items()):
            if len(members) < min_subset and not name.startswith(("type:", "never", "민법", "not only")):
                continue
            if name == "never-seen positives":
                sub = [per_query(ranked_ids[i], relevant[i] - seen, computed) for i in members]
            else:
                sub = [rows[i] for i in members]
            entry["subsets"][name] = mean_scores(sub)
        entry["worst"] = _worst(pairs, ranked_ids, rows, corpus)
        report.systems[system.name] = entry
    return report


def check_cutoffs(k_values: Sequence[int]) -> None:
    """Cut-offs must be integers >= 1.

    Example:
        >>> check_cutoffs([1, 0, -3])
        Traceback (most recent call last):
        lex_dpr.errors.ConfigError: --k 0 -3: cut-offs must be integers >= 1 (e.g. --k 1 5 10)
    """
    from lex_dpr.errors import ConfigError

    bad = [k for k in k_values if isinstance(k, bool) or not isinstance(k, int) or k < 1]
    if bad or not k_values:
        shown = " ".join(map(str, bad)) if bad else "(none)"
        raise ConfigError(f"--k {shown}: cut-offs must be integers >= 1 (e.g. --k 1 5 10)")


def _worst(pairs: Sequence[dict], ranked: list[list[str]], rows: list[dict], corpus: Corpus) -> list[dict]:
    order = sorted(range(len(pairs)), key=lambda i: (rows[i]["ndcg_at_10"], pairs[i]["query_id"]))[:WORST_SAMPLE]
    out = []
    for i in order:
        top = [{"id": pid, "title": corpus.records[corpus.index[pid]].get("title", ""),
                "article": corpus.records[corpus.index[pid]].get("article", "")} for pid in ranked[i][:5]
               if pid in corpus.index]
        out.append({"query_id": pairs[i]["query_id"], "query": pairs[i]["query_text"],
                    "positives": pairs[i]["positive_passages"], "ndcg_at_10": rows[i]["ndcg_at_10"], "top5": top})
    return out



def to_markdown(report: Report) -> str:
    """The report as Markdown: overall table, one table per breakdown, and the worst queries."""
    lines = [f"# lex-dpr eval\n\nquery set `{report.fingerprint}`, {report.queries} queries\n", "## Overall\n"]
    lines += _md_table(report, lambda e: e["overall"])
    for subset, size in report.subset_sizes.items():
        if not any(subset in e["subsets"] for e in report.systems.values()):
            continue
        lines.append(f"\n## {subset} ({size} queries)\n")
        lines += _md_table(report, lambda e, s=subset: e["subsets"].get(s, {}))
    lines.append("\n## Worst queries\n")
    for name, entry in report.systems.items():
        lines.append(f"\n### {name}\n")
        for w in entry["worst"][:5]:
            top = ", ".join(f"{t['title']} {t['article']}".strip() or t["id"] for t in w["top5"])
            lines.append(f"- `{w['query_id']}` {w['query'][:80]} → expected {', '.join(w['positives'][:3])}; "
                         f"got {top}")
    return "\n".join(lines) + "\n"


def _md_table(report: Report, pick) -> list[str]:
    header = "| system | " + " | ".join(HEADLINE) + " |"
    lines = [header, "|" + "---|" * (len(HEADLINE) + 1)]
    for name, entry in report.systems.items():
        values = pick(entry)
        lines.append(f"| {name} | " + " | ".join(f"{values[m]:.4f}" if m in values else "" for m in HEADLINE) + " |")
    return lines


def compare(old: dict[str, Any], new: Report) -> dict[str, dict[str, float]]:
    """Per-system deltas of the headline metrics against an earlier report on the same query set."""
    from lex_dpr.errors import ConfigError

    if not isinstance(old, dict) or old.get("fingerprint") != new.fingerprint:
        earlier = old.get("fingerprint") if isinstance(old, dict) else None
        raise ConfigError(f"cannot compare: the earlier report was made on query set {earlier}, "
                          f"this one on {new.fingerprint}")
    earlier = old.get("systems") or {}
    return {name: {m: entry["overall"][m] - earlier[name]["overall"][m] for m in HEADLINE}
            for name, entry in new.systems.items() if _has_headline(earlier.get(name))}


def _has_headline(entry: Any) -> bool:
    return isinstance(entry, dict) and all(m in entry.get("overall", {}) for m in HEADLINE)

