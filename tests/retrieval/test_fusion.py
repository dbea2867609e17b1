"""lex_dpr.retrieval.fusion: weighted (min-max), reciprocal rank and independent fusion, and FusionRetriever."""

import pytest

from lex_dpr.errors import ConfigError
from lex_dpr.retrieval.base import Retriever
from lex_dpr.retrieval.fusion import FusionRetriever, fuse, independent, rrf

A = [("p", 0.9), ("q", 0.5), ("r", 0.1)]
B = [("q", 3.0), ("s", 2.0), ("t", 1.0)]


def _same(got, want):
    assert [pid for pid, _ in got] == [pid for pid, _ in want]
    assert [s for _, s in got] == pytest.approx([s for _, s in want], abs=1e-12)


def test_fusion_normalises_each_list():
    assert fuse([("a", 3.0), ("b", 1.0)], [("b", 2.0), ("c", 0.0)], 0.5) == [("a", 0.5), ("b", 0.5), ("c", 0.0)]
    assert fuse([("a", 3.0), ("b", 1.0)], [("b", 2.0), ("c", 0.0)], 1.0)[0] == ("a", 1.0)
    # p: 0.7·1; q: 0.7·0.5 + 0.3·1; s: 0.3·0.5; r and t: 0
    _same(fuse(A, B, 0.7), [("p", 0.7), ("q", 0.65), ("s", 0.15), ("r", 0.0), ("t", 0.0)])
    assert fuse([("a", 5.0), ("b", 5.0)], [], 0.5) == [("a", 0.5), ("b", 0.5)]  # equal scores: all 1; empty list: 0


def test_rrf_sums_reciprocal_ranks_and_ignores_scores():
    # k=60: q is 2nd in A and 1st in B; p 1st in A only; s 2nd in B only; r 3rd in A only; t 3rd in B only
    _same(rrf([A, B]), [("q", 1 / 62 + 1 / 61), ("p", 1 / 61), ("s", 1 / 62), ("r", 1 / 63), ("t", 1 / 63)])
    _same(rrf([A, B], k=1), [("q", 1 / 3 + 1 / 2), ("p", 1 / 2), ("s", 1 / 3), ("r", 1 / 4), ("t", 1 / 4)])
    rescored = [[(pid, -100.0 * i) for i, (pid, _) in enumerate(r)] for r in (A, B)]
    assert rrf(rescored) == rrf([A, B])  # only the ranks count
    _same(rrf([A, B, [("t", 0.0)]]), [("q", 1 / 62 + 1 / 61), ("t", 1 / 63 + 1 / 61), ("p", 1 / 61), ("s", 1 / 62),
                                      ("r", 1 / 63)])
    assert rrf([[("b", 1.0)], [("a", 1.0)]]) == [("a", 1 / 61), ("b", 1 / 61)]  # a tie goes by id
    assert rrf([]) == [] and rrf([[], []]) == []


def test_independent_takes_the_top_of_each_without_duplicates():
    assert independent(A, B, 2, 2) == [("p", 0.9), ("q", 0.5), ("s", 2.0), ("t", 1.0)]  # B's q is taken already
    assert independent(A, B, 1, 1) == [("p", 0.9), ("q", 3.0)]
    assert independent(A, B, 0, 2) == [("q", 3.0), ("s", 2.0)]
    assert independent(A, B, 2, 0) == [("p", 0.9), ("q", 0.5)]
    assert independent(A, B, 5, 1) == [*A, ("s", 2.0), ("t", 1.0)]  # A runs short: B fills the gap
    assert independent(A, B, 3, 5) == [*A, ("s", 2.0), ("t", 1.0)]  # both run out
    assert independent(A, [], 1, 2) == A  # BM25 found nothing: dense fills all k


class _Fixed:
    """A retriever with one fixed ranking per query text; records the k it was asked for."""

    def __init__(self, name, rankings):
        self.name, self.rankings, self.asked = name, rankings, []

    def rank(self, queries, k):
        self.asked.append(k)
        return [self.rankings[q][:k] for q in queries]


def _pair():
    first = _Fixed("dense", {"q1": A, "q2": [("x", 1.0), ("y", 0.0)]})
    second = _Fixed("bm25", {"q1": B, "q2": [("y", 4.0), ("z", 2.0), ("x", 0.0)]})
    return first, second


def test_fusion_retriever_weighted():
    first, second = _pair()
    fused = FusionRetriever(first, second, weight=0.7, depth=20)
    assert isinstance(fused, Retriever) and fused.name == "dense+bm25 (w=0.70)"
    q1, q2 = fused.rank(["q1", "q2"], 3)
    _same(q1, [("p", 0.7), ("q", 0.65), ("s", 0.15)])
    _same(q2, [("x", 0.7), ("y", 0.3), ("z", 0.15)])  # each query's two lists are fused together
    assert first.asked == second.asked == [20]  # both lists read to `depth` before the cut to k
    assert FusionRetriever(first, second, depth=2).rank(["q1"], 4)[0][0][0] == "q"  # depth is at least k
    assert first.asked[-1] == 4


def test_fusion_retriever_rrf():
    first, second = _pair()
    fused = FusionRetriever(first, second, weight=0.9, method="rrf")  # the weight plays no part
    assert fused.name == "dense+bm25 (rrf)"
    q1, q2 = fused.rank(["q1", "q2"], 3)
    _same(q1, [("q", 1 / 62 + 1 / 61), ("p", 1 / 61), ("s", 1 / 62)])
    _same(q2, [("y", 1 / 62 + 1 / 61), ("x", 1 / 61 + 1 / 63), ("z", 1 / 62)])


def test_fusion_retriever_independent():
    first, second = _pair()
    fused = FusionRetriever(first, second, method="independent")
    assert fused.name == "dense+bm25 (independent)"
    assert fused.rank(["q1"], 3) == [[("p", 0.9), ("q", 0.5), ("s", 2.0)]]  # ceil(3/2) = 2 from first, 1 from second
    assert fused.rank(["q1"], 4) == [[("p", 0.9), ("q", 0.5), ("s", 2.0), ("t", 1.0)]]
    one = FusionRetriever(first, second, method="independent", k_first=1)
    assert one.rank(["q1", "q2"], 3) == [[("p", 0.9), ("q", 3.0), ("s", 2.0)], [("x", 1.0), ("y", 4.0), ("z", 2.0)]]
    assert FusionRetriever(first, second, method="independent", k_first=0).rank(["q1"], 2) == [B[:2]]


def test_unknown_fusion_method_is_a_config_error():
    with pytest.raises(ConfigError, match=r"fusion method 'max' is not one of weighted, rrf, independent"):
        FusionRetriever(*_pair(), method="max")


def test_the_uncited_bonus_lifts_a_statements_uncited_passages_and_never_a_questions():
    question = "q1 이면 어떻게 되나요?"  # asked as a question (utils.text.is_question)
    first = _Fixed("dense", {"q1": A, question: A})
    second = _Fixed("bm25", {"q1": B, question: B})
    plain = FusionRetriever(first, second, weight=0.7)
    bonus = FusionRetriever(first, second, weight=0.7, uncited_bonus=0.1, cited={"p", "q"})
    assert bonus.name == "dense+bm25 (w=0.70, uncited +0.10)"
    # fused without it: p 0.7, q 0.65, s 0.15, r 0.0, t 0.0; s, r and t were never cited
    _same(bonus.rank(["q1"], 4)[0], [("p", 0.7), ("q", 0.65), ("s", 0.25), ("r", 0.1)])
    lifted = FusionRetriever(first, second, weight=0.7, uncited_bonus=0.3, cited={"p"})
    assert [pid for pid, _ in lifted.rank(["q1"], 3)[0]] == ["q", "p", "s"]  # q 0.95 passes p 0.7
    assert lifted.rank([question], 3) == plain.rank([question], 3)  # a question: no bonus
    # no cited set, or another fusion method: no bonus at all
    assert FusionRetriever(first, second, weight=0.7, uncited_bonus=0.3).rank(["q1"], 3) == plain.rank(["q1"], 3)
    rrf_bonus = FusionRetriever(first, second, method="rrf", uncited_bonus=0.3, cited={"p"})
    assert rrf_bonus.uncited_bonus == 0.0 and rrf_bonus.name == "dense+bm25 (rrf)"
