"""Reading a large passage file with Python's cyclic GC paused (as lex-dpr does) and running, alternating.

    poetry run python bench/bench_read.py /tmp/growth/ivf1m/index/passages.jsonl

`read_corpus` twice each way, alternating, the GC collected between runs. Prints seconds; asserts nothing.
"""

from __future__ import annotations

import contextlib
import gc
import sys
import time

from lex_dpr.data import corpus


def main() -> None:
    path = sys.argv[1]
    paused = corpus.gc_paused
    for name, ctx in (("GC running", contextlib.nullcontext), ("GC paused", paused)) * 2:
        corpus.gc_paused = ctx
        start = time.perf_counter()
        read = corpus.read_corpus(path)
        print(f"{name}: {len(read.ids):,} passages in {time.perf_counter() - start:.1f} s", flush=True)
        del read
        gc.collect()
    corpus.gc_paused = paused


if __name__ == "__main__":
    main()
