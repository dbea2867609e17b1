"""The one Korean tokenisation lex-dpr uses for BM25: hard-negative mining, baselines and indexing.

Content morphemes from Kiwi (nouns, verb/adjective stems, roots, foreign words, numbers),
particles and endings dropped. Tokenising is the slow part of mining, so texts go through
Kiwi once, in parallel, and callers reuse the token lists.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

# Kiwi POS tags kept: nouns (NN*), stems (VV/VA), roots (XR), foreign/Hanja/number (SL/SH/SN), prefixes/suffixes
# that carry meaning (XSN is dropped: 들/님 add noise).
KEPT_TAGS = ("NNG", "NNP", "NNB", "NR", "NP", "VV", "VA", "XR", "SL", "SH", "SN", "MAG")


@lru_cache(maxsize=4)
def _kiwi(num_workers: int):
    from kiwipiepy import Kiwi

    return Kiwi(num_workers=num_workers)


# Kiwi's search cost grows with text length; sentence-sized pieces are faster and parallelise
# better (bench/bench_mining.py: ~1.6x on law passages), and the morphemes are the same.
_PIECES = re.compile(r"(?<=다\.)\s+|(?<=[.?!])\s+(?=\d+\.|[가-힣]\.)|\n+")
_OPTIONS = {"z_coda": False, "split_complex": False}


def _morphs(tokens) -> list[str]:
    return [t.form for t in tokens if t.tag in KEPT_TAGS or t.tag.startswith("NN")]


def tokenize(text: str) -> list[str]:
    """Content morphemes of one text.

    Example:
        >>> tokenize("고의 또는 과실로 인한 위법행위로 타인에게 손해를 가한 자는")  # doctest: +ELLIPSIS
        ['고의', '과실', '인하', '위법', '행위', '타인', '손해', '가하', ...]
    """
    return tokenize_many([text], workers=1)[0]


def tokenize_many(texts: Sequence[str], workers: int = 0) -> list[list[str]]:
    """Tokenise many texts with Kiwi's own thread pool (``workers`` = 0: all cores)."""
    if not texts:
        return []
    pieces: dict[str, int] = {}
    layout: list[list[int]] = []
    for text in texts:
        layout.append([pieces.setdefault(p, len(pieces)) for p in _PIECES.split(text) if p and not p.isspace()])
    kiwi = _kiwi(workers if workers > 0 else -1)
    morphs = [_morphs(tokens) for tokens in kiwi.tokenize(list(pieces), **_OPTIONS)]
    return [[m for i in ids for m in morphs[i]] for ids in layout]
