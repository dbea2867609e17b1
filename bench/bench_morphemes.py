"""Does the static model read Korean better as Kiwi morphemes than as raw text? (#17's direction "the static
vocabulary built from Kiwi morphemes rather than raw WordPiece".)

Two static models are trained with the shipped default config on the same pairs: one on the texts as they are
(the default), one on every query and passage rewritten as its Kiwi content morphemes (the BM25 tokens, lemmas:
주웠는데 → 줍), so its WordPiece vocabulary is learnt over morphemes. Each is scored alone (no BM25, no lexicon,
no reranker) on the query sets of `bench/bench_quality.py`, the questions against every passage and against
statutes only:

    poetry run python bench/bench_morphemes.py --data out/shared --out out/morphemes

Training is skipped where `OUT/raw/bi_encoder/final` or `OUT/morph/bi_encoder/final` already exist (resumable);
prints a table and writes `OUT/morphemes.jsonl`; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np
import orjson

ROOT = Path(__file__).resolve().parents[1]


def _write_jsonl(path: Path, rows) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    tmp.replace(path)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="out/shared", help="make-pairs' output folder (pairs + merged_corpus).")
    ap.add_argument("--out", default="out/morphemes")
    ap.add_argument("--questions", default=str(ROOT / "data" / "questions" / "questions.jsonl"))
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from lex_dpr.data.corpus import read_corpus, read_pairs
    from lex_dpr.evaluation.metrics import ndcg_at_k, recall_at_k
    from lex_dpr.models.static import NumpyStaticEncoder
    from lex_dpr.retrieval.token_cache import TokenCache
    from lex_dpr.data.tokenize import tokenize_many

    data, out = Path(args.data), Path(args.out)
    (out / "data").mkdir(parents=True, exist_ok=True)
    corpus = read_corpus(data / "merged_corpus.jsonl")
    cache = TokenCache(out / ".token_cache")

    def morph(texts: list[str]) -> list[str]:
        toks = tokenize_many(texts, cache=cache, show_progress=True)
        return [" ".join(t) if t else x for t, x in zip(toks, texts, strict=True)]

    corpus_m = morph(corpus.texts)
    _write_jsonl(out / "data" / "merged_corpus.jsonl",
                 ({**rec, "id": pid, "text": t} for pid, t, rec in zip(corpus.ids, corpus_m, corpus.records, strict=True)))
    splits = {}
    for name in ("pairs_train", "pairs_train_valid", "pairs_train_heldout"):
        if not (data / f"{name}.jsonl").is_file():
            continue
        rows = [orjson.loads(x) for x in (data / f"{name}.jsonl").read_bytes().splitlines() if x.strip()]
        queries = morph([r["query_text"] for r in rows])
        _write_jsonl(out / "data" / f"{name}.jsonl", ({**r, "query_text": q} for r, q in zip(rows, queries, strict=True)))
        splits[name] = [(p["query_text"], set(p["positive_passages"])) for p in read_pairs(data / f"{name}.jsonl", corpus)]

    env = dict(os.environ, HF_HUB_OFFLINE="1")
    for name, folder in (("raw", data), ("morph", out / "data")):
        if (out / name / "bi_encoder" / "final").is_dir():
            continue
        subprocess.run([sys.executable, "-m", "lex_dpr.cli.main", "train", "--config", "train", "--out-dir",
                        str(out / name), f"data.pairs={folder / 'pairs_train.jsonl'}",
                        f"data.passages={folder / 'merged_corpus.jsonl'}", "wandb.mode=disabled"], check=True, env=env)

    sets: dict[str, tuple] = {"valid nDCG@10": ("ndcg", 10, splits.get("pairs_train_valid", [])),
                              "held-out R@10": ("recall", 10, splits.get("pairs_train_heldout", []))}
    qrows = [orjson.loads(x) for x in Path(args.questions).read_bytes().splitlines() if x.strip()]
    qrows = [r for r in qrows if all(p in corpus.index for p in r["positive_passages"])]
    for split in ("dev", "test"):
        items = [(r["question"], set(r["positive_passages"])) for r in qrows if r["split"] == split]
        sets[f"questions {split} R@6"] = ("recall", 6, items)
        sets[f"questions {split} R@6, statutes"] = ("recall", 6, items)
    statute = np.array([rec.get("type") in ("law", "admin") for rec in corpus.records])

    table: dict[str, dict[str, float]] = {}
    for name in ("raw", "morph"):
        enc = NumpyStaticEncoder.load(out / name / "bi_encoder" / "final")
        docs = enc.encode_document(corpus_m if name == "morph" else corpus.texts, normalize_embeddings=True)
        row = {}
        for set_name, (metric, k, items) in sets.items():
            if not items:
                continue
            queries = [q for q, _ in items]
            qv = enc.encode_query(morph(queries) if name == "morph" else queries, normalize_embeddings=True)
            scores = qv @ docs.T
            if set_name.endswith("statutes"):
                scores[:, ~statute] = -np.inf
            top = np.argsort(-scores, axis=1, kind="stable")[:, :10]
            fn = {"ndcg": ndcg_at_k, "recall": recall_at_k}[metric]
            row[set_name] = statistics.mean(fn([corpus.ids[i] for i in t], rel, k)
                                            for t, (_, rel) in zip(top, items, strict=True))
        table[name] = row
    cols = list(next(iter(table.values())))
    print("| model | " + " | ".join(cols) + " |")
    print("|---|" + "---|" * len(cols))
    for name, row in table.items():
        print(f"| {name} | " + " | ".join(f"{row[c]:.4f}" for c in cols) + " |")
    _write_jsonl(out / "morphemes.jsonl", [{"model": k, **v} for k, v in table.items()])


if __name__ == "__main__":
    main()
