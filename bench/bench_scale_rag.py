"""`rag` retrieval over a large index: BM25's numpy and numba backends, alternating, and agreement with another run.

    poetry run python bench/bench_scale_rag.py --index /tmp/growth/ivf1m/index \
        --questions /tmp/growth/sizes/1000000/w2/questions.jsonl \
        --compare /tmp/growth/sizes/1000000/w2/answers.jsonl

Opens the index once (timed), warms each backend (numba compiles here), then answers every question in chunks of
128 with `Answerer.answer` (`--llm none`, as `rag batch` does) twice per backend, alternating, and prints
questions/s. With `--compare` (a `rag batch` output over the same questions, e.g. from the flat index before
`index update --faiss ivf`), prints how many of each question's context ids the numba run shares with it, how
many lists are identical and how many start with the same passage. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import time

import orjson


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--index", required=True)
    ap.add_argument("--questions", required=True, help="JSONL with id and question (the growth bench writes one).")
    ap.add_argument("--compare", help="A rag batch output over the same questions to compare context ids with.")
    ap.add_argument("--chunk", type=int, default=128)
    args = ap.parse_args()

    from lex_dpr.rag.answer import open_answerer

    start = time.perf_counter()
    answerer = open_answerer(args.index)
    print(f"open: {time.perf_counter() - start:.1f} s")
    rows = [orjson.loads(x) for x in open(args.questions, "rb") if x.strip()]
    questions = [r["question"] for r in rows]
    bm25 = answerer.index.bm25
    for backend in ("numba", "numpy"):
        bm25.backend = backend
        start = time.perf_counter()
        answerer.retrieve(questions[:2])
        print(f"first search, {backend}: {time.perf_counter() - start:.1f} s")
    found = {}
    for backend in ("numpy", "numba", "numpy", "numba"):
        bm25.backend = backend
        start = time.perf_counter()
        answers = [a for i in range(0, len(questions), args.chunk)
                   for a in answerer.answer(questions[i:i + args.chunk])]
        print(f"{backend}: {len(questions) / (time.perf_counter() - start):.1f} questions/s")
        found[backend] = [[c.pid for c in a.contexts] for a in answers]
    print(f"the same context lists, numpy and numba: {sum(a == b for a, b in zip(*found.values(), strict=True))} "
          f"of {len(questions)}")
    if args.compare:
        other = {str(r["id"]): r["context_ids"] for r in map(orjson.loads, open(args.compare, "rb")) if r}
        pairs = [(ids, other[str(r["id"])]) for r, ids in zip(rows, found["numba"], strict=True) if str(r["id"]) in other]
        k = max(1, max(len(b) for _, b in pairs))
        shared = sum(len(set(a) & set(b)) for a, b in pairs) / (k * len(pairs))
        print(f"against {args.compare} ({len(pairs)} questions): context ids shared {shared:.4f}, identical lists "
              f"{sum(a == b for a, b in pairs) / len(pairs):.4f}, the same first {sum(a[:1] == b[:1] for a, b in pairs) / len(pairs):.4f}")


if __name__ == "__main__":
    main()
