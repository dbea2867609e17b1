"""Every context list the default path gives for a fixed set of questions, as one JSON file: run it before and
after a change and `cmp` the two files to show the change ranks nothing otherwise.

    poetry run python bench/dump_contexts.py --index out/shared/index_both2 --out /tmp/before.json
    git stash; poetry run python bench/dump_contexts.py --index out/shared/index_both2 --out /tmp/after.json; git stash pop
    cmp /tmp/before.json /tmp/after.json

The questions: the first 1,000 distinct train statements and every labelled plain-language question, in chunks
of 128 (as `rag batch`) and every 7th one alone (as `rag ask`), plus the dense top 20 of the first 300 with scores.
Prints how many lists it wrote; asserts nothing.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import orjson

from lex_dpr.data.corpus import read_pairs
from lex_dpr.rag.answer import open_answerer


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--index", default="out/shared/index_both2")
    ap.add_argument("--pairs", default="out/shared/pairs_train.jsonl")
    ap.add_argument("--questions", default="data/questions/questions.jsonl")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    a = open_answerer(args.index)
    qs = list(dict.fromkeys(p["query_text"] for p in read_pairs(args.pairs, a.index.corpus)))[:1000]
    qs += [orjson.loads(line)["question"] for line in Path(args.questions).read_bytes().splitlines() if line.strip()]
    batch = []
    for i in range(0, len(qs), 128):
        batch += [[c.pid for c in cs] for cs in a.retrieve(qs[i:i + 128])]
    alone = [[c.pid for c in a.retrieve([q])[0]] for q in qs[::7]]
    dense = a.index.dense.rank(qs[:300], 20) if a.index.dense is not None else []
    args.out.write_bytes(orjson.dumps({"batch": batch, "alone": alone, "dense": dense}))
    print(f"{args.out}: {len(batch)} lists in batches, {len(alone)} alone, {len(dense)} dense top 20")


if __name__ == "__main__":
    main()
