"""Why the shared Kiwi tokeniser is set up the way it is: speed and BM25 quality of each setting.

    scripts/pipeline.sh ../shared/data/lexdpr out/shared
    poetry run python bench/bench_kiwi.py out/shared

Tokenises the mining texts (law + admin passages, fallback passages, valid queries) once per setting
and prints Kiwi time, the share of texts whose morphemes differ from lex-dpr's setting, and BM25
Recall@10 / MRR of the valid queries against their positives over the whole pool:
- whole texts vs the sentence pieces lex-dpr feeds Kiwi,
- Kiwi's typo and multi-word dictionaries on,
- beam cutoff_threshold 8 (Kiwi's default), 5, 4 (lex-dpr), 3.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import orjson

from lex_dpr.data import tokenize as T
from lex_dpr.retrieval.bm25 import BM25Index


def read_jsonl(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()] if path.is_file() else []


def kiwi_tokens(texts: list[str], cutoff: float, dicts: bool, pieces: bool) -> tuple[float, list[list[str]]]:
    from kiwipiepy import Kiwi

    kiwi = Kiwi(num_workers=-1, load_typo_dict=dicts, load_multi_dict=dicts)
    kiwi.global_config.cutoff_threshold = cutoff
    kiwi.tokenize("")  # Kiwi initialises lazily: keep that out of the timing
    unique: dict[str, int] = {}
    split = (lambda t: T._PIECES.split(t)) if pieces else (lambda t: [t])
    layout = [[unique.setdefault(p, len(unique)) for p in split(t) if p and not p.isspace()] for t in texts]
    t0 = time.perf_counter()
    morphs = [T._morphs(tokens) for tokens in kiwi.tokenize(list(unique), **T._OPTIONS)]
    elapsed = time.perf_counter() - t0
    return elapsed, [[m for i in ids for m in morphs[i]] for ids in layout]


def bm25_quality(tokens: list[list[str]], pool_ids: list[str], valid: list[dict]) -> tuple[float, float]:
    index = BM25Index(tokens[: len(pool_ids)])
    recall, rr = [], []
    for pair, (docs, _) in zip(valid, index.search(tokens[len(pool_ids):], k=100), strict=True):
        positives = set(pair["positive_passages"])
        ranked = [pool_ids[d] for d in docs]
        recall.append(len(positives & set(ranked[:10])) / len(positives))
        rr.append(next((1 / (rank + 1) for rank, pid in enumerate(ranked) if pid in positives), 0.0))
    return float(np.mean(recall)), float(np.mean(rr))


def main(folder: str) -> None:
    out = Path(folder)
    pool = [p for name in ("law_passages", "admin_passages", "prec_fallback_passages")
            for p in read_jsonl(out / f"{name}.jsonl")]
    valid = read_jsonl(out / "pairs_train_valid.jsonl")
    pool_ids = [p["id"] for p in pool]
    texts = [p["text"] for p in pool] + [v["query_text"] for v in valid]
    print(f"{len(pool)} passages + {len(valid)} valid queries, {sum(map(len, texts)) / 1e6:.2f} M chars, "
          "Kiwi on all cores")
    settings = [("lex-dpr: pieces, no dicts, cutoff 4", T.CUTOFF_THRESHOLD, False, True),
                ("whole texts", T.CUTOFF_THRESHOLD, False, False),
                ("typo+multi dicts on", T.CUTOFF_THRESHOLD, True, True),
                ("cutoff 8 (Kiwi default)", 8.0, False, True),
                ("cutoff 5", 5.0, False, True),
                ("cutoff 3", 3.0, False, True)]
    reference = None
    for name, cutoff, dicts, pieces in settings:
        elapsed, tokens = kiwi_tokens(texts, cutoff, dicts, pieces)
        reference = reference or tokens
        differ = np.mean([a != b for a, b in zip(reference, tokens, strict=True)])
        recall, mrr = bm25_quality(tokens, pool_ids, valid)
        print(f"{name:38s} kiwi {elapsed:5.1f} s  texts differing {differ:6.1%}  "
              f"BM25 R@10 {recall:.4f}  MRR {mrr:.4f}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "out/shared")
