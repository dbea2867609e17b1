"""Peak memory and wall time of `validate`, `stats` and `merge-corpus` as the corpus grows (they should stream).

    poetry run python bench/bench_stream.py                      # 100k, 300k and 1M passages of 300 characters
    poetry run python bench/bench_stream.py --sizes 1000000 --chars 1000

Writes a synthetic corpus (law-like Korean text, ids LAW_0000001...) and 10k pairs into a temporary folder,
runs each command in a fresh process per size and prints its peak RSS (ru_maxrss) and wall time. With streaming,
RSS grows with the number of ids (validate keeps the id set, merge a hash per id) and one integer per passage
(stats), not with the text.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import orjson

CHILD = """
import resource, sys, time
kind, corpus, pairs, out = sys.argv[1:5]
t0 = time.perf_counter()
if kind == "validate":
    from lex_dpr.data.validate import validate
    r = validate([pairs], [corpus])
    assert r.counts["passages"] > 0
elif kind == "stats":
    from lex_dpr.data.stats import corpus_stats
    corpus_stats(corpus, [pairs], out_dir=out)
else:
    from lex_dpr.data.merge import merge_corpus
    merge_corpus([corpus, corpus], out + "/merged.jsonl")  # every id twice: all identical duplicates
print(time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def write_corpus(path: Path, n: int, chars: int) -> int:
    body = ("제1조(목적) 이 법은 손해배상의 책임과 그 범위를 정함을 목적으로 한다. " * (chars // 20 + 1))[:chars]
    with path.open("wb") as fh:
        for i in range(n):
            fh.write(orjson.dumps({"id": f"LAW_{i:07d}", "parent_id": f"LAW_{i // 40:05d}", "type": "law",
                                   "title": f"법률{i % 3000}", "article": f"제{i % 40 + 1}조", "text": f"{i} {body}"})
                     + b"\n")
    return path.stat().st_size


def write_pairs(path: Path, n_passages: int, n: int = 10_000) -> None:
    with path.open("wb") as fh:
        for i in range(n):
            fh.write(orjson.dumps({"query_id": f"PREC_{i}_Q1", "query_text": f"손해배상 책임의 범위 {i}",
                                   "positive_passages": [f"LAW_{(i * 7919) % n_passages:07d}"],
                                   "hard_negatives": [f"LAW_{(i * 104729 + k) % n_passages:07d}" for k in range(8)],
                                   "meta": {"type": "prec", "prec_id": str(i)}}) + b"\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 300_000, 1_000_000])
    ap.add_argument("--chars", type=int, default=300, help="characters of text per passage")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="lexdpr-bench-stream-"))
    try:
        print(f"{'passages':>10} {'file MB':>8} | {'validate s':>10} {'RSS MB':>7} | {'stats s':>8} {'RSS MB':>7} | "
              f"{'merge s':>8} {'RSS MB':>7}")
        for n in args.sizes:
            corpus, pairs = tmp / f"corpus_{n}.jsonl", tmp / f"pairs_{n}.jsonl"
            size = write_corpus(corpus, n, args.chars)
            write_pairs(pairs, n)
            row = [f"{n:>10} {size / 1e6:>8.0f}"]
            for kind in ("validate", "stats", "merge"):
                done = subprocess.run([sys.executable, "-c", CHILD, kind, str(corpus), str(pairs), str(tmp / "stats")],
                                      capture_output=True, text=True, check=True)
                secs, rss = map(float, done.stdout.split())
                row.append(f"{secs:>10.1f} {rss:>7.0f}" if kind == "validate" else f"{secs:>8.1f} {rss:>7.0f}")
                shutil.rmtree(tmp / "stats", ignore_errors=True)
            print(" | ".join(row), flush=True)
            corpus.unlink()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
