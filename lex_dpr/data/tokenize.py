"""The one Korean tokenisation lex-dpr uses: BM25 (hard-negative mining, baselines, indexing, questions) and the
static model that reads morphemes (``model.text_form``, :mod:`lex_dpr.models.morphemes`).

Content morphemes from Kiwi (nouns, verb/adjective stems, roots, general adverbs, foreign words,
numbers), particles, endings and affixes dropped. Tokenising is the slow part of mining, so texts go through
Kiwi once, in parallel, and callers reuse the token lists.
"""

from __future__ import annotations

import re
from sys import intern
from collections.abc import Sequence
from functools import lru_cache

# Kiwi POS tags kept: nouns and pronouns (NN*, NR, NP), stems (VV/VA), roots (XR), foreign/Hanja/number
# (SL/SH/SN) and general adverbs (MAG: 또는/다만 mark how a provision reads). Suffixes such as XSN (들/님) add noise.
KEPT_TAGS = ("NNG", "NNP", "NNB", "NR", "NP", "VV", "VA", "XR", "SL", "SH", "SN", "MAG")


# Kiwi's beam cutoff (default 8.0). 4.0 tokenises 1.36x faster (29.3 s vs 39.9 s on the shared mining
# texts); 11% of texts get other morphemes, and BM25 over them retrieves as well (valid R@10 0.6154 vs
# 0.6138, MRR 0.5819 vs 0.5816; bench/bench_kiwi.py).
CUTOFF_THRESHOLD = 4.0


def settings_key() -> str:
    """12 hex characters naming what decides the morphemes (Kiwi's version, the tags kept, options, pieces,
    cutoff): token caches, index manifests and models that read morphemes record it."""
    from importlib.metadata import version

    from lex_dpr.utils.hashing import sha1_hex

    raw = (f"{version('kiwipiepy')}|{KEPT_TAGS}|{_OPTIONS}|{_PIECES.pattern}|nodicts|{CUTOFF_THRESHOLD}"
           "|irregular-stems")
    return sha1_hex(raw, 12)


@lru_cache(maxsize=4)
def _kiwi(num_workers: int):
    from kiwipiepy import Kiwi

    # The typo and multi-word dictionaries cost 5% speed and changed 0.1% of texts, with the same
    # BM25 R@10 (bench/bench_kiwi.py).
    kiwi = Kiwi(num_workers=num_workers, load_typo_dict=False, load_multi_dict=False)
    kiwi.global_config.cutoff_threshold = CUTOFF_THRESHOLD
    return kiwi


# Kiwi's search cost grows with text length: sentence-sized pieces tokenise 1.13x faster than
# whole texts and retrieve as well (R@10 0.6154 vs 0.6147; bench/bench_kiwi.py).
_PIECES = re.compile(r"(?<=다\.)\s+|(?<=[.?!])\s+(?=\d+\.|[가-힣]\.)|\n+")
_OPTIONS = {"z_coda": False, "split_complex": False}


def _morphs(tokens) -> list[str]:
    # Kiwi tags irregular stems VV-I/VA-I/VV-R/VA-R (줍다, 듣다, 어렵다): kept as their base tag is.
    return [intern(t.form) for t in tokens if t.tag.partition("-")[0] in KEPT_TAGS or t.tag.startswith("NN")]


def tokenize(text: str) -> list[str]:
    """Content morphemes of one text.

    Example:
        >>> tokenize("고의 또는 과실로 인한 위법행위로 타인에게 손해를 가한 자는")
        ['고의', '또는', '과실', '인하', '위법', '행위', '타인', '손해', '가하', '자']
        >>> tokenize("길에서 지갑을 주웠어요")  # irregular stems too (줍다: VV-I)
        ['길', '지갑', '줍']
    """
    return tokenize_many([text], workers=1)[0]


def tokenize_many(texts: Sequence[str], workers: int = 0, cache=None, chunk: int = 4000,
                  show_progress: bool = False) -> list[list[str]]:
    """Tokenise many texts with Kiwi's own thread pool (``workers`` = 0: all cores).

    With a :class:`~lex_dpr.retrieval.token_cache.TokenCache`, cached texts skip Kiwi and new ones are
    tokenised in chunks of ``chunk`` and appended to the cache as they finish (resumable).
    """
    if not texts:
        return []
    if cache is None:
        if len(texts) > _MEMO_BATCH:
            return _tokenize(texts, workers)
        # each remembered entry is read once, here: another thread (serve's lanes) may empty the memo meanwhile
        hits = {t: v for t in dict.fromkeys(texts) if (v := _MEMO.get(t)) is not None}
        missing = [t for t in dict.fromkeys(texts) if t not in hits]
        found = dict(zip(missing, _tokenize(missing, workers, remember=True), strict=True)) if missing else {}
        result = [list(found[t] if t in found else hits[t]) for t in texts]
        if found:  # after the lookups: a full memo is emptied, and it may hold this batch's other texts
            if len(_MEMO) + len(found) > _MEMO_SIZE:
                _MEMO.clear()
            _MEMO.update(found)
        return result
    from lex_dpr.utils.progress import track

    result = cache.get_many(texts)
    missing = list(dict.fromkeys(t for t, r in zip(texts, result, strict=True) if r is None))
    starts = range(0, len(missing), chunk)
    for start in track(starts, "kiwi", total=len(starts), enabled=show_progress and len(starts) > 1):
        part = missing[start: start + chunk]
        cache.add(part, _tokenize(part, workers))
    return [r if r is not None else cache.get_many([t])[0] for t, r in zip(texts, result, strict=True)]


# A question is tokenised by the lexicon, BM25 and the reranker's features: small batches (one `rag ask`, a
# `rag batch` chunk) are remembered, so each text goes through Kiwi once; so are their pieces (lines,
# sentences), which Kiwi reads one by one: a question expanded by lexicon terms on a line of their own
# (`Lexicon.expand`) sends only that line to Kiwi.
_MEMO: dict[str, list[str]] = {}
_PIECE_MEMO: dict[str, list[str]] = {}
_MEMO_BATCH, _MEMO_SIZE = 512, 20_000


_THREADS = [0]  # Kiwi's threads when a caller passes workers=0 (0: every core); see use_threads


def use_threads(n: int) -> None:
    """Kiwi's threads for this process where callers leave them to it (``workers=0``): a `rag batch` worker, one of
    N processes on the machine, takes its share of the cores instead of all of them (0: every core)."""
    _THREADS[0] = max(0, int(n))


def _tokenize(texts: Sequence[str], workers: int, remember: bool = False) -> list[list[str]]:
    pieces: dict[str, int] = {}
    layout: list[list[int]] = []
    for text in texts:
        layout.append([pieces.setdefault(p, len(pieces)) for p in _PIECES.split(text) if p and not p.isspace()])
    memo = _PIECE_MEMO if remember else {}
    known = {p: v for p in pieces if (v := memo.get(p)) is not None}  # read once: another thread may empty it
    new = [p for p in pieces if p not in known]
    found: dict[str, list[str]] = {}
    if new:
        kiwi = _kiwi(workers if workers > 0 else _THREADS[0] or -1)
        found = dict(zip(new, (_morphs(tokens) for tokens in kiwi.tokenize(new, **_OPTIONS)), strict=True))
    morphs = [found[p] if p in found else known[p] for p in pieces]
    if remember and found:  # after the lookups: a full memo is emptied, and it may hold this batch's known pieces
        if len(_PIECE_MEMO) + len(found) > _MEMO_SIZE:
            _PIECE_MEMO.clear()
        _PIECE_MEMO.update(found)
    return [[m for i in ids for m in morphs[i]] for ids in layout]
