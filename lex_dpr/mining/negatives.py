"""Hard-negative mining: BM25 over Kiwi morphemes (default), random, or dense with a relative margin."""

from __future__ import annotations

import random
from collections.abc import Sequence

from lex_dpr.retrieval.bm25 import BM25Index


def blocked(keys: tuple[str, ...], skip: set[str]) -> bool:
    """A candidate is excluded when its id, article or parent document is in the query's excluded set."""
    return any(k in skip for k in keys)


def bm25_negatives(index: BM25Index, query_tokens: Sequence[Sequence[str]], pool_ids: Sequence[str],
                   pool_keys: Sequence[tuple[str, ...]], excluded: Sequence[set[str]], n: int,
                   depth: int | None = None) -> list[list[str]]:
    """For each query, the ``n`` top BM25 passages not blocked by its excluded set."""
    depth = depth or max(3 * n, n + 64)
    out = []
    for (docs, _), skip in zip(index.search(query_tokens, k=depth), excluded, strict=True):
        picked: list[str] = []
        for d in docs:
            pid = pool_ids[d]
            if not blocked(pool_keys[d], skip):
                picked.append(pid)
                if len(picked) == n:
                    break
        out.append(picked)
    return out


def random_negatives(pool_ids: Sequence[str], pool_keys: Sequence[tuple[str, ...]], excluded: Sequence[set[str]],
                     n: int, seed: int) -> list[list[str]]:
    """Uniform random passages outside each query's excluded set; reproducible for a seed."""
    rng = random.Random(seed)
    out = []
    for skip in excluded:
        picked: list[str] = []
        tries = 0
        while len(picked) < n and tries < 20 * n:
            d = rng.randrange(len(pool_ids))
            pid = pool_ids[d]
            tries += 1
            if not blocked(pool_keys[d], skip) and pid not in picked:
                picked.append(pid)
        out.append(picked)
    return out


def dense_negatives(model_name: str, queries: Sequence[str], positives: Sequence[str], pool_ids: Sequence[str],
                    pool_texts: Sequence[str], excluded: Sequence[set[str]], n: int,
                    relative_margin: float = 0.05) -> list[list[str]]:
    """sentence-transformers' ``mine_hard_negatives`` with a relative margin, then our exclusions.

    Negatives scoring above ``(1 - relative_margin) *`` the positive's score are skipped as
    likely false negatives.
    """
    from datasets import Dataset
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.util import mine_hard_negatives

    from lex_dpr.errors import ConfigError
    from lex_dpr.models.loading import load_encoder

    model = load_encoder(model_name)
    if not isinstance(model, SentenceTransformer):
        raise ConfigError(f"--model {model_name}: dense mining needs a single model, not an ensemble")
    text_to_id = {}
    for pid, text in zip(pool_ids, pool_texts, strict=True):
        text_to_id.setdefault(text, pid)
    dataset = Dataset.from_dict({"query": list(queries), "positive": list(positives)})
    mined = mine_hard_negatives(dataset, model, corpus=list(pool_texts), num_negatives=3 * n,
                                relative_margin=relative_margin, sampling_strategy="top",
                                output_format="n-tuple", verbose=False)
    # Rows come back per (query, positive) and rows without enough negatives are dropped,
    # so map by query text instead of by position.
    neg_cols = [c for c in mined.column_names if c.startswith("negative")]
    by_query: dict[str, list[str]] = {}
    for row in mined:
        by_query.setdefault(row["query"], [text_to_id[row[c]] for c in neg_cols if row[c] in text_to_id])
    return [[i for i in by_query.get(q, []) if i not in skip][:n] for q, skip in zip(queries, excluded, strict=True)]
