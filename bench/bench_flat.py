"""A flat index's search: numpy over ``embeddings.npy`` (as an opened index searches) against the same floats
where FAISS's file maps them, and against FAISS's own search.

    poetry run python bench/bench_flat.py --index out/shared/index_both2

Prints, for one query, 8 and 128 queries (random unit vectors of the index's dimension): the matrix product
alone over each copy of the vectors, and ``DenseIndex.search`` (k=100) with and without the aligned vectors,
each the median of several runs; then whether both searches gave the same rows and scores. Then one query's
search p50/p95 with BLAS on one thread and on its default threads, on the machine as it is and with another
process spinning on one core. Asserts nothing.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import time
from pathlib import Path

import numpy as np

from lex_dpr.retrieval.dense import DenseIndex
from lex_dpr.retrieval.index.layout import DENSE, EMBEDDINGS


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--index", type=Path, required=True)
    ap.add_argument("--k", type=int, default=100)
    args = ap.parse_args()
    mapped = DenseIndex.load(args.index / DENSE, "flat")  # FAISS's file, memory-mapped: the floats at its offset
    aligned = DenseIndex.load(args.index / DENSE, "flat")
    aligned.vectors = np.load(args.index / EMBEDDINGS, mmap_mode="r", allow_pickle=False)
    in_file, npy = mapped._stored(), aligned.vectors
    print(f"{mapped.size:,} × {mapped.faiss_index.d} flat; FAISS's mapped floats start {in_file.ctypes.data % 64} bytes "
          f"into a 64-byte line, embeddings.npy's {npy.ctypes.data % 64}")
    rng = np.random.default_rng(0)
    for n in (1, 8, 128):
        q = rng.standard_normal((n, mapped.faiss_index.d)).astype(np.float32)
        q /= np.linalg.norm(q, axis=1, keepdims=True)
        runs = 50 if n < 128 else 10
        prod_file = _median(lambda q=q: q @ in_file.T, runs)
        prod_npy = _median(lambda q=q: q @ npy.T, runs)
        old = _median(lambda q=q: mapped.search(q, args.k), runs)
        new = _median(lambda q=q: aligned.search(q, args.k), runs)
        s_old, r_old = mapped.search(q, args.k)
        s_new, r_new = aligned.search(q, args.k)
        same = np.array_equal(r_old, r_new) and s_old.tobytes() == s_new.tobytes()
        print(f"{n:>4} quer{'y' if n == 1 else 'ies'}: product over FAISS's mapped floats {prod_file:7.2f} ms, over "
              f"embeddings.npy {prod_npy:7.2f} ms; search without the aligned vectors {old:7.2f} ms, with them "
              f"{new:7.2f} ms; same rows and scores: {same}")
    from threadpoolctl import ThreadpoolController

    blas = ThreadpoolController()
    one = q[:1]
    for busy in (False, True):
        hog = multiprocessing.get_context("spawn").Process(target=_spin, daemon=True) if busy else None
        if hog is not None:
            hog.start()
            time.sleep(0.5)
        for label in ("BLAS on 1 thread", "BLAS on its default threads"):
            limit = blas.limit(limits=1, user_api="blas") if label.endswith("1 thread") else None
            try:
                times = _times(lambda: aligned.search(one, args.k), 300)
            finally:
                if limit is not None:
                    limit.restore_original_limits()
            print(f"one query, {label}, {'another process spinning on a core' if busy else 'the machine as it is'}: "
                  f"p50 {statistics.median(times):.2f} ms, p95 {times[int(0.95 * (len(times) - 1))]:.2f} ms")
        if hog is not None:
            hog.terminate()
            hog.join()


def _spin() -> None:
    while True:
        pass


def _times(fn, runs: int) -> list[float]:
    fn()
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return sorted(out)


def _median(fn, runs: int) -> float:
    return statistics.median(_times(fn, runs))


if __name__ == "__main__":
    main()
