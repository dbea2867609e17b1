"""The baselines every model is scored against, and the choice of a fusion weight.

Dense, BM25 and fusion retrieval live in :mod:`lex_dpr.retrieval` (index and RAG use them too); these
are the systems only evaluation needs. Every system maps queries to ranked (passage id, score) lists.

Example:
    >>> pairs = [{"query_text": "불법행위 손해배상", "positive_passages": ["LAW_1_제750조"]},
    ...          {"query_text": "채무불이행", "positive_passages": ["LAW_1_제390조", "LAW_1_제750조"]}]
    >>> PopularitySystem(pairs).rank(["아무 질문"], k=1)
    [[('LAW_1_제750조', 2.0)]]
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence

import numpy as np

from lex_dpr.retrieval.base import Ranking, Retriever
from lex_dpr.retrieval.bm25 import BM25Index
from lex_dpr.retrieval.fusion import fuse
from lex_dpr.data.tokenize import tokenize_many


class PopularitySystem:
    """The most-cited passages of the training pairs, the same list for every query."""

    name = "popularity"

    def __init__(self, train_pairs: Sequence[dict]) -> None:
        counts = Counter(pid for p in train_pairs for pid in p["positive_passages"])
        self.ranking = [(pid, float(c)) for pid, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]

    def rank(self, queries: Sequence[str], k: int) -> list[Ranking]:
        return [self.ranking[:k] for _ in queries]


class KnnLabelSystem:
    """BM25 over the training queries; the nearest ``neighbours`` vote for their positives by BM25 score."""

    name = "knn-label"

    def __init__(self, train_pairs: Sequence[dict], neighbours: int = 50, workers: int = 0) -> None:
        self.positives = [p["positive_passages"] for p in train_pairs]
        self.neighbours, self.workers = neighbours, workers
        self.index = BM25Index.from_texts([p["query_text"] for p in train_pairs], workers=workers)

    def rank(self, queries: Sequence[str], k: int) -> list[Ranking]:
        out = []
        for rows, scores in self.index.search(tokenize_many(list(queries), workers=self.workers), self.neighbours):
            votes: dict[str, float] = defaultdict(float)
            for row, score in zip(rows, scores, strict=True):
                for pid in self.positives[row]:
                    votes[pid] += float(score)
            out.append(sorted(votes.items(), key=lambda kv: (-kv[1], kv[0]))[:k])
        return out


def choose_fusion_weight(first: Retriever, second: Retriever, pairs: Sequence[dict], seen: set[str] | None = None,
                         grid: Sequence[float] = tuple(np.round(np.arange(0.0, 1.01, 0.1), 2))) -> float:
    """The weight with the best NDCG@10 on ``pairs`` (queries the models never trained on).

    With ``seen`` (the training positives), queries whose positives were all seen in training and queries
    with an unseen positive count as two equal halves: on the seen half a memorising model always looks
    best, and choosing on it alone would give the long tail away.
    """
    from lex_dpr.evaluation.metrics import ndcg_at_k

    queries = [p["query_text"] for p in pairs]
    relevant = [set(p["positive_passages"]) for p in pairs]
    groups = [0 if seen is None or rel <= seen else 1 for rel in relevant]
    a, b = first.rank(queries, 100), second.rank(queries, 100)
    best = (-1.0, 0.5)
    for w in grid:
        scores = [ndcg_at_k([pid for pid, _ in fuse(x, y, w)], rel, 10) for x, y, rel in zip(a, b, relevant, strict=True)]
        halves = [np.mean([s for s, g in zip(scores, groups, strict=True) if g == h]) for h in set(groups)]
        best = max(best, (float(np.mean(halves)), float(w)))
    return best[1]
