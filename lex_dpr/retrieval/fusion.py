"""Hybrid retrieval: two rankings (dense and BM25) combined into one.

Three ways, as ``rag --retrieval`` names them:

- ``weighted``: min-max normalise each list's scores, then ``w·a + (1−w)·b``; the best fusion in published
  comparisons over the BEIR corpora, with ``w`` tuned on held-out queries.
- ``rrf``: reciprocal rank fusion, ``Σ 1/(k + rank)`` with ``k=60``; needs no tuning, ignores scores.
- ``independent``: the top ``k_a`` of one list and the top ``k_b`` of the other, merged without duplicates
  (3 + 3 contexts for an LLM).

With ``weighted``, statements (queries not asked as questions) can also get an *uncited bonus*
(:func:`boost`): a fixed amount added to the fused score of every passage no training pair cited. A trained
model ranks the passages its training pairs cited above ones it never saw as a positive, whatever the query
(the popularity it learnt, like a classifier's bias towards frequent classes); the bonus takes a fixed part of
that back (post-hoc logit adjustment, with the prior reduced to cited or not). ``rag tune`` chooses it with the
weight, on validation queries whose positives training saw and never saw as two equal halves.

Example:
    >>> a, b = [("x", 10.0), ("y", 0.0)], [("y", 1.0), ("x", 0.5), ("z", 0.0)]
    >>> fuse(a, b, weight=0.5)
    [('x', 0.75), ('y', 0.5), ('z', 0.0)]
    >>> [pid for pid, _ in rrf([a, b])]
    ['x', 'y', 'z']
    >>> [pid for pid, _ in independent(a, b, 1, 1)]  # x from a, then b's best that is not x
    ['x', 'y']
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Container, Sequence

from lex_dpr.errors import ConfigError
from lex_dpr.retrieval.base import Ranking, Retriever
from lex_dpr.utils.text import is_question

FUSION_METHODS = ("weighted", "rrf", "independent")


def fuse(a: Ranking, b: Ranking, weight: float) -> Ranking:
    """Min-max weighted fusion (``weight`` on ``a``); a passage missing from one list scores 0 there."""
    return sorted(_fused(a, b, weight).items(), key=_best_first)


def _fused(a: Ranking, b: Ranking, weight: float) -> dict[str, float]:
    scores: dict[str, float] = defaultdict(float)
    for ranking, w in ((a, weight), (b, 1.0 - weight)):
        if not ranking:
            continue
        values = [s for _, s in ranking]
        lo, hi = min(values), max(values)
        for pid, s in ranking:
            scores[pid] += w * ((s - lo) / (hi - lo) if hi > lo else 1.0)
    return scores


def _best_first(item: tuple[str, float]) -> tuple[float, str]:
    """The order of every fused list: the higher score first, the lower id on a tie."""
    return -item[1], item[0]


def boost(ranking: Ranking, cited: Container[str], bonus: float) -> Ranking:
    """``bonus`` added to the score of every passage not in ``cited``, the ranking sorted again.

    Example:
        >>> boost([("x", 1.0), ("y", 0.9)], cited={"x"}, bonus=0.2)
        [('y', 1.1), ('x', 1.0)]
    """
    if not bonus:
        return list(ranking)
    return sorted(((pid, s if pid in cited else s + bonus) for pid, s in ranking), key=_best_first)


def rrf(rankings: Sequence[Ranking], k: int = 60) -> Ranking:
    """Reciprocal rank fusion of any number of rankings (Cormack et al., 2009)."""
    scores: dict[str, float] = defaultdict(float)
    for ranking in rankings:
        for rank, (pid, _) in enumerate(ranking, start=1):
            scores[pid] += 1.0 / (k + rank)
    return sorted(scores.items(), key=_best_first)


def independent(a: Ranking, b: Ranking, k_a: int, k_b: int) -> Ranking:
    """The top ``k_a`` of ``a``, then ``b``'s best not already taken until ``k_b`` more; scores kept.

    When one list runs short (BM25 finds nothing for "What is a tort?"), the other fills the gap, so the
    result has ``k_a + k_b`` passages whenever the two lists hold that many.

    Example:
        >>> independent([("x", 1.0), ("y", 0.5)], [], 1, 1)
        [('x', 1.0), ('y', 0.5)]
    """
    out = list(a[:k_a])
    taken = {pid for pid, _ in out}
    extra = [(pid, s) for pid, s in b if pid not in taken][:k_b]
    out += extra
    want = k_a + k_b
    if len(out) < want:
        taken |= {pid for pid, _ in extra}
        out += [(pid, s) for pid, s in [*a[k_a:], *b] if pid not in taken and not taken.add(pid)][: want - len(out)]
    return out


class FusionRetriever:
    """Two retrievers' rankings fused by one of :data:`FUSION_METHODS`.

    Args:
        first, second: the retrievers (``weight`` is on ``first``; ``independent`` takes ``k_first`` from it).
        weight: for ``weighted``.
        method: ``weighted`` (default), ``rrf`` or ``independent``.
        depth: how deep each list is read before fusing.
        k_first: for ``independent``, how many of the ``k`` results come from ``first`` (default half, rounded up).
        uncited_bonus, cited: for ``weighted``, the bonus (:func:`boost`) a statement's fused passages get when
            they are not in ``cited`` (the passages training pairs cited); questions never get it.
    """

    def __init__(self, first: Retriever, second: Retriever, weight: float = 0.5, depth: int = 100,
                 method: str = "weighted", k_first: int | None = None, question_weight: float | None = None,
                 reranker=None, uncited_bonus: float = 0.0, cited: Container[str] | None = None) -> None:
        if method not in FUSION_METHODS:
            raise ConfigError(f"fusion method {method!r} is not one of {', '.join(FUSION_METHODS)}")
        self.first, self.second, self.weight, self.depth = first, second, weight, depth
        self.method, self.k_first, self.question_weight = method, k_first, question_weight
        self.uncited_bonus = uncited_bonus if cited is not None and method == "weighted" else 0.0
        self.cited = cited
        self.reranker = reranker  # reorders the fused candidates of the queries it applies to (rerank.QuestionReranker)
        detail = f"w={weight:.2f}" if method == "weighted" else method
        if method == "weighted" and question_weight is not None:
            detail += f", questions w={question_weight:.2f}"
        if self.uncited_bonus:
            detail += f", uncited +{self.uncited_bonus:.2f}"
        if reranker is not None:
            detail += ", questions reranked"
        self.name = f"{first.name}+{second.name} ({detail})"

    def rank(self, queries: Sequence[str], k: int) -> list[Ranking]:
        depth = max(self.depth, k)
        a = self.first.rank(queries, depth)
        b = self.second.rank(queries, depth)
        return [self.combine_for(q, x, y, k) for q, x, y in zip(queries, a, b, strict=True)]

    def combine_for(self, query: str, a: Ranking, b: Ranking, k: int) -> Ranking:
        """``query``'s two lists fused (with its weight), then reranked when the reranker applies to it."""
        weight = self.weight_for(query)
        bonus = self.bonus_for(query)
        if self.reranker is None or not self.reranker.applies(query):
            return self.combine(a, b, k, weight, bonus)
        fused = self.combine(a, b, max(k, self.reranker.candidates), weight, bonus)
        return self.reranker.rerank(query, a, b, fused)[:k]

    def weight_for(self, query: str) -> float:
        """``question_weight`` for a query asked as a question (when set), else ``weight``."""
        if self.question_weight is not None and is_question(query):
            return self.question_weight
        return self.weight

    def bonus_for(self, query: str) -> float:
        """The uncited bonus for a statement; 0 for a query asked as a question."""
        return self.uncited_bonus if self.uncited_bonus and not is_question(query) else 0.0

    def combine(self, a: Ranking, b: Ranking, k: int, weight: float | None = None, bonus: float = 0.0) -> Ranking:
        if self.method == "weighted":  # fuse, then boost, then the top k: one partial sort (what they would give)
            scores = _fused(a, b, self.weight if weight is None else weight)
            if bonus and self.cited is not None:
                cited = self.cited
                scores = {pid: s if pid in cited else s + bonus for pid, s in scores.items()}
            return heapq.nsmallest(k, scores.items(), key=_best_first)
        if self.method == "rrf":
            return rrf([a, b])[:k]
        k_a = min(self.k_first, k) if self.k_first is not None else (k + 1) // 2
        return independent(a, b, k_a, k - k_a)
