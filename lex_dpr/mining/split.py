"""Deterministic grouped splits: no precedent and no normalised query text in two splits.

Besides train/valid/test (:func:`grouped_split`), :func:`article_heldout_split` takes out a held-out
split grouped by positive article: its articles are never a positive of any other split.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from lex_dpr.utils.hashing import blake2b_digest
from lex_dpr.utils.text import normalize_query


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def split_groups(pairs: Sequence[dict]) -> dict[str, list[int]]:
    """Connected components of pairs that share a precedent or a normalised query text."""
    uf = _UnionFind()
    for p in pairs:
        uf.union("P:" + p["meta"]["prec_id"], "Q:" + normalize_query(p["query_text"]))
    groups: dict[str, list[int]] = defaultdict(list)
    for i, p in enumerate(pairs):
        groups[uf.find("P:" + p["meta"]["prec_id"])].append(i)
    return groups


def grouped_split(pairs: Sequence[dict], valid_ratio: float, test_ratio: float = 0.0,
                  seed: int = 42) -> tuple[list[dict], list[dict], list[dict]]:
    """Split pairs into (train, valid, test) by whole groups, the same way for the same seed.

    Example:
        >>> pairs = [{"query_text": f"쟁점 {i % 5}", "meta": {"prec_id": str(i)}} for i in range(20)]
        >>> train, valid, test = grouped_split(pairs, 0.2, seed=1)
        >>> len(train) + len(valid) == 20 and not test
        True
    """
    groups = split_groups(pairs)
    keys = sorted(groups)
    random.Random(seed).shuffle(keys)
    n = len(pairs)
    want_valid, want_test = round(n * valid_ratio), round(n * test_ratio)
    valid_idx: list[int] = []
    test_idx: list[int] = []
    train_idx: list[int] = []
    for key in keys:
        members = groups[key]
        if len(test_idx) < want_test:
            test_idx.extend(members)
        elif len(valid_idx) < want_valid:
            valid_idx.extend(members)
        else:
            train_idx.extend(members)
    pick = lambda idx: [pairs[i] for i in sorted(idx)]
    return pick(train_idx), pick(valid_idx), pick(test_idx)


def is_heldout_article(article: str, ratio: float, seed: int) -> bool:
    """Whether ``article`` is held out at ``ratio`` for ``seed``: a stable hash of (seed, article id), not a shuffle.

    The answer depends on the seed and the article's own id alone, so adding precedents or laws moves no
    article in or out, a smaller ratio holds out a subset of a larger one, and a model trained at one data
    version never saw the held-out articles of another (same seed and ratio). The share is ``ratio`` in
    expectation, not exactly.

    Example:
        >>> ids = [f"LAW_000001_제{i}조" for i in range(1, 2001)]
        >>> held = [a for a in ids if is_heldout_article(a, 0.1, seed=42)]
        >>> 150 < len(held) < 250, set(held) <= {a for a in ids if is_heldout_article(a, 0.2, seed=42)}
        (True, True)
    """
    digest = blake2b_digest(f"{seed}\x00{article}", 8)
    return int.from_bytes(digest, "big") < ratio * 2**64


@dataclass
class HeldOutSplit:
    """What :func:`article_heldout_split` returns; every list keeps the input order."""

    kept: list[dict]  # for train/valid/test
    heldout: list[dict]  # every pair with a held-out article among its positives
    dropped: list[dict]  # shares a precedent or a normalised query with a held-out pair
    articles: set[str]  # every article among the positives (fallback pairs have none)
    held: set[str]  # the held-out ones


def article_heldout_split(pairs: Sequence[dict], articles: Sequence[set[str]], ratio: float,
                          seed: int) -> HeldOutSplit:
    """Take out every pair citing a held-out article, and drop the pairs that share its precedent or query.

    ``articles[i]`` holds the article ids of ``pairs[i]``'s positives (empty for a pair whose positives are
    not articles, e.g. precedent-as-passage fallback pairs: they are never held out). A pair whose positives
    mix held-out and kept articles is held out. A pair sharing a precedent or a normalised query text with a
    held-out pair is dropped, not kept, so no precedent and no query is in two splits (what ``validate``
    checks). Hard negatives are left as they are: a kept pair may have a held-out article among its
    negatives; that teaches the model nothing about which queries it answers.

    Example:
        >>> pairs = [{"query_text": f"쟁점 {i}", "meta": {"prec_id": str(i // 2)}} for i in range(6)]
        >>> arts = [{"A"}, {"B"}, {"C", "D"}, {"C"}, set(), {"E"}]
        >>> s = article_heldout_split(pairs, arts, 0.2, seed=7)  # D: 쟁점 2 (C and D) out, 쟁점 3 (its precedent) dropped
        >>> s.held, [p["query_text"] for p in s.heldout], [p["query_text"] for p in s.dropped], len(s.kept)
        ({'D'}, ['쟁점 2'], ['쟁점 3'], 4)
    """
    every = set().union(*articles) if articles else set()
    held = {a for a in every if is_heldout_article(a, ratio, seed)}
    out = [i for i, arts in enumerate(articles) if arts & held]
    precs = {pairs[i]["meta"]["prec_id"] for i in out}
    queries = {normalize_query(pairs[i]["query_text"]) for i in out}
    taken = set(out)
    dropped = [i for i, p in enumerate(pairs) if i not in taken and
               (p["meta"]["prec_id"] in precs or normalize_query(p["query_text"]) in queries)]
    gone = taken | set(dropped)
    kept = [p for i, p in enumerate(pairs) if i not in gone]
    return HeldOutSplit(kept, [pairs[i] for i in out], [pairs[i] for i in dropped], every, held)
