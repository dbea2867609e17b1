"""`lex-dpr eval --index`: an index scored as `rag ask|batch` retrieve from it, on pairs or labelled questions."""

from __future__ import annotations

from pathlib import Path

import orjson

from tests._cli import lex_dpr

QUESTIONS = Path(__file__).resolve().parents[2] / "data" / "questions" / "questions.jsonl"


def test_eval_scores_an_index_as_rag_retrieves_on_one_split_of_the_questions(sample_index, sample_training_data,
                                                                           tmp_path):
    from lex_dpr.evaluation.metrics import recall_at_k
    from lex_dpr.rag.answer import open_answerer

    rows = [orjson.loads(x) for x in QUESTIONS.read_bytes().splitlines()]
    questions = tmp_path / "questions.jsonl"
    questions.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows if r.get("in_sample")))
    report = tmp_path / "report.json"
    done = lex_dpr(["eval", "--passages", str(sample_training_data["passages"]), "--pairs", str(questions),
                    "--split", "dev", "--index", str(sample_index), "--baseline", "bm25", "--k", "6",
                    "--output", str(report), "--quiet"])
    assert done.exit_code == 0, done.output
    result = orjson.loads(report.read_bytes())
    dev = [r for r in rows if r.get("in_sample") and r["split"] == "dev"]
    assert result["queries"] == len(dev) == 25
    name = f"{sample_index.name} (rag)"
    assert set(result["systems"]) == {"bm25", name}
    answerer = open_answerer(sample_index)  # the same retrieval, computed here
    ranked = answerer.retriever.rank([r["question"] for r in dev], 6)
    want = sum(recall_at_k([p for p, _ in x], set(r["positive_passages"]), 6) for x, r in zip(ranked, dev, strict=True))
    assert abs(result["systems"][name]["overall"]["recall_at_6"] - want / len(dev)) < 1e-9


def test_a_split_nothing_is_in_and_another_corpus_are_one_line(sample_index, sample_training_data, tmp_path):
    pairs = str(sample_training_data["valid_pairs"])
    done = lex_dpr(["eval", "--passages", str(sample_training_data["passages"]), "--pairs", pairs, "--split", "test",
                    "--baseline", "bm25", "--quiet"])
    assert done.exit_code == 2 and "--split test: no row of" in done.stderr
    bad = lex_dpr(["eval", "--passages", str(sample_training_data["passages"]), "--pairs", pairs, "--split", "x",
                   "--baseline", "bm25", "--quiet"])
    assert bad.exit_code == 2 and "--split 'x' is not one of dev, test, hard" in bad.stderr
    fewer = tmp_path / "fewer.jsonl"
    lines = Path(sample_training_data["passages"]).read_bytes().splitlines(keepends=True)
    fewer.write_bytes(b"".join(lines[:-1]))
    other = lex_dpr(["eval", "--passages", str(fewer), "--pairs", pairs, "--index", str(sample_index), "--quiet"])
    assert other.exit_code == 2 and "holds other passages than --passages" in other.stderr
