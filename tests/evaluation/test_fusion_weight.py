"""choose_fusion_weight: the weight with the best NDCG@10, seen and unseen queries counting as equal halves."""

import math

import pytest

from lex_dpr.evaluation.metrics import ndcg_at_k
from lex_dpr.evaluation.systems import choose_fusion_weight
from lex_dpr.retrieval.fusion import fuse

# Ten "seen" queries: `first` ranks the positive 1st, `second` ranks a distractor 1st and the positive 2nd.
# Their scores put the positive on top of the fused list once the weight on `first` passes THRESHOLDS[i].
THRESHOLDS = [0.05, 0.15, 0.25, 0.35, 0.45, 0.55, 0.65, 0.75, 0.85, 0.95]
# One "unseen" query: `second` ranks the positive 1st, `first` puts nine distractors above it; fused, the
# positive is 1st while the weight is below 0.25, then 10th.
UNSEEN_THRESHOLD = 0.25
FILLER = [("zzz-filler", 0.0)]  # pins each list's minimum at 0; last in every tie


def _seen_query(i: int, t: float):
    """Normalised scores: pos = w + (1-w)·β, distractor = w·α + (1-w); pos wins iff w/(1-w) > (1-β)/(1-α)."""
    alpha, beta = (0.0, (1 - 2 * t) / (1 - t)) if t <= 0.5 else ((2 * t - 1) / t, 0.0)
    pos, dis = f"pos-seen-{i}", f"dis-seen-{i}"
    return ({"query_text": f"seen {i}", "positive_passages": [pos]},
            [(pos, 1.0), (dis, alpha), *FILLER], [(dis, 1.0), (pos, beta), *FILLER])


def _unseen_query():
    """pos = 1-w, each distractor = w + (1-w)·δ; pos wins iff w/(1-w) < 1-δ."""
    t = UNSEEN_THRESHOLD
    delta = 1 - t / (1 - t)
    distractors = [f"dis-unseen-{j}" for j in range(9)]
    return ({"query_text": "unseen", "positive_passages": ["pos-unseen"]},
            [*((d, 1.0) for d in distractors), ("pos-unseen", 0.0)],
            [("pos-unseen", 1.0), *((d, delta) for d in distractors), *FILLER])


class _Fixed:
    def __init__(self, name, rankings):
        self.name, self.rankings = name, rankings

    def rank(self, queries, k):
        return [self.rankings[q][:k] for q in queries]


@pytest.fixture
def setup():
    rows = [_seen_query(i, t) for i, t in enumerate(THRESHOLDS)] + [_unseen_query()]
    pairs = [r[0] for r in rows]
    first = _Fixed("first", {p["query_text"]: a for p, a, _ in rows})
    second = _Fixed("second", {p["query_text"]: b for p, _, b in rows})
    seen = {pid for p in pairs[:-1] for pid in p["positive_passages"]}
    return first, second, pairs, seen


def test_the_construction_does_what_it_says(setup):
    first, second, pairs, _ = setup
    queries = [p["query_text"] for p in pairs]
    for w in (0.0, 0.1, 0.2, 0.3, 0.5, 0.9, 1.0):
        ranks = []
        for p, a, b in zip(pairs, first.rank(queries, 100), second.rank(queries, 100), strict=True):
            ranked = [pid for pid, _ in fuse(a, b, w)]
            ranks.append(ranked.index(p["positive_passages"][0]) + 1)
        assert ranks[:-1] == [1 if w > t else 2 for t in THRESHOLDS], w
        assert ranks[-1] == (1 if w < UNSEEN_THRESHOLD else 10), w


def _mean_ndcg(first, second, pairs, w):
    queries = [p["query_text"] for p in pairs]
    return [ndcg_at_k([pid for pid, _ in fuse(a, b, w)], set(p["positive_passages"]), 10)
            for p, a, b in zip(pairs, first.rank(queries, 100), second.rank(queries, 100), strict=True)]


def test_without_seen_every_query_counts_once(setup):
    first, second, pairs, _ = setup
    # w=1.0: ten seen queries at rank 1, the unseen one at rank 10: (10 + 1/log2(11)) / 11 = 0.935, the best;
    # w=0.2: (2 + 8·1/log2(3) + 1) / 11 = 0.731
    scores = {w: sum(_mean_ndcg(first, second, pairs, w)) / len(pairs) for w in (0.2, 0.9, 1.0)}
    assert scores[1.0] == pytest.approx((10 + 1 / math.log2(11)) / 11) and scores[1.0] > scores[0.9] > scores[0.2]
    assert choose_fusion_weight(first, second, pairs) == 1.0


def test_seen_and_unseen_queries_weigh_as_two_halves(setup):
    first, second, pairs, seen = setup
    # w=0.2: seen half (2 + 8/log2(3)) / 10 = 0.705, unseen half 1: 0.852, the best;
    # w=1.0: seen half 1, unseen half 1/log2(11) = 0.289: 0.645; w=0.1: (0.668 + 1) / 2 = 0.834
    assert choose_fusion_weight(first, second, pairs, seen=seen) == 0.2
    # one group only (all seen, or none seen): the plain mean again
    everything = seen | {"pos-unseen"}
    assert choose_fusion_weight(first, second, pairs, seen=everything) == 1.0
    assert choose_fusion_weight(first, second, pairs, seen=set()) == 1.0
    # a query is seen only when all its positives are
    mixed = [*pairs[:-1], {**pairs[-1], "positive_passages": ["pos-unseen", "pos-seen-0"]}]
    assert choose_fusion_weight(first, second, mixed, seen=seen | {"pos-seen-0"}) == 0.2


def test_the_grid_bounds_the_choice(setup):
    first, second, pairs, seen = setup
    assert choose_fusion_weight(first, second, pairs, seen=seen, grid=(0.0, 0.5, 1.0)) == 0.0
    assert choose_fusion_weight(first, second, pairs, grid=(0.3, 0.6)) == 0.6
