"""Times the data pipeline on a real folder and compares bm25s with rank-bm25 on the same tokens.

    poetry run python bench/bench_data.py ../shared/data/lexdpr

Prints preprocess and make-pairs wall time (cold, then rerun on the Kiwi token cache), peak memory
(RSS), and BM25 retrieval time for
bm25s vs rank-bm25 (rank-bm25 on a query sample, extrapolated to all queries).
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import orjson


def peak_rss_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024


def main(src: str, hn_per_q: int = 32, rank_bm25_sample: int = 300) -> None:
    from lex_dpr.data.preprocess import preprocess
    from lex_dpr.mining.make_pairs import MakePairsConfig, make_pairs, split_paths
    from lex_dpr.retrieval.bm25 import BM25Index
    from lex_dpr.data.tokenize import tokenize_many

    out = Path(tempfile.mkdtemp(prefix="lexdpr-bench-"))
    t0 = time.perf_counter()
    pre = preprocess(src, out / "law.jsonl", out / "admin.jsonl", out / "prec.jsonl", workers=2)
    t_pre = time.perf_counter() - t0
    print(f"preprocess: {t_pre:.1f} s  files={dict(pre.files)} passages={dict(pre.passages)}")

    cfg = MakePairsConfig(law=str(out / "law.jsonl"), admin=str(out / "admin.jsonl"),
                          prec_json_dir=str(Path(src) / "precedents"), out=str(out / "pairs_train.jsonl"),
                          hn_per_q=hn_per_q)
    t0 = time.perf_counter()
    report = make_pairs(cfg)
    t_pairs = time.perf_counter() - t0
    print(f"make-pairs (bm25, {hn_per_q} negatives/query): {t_pairs:.1f} s  pairs={report.pairs} "
          f"precedents_resolved={report.precedents_resolved} positives={report.positives_total}")
    print(f"peak RSS: {peak_rss_mb():.0f} MB")
    first = split_paths(cfg.out)["train"].read_bytes()
    t0 = time.perf_counter()
    make_pairs(cfg)  # the same run again: Kiwi tokens come from the cache beside --out
    same = split_paths(cfg.out)["train"].read_bytes() == first
    print(f"make-pairs rerun with the token cache: {time.perf_counter() - t0:.1f} s (byte-identical: {same})")

    corpus = [orjson.loads(x)["text"] for x in (out / "law.jsonl").read_bytes().splitlines()]
    queries = [orjson.loads(x)["query_text"] for x in split_paths(cfg.out)["train"].read_bytes().splitlines()]
    t0 = time.perf_counter()
    doc_tokens = tokenize_many(corpus)
    query_tokens = tokenize_many(queries)
    print(f"kiwi: {len(corpus) + len(queries)} texts, {sum(map(len, corpus + queries)) / 1e6:.2f} M chars "
          f"in {time.perf_counter() - t0:.1f} s")

    t0 = time.perf_counter()
    BM25Index(doc_tokens, method="robertson").search(query_tokens, k=hn_per_q + 64)
    t_bm25s = time.perf_counter() - t0
    from rank_bm25 import BM25Okapi

    t0 = time.perf_counter()
    ref = BM25Okapi(doc_tokens)
    for q in query_tokens[:rank_bm25_sample]:
        np.argsort(-ref.get_scores(q))[: hn_per_q + 64]
    t_ref = (time.perf_counter() - t0) * len(query_tokens) / rank_bm25_sample
    print(f"BM25 index+top-{hn_per_q + 64} for {len(query_tokens)} queries over {len(doc_tokens)} passages: "
          f"bm25s {t_bm25s:.2f} s, rank-bm25 {t_ref:.1f} s (extrapolated from {rank_bm25_sample}); "
          f"ratio {t_ref / t_bm25s:.0f}x")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/lexdpr")
