"""Deterministic grouped splits: no precedent and no normalised query text in two splits."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence

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
