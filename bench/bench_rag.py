"""RAG on the shared corpus: retrieval-only `rag ask` latency, `rag batch` throughput, and retrieval quality
of the three fusion modes on the valid pairs and on the labelled plain-language questions.

    poetry run python bench/bench_rag.py [--index out/shared/index] [--model out/shared/run]

The index is built first when absent (`lex-dpr index build --passages out/shared/merged_corpus.jsonl
--model out/shared/run --out out/shared/index`). Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--index", default="out/shared/index")
    ap.add_argument("--model", default="out/shared/run")
    ap.add_argument("--passages", default="out/shared/merged_corpus.jsonl")
    ap.add_argument("--pairs", default="out/shared/pairs_train_valid.jsonl")
    ap.add_argument("--train-pairs", default="out/shared/pairs_train.jsonl")
    ap.add_argument("--questions", default="data/questions/questions.jsonl")
    ap.add_argument("--repeat", type=int, default=300)
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from lex_dpr.data.corpus import read_pairs
    from lex_dpr.evaluation.metrics import ndcg_at_k, recall_at_k
    from lex_dpr.rag.answer import open_answerer
    from lex_dpr.rag.batch import run_batch
    from lex_dpr.retrieval.index import build_index

    index = Path(args.index)
    if not (index / "manifest.json").is_file():
        t = time.perf_counter()
        build_index(args.passages, index, model=args.model, show_progress=True)
        print(f"index build (dense + BM25): {time.perf_counter() - t:.1f} s")

    t = time.perf_counter()
    answerer = open_answerer(index, overrides=["retrieval.method=weighted", "retrieval.weight=0.5"])
    print(f"open index + model: {time.perf_counter() - t:.2f} s; {len(answerer.index.corpus)} passages")
    valid = read_pairs(args.pairs, answerer.index.corpus)
    questions = [orjson.loads(x) for x in Path(args.questions).read_bytes().splitlines() if x.strip()]

    # --- latency, index loaded
    qs = [p["query_text"] for p in valid][: args.repeat]
    for q in qs[:20]:
        answerer.answer([q])
    times = []
    for q in qs:
        t = time.perf_counter()
        answerer.answer([q])
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    p50, p95 = statistics.median(times), times[int(0.95 * (len(times) - 1))]
    print(f"rag ask, retrieval only, index loaded ({len(times)} questions): p50 {p50:.2f} ms, p95 {p95:.2f} ms")
    enc = _timed(lambda q: answerer.index.dense.encode_queries([q]), qs[:100])
    bm = _timed(lambda q: answerer.index.bm25.rank([q], 100), qs[:100])
    de = _timed(lambda q: answerer.index.dense.rank([q], 100), qs[:100])
    print(f"  of which (p50): encode one query {enc:.2f} ms, BM25 top-100 {bm:.2f} ms, dense encode+flat top-100 {de:.2f} ms")
    dense_index = answerer.index.dense.index
    if dense_index.kind == "flat":
        vectors = answerer.index.dense.encode_queries(qs[:64])
        ours = min(_clock(lambda: dense_index.search(vectors, 100)) for _ in range(5))
        theirs = min(_clock(lambda: dense_index.faiss_index.search(vectors, 116)) for _ in range(5))
        print(f"  flat search of {len(vectors)} queries: DenseIndex.search {ours:.1f} ms (numpy product + float64 "
              f"rescoring), FAISS's own IndexFlatIP.search {theirs:.1f} ms")

    # --- the default path (the index's tuned weights, lexicon, statute filter, reranker, cited articles first)
    default = open_answerer(index)
    asked = [r["question"] for r in questions]
    for label, items in (("statements", qs), ("plain-language questions", asked)):
        for q in items[:20]:
            default.answer([q])
        lat = sorted(_clock(lambda q=q: default.answer([q])) for q in items)
        size = default.cfg.batch_size
        t = time.perf_counter()
        for i in range(0, len(items), size):
            default.answer(items[i:i + size])
        rate = len(items) / (time.perf_counter() - t)
        print(f"default path, {label} ({len(items)}): one at a time p50 {statistics.median(lat):.2f} ms, "
              f"p95 {lat[int(0.95 * (len(lat) - 1))]:.2f} ms; in chunks of {size} {rate:.0f} questions/s")

    # --- whole process
    walls = []
    for q in qs[:5]:
        t = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "lex_dpr.cli.main", "rag", "ask", q, "--index", str(index), "--json"],
                              capture_output=True, cwd=ROOT)
        walls.append(time.perf_counter() - t)
        assert done.returncode == 0, done.stderr.decode()[-500:]
    print(f"rag ask, whole process (python -m lex_dpr.cli.main, 5 runs): median {statistics.median(walls):.2f} s")

    # --- batch throughput: 1,000 distinct questions, no cache
    batch_qs = list(dict.fromkeys(p["query_text"] for p in read_pairs(args.train_pairs, answerer.index.corpus)))[:1000]
    with tempfile.TemporaryDirectory() as tmp:
        inp = Path(tmp) / "q.jsonl"
        inp.write_bytes(b"".join(orjson.dumps({"id": f"q{i}", "question": q}) + b"\n" for i, q in enumerate(batch_qs)))
        s = run_batch(answerer, inp, Path(tmp) / "a.jsonl", cache_dir=None)
        print(f"rag batch, retrieval only, {s.answered} questions: {s.seconds:.2f} s = {s.questions_per_s:.0f} questions/s")
    floor = _stages(answerer, batch_qs)
    _workers(index, args, default, floor)  # the index's own settings, as the workers open it

    # --- quality of the modes
    seen = {pid for p in read_pairs(args.train_pairs, answerer.index.corpus) for pid in p["positive_passages"]}
    sets = {"valid pairs": [(p["query_text"], set(p["positive_passages"])) for p in valid],
            "valid, never-seen positives": [(p["query_text"], set(p["positive_passages"]) - seen) for p in valid
                                            if set(p["positive_passages"]) - seen
                                            and p.get("meta", {}).get("type") != "fallback"],  # as `eval` counts
            "plain-language questions": [(q["question"], set(q["positive_passages"])) for q in questions
                                         if all(pid in answerer.index.corpus.index for pid in q["positive_passages"])]}
    modes = [("dense only", ["retrieval.weight=1"]), ("BM25 only", ["retrieval.weight=0"]),
             ("weighted w=0.5", ["retrieval.weight=0.5"]), ("rrf", ["retrieval.method=rrf"]),
             ("independent 3+3", ["retrieval.method=independent"])]
    print(f"{'mode':<18}" + "".join(f"{name + ' (' + str(len(v)) + ')':>34}" for name, v in sets.items()))
    print(f"{'':<18}" + "".join(f"{'recall@6':>17}{'ndcg@10':>17}" for _ in sets))
    for label, overrides in modes:
        a = open_answerer(index, overrides=["retrieval.k=10", *overrides]) if label != "independent 3+3" else \
            open_answerer(index, overrides=["retrieval.k=6", *overrides])
        row = f"{label:<18}"
        for items in sets.values():
            ranked = a.retriever.rank([q for q, _ in items], a.cfg.retrieval.k)
            ids = [[pid for pid, _ in r] for r in ranked]
            r6 = statistics.mean(recall_at_k(i, rel, 6) for i, (_, rel) in zip(ids, items, strict=True))
            n10 = statistics.mean(ndcg_at_k(i, rel, 10) for i, (_, rel) in zip(ids, items, strict=True))
            row += f"{r6:>17.4f}{n10:>17.4f}"
        print(row)


def _stages(answerer, questions: list[str]) -> None:
    """Where a batch's time goes, per question: Kiwi, BM25 search, query encoding, flat search, the rest (in
    `rag batch`'s chunks; a model that reads morphemes gets them from the memo Kiwi filled, as in `answer`)."""
    from lex_dpr.data import tokenize

    chunk = answerer.cfg.batch_size
    answerer.answer(questions[:8])
    chunks = [questions[i:i + chunk] for i in range(0, len(questions), chunk)]
    tokenize._MEMO.clear()
    tokenize._PIECE_MEMO.clear()
    t = time.perf_counter()
    tokens = [tokenize.tokenize_many(c) for c in chunks]
    kiwi = time.perf_counter() - t
    bm25 = answerer.index.bm25.index
    backend = answerer.index.bm25.backend  # a batch's, as `answer` searches
    bm = sum(_clock(lambda x=x: bm25.search(x, 100, backend=backend)) for x in tokens) / 1000
    t = time.perf_counter()
    vectors = [answerer.index.dense.encode_queries(c) for c in chunks]
    enc = time.perf_counter() - t
    dense = answerer.index.dense.index
    ds = sum(_clock(lambda v=v: dense.search(v, 100)) for v in vectors) / 1000
    tokenize._MEMO.clear()
    tokenize._PIECE_MEMO.clear()
    whole = sum(_clock(lambda c=c: answerer.answer(c)) for c in chunks) / 1000
    per = 1000 / len(questions)
    parts = {"Kiwi": kiwi * per, "BM25 search": bm * per, "query encoding": enc * per, "flat search": ds * per}
    parts["everything else"] = whole * per - sum(parts.values())
    print(f"  a batch's time per question ({len(questions)} in chunks of {chunk}): "
          + ", ".join(f"{k} {v:.2f} ms" for k, v in parts.items()) + f"; {whole * per:.2f} ms in all")
    floor = parts["BM25 search"] + parts["flat search"]
    print(f"  the floor (BM25 search + flat search) {floor:.2f} ms a question: the batch is {whole * per / floor:.2f}x "
          f"it; with Kiwi, which any BM25 query needs, {floor + parts['Kiwi']:.2f} ms and "
          f"{whole * per / (floor + parts['Kiwi']):.2f}x")
    return floor + parts["Kiwi"]


def _workers(index, args, answerer, floor_ms: float) -> None:
    """`rag batch` over every distinct statement of the train, valid and held-out pairs: one process (the
    answerer already open) against `--workers 2` (each worker opens the index: its start is in the whole's
    time, not in each worker's own rate); the same bytes either way."""
    from lex_dpr.data.corpus import read_pairs
    from lex_dpr.rag.batch import run_batch
    from lex_dpr.rag.workers import BatchJob, run_batch_workers

    texts: list[str] = []
    for path in (args.train_pairs, args.pairs, str(args.pairs).replace("_valid", "_heldout")):
        if Path(path).is_file():
            texts += [p["query_text"] for p in read_pairs(path, answerer.index.corpus)]
    texts = list(dict.fromkeys(texts))
    with tempfile.TemporaryDirectory() as tmp:
        inp = Path(tmp) / "q.jsonl"
        inp.write_bytes(b"".join(orjson.dumps({"id": f"q{i}", "question": q}) + b"\n" for i, q in enumerate(texts)))
        one = run_batch(answerer, inp, Path(tmp) / "one.jsonl", cache_dir=None)
        two = run_batch_workers(BatchJob(index, inp, Path(tmp) / "two.jsonl", workers=2))
        same = (Path(tmp) / "one.jsonl").read_bytes() == (Path(tmp) / "two.jsonl").read_bytes()
    loop = two.answered / max(w["seconds"] for w in two.workers)
    print(f"rag batch, retrieval only, {one.answered} statements: one process {one.questions_per_s:.0f} questions/s "
          f"({1000 / one.questions_per_s / floor_ms:.2f}x the floor with Kiwi); --workers 2 {loop:.0f} questions/s "
          f"answering ({1000 / loop / floor_ms:.2f}x), {two.questions_per_s:.0f} questions/s from the workers' start "
          f"to the merged file ({two.seconds:.1f} s); the same bytes: {same}")


def _clock(fn) -> float:
    t = time.perf_counter()
    fn()
    return (time.perf_counter() - t) * 1000


def _timed(fn, items) -> float:
    out = []
    for x in items:
        t = time.perf_counter()
        fn(x)
        out.append((time.perf_counter() - t) * 1000)
    return statistics.median(out)


if __name__ == "__main__":
    main()
