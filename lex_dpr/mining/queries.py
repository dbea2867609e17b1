"""Training queries from a precedent: its 판시사항 items (판결요지 items when 판시사항 is missing)."""

from __future__ import annotations

from dataclasses import dataclass

from lex_dpr.data.sources.precedents import Precedent
from lex_dpr.utils.text import split_numbered_items


@dataclass(frozen=True)
class Query:
    """One query with the [n] labels that tie it to its group of 참조조문."""

    id: str
    text: str
    labels: tuple[int, ...]
    source: str  # "판시사항" or "판결요지"


def precedent_queries(prec: Precedent, min_chars: int = 10) -> list[Query]:
    """Split 판시사항 (or 판결요지) into numbered items; each whole item is one query.

    Items are never truncated and nothing is appended to them; items shorter than
    ``min_chars`` (stray labels, empty brackets) are skipped.

    Example:
        >>> from lex_dpr.data.sources.precedents import read_precedent
        >>> p = read_precedent({"판례일련번호": "7", "판시사항": "[1] 불법행위의 성립 요건<br/>[2] 손해배상의 범위"})
        >>> [(q.id, q.labels) for q in precedent_queries(p, min_chars=5)]
        [('PREC_7_Q1', (1,)), ('PREC_7_Q2', (2,))]
    """
    source, text = ("판시사항", prec.holdings) if prec.holdings.strip() else ("판결요지", prec.summary)
    queries = []
    for i, (labels, item) in enumerate(split_numbered_items(text), start=1):
        if len(item) >= min_chars:
            queries.append(Query(f"PREC_{prec.id}_Q{i}", item, labels, source))
    return queries
