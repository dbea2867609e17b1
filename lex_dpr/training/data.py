"""Pairs and passages → the (query, positive, negative_1..n) columns the trainer reads.

Every example also carries a ``label`` row of passage indices (its own columns, then all positives of its
query) so the loss can mask in-batch passages that are in fact positives of the query.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass

from lex_dpr.data.corpus import Corpus, read_pairs
from lex_dpr.errors import InputError

@dataclass
class Examples:
    columns: dict[str, list]  # query, positive, negative_1..n, label
    n_negatives: int


def build_examples(pairs: list[dict], corpus: Corpus, n_negatives: int, multiply: int, seed: int,
                   extra: list[tuple[str, str, int]] | None = None, hard_ratio: float = 1.0,
                   max_per_positive: int | None = None) -> Examples:
    """One row per (query, positive) × ``multiply``, each with ``n_negatives`` negative passages.

    ``hard_ratio`` of those negatives, over the whole set, are mined hard negatives (the pair's
    ``hard_negatives``); the rest are random passages (never a positive of the query). Row ``t`` gets
    ``floor((t+1)·r·n) − floor(t·r·n)`` mined ones, so the share is exact and needs no randomness.
    In the loss each query is scored against its own row's negatives and every other row's passages
    in the batch; ``hard_ratio`` sets how hard its explicit negatives are.

    Mined negatives rotate through the list so repeated rows see different ones; pairs with too few
    mined negatives are topped up with random passages. ``extra`` adds (query, positive text, passage
    index) rows, e.g. pseudo-queries, with random negatives.

    ``max_per_positive`` keeps at most that many (query, positive) rows for any one passage, chosen at random
    (seeded): a few articles are most of the positives (민법 제750조 alone is cited by ~600 precedents), and
    the model otherwise learns to rank them first for everything.

    Example:
        >>> c = Corpus(["a", "b", "c", "d"], ["A", "B", "C", "D"], [{}] * 4)
        >>> ex = build_examples([{"query_text": "q", "positive_passages": ["a"], "hard_negatives": ["b"]}],
        ...                     c, n_negatives=2, multiply=1, seed=0)
        >>> ex.columns["negative_1"], len(ex.columns["label"][0])
        (['B'], 4)
    """
    rng = random.Random(seed)
    keep = _capped(pairs, corpus, max_per_positive, seed) if max_per_positive else None
    rows: list[tuple[str, str, int, list[int], list[int]]] = []
    for i, pair in enumerate(pairs):
        pos_idx = [corpus.index[p] for p in pair["positive_passages"]]
        negs = [corpus.index[n] for n in pair.get("hard_negatives") or [] if n in corpus.index]
        negs = [n for n in negs if n not in pos_idx]
        for rep in range(multiply):
            for j, p in enumerate(pos_idx):
                if keep is not None and (i, j) not in keep:
                    continue
                t = len(rows)
                hard = math.floor((t + 1) * hard_ratio * n_negatives + 1e-9) - math.floor(t * hard_ratio * n_negatives + 1e-9)
                start = (rep * len(pos_idx) + j) * hard
                chosen = [negs[(start + i) % len(negs)] for i in range(min(hard, len(negs)))]
                rows.append((pair["query_text"], corpus.texts[p], p,
                             _top_up(chosen, n_negatives, set(pos_idx), len(corpus), rng), pos_idx))
    for query, text, p in extra or []:
        rows.append((query, text, p, _top_up([], n_negatives, {p}, len(corpus), rng), [p]))
    width = max(len(r[4]) for r in rows)
    columns: dict[str, list] = {"query": [r[0] for r in rows], "positive": [r[1] for r in rows]}
    for t in range(n_negatives):
        columns[f"negative_{t + 1}"] = [corpus.texts[r[3][t]] for r in rows]
    columns["label"] = [[r[2], *r[3], *r[4], *([-1] * (width - len(r[4])))] for r in rows]
    return Examples(columns, n_negatives)


def _capped(pairs: list[dict], corpus: Corpus, cap: int, seed: int) -> set[tuple[int, int]]:
    """(pair, positive) positions to keep: at most ``cap`` per passage, a seeded random choice."""
    by_passage: dict[int, list[tuple[int, int]]] = {}
    for i, pair in enumerate(pairs):
        for j, p in enumerate(pair["positive_passages"]):
            by_passage.setdefault(corpus.index[p], []).append((i, j))
    rng = random.Random(f"{seed}:max_per_positive")
    keep: set[tuple[int, int]] = set()
    for slots in by_passage.values():
        keep.update(slots if len(slots) <= cap else rng.sample(slots, cap))
    return keep


def read_extra_pairs(paths: list[str], corpus: Corpus) -> list[dict]:
    """The pairs of every ``data.extra_pairs`` file (e.g. from ``lex-dpr synth``): training rows only, never validation."""
    return [pair for path in paths for pair in read_pairs(path, corpus)]


def _top_up(chosen: list[int], n: int, avoid: set[int], corpus_size: int, rng: random.Random) -> list[int]:
    """Fill ``chosen`` to ``n`` with random passages that are neither positives nor already chosen."""
    if corpus_size - len(avoid) < n:
        raise InputError(f"the corpus has {corpus_size} passages: too few for {n} negatives per example "
                         "(lower data.hard_negatives)")
    while len(chosen) < n:
        r = rng.randrange(corpus_size)
        if r not in avoid and r not in chosen:
            chosen.append(r)
    return chosen


_SENTENCE = re.compile(r"(?<=[다.])\s+(?=\S)")


def pseudo_queries(corpus: Corpus, per_article: int, seed: int) -> list[tuple[str, str, int]]:
    """Queries for every law/admin article, cited or not: its title, and inverse-cloze sentences.

    The title query is "{law name} {조문제목}"; an inverse-cloze query is one sentence of the article,
    removed from the positive text so the model cannot match it verbatim.

    Example:
        >>> c = Corpus(["LAW_1_제1조"], ["제1조(목적) 이 법은 목적으로 한다. 둘째 문장은 이렇다."],
        ...            [{"type": "law", "title": "민법", "heading": "목적"}])
        >>> [q for q, _, _ in pseudo_queries(c, 1, seed=0)][0]
        '민법 목적'
    """
    rng = random.Random(seed)
    out: list[tuple[str, str, int]] = []
    for i, (text, rec) in enumerate(zip(corpus.texts, corpus.records, strict=True)):
        if rec.get("type") not in ("law", "admin"):
            continue
        if rec.get("heading"):
            out.append((f"{rec.get('title', '')} {rec['heading']}".strip(), text, i))
        sentences = [s for s in _SENTENCE.split(text) if len(s) >= 15]
        if len(sentences) < 2:
            continue
        for s in rng.sample(sentences, min(per_article, len(sentences) - 1)):
            out.append((s, " ".join(text.replace(s, " ", 1).split()), i))
    return out
