"""The retrieval-quality table of the product's default path: each index (a trained model behind `index build`
and `rag tune`) scored on every query set the goal names, with BM25 and the model alone beside it.

    poetry run python bench/bench_quality.py --index out/shared/index [--index OTHER --label NAME ...]

Query sets (each skipped when its file is absent):
- valid pairs, nDCG@10 (`pairs_train_valid.jsonl`: 판시사항 queries, grouped split);
- held-out articles, Recall@10 (`pairs_train_heldout.jsonl` from `make-pairs --heldout-articles`: articles no
  training pair cites, each pair scored on those only);
- plain-language questions, Recall@6, on the dev split, the test split and its hard part (no content word
  shared with the answering article) (`data/questions/questions.jsonl`).
Systems per index, an ablation ladder: BM25 only and the model only (plain: no lexicon, every passage type,
no reranker), BM25 as questions see it (lexicon, statutes), then the index's tuned fusion with one weight for every
query, + the question weight, + questions answered from statutes, + the everyday→legal lexicon, + the question
reranker, + articles named by law and number first, + the uncited bonus for statements: the last row is what
`rag ask|batch` do by default.
`--override KEY=VALUE` (repeatable) applies to every row, e.g. another lexicon:

    git show a88896c:lex_dpr/resources/lexicon/everyday_legal.tsv > /tmp/lexicon_1029.tsv
    poetry run python bench/bench_quality.py --index out/shared/index_default --override retrieval.lexicon=/tmp/lexicon_1029.tsv
 Prints a table, writes JSON with `--output`;
asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]


def query_sets(pairs_dir: Path, questions: Path, corpus) -> dict[str, tuple[str, int, list[tuple[str, set[str]]]]]:
    """name → (metric, k, [(query, relevant ids)]) for every set whose file exists."""
    from lex_dpr.data.corpus import read_pairs

    sets = {}
    for name, file, metric, k in (("valid nDCG@10", "pairs_train_valid.jsonl", "ndcg", 10),
                                  ("held-out R@10", "pairs_train_heldout.jsonl", "recall", 10)):
        if (pairs_dir / file).is_file():
            sets[name] = (metric, k, [(p["query_text"], set(p["positive_passages"]))
                                      for p in read_pairs(pairs_dir / file, corpus)])
    if questions.is_file():
        rows = [orjson.loads(x) for x in questions.read_bytes().splitlines() if x.strip()]
        rows = [r for r in rows if all(pid in corpus.index for pid in r["positive_passages"])]
        for name, keep in (("questions dev R@6", lambda r: r["split"] == "dev"),
                           ("questions test R@6", lambda r: r["split"] == "test"),
                           ("test hard R@6", lambda r: r["split"] == "test" and r.get("hard"))):
            sets[name] = ("recall", 6, [(r["question"], set(r["positive_passages"])) for r in rows if keep(r)])
    return sets


def score(retriever, items: list[tuple[str, set[str]]], metric: str, k: int) -> float:
    from lex_dpr.evaluation.metrics import ndcg_at_k, recall_at_k

    fn = {"ndcg": ndcg_at_k, "recall": recall_at_k}[metric]
    ranked = retriever.rank([q for q, _ in items], max(k, 10))
    return statistics.mean(fn([pid for pid, _ in r], rel, k) for r, (_, rel) in zip(ranked, items, strict=True))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--index", action="append", required=True, help="An index folder (repeatable).")
    ap.add_argument("--label", action="append", default=[], help="A name for each --index, in order.")
    ap.add_argument("--pairs-dir", default="out/shared", help="Where make-pairs wrote its splits.")
    ap.add_argument("--questions", default=str(ROOT / "data" / "questions" / "questions.jsonl"))
    ap.add_argument("--output", help="Write the table as JSON.")
    ap.add_argument("--override", action="append", default=[], help="KEY=VALUE for every row (repeatable).")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from lex_dpr.rag.answer import open_answerer

    table: dict[str, dict[str, float]] = {}
    sets = None
    for i, index in enumerate(args.index):
        label = args.label[i] if i < len(args.label) else Path(index).name
        tuned = open_answerer(index, overrides=args.override)
        if sets is None:
            sets = query_sets(Path(args.pairs_dir), Path(args.questions), tuned.index.corpus)
        nobonus = ["retrieval.uncited_bonus=0"]
        plain = ["retrieval.rerank=false", "retrieval.lexicon=null", "retrieval.question_types=null",
                 "retrieval.citations=false", *nobonus]
        r = tuned.cfg.retrieval
        systems = {  # an ablation ladder: each row adds one thing to the row above it
            f"{label}, BM25 only": ["retrieval.method=weighted", "retrieval.weight=0", *plain],
            f"{label}, BM25 + lexicon, statutes": ["retrieval.method=weighted", "retrieval.weight=0",
                                                  "retrieval.rerank=false", "retrieval.citations=false"],
            f"{label}, model only": ["retrieval.method=weighted", "retrieval.weight=1", *plain],
            f"{label}, fused, one weight for all": ["retrieval.question_weight=null", *plain],
            f"{label}, + question weight {r.question_weight}": plain,
            f"{label}, + questions from statutes": ["retrieval.rerank=false", "retrieval.lexicon=null",
                                                    "retrieval.citations=false", *nobonus],
            f"{label}, + lexicon": ["retrieval.rerank=false", "retrieval.citations=false", *nobonus],
            f"{label}, + reranker": ["retrieval.citations=false", *nobonus],
            f"{label}, + cited articles first": nobonus,
            f"{label}, + uncited bonus {r.uncited_bonus} (default)": [],
        }
        for name, overrides in systems.items():
            answerer = open_answerer(index, overrides=[*args.override, *overrides]) if overrides else tuned
            if name.endswith("+ reranker") and getattr(answerer.retriever, "reranker", None) is None:
                name = name.replace("+ reranker", "(no reranker in this index)")
            table[name] = {s: score(answerer.retriever, items, metric, k) for s, (metric, k, items) in sets.items()}
    names = list(sets)
    print(f"{'system':<40}" + "".join(f"{n + ' (' + str(len(sets[n][2])) + ')':>24}" for n in names))
    for system, row in table.items():
        print(f"{system:<40}" + "".join(f"{row[n]:>24.4f}" for n in names))
    if args.output:
        Path(args.output).write_bytes(orjson.dumps({"sets": {n: len(sets[n][2]) for n in names}, "systems": table},
                                                   option=orjson.OPT_INDENT_2))


if __name__ == "__main__":
    main()
