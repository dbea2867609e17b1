"""Approximate dense indexes against flat on an index's own embeddings: recall, memory, latency.

    poetry run python bench/bench_ann.py [--index out/shared/index_default] [--queries out/shared/pairs_train_valid.jsonl]

Builds `ivf` and `ivfpq` (`lex-dpr index build --faiss ...` builds the same) from the index's
`embeddings.npy`, encodes the queries with the index's model and prints, per kind: Recall@10 against the flat
top 10 (the same query's exact neighbours), the FAISS index's bytes, and search time per query (one query at a
time, and 64 at a time). `ivfpq` is scored as `rag` searches it: its codes' top candidates rescored exactly
from the memory-mapped embeddings, and also without that rescoring. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import orjson


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--index", default="out/shared/index_default")
    ap.add_argument("--queries", default="out/shared/pairs_train_valid.jsonl")
    ap.add_argument("--n", type=int, default=1000)
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from lex_dpr.retrieval.dense import DenseIndex
    from lex_dpr.retrieval.index import open_index

    opened = open_index(args.index, bm25=False)
    vectors = np.load(Path(args.index) / "embeddings.npy", mmap_mode="r")
    texts = [orjson.loads(x)["query_text"] for x in Path(args.queries).read_bytes().splitlines() if x.strip()][: args.n]
    queries = opened.dense.encode_queries(texts)
    flat = DenseIndex.build(np.asarray(vectors))
    truth = flat.search(queries, 10)[1]
    print(f"{len(vectors)} passages × {vectors.shape[1]} dimensions, {len(texts)} queries")
    print(f"{'kind':<26}{'Recall@10 vs flat':>18}{'index MB':>10}{'1 query ms':>12}{'64 queries ms':>15}")
    rows = [("flat", flat)]
    for kind in ("ivf", "ivfpq"):
        t = time.perf_counter()
        built = DenseIndex.build(np.asarray(vectors), kind)
        print(f"  ({kind} trained and filled in {time.perf_counter() - t:.1f} s; {built.params})")
        if kind == "ivfpq":
            rows.append(("ivfpq, codes only", built))
            refined = DenseIndex(built.faiss_index, kind, built.params, vectors=vectors)
            rows.append(("ivfpq, rescored (rag)", refined))
        else:
            rows.append((kind, built))
    for name, index in rows:
        found = index.search(queries, 10)[1]
        recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, truth, strict=True)])
        with tempfile.TemporaryDirectory() as tmp:
            index.save(Path(tmp) / "x.faiss")
            size = (Path(tmp) / "x.faiss").stat().st_size / 2**20
        one = _ms(lambda x=index: [x.search(queries[i:i + 1], 10) for i in range(100)]) / 100
        batch = _ms(lambda x=index: x.search(queries[:64], 10))
        print(f"{name:<26}{recall:>18.4f}{size:>10.1f}{one:>12.2f}{batch:>15.1f}")


def _ms(fn) -> float:
    fn()
    t = time.perf_counter()
    fn()
    return (time.perf_counter() - t) * 1000


if __name__ == "__main__":
    main()
