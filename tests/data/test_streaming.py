"""validate and stats stream their inputs: memory grows with the number of passages, not with their text."""

from __future__ import annotations

import tracemalloc

import orjson

from lex_dpr.data.stats import corpus_stats
from lex_dpr.data.validate import validate

TEXT_CHARS = 2000


def _corpus(path, n: int) -> int:
    """n passages of TEXT_CHARS characters each; returns the file's size."""
    body = ("제1조(목적) 이 법은 손해배상의 책임을 정한다. " * 80)[:TEXT_CHARS]
    with path.open("wb") as fh:
        for i in range(n):
            fh.write(orjson.dumps({"id": f"LAW_{i:07d}", "type": "law", "title": f"법{i % 50}",
                                   "text": f"{i} {body}"}) + b"\n")
    return path.stat().st_size


def _peak(fn) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_does_not_grow_with_the_text(tmp_path):
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_bytes(b"".join(orjson.dumps({"query_id": f"q{i}", "query_text": f"질의 {i}",
                                             "positive_passages": [f"LAW_{i:07d}"], "hard_negatives": [],
                                             "meta": {"type": "prec", "prec_id": str(i)}}) + b"\n"
                               for i in range(200)))
    small, large = tmp_path / "small.jsonl", tmp_path / "large.jsonl"
    extra_bytes = _corpus(large, 16_000) - _corpus(small, 4_000)
    for name, run in {"validate": lambda c: validate([pairs], [c]),
                      "stats": lambda c: corpus_stats(c, [pairs], out_dir=tmp_path / f"stats_{c.stem}")}.items():
        run(small)  # imports and caches (matplotlib, fonts) outside the measurement
        growth = _peak(lambda r=run: r(large)) - _peak(lambda r=run: r(small))
        # what a reader that kept the texts would need: Python strs of 2000 Hangul characters, 2 bytes each
        assert growth < 0.1 * extra_bytes, f"{name}: peak grew {growth / 1e6:.1f} MB for {extra_bytes / 1e6:.1f} MB more text"


def _merge_in_memory(inputs):
    """The merge rule as the earlier in-memory merge-corpus applied it: the reference for the streaming one."""
    merged = {}
    for path in inputs:
        for line in path.read_bytes().splitlines():
            p = orjson.loads(line)
            pid = p.get("id")
            if not isinstance(pid, str) or not pid:
                continue
            if pid not in merged:
                merged[pid] = p
            elif merged[pid] != p and str(p.get("effective_date") or "") > str(merged[pid].get("effective_date") or ""):
                merged[pid] = p
    return b"".join(orjson.dumps(p) + b"\n" for p in merged.values())


def test_merge_streams_and_writes_what_the_in_memory_merge_wrote(tmp_path):
    import random

    from lex_dpr.data.merge import merge_corpus

    rng = random.Random(7)
    inputs = []
    for f in range(3):
        rows = []
        for _ in range(400):
            i = rng.randrange(300)
            row = {"id": f"P{i}", "text": f"본문 {i} {rng.choice(['a', 'b'])}",
                   "effective_date": rng.choice(["", "20200101", "20240101"])}
            if rng.random() < 0.3:
                row = dict(reversed(row.items()))  # key order does not make a conflict
            rows.append(orjson.dumps(row))
        rows.insert(5, b'{"id": 3, "text": "numeric id"}')
        inputs.append(tmp_path / f"in{f}.jsonl")
        inputs[-1].write_bytes(b"\n".join(rows) + b"\n")
    out = tmp_path / "merged.jsonl"
    report = merge_corpus(inputs, out)
    assert out.read_bytes() == _merge_in_memory(inputs)
    assert report.identical_duplicates > 0 and report.conflicts and len(report.bad_lines) == 3
    assert report.bad_lines[0] == f"{inputs[0]}:6: id is not a string (3)"
    # memory: a hash per id, not the records
    big = tmp_path / "big.jsonl"
    small = tmp_path / "small.jsonl"
    extra_bytes = _corpus(big, 16_000) - _corpus(small, 4_000)
    merge_corpus([small], tmp_path / "m0.jsonl")
    growth = _peak(lambda: merge_corpus([big], tmp_path / "m1.jsonl")) - _peak(
        lambda: merge_corpus([small], tmp_path / "m2.jsonl"))
    assert growth < 0.1 * extra_bytes, f"merge: peak grew {growth / 1e6:.1f} MB for {extra_bytes / 1e6:.1f} MB more text"
