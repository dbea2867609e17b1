"""Times the near-duplicate filter (prefix-filtered index vs. comparing with every kept question) and the
offline generator end to end.

    poetry run python bench/bench_synth.py [--passages out/shared/merged_corpus.jsonl]

The questions are the offline generator's own (every slot of every law/admin passage, two seeds, so the
rewordings of one slot are real near-duplicates). Both filters must keep exactly the same questions; the
script fails otherwise.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import orjson

from lex_dpr.rag.classify import QUESTION_TYPES
from lex_dpr.synth.filters import NearDuplicateIndex, jaccard, shingles
from lex_dpr.synth.offline import OfflineGenerator
from lex_dpr.synth.run import SynthJob, run_synth


def brute_force(texts: list[str], threshold: float) -> list[bool]:
    kept: list[set[str]] = []
    out = []
    for text in texts:
        s = shingles(text)
        dup = any(jaccard(s, k) >= threshold for k in kept)
        if not dup:
            kept.append(s)
        out.append(not dup)
    return out


def indexed(texts: list[str], threshold: float) -> list[bool]:
    index = NearDuplicateIndex(threshold)
    out = []
    for text in texts:
        dup = index.find(text) is not None
        if not dup:
            index.add(text)
        out.append(not dup)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--passages", default="out/shared/merged_corpus.jsonl")
    parser.add_argument("--limit", type=int, default=4000, help="questions for the brute-force comparison")
    args = parser.parse_args()
    path = Path(args.passages)
    if not path.is_file():
        sys.exit(f"{path}: not found (build it with scripts/pipeline.sh or pass --passages)")
    records = {r["id"]: r for r in map(orjson.loads, path.read_bytes().splitlines())
               if r.get("type") in ("law", "admin")}
    start = time.perf_counter()
    gen = OfflineGenerator(records)
    setup = time.perf_counter() - start
    texts = [gen.question(pid, t, s, seed).text for seed in (0, 1) for pid in records for t in QUESTION_TYPES
             for s in range(gen.slots(pid, t))]
    print(f"offline generator: {len(records)} passages indexed in {setup:.2f} s; {len(texts)} questions "
          f"(all slots, seeds 0 and 1) in {time.perf_counter() - start - setup:.2f} s")
    sample = texts[: args.limit]
    for threshold in (0.7, 0.8, 0.9):
        t0 = time.perf_counter()
        a = indexed(sample, threshold)
        t1 = time.perf_counter()
        b = brute_force(sample, threshold)
        t2 = time.perf_counter()
        if a != b:
            sys.exit(f"threshold {threshold}: the index and brute force disagree on {sum(x != y for x, y in zip(a, b, strict=True))} questions")
        print(f"near-duplicates of {len(sample)} questions at Jaccard >= {threshold}: kept {sum(a)}; "
              f"index {t1 - t0:.2f} s, brute force {t2 - t1:.2f} s ({(t2 - t1) / max(t1 - t0, 1e-9):.0f}x); same answers")
    t0 = time.perf_counter()
    a = indexed(texts, 0.8)
    print(f"index on all {len(texts)} questions at 0.8: {time.perf_counter() - t0:.2f} s, kept {sum(a)}")
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        r = run_synth(SynthJob(passages=str(path), out=f"{tmp}/s.jsonl", n=3000, passage_types=["law", "admin"]),
                      show_progress=False)
        print(f"run_synth --llm none --n 3000: {time.perf_counter() - t0:.2f} s, written {r.written}, "
              f"success rate {r.summary['success_rate']}, duplicate rate {r.summary['duplicate_rate']}")


if __name__ == "__main__":
    main()
