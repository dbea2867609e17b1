"""Ranking metrics with binary relevance, per query (checked against pytrec_eval in the tests).

Example:
    >>> ranked, relevant = ["d3", "d1", "d7"], {"d1", "d9"}
    >>> round(ndcg_at_k(ranked, relevant, 10), 4), recall_at_k(ranked, relevant, 10), mrr_at_k(ranked, relevant, 10)
    (0.3869, 0.5, 0.5)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

MetricFn = Callable[[Sequence[str], set[str], int], float]


def ndcg_at_k(ranked: Sequence[str], relevant: set[str], k: int) -> float:
    """DCG of the top k over the ideal DCG of min(k, |relevant|) hits."""
    dcg = sum(1.0 / math.log2(r + 2) for r, d in enumerate(ranked[:k]) if d in relevant)
    idcg = sum(1.0 / math.log2(r + 2) for r in range(min(k, len(relevant))))
    return dcg / idcg if idcg else 0.0


def recall_at_k(ranked: Sequence[str], relevant: set[str], k: int) -> float:
    return len(relevant.intersection(ranked[:k])) / len(relevant) if relevant else 0.0


def hit_at_k(ranked: Sequence[str], relevant: set[str], k: int) -> float:
    return 1.0 if relevant.intersection(ranked[:k]) else 0.0


def mrr_at_k(ranked: Sequence[str], relevant: set[str], k: int) -> float:
    return next((1.0 / (r + 1) for r, d in enumerate(ranked[:k]) if d in relevant), 0.0)


def map_at_k(ranked: Sequence[str], relevant: set[str], k: int) -> float:
    """Average precision over the top k, divided by all relevant (trec_eval's map_cut)."""
    hits, total = 0, 0.0
    for r, d in enumerate(ranked[:k]):
        if d in relevant:
            hits += 1
            total += hits / (r + 1)
    return total / len(relevant) if relevant else 0.0


METRICS: dict[str, MetricFn] = {"ndcg": ndcg_at_k, "recall": recall_at_k, "hit": hit_at_k, "mrr": mrr_at_k}


def per_query(ranked: Sequence[str], relevant: set[str], k_values: Sequence[int]) -> dict[str, float]:
    """Every metric for one query."""
    scores = {f"{m}_at_{k}": fn(ranked, relevant, k) for m, fn in METRICS.items() for k in k_values}
    scores["map_at_100"] = map_at_k(ranked, relevant, 100)
    return scores


def mean_scores(rows: Sequence[dict[str, float]]) -> dict[str, float]:
    if not rows:
        return {}
    return {key: sum(r[key] for r in rows) / len(rows) for key in rows[0]}
