"""Pairs and passages → the (query, positive, negative_1..n) columns the trainer reads.

Every example also carries a ``label`` row of passage indices (its own columns, then all positives of its
query) so the loss can mask in-batch passages that are in fact positives of the query.
"""

from __future__ import annotations

import logging
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

from lex_dpr.errors import InputError
from lex_dpr.utils.io import BadLine, iter_jsonl, iter_passages

log = logging.getLogger(__name__)


@dataclass
class Corpus:
    """Passage ids and texts, with each passage's record for breakdowns (law name, type)."""

    ids: list[str]
    texts: list[str]
    records: list[dict]
    index: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.index = {pid: i for i, pid in enumerate(self.ids)}

    def __len__(self) -> int:
        return len(self.ids)


def read_corpus(path: str | Path) -> Corpus:
    """Read passage JSONL; records without id or text are skipped with one line each."""
    bad: list[BadLine] = []
    ids, texts, records = [], [], []
    for rec in iter_passages(path, bad):
        ids.append(rec["id"])
        texts.append(rec["text"])
        records.append({k: v for k, v in rec.items() if k != "text"})
    for b in bad:
        log.warning("skipped %s", b)
    if not ids:
        raise InputError(f"{path}: no passages with id and text")
    return Corpus(ids, texts, records)


def read_pairs(path: str | Path, corpus: Corpus | None = None) -> list[dict]:
    """Read pair JSONL; pairs with no query text or no positive in ``corpus`` are skipped and counted."""
    bad: list[BadLine] = []
    pairs, dropped = [], 0
    for rec in iter_jsonl(path, bad):
        positives = [p for p in rec.get("positive_passages") or [] if corpus is None or p in corpus.index]
        if not rec.get("query_text") or not positives:
            dropped += 1
            continue
        rec["positive_passages"] = positives
        rec.setdefault("meta", {}).setdefault("prec_id", rec.get("query_id", ""))
        rec["meta"].setdefault("type", "prec")
        pairs.append(rec)
    for b in bad:
        log.warning("skipped %s", b)
    if dropped:
        log.warning("%s: %d pair(s) without query text or a positive in the corpus were skipped", path, dropped)
    if not pairs:
        raise InputError(f"{path}: no usable pairs (check that --passages is the corpus the pairs were mined on)")
    return pairs


@dataclass
class Examples:
    columns: dict[str, list]  # query, positive, negative_1..n, label
    n_negatives: int


def build_examples(pairs: list[dict], corpus: Corpus, n_negatives: int, multiply: int, seed: int,
                   extra: list[tuple[str, str, int]] | None = None) -> Examples:
    """One row per (query, positive) × ``multiply``, each with ``n_negatives`` hard negatives.

    Negatives rotate through the mined list so repeated rows see different ones; pairs with too few
    mined negatives are topped up with random passages (never a positive). ``extra`` adds
    (query, positive text, passage index) rows, e.g. pseudo-queries.

    Example:
        >>> c = Corpus(["a", "b", "c", "d"], ["A", "B", "C", "D"], [{}] * 4)
        >>> ex = build_examples([{"query_text": "q", "positive_passages": ["a"], "hard_negatives": ["b"]}],
        ...                     c, n_negatives=2, multiply=1, seed=0)
        >>> ex.columns["negative_1"], len(ex.columns["label"][0])
        (['B'], 4)
    """
    rng = random.Random(seed)
    rows: list[tuple[str, str, int, list[int], list[int]]] = []
    for pair in pairs:
        pos_idx = [corpus.index[p] for p in pair["positive_passages"]]
        negs = [corpus.index[n] for n in pair.get("hard_negatives") or [] if n in corpus.index]
        negs = [n for n in negs if n not in pos_idx]
        for rep in range(multiply):
            for j, p in enumerate(pos_idx):
                start = (rep * len(pos_idx) + j) * n_negatives
                chosen = [negs[(start + t) % len(negs)] for t in range(min(n_negatives, len(negs)))]
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


def _top_up(chosen: list[int], n: int, avoid: set[int], corpus_size: int, rng: random.Random) -> list[int]:
    """Fill ``chosen`` to ``n`` with random passages that are neither positives nor already chosen."""
    if corpus_size - len(avoid) < n:
        raise InputError(f"the corpus has {corpus_size} passages: too few for {n} negatives per example "
                         "(lower data.hard_negative_ratio)")
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
