"""What every retriever returns: for each query, (passage id, score) pairs, best first.

Example:
    >>> class Fixed:
    ...     name = "fixed"
    ...     def rank(self, queries, k):
    ...         return [[("LAW_1_제1조", 1.0)][:k] for _ in queries]
    >>> isinstance(Fixed(), Retriever)
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

Ranking = list[tuple[str, float]]


@runtime_checkable
class Retriever(Protocol):
    """Anything that ranks passages for queries: BM25, a dense index, a fusion of two, a baseline."""

    name: str

    def rank(self, queries: Sequence[str], k: int) -> list[Ranking]: ...
