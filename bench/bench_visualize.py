"""UMAP or t-SNE for `lex-dpr visualize --type space`: time and trustworthiness on the shared data.

    poetry run python bench/bench_visualize.py [--model out/shared/run_best] [--sizes 300 450 600]

Encodes a seeded sample of the shared valid pairs (queries, their positives, hard negatives) with the run,
then maps N points to 2-D with UMAP, t-SNE (1000 iterations, scikit-learn's default) and t-SNE (500, the
library's default), each in a fresh process (what a user's `visualize` call pays, numba's JIT compilation for
UMAP included) and once more warm in that process. Prints seconds and scikit-learn's trustworthiness@10
(1.0: every 2-D neighbour is a neighbour in the model's space).

Measured 2026-12-07 on the shared 2-core machine (load ~3), sizes 300/450/600 (274/421/551 points after
de-duplication): UMAP cold 24.2/27.2/27.8 s (warm 0.6/1.2/1.3 s), trust 0.871/0.850/0.862; t-SNE 1000 cold
14.6/18.4/17.8 s, trust 0.855/0.838/0.845; t-SNE 500 cold 12.5/14.0/15.2 s, trust 0.850/0.834/0.836.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "out/shared/merged_corpus.jsonl"
PAIRS = ROOT / "out/shared/pairs_train_valid.jsonl"
VARIANTS = [("umap", 0), ("tsne", 1000), ("tsne", 0)]  # 0: the library's default iterations (t-SNE: 500)

_ONE = """
import json, sys, time
import numpy as np
started = time.perf_counter()
from lex_dpr.visualize.projection import project_2d
x = np.load(sys.argv[1])
iterations = int(sys.argv[3]) or None
xy, info = project_2d(x, sys.argv[2], seed=42, iterations=iterations)
if len(sys.argv) > 4:  # warm: the same again in this process
    xy, warm = project_2d(x, sys.argv[2], seed=42, iterations=iterations)
    info["warm_seconds"] = warm["seconds"]
info["process_seconds"] = round(time.perf_counter() - started, 3)
print(json.dumps(info))
"""


def points(model: str, n: int, path: Path) -> None:
    import numpy as np

    from lex_dpr.data.corpus import read_corpus, read_pairs
    from lex_dpr.models.loading import load_query_encoder
    from lex_dpr.visualize.sample import encode_sample, sample_pairs

    corpus = read_corpus(CORPUS)
    m = n // 3
    sample = sample_pairs(read_pairs(PAIRS, corpus), corpus, n_queries=m, seed=42)
    vectors = encode_sample(load_query_encoder(model), sample, corpus)
    ids = list(dict.fromkeys([p[0] for p in sample.positives] + [(h or r)[0] for h, r in zip(sample.hard, sample.random, strict=True)]))
    x = np.vstack([vectors.queries, vectors.passage(ids)])[:n]
    np.save(path, x)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=str(ROOT / "out/shared/run_best"))
    parser.add_argument("--sizes", type=int, nargs="+", default=[300, 600])
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            path = Path(tmp) / f"x{n}.npy"
            points(args.model, n, path)
            for method, iterations in VARIANTS:
                started = time.perf_counter()
                done = subprocess.run([sys.executable, "-c", _ONE, str(path), method, str(iterations), "warm"],
                                      capture_output=True,
                                      text=True, check=True, cwd=ROOT)
                info = json.loads(done.stdout.strip().splitlines()[-1])
                info["wall_seconds"] = round(time.perf_counter() - started, 3)
                rows.append(info)
                print(f"{method:5s} {iterations or 'default':>7} n={info['points']:5d}  cold {info['seconds']:6.2f} s  warm {info['warm_seconds']:6.2f} s"
                      f"  process {info['wall_seconds']:6.2f} s  trustworthiness@{info['trustworthiness_k']} "
                      f"{info['trustworthiness']:.3f}", flush=True)
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
