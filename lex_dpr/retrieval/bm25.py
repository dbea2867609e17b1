"""BM25 over Kiwi morphemes, backed by bm25s (sparse matrices, batched retrieval)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lex_dpr.retrieval.tokenize import tokenize_many


class BM25Index:
    """A BM25 index over pre-tokenised documents.

    Args:
        doc_tokens: one token list per document (from :func:`tokenize_many`).
        k1, b: BM25 parameters.
        method: a bm25s scoring variant ("lucene" by default; "robertson" is the
            rank-bm25 BM25Okapi formula).

    Example:
        >>> index = BM25Index([["민법", "손해", "배상"], ["형법", "사기"]])
        >>> docs, scores = index.search([["손해", "배상"]], k=1)[0]
        >>> docs.tolist()
        [0]
    """

    def __init__(self, doc_tokens: Sequence[Sequence[str]], k1: float = 1.5, b: float = 0.75,
                 method: str = "lucene") -> None:
        import bm25s

        self.size = len(doc_tokens)
        self._bm25 = bm25s.BM25(k1=k1, b=b, method=method)
        self._bm25.index([list(t) for t in doc_tokens], show_progress=False)

    @classmethod
    def from_texts(cls, texts: Sequence[str], workers: int = 0, **kwargs) -> BM25Index:
        return cls(tokenize_many(texts, workers=workers), **kwargs)

    def search(self, query_tokens: Sequence[Sequence[str]], k: int,
               n_threads: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
        """Top-``k`` (doc indices, scores) per query, best first; zero-score hits dropped."""
        if not query_tokens or self.size == 0:
            return [(np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)) for _ in query_tokens]
        k = min(k, self.size)
        docs, scores = self._bm25.retrieve([list(q) or [""] for q in query_tokens], k=k,
                                           show_progress=False, n_threads=n_threads)
        out = []
        for d, s in zip(docs, scores, strict=True):
            keep = s > 0
            out.append((d[keep].astype(np.int64), s[keep]))
        return out
