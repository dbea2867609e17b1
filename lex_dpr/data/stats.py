"""``lex-dpr stats``: what is in a corpus and its pairs, as JSON and PNG histograms."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import numpy as np

from lex_dpr.utils.io import iter_jsonl, write_json


def _summary(values: list[int]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    a = np.asarray(values)
    return {"n": int(a.size), "mean": round(float(a.mean()), 1), "p50": float(np.percentile(a, 50)),
            "p90": float(np.percentile(a, 90)), "p95": float(np.percentile(a, 95)), "max": int(a.max())}


def suggest_max_seq_length(p95_tokens: float) -> int:
    """Smallest multiple of 64 covering the 95th percentile, capped at 8192."""
    return int(min(8192, max(64, 64 * math.ceil(p95_tokens / 64))))


def corpus_stats(passages: str | Path, pairs: list[str | Path] | None = None, tokenizer: str | None = None,
                 out_dir: str | Path = "stats", top: int = 20) -> dict:
    """Counts, length distributions (chars and, with ``tokenizer``, tokens) and citation counts.

    Writes ``stats.json`` and ``*_hist.png`` into ``out_dir`` and returns the JSON dict.
    """
    out_dir = Path(out_dir)
    rows = list(iter_jsonl(passages))
    by_type = Counter(p.get("type", "?") for p in rows)
    by_title = Counter(p.get("title", "?") for p in rows)
    chars = [len(p.get("text", "")) for p in rows]
    stats: dict = {"passages": len(rows), "by_type": dict(by_type), "by_title": dict(by_title.most_common(top)),
                   "chars": _summary(chars)}
    lengths = {"passage_chars": chars}
    if tokenizer:
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(tokenizer)
        tokens = [len(ids) for ids in tok([p.get("text", "") for p in rows], add_special_tokens=True)["input_ids"]]
        stats["tokens"] = _summary(tokens)
        stats["suggested_max_seq_length"] = suggest_max_seq_length(stats["tokens"]["p95"])
        lengths["passage_tokens"] = tokens
    if pairs:
        pair_rows = [p for f in pairs for p in iter_jsonl(f)]
        cited = Counter(pid for p in pair_rows for pid in p.get("positive_passages", []))
        stats["pairs"] = {
            "queries": len(pair_rows),
            "by_type": dict(Counter((p.get("meta") or {}).get("type", "?") for p in pair_rows)),
            "positives_per_query": _summary([len(p.get("positive_passages", [])) for p in pair_rows]),
            "negatives_per_query": _summary([len(p.get("hard_negatives", [])) for p in pair_rows]),
            "query_chars": _summary([len(p.get("query_text", "")) for p in pair_rows]),
            "distinct_positives": len(cited),
            "most_cited": cited.most_common(top),
        }
        lengths["query_chars"] = [len(p.get("query_text", "")) for p in pair_rows]
    stats["plots"] = _plot(lengths, out_dir)
    write_json(out_dir / "stats.json", stats)
    return stats


def _plot(lengths: dict[str, list[int]], out_dir: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, values in lengths.items():
        if not values:
            continue
        fig, ax = plt.subplots(figsize=(6, 3.5))
        ax.hist(values, bins=60, color="#3b6ea5")
        ax.axvline(float(np.percentile(values, 95)), color="#c0392b", linestyle="--", label="p95")
        ax.set_xlabel(name.replace("_", " "))
        ax.set_ylabel("count")
        ax.legend()
        fig.tight_layout()
        path = out_dir / f"{name}_hist.png"
        fig.savefig(path, dpi=100, metadata={"Software": None})  # no version stamp: same bytes on rerun
        plt.close(fig)
        paths.append(str(path))
    return paths
