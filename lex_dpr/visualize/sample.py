"""What the pictures are drawn from: a seeded sample of pairs, their passages, and the model's similarities.

Every figure of one ``visualize`` call (and both models of the before/after comparison) uses the same
:class:`PairSample`, so the numbers are comparable across figures and models.

Example:
    >>> from lex_dpr.data.corpus import Corpus
    >>> corpus = Corpus(["A", "B", "C"], ["제1조 목적", "제2조 정의", "제3조 적용"], [{}, {}, {}])
    >>> pairs = [{"query_id": "Q1", "query_text": "목적", "positive_passages": ["A"], "hard_negatives": ["B"]}]
    >>> s = sample_pairs(pairs, corpus, n_queries=5, random_per_query=0, seed=0)
    >>> s.query_ids, s.positives, s.hard, s.passage_ids
    (['Q1'], [['A']], [['B']], ['A', 'B'])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lex_dpr.data.corpus import Corpus


@dataclass
class PairSample:
    """Sampled queries with their positives, hard negatives and random passages (ids in the corpus)."""

    query_ids: list[str]
    query_texts: list[str]
    positives: list[list[str]]
    hard: list[list[str]]
    random: list[list[str]]
    passage_ids: list[str]  # every passage above, once, in first-use order

    def __len__(self) -> int:
        return len(self.query_ids)


def sample_pairs(pairs: list[dict], corpus: Corpus, n_queries: int = 300, hard_per_query: int = 10,
                 random_per_query: int = 10, seed: int = 42) -> PairSample:
    """A seeded sample of ``n_queries`` pairs (file order kept), each with its positives and hard negatives found
    in ``corpus`` and ``random_per_query`` random corpus passages that are not its positives."""
    rng = np.random.default_rng(seed)
    chosen = sorted(rng.choice(len(pairs), size=min(n_queries, len(pairs)), replace=False).tolist())
    query_ids, texts, positives, hard, random = [], [], [], [], []
    for i in chosen:
        pair = pairs[i]
        pos = [p for p in pair["positive_passages"] if p in corpus.index]
        pos_set = set(pos)
        negs = [h for h in pair.get("hard_negatives") or [] if h in corpus.index and h not in pos_set][:hard_per_query]
        rand: list[str] = []
        if random_per_query:
            draw = rng.choice(len(corpus), size=min(len(corpus), random_per_query + len(pos)), replace=False)
            rand = [corpus.ids[j] for j in draw.tolist() if corpus.ids[j] not in pos_set][:random_per_query]
        query_ids.append(str(pair.get("query_id") or f"line{i + 1}"))
        texts.append(pair["query_text"])
        positives.append(pos)
        hard.append(negs)
        random.append(rand)
    seen: dict[str, None] = {}
    for group in (positives, hard, random):
        for ids in group:
            seen.update(dict.fromkeys(ids))
    order = sorted(seen, key=lambda pid: corpus.index[pid])  # corpus order: the same sample encodes the same way
    return PairSample(query_ids, texts, positives, hard, random, order)


@dataclass
class SampleVectors:
    """One model's normalised vectors for a :class:`PairSample`: queries row by row, passages by id."""

    queries: np.ndarray
    passages: np.ndarray
    passage_row: dict[str, int]

    def passage(self, ids: list[str]) -> np.ndarray:
        return self.passages[[self.passage_row[p] for p in ids]] if ids else self.passages[:0]


def encode_sample(encoder, sample: PairSample, corpus: Corpus, batch_size: int = 64) -> SampleVectors:
    """The sample through ``encoder``'s query and document sides (the same calls search makes)."""
    queries = encoder.encode_query(sample.query_texts, batch_size=batch_size, normalize_embeddings=True)
    texts = [corpus.texts[corpus.index[p]] for p in sample.passage_ids]
    passages = encoder.encode_document(texts, batch_size=batch_size, normalize_embeddings=True)
    return SampleVectors(np.asarray(queries, dtype=np.float32), np.asarray(passages, dtype=np.float32),
                         {p: i for i, p in enumerate(sample.passage_ids)})


def similarities(sample: PairSample, vectors: SampleVectors) -> dict[str, list[float]]:
    """Cosine similarity of each query to its positives, its hard negatives and its random passages (pooled)."""
    out: dict[str, list[float]] = {"positive": [], "hard_negative": [], "random": []}
    for i in range(len(sample)):
        q = vectors.queries[i]
        for name, ids in (("positive", sample.positives[i]), ("hard_negative", sample.hard[i]),
                          ("random", sample.random[i])):
            out[name] += (vectors.passage(ids) @ q).astype(np.float64).round(6).tolist()
    return out
