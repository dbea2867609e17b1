"""make-pairs' BM25 negatives: one process against N, on the shared data and on the shared passages repeated.

    poetry run python bench/bench_negatives.py [--pairs-dir out/shared] [--repeat 1 4] [--workers 1 2]

Reads the pool's and the queries' morphemes from make-pairs' Kiwi cache (`out/shared/.lexdpr_cache`, as
`scripts/pipeline.sh` leaves it), builds the BM25 index over the merged corpus repeated R times (R× the
passages, the same queries: the search's cost per query grows with the corpus), and times
`lex_dpr.mining.negatives.search_docs` at depth 96 (`--hn-per-q 32`) with each worker count, checking that the
rows are the same. Prints figures; asserts nothing.
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
    args = ap.parse_args()

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


if __name__ == "__main__":
    main()
