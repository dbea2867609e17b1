"""make-pairs' BM25 negatives: one process against N, on the shared data and on the shared passages repeated.

    poetry run python bench/bench_negatives.py [--pairs-dir out/shared] [--repeat 1 4] [--workers 1 2]

Reads the pool's and the queries' morphemes from make-pairs' Kiwi cache (`out/shared/.lexdpr_cache`, as
`scripts/pipeline.sh` leaves it), builds the BM25 index over the merged corpus repeated R times (R× the
passages, the same queries: the search's cost per query grows with the corpus), and times
`lex_dpr.mining.negatives.search_docs` at depth 96 (`--hn-per-q 32`) with each worker count, checking that the
rows are the same. Prints figures; asserts nothing.

With `--index DIR` (a built index, e.g. the growth bench's 1M one), the search is timed over that index's saved
BM25 (memory-mapped) for `--sample` of the pairs' queries, evenly spaced and tokenised here, and projected to
every query of the pairs file: what make-pairs' BM25 negatives would take at that size, measured per query:

    poetry run python bench/bench_negatives.py --index /tmp/growth/sizes/1000000/w2/index \
        --pairs-dir /tmp/growth/sizes/1000000/w2 --sample 6000 --workers 1 2 --backend numpy numba
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import orjson


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs-dir", default="out/shared")
    ap.add_argument("--repeat", type=int, nargs="+", default=[1, 4])
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--queries", type=int, default=0, help="Use only the first N queries (0: all).")
    ap.add_argument("--index", help="Time the search over this built index's BM25 instead (see above).")
    ap.add_argument("--sample", type=int, default=6000, help="With --index: queries timed.")
    ap.add_argument("--backend", nargs="+", default=["auto"], choices=["auto", "numpy", "numba"],
                    help="With --index: bm25s' scoring backend; auto: the one make-pairs picks for all the queries.")
    args = ap.parse_args()
    if args.index:
        return projected(args)

    from lex_dpr.mining import negatives
    from lex_dpr.retrieval.bm25 import BM25Index
    from lex_dpr.retrieval.token_cache import CACHE_DIR, TokenCache

    folder = Path(args.pairs_dir)
    pool = [orjson.loads(x)["text"] for x in (folder / "merged_corpus.jsonl").read_bytes().splitlines() if x.strip()]
    queries = [orjson.loads(x)["query_text"] for x in (folder / "pairs_train.jsonl").read_bytes().splitlines()
               if x.strip()]
    if args.queries:
        queries = queries[: args.queries]
    cache = TokenCache(folder / CACHE_DIR)
    pool_tokens = [t or [] for t in cache.get_many(pool)]
    query_tokens = [t or [] for t in cache.get_many(queries)]
    negatives.PARALLEL_MIN_WORK = 0  # time what each worker count does, however small
    for repeat in args.repeat:
        index = BM25Index(pool_tokens * repeat)
        reference = None
        for workers in args.workers:
            start = time.perf_counter()
            rows = negatives.search_docs(index, query_tokens, 96, workers=workers)
            seconds = time.perf_counter() - start
            same = "" if reference is None else \
                f"; same rows as {args.workers[0]}: {all(np.array_equal(a, b) for a, b in zip(reference, rows, strict=True))}"
            reference = reference or rows
            print(f"{len(query_tokens):,} queries × {index.size:,} passages, {workers} worker(s): {seconds:.1f} s "
                  f"({1000 * seconds / len(query_tokens):.2f} ms a query){same}")


def projected(args) -> None:
    from lex_dpr.data.tokenize import tokenize_many
    from lex_dpr.mining import negatives
    from lex_dpr.retrieval.bm25 import BM25Index

    folder = Path(args.pairs_dir)
    with open(folder / "pairs_train.jsonl", "rb") as fh:
        queries = [orjson.loads(x)["query_text"] for x in fh if x.strip()]
    step = max(1, len(queries) // args.sample)
    sample = queries[::step][: args.sample]
    start = time.perf_counter()
    index = BM25Index.load(Path(args.index) / "bm25", mmap=True)
    print(f"opened {index.size:,} passages' BM25 in {time.perf_counter() - start:.1f} s")
    tokens = [list(t) for t in tokenize_many(sample)]
    negatives.PARALLEL_MIN_WORK = 0
    # a run this size times the fixed part; search_docs gives each worker 1,000 queries at least
    small = max(workers_ * 1000 for workers_ in args.workers)
    if len(sample) <= small:
        raise SystemExit(f"--sample must be over {small} for --workers {' '.join(map(str, args.workers))}")
    for backend in args.backend:
        if backend == "auto":
            backend = "numba" if len(queries) * index.size >= negatives.NUMBA_MIN_WORK else "numpy"
        if backend == "numba":  # compiled once in this process, untimed: one worker searches here
            negatives.search_docs(index, tokens[:1], 96, workers=1, backend=backend)
        for workers in args.workers:
            times = []
            for n in (small, len(sample)):  # the fixed part (saving the index, starting workers) apart from the rest
                start = time.perf_counter()
                negatives.search_docs(index, tokens[:n], 96, workers=workers, scratch=folder, backend=backend)
                times.append(time.perf_counter() - start)
            per = (times[1] - times[0]) / (len(sample) - small)
            fixed = max(0.0, times[0] - per * small)
            print(f"{len(sample):,} of {len(queries):,} queries × {index.size:,} passages, {workers} worker(s), "
                  f"{backend}: {times[1]:.1f} s; {1000 * per:.2f} ms a query + {fixed:.1f} s once; all "
                  f"{len(queries):,}: about {(fixed + per * len(queries)) / 3600:.2f} h")


if __name__ == "__main__":
    main()
