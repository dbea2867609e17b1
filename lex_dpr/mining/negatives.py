"""Hard-negative mining: BM25 over Kiwi morphemes (default), random, or dense with a relative margin."""

from __future__ import annotations

import logging
import random
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from lex_dpr.retrieval.bm25 import BM25Index
from lex_dpr.utils.progress import track

log = logging.getLogger(__name__)

# queries × passages below which one process searches sooner than N start (each spawned worker imports numpy
# and bm25s and maps the saved index). 2 workers on 2 cores (bench/bench_negatives.py): 12,715 queries × 15,638
# passages 2.6 s against 3.5 s in one process; × 62,552 passages (the shared ones 4 times) 5.3 s against 9.7 s.
PARALLEL_MIN_WORK = 50_000_000
# queries × passages from which bm25s' numba backend scores the postings: over the growth bench's 1M passages
# (bench/bench_negatives.py --index) 2.38 ms a query with 2 processes against numpy's 6.58, and each process
# compiles it first (about 5 s). Below this numpy is as quick; the choice depends on the sizes only, so the same
# inputs give the same negatives.
NUMBA_MIN_WORK = 2_000_000_000
SCRATCH_NAME = ".lexdpr-bm25-negatives.tmp"  # the saved index the workers map, under ``scratch``
_SHARDS_PER_WORKER = 4  # contiguous query slices per worker, at least
_SLICE_MAX = 4096


def blocked(keys: tuple[str, ...], skip: set[str]) -> bool:
    """A candidate is excluded when its id, article or parent document is in the query's excluded set."""
    return any(k in skip for k in keys)


def bm25_negatives(index: BM25Index, query_tokens: Sequence[Sequence[str]], pool_ids: Sequence[str],
                   pool_keys: Sequence[tuple[str, ...]], excluded: Sequence[set[str]], n: int,
                   depth: int | None = None, workers: int = 1, scratch: str | Path | None = None,
                   show_progress: bool = False) -> list[list[str]]:
    """For each query, the ``n`` top BM25 passages not blocked by its excluded set.

    bm25s scores every passage for a query on one core, and there are about as many queries as passages, so
    the search grows with the square of the corpus: with ``workers`` > 1 (and enough work, see
    :data:`PARALLEL_MIN_WORK`) the index is saved under ``scratch`` (in :data:`SCRATCH_NAME`, removed after, and
    before: what a killed run left; default: a temporary folder of the system's) and N spawned processes memory-map it (one copy in the page cache, not N) and search
    contiguous slices of the queries. The negatives are the same as one process finds. From
    :data:`NUMBA_MIN_WORK` the postings are scored by bm25s' numba backend (the same scores; equal scores may
    come back in another order).
    """
    depth = depth or max(3 * n, n + 64)
    out = []
    found = search_docs(index, query_tokens, depth, workers, scratch, show_progress=show_progress)
    for docs, skip in zip(found, excluded, strict=True):
        picked: list[str] = []
        for d in docs:
            pid = pool_ids[d]
            if not blocked(pool_keys[d], skip):
                picked.append(pid)
                if len(picked) == n:
                    break
        out.append(picked)
    return out


def search_docs(index: BM25Index, query_tokens: Sequence[Sequence[str]], k: int, workers: int = 1,
                scratch: str | Path | None = None, backend: str = "auto",
                show_progress: bool = False) -> list[np.ndarray]:
    """Each query's top-``k`` passage rows (best first, zero scores dropped), in ``workers`` processes when the
    work is large enough; the same rows either way. ``backend``: ``numpy``, ``numba`` or ``auto`` (numba from
    :data:`NUMBA_MIN_WORK` queries × passages)."""
    work = len(query_tokens) * index.size
    if backend == "auto":
        backend = "numba" if work >= NUMBA_MIN_WORK else "numpy"
    workers = min(workers, max(1, len(query_tokens) // 1000))
    step = _slice_size(len(query_tokens), workers)
    starts = range(0, len(query_tokens), step)
    if workers <= 1 or work < PARALLEL_MIN_WORK:
        return [docs for i in track(starts, "BM25 negatives", total=len(starts), enabled=show_progress)
                for docs, _ in index.search(query_tokens[i:i + step], k, backend=backend)]
    import multiprocessing
    import shutil
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    slices = [[list(q) for q in query_tokens[i:i + step]] for i in starts]
    log.info("BM25 negatives: %d queries × %d passages in %d processes (%s)", len(query_tokens), index.size,
             workers, backend)
    # under ``scratch`` a fixed name, removed first: a run killed here (SIGKILL) leaves nothing the next one keeps
    tmp = Path(scratch) / SCRATCH_NAME if scratch is not None else Path(tempfile.mkdtemp(prefix="lexdpr-bm25-"))
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir(parents=True, exist_ok=True)
        index.save(tmp / "bm25")
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                 initializer=_open_shared, initargs=(str(tmp / "bm25"), backend)) as pool:
            parts = pool.map(_search_slice, slices, [k] * len(slices))
            return [docs for part in track(parts, "BM25 negatives", total=len(slices), enabled=show_progress)
                    for docs in part]
    except BrokenProcessPool as exc:  # a worker killed (out of memory) or unable to start: one process does it
        log.warning("BM25 negatives: a worker process died (%s); searching in this process instead", exc)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return [docs for docs, _ in index.search(query_tokens, k, backend=backend)]


def _slice_size(queries: int, workers: int) -> int:
    """Queries a slice: at least ``_SHARDS_PER_WORKER`` slices a worker (an uneven one does not keep the others
    waiting), and no more than ``_SLICE_MAX`` queries (the progress bar moves)."""
    return max(1, min(_SLICE_MAX, -(-queries // (max(1, workers) * _SHARDS_PER_WORKER))))


_SHARED: dict = {}


def _open_shared(folder: str, backend: str) -> None:
    _SHARED["index"], _SHARED["backend"] = BM25Index.load(folder, mmap=True), backend


def _search_slice(query_tokens: list[list[str]], k: int) -> list[np.ndarray]:
    return [docs.astype(np.int32)
            for docs, _ in _SHARED["index"].search(query_tokens, k, backend=_SHARED["backend"])]


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
