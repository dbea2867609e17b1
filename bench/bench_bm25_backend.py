"""BM25 search with bm25s' numpy and numba backends on a built index: time per query, and the same rankings.

    poetry run python bench/bench_bm25_backend.py --index out/shared/index_both2

Tokenises the train statements (``--pairs``, the first 4,096 distinct), then searches them in chunks of 128 (as
`rag batch` does) with each backend twice, alternating, one thread; prints ms a query, the time a process takes to
get numba's compiled code (compiling, or loading it from the disk cache), and whether both backends ranked every
query the same through ``BM25Retriever.rank`` (equal scores in row order). Asserts nothing.
"""

from __future__ import annotations

import argparse
import time

from lex_dpr.data.corpus import read_pairs
from lex_dpr.data.tokenize import tokenize_many
from lex_dpr.retrieval import bm25
from lex_dpr.retrieval.index import open_index


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--index", default="out/shared/index_both2")
    ap.add_argument("--pairs", default="out/shared/pairs_train.jsonl")
    ap.add_argument("--k", type=int, default=100)
    args = ap.parse_args()
    idx = open_index(args.index, dense=False)
    texts = list(dict.fromkeys(p["query_text"] for p in read_pairs(args.pairs, idx.corpus)))[:4096]
    tokens = tokenize_many(texts)
    index = idx.bm25.index
    start = time.perf_counter()
    cached = bm25.numba_cached()
    index.search(tokens[:2], args.k, backend="numba")
    print(f"numba's compiled code {'from the disk cache' if cached else '(no disk cache)'}: "
          f"{time.perf_counter() - start:.2f} s in this process")
    for backend in ("numpy", "numba") * 2:
        start = time.perf_counter()
        for i in range(0, len(tokens), 128):
            index.search(tokens[i:i + 128], args.k, backend=backend)
        print(f"{backend}: {(time.perf_counter() - start) / len(tokens) * 1000:.3f} ms a query ({len(tokens)} queries, "
              f"{index.size:,} passages)")
    one = bm25.BM25Retriever(idx.corpus, index=index)
    two = bm25.BM25Retriever(idx.corpus, index=index)
    one.backend, two.backend = "numpy", "numba"
    a, b = one.rank(texts, args.k), two.rank(texts, args.k)
    print(f"the same rankings through BM25Retriever.rank: {sum(x == y for x, y in zip(a, b, strict=True))} of {len(a)}")


if __name__ == "__main__":
    main()
