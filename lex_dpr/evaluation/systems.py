"""Retrieval systems scored side by side: dense models, BM25, popularity, kNN-label, and fusion.

Every system maps a list of queries to ranked (passage id, score) lists over the same corpus.

Example:
    >>> from lex_dpr.training.data import Corpus
    >>> corpus = Corpus(["a", "b"], ["민법 손해배상 책임", "형법 사기죄"], [{}, {}])
    >>> BM25System(corpus).rank(["손해배상"], k=1)[0][0][0]
    'a'
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from lex_dpr.training.data import Corpus

Ranking = list[tuple[str, float]]


class System(Protocol):
    name: str

    def rank(self, queries: Sequence[str], k: int) -> list[Ranking]: ...


class DenseSystem:
    """Any encoder with ``encode_query``/``encode_document``; exact inner-product search with faiss."""

    def __init__(self, name: str, encoder, corpus: Corpus, batch_size: int = 128, show_progress: bool = False) -> None:
        import faiss

        self.name, self.encoder, self.corpus, self.batch_size = name, encoder, corpus, batch_size
        docs = encoder.encode_document(corpus.texts, batch_size=batch_size, normalize_embeddings=True,
                                       show_progress_bar=show_progress)
        self.index = faiss.IndexFlatIP(docs.shape[1])
        self.index.add(np.ascontiguousarray(docs, dtype=np.float32))

    def rank(self, queries: Sequence[str], k: int) -> list[Ranking]:
        q = self.encoder.encode_query(list(queries), batch_size=self.batch_size, normalize_embeddings=True)
        scores, idx = self.index.search(np.ascontiguousarray(q, dtype=np.float32), min(k, len(self.corpus)))
        return [[(self.corpus.ids[i], float(s)) for i, s in zip(row_i, row_s, strict=True) if i >= 0]
                for row_i, row_s in zip(idx, scores, strict=True)]


class BM25System:
    """BM25 over Kiwi morphemes (the same tokenisation as mining and indexing)."""

    name = "bm25"

    def __init__(self, corpus: Corpus, workers: int = 0) -> None:
        from lex_dpr.retrieval.bm25 import BM25Index

        self.corpus, self.workers = corpus, workers
        self.index = BM25Index.from_texts(corpus.texts, workers=workers)

    def rank(self, queries: Sequence[str], k: int) -> list[Ranking]:
        from lex_dpr.retrieval.tokenize import tokenize_many

        hits = self.index.search(tokenize_many(list(queries), workers=self.workers), k)
        return [[(self.corpus.ids[i], float(s)) for i, s in zip(d, s, strict=True)] for d, s in hits]


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
        from lex_dpr.retrieval.bm25 import BM25Index

        self.positives = [p["positive_passages"] for p in train_pairs]
        self.neighbours, self.workers = neighbours, workers
        self.index = BM25Index.from_texts([p["query_text"] for p in train_pairs], workers=workers)

    def rank(self, queries: Sequence[str], k: int) -> list[Ranking]:
        from lex_dpr.retrieval.tokenize import tokenize_many

        out = []
        for rows, scores in self.index.search(tokenize_many(list(queries), workers=self.workers), self.neighbours):
            votes: dict[str, float] = defaultdict(float)
            for row, score in zip(rows, scores, strict=True):
                for pid in self.positives[row]:
                    votes[pid] += float(score)
            out.append(sorted(votes.items(), key=lambda kv: (-kv[1], kv[0]))[:k])
        return out


class FusionSystem:
    """Min-max normalised weighted sum of two systems' scores (``weight`` on the first)."""

    def __init__(self, first: System, second: System, weight: float, depth: int = 100) -> None:
        self.first, self.second, self.weight, self.depth = first, second, weight, depth
        self.name = f"{first.name}+{second.name} (w={weight:.2f})"

    def rank(self, queries: Sequence[str], k: int) -> list[Ranking]:
        a = self.first.rank(queries, self.depth)
        b = self.second.rank(queries, self.depth)
        return [fuse(x, y, self.weight)[:k] for x, y in zip(a, b, strict=True)]


def fuse(a: Ranking, b: Ranking, weight: float) -> Ranking:
    """Combine two rankings; a passage missing from one list scores 0 there.

    Example:
        >>> fuse([("x", 10.0), ("y", 0.0)], [("y", 1.0), ("x", 0.5), ("z", 0.0)], weight=0.5)
        [('x', 0.75), ('y', 0.5), ('z', 0.0)]
    """
    scores: dict[str, float] = defaultdict(float)
    for ranking, w in ((a, weight), (b, 1.0 - weight)):
        if not ranking:
            continue
        values = [s for _, s in ranking]
        lo, hi = min(values), max(values)
        for pid, s in ranking:
            scores[pid] += w * ((s - lo) / (hi - lo) if hi > lo else 1.0)
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


def choose_fusion_weight(first: System, second: System, pairs: Sequence[dict], seen: set[str] | None = None,
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
