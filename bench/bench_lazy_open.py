"""What opening a large index would cost with its passages read lazily, against reading every record now.

    poetry run python bench/bench_lazy_open.py /tmp/growth/sizes/1000000/w2/index

Times, on an index folder: `read_corpus` of `passages.jsonl` (what `open_index` does today); a scan of the same
file for its line ends (numpy over a memory map, 64 MiB at a time: the offsets a lazy store would index by);
the ids read from `passage_hashes.jsonl` (a block of lines per orjson call); and parsing one record at a given
offset, over every 1,000th line. Prints seconds; asserts nothing. The figures for the next memory step of #20
(docs/scale.md "Not here yet").
"""

from __future__ import annotations

import mmap
import sys
import time
from pathlib import Path

import numpy as np
import orjson

from lex_dpr.data.corpus import read_corpus


def main() -> None:
    folder = Path(sys.argv[1])
    start = time.perf_counter()
    corpus = read_corpus(folder / "passages.jsonl")
    print(f"read_corpus: {len(corpus):,} records in {time.perf_counter() - start:.2f} s")
    del corpus
    start = time.perf_counter()
    with (folder / "passages.jsonl").open("rb") as fh:
        mapped = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    data = np.frombuffer(mapped, dtype=np.uint8)
    step = 1 << 26
    ends = np.concatenate([np.flatnonzero(data[s:s + step] == 10) + s for s in range(0, len(data), step)])
    print(f"line ends: {len(ends):,} in {time.perf_counter() - start:.2f} s")
    start = time.perf_counter()
    ids: list[str] = []
    with (folder / "passage_hashes.jsonl").open("rb") as fh:
        while block := fh.readlines(1 << 24):
            ids += [row[0] for row in orjson.loads(b"[" + b",".join(block) + b"]")]
    print(f"ids from passage_hashes.jsonl: {len(ids):,} in {time.perf_counter() - start:.2f} s")
    starts = np.concatenate(([0], ends[:-1] + 1))
    picks = range(0, len(ends), 1000)
    start = time.perf_counter()
    records = [orjson.loads(mapped[starts[i]:ends[i]]) for i in picks]
    print(f"one record at its offset: {(time.perf_counter() - start) / len(records) * 1e6:.1f} µs "
          f"({len(records):,} records, every 1,000th)")


if __name__ == "__main__":
    main()
