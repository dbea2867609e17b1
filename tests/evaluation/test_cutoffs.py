"""`lex-dpr eval --k ...`: any cut-offs >= 1 give full tables and reports; others are one line before any work."""

from __future__ import annotations

import orjson
import pytest

from lex_dpr.evaluation.report import HEADLINE, evaluate, to_markdown
from lex_dpr.retrieval.bm25 import BM25Retriever
from lex_dpr.data.corpus import read_corpus, read_pairs
from _cli import lex_dpr


@pytest.mark.parametrize("ks", [["1", "3"], ["1", "3", "10"], ["7"], ["1000"]])
def test_any_cutoffs_give_every_headline_column(ks, sample_training_data, tmp_path):
    d = sample_training_data
    out, md = tmp_path / "r.json", tmp_path / "r.md"
    result = lex_dpr(["eval", "--passages", str(d["passages"]), "--pairs", str(d["valid_pairs"]), "--train-pairs",
                      str(d["pairs"]), "--k", *ks, "--output", str(out), "--markdown", str(md), "-q"])
    assert result.exit_code == 0, (result.stderr, result.exception)
    report = orjson.loads(out.read_bytes())
    assert report["k_values"] == [int(k) for k in ks]  # what was asked for
    for entry in report["systems"].values():
        assert set(HEADLINE) <= set(entry["overall"]) and all(f"ndcg_at_{k}" in entry["overall"] for k in ks)
        assert all(set(HEADLINE) <= set(s) for s in entry["subsets"].values())
        assert entry["worst"] and "ndcg_at_10" in entry["worst"][0]
    assert "| bm25 | " in md.read_text(encoding="utf-8") and "R@5" in result.stdout


def test_evaluate_computes_the_headline_cutoffs_itself(sample_training_data):
    corpus = read_corpus(sample_training_data["passages"])
    valid = read_pairs(sample_training_data["valid_pairs"], corpus)
    report = evaluate([BM25Retriever(corpus)], valid, corpus, [], k_values=[3])
    assert report.k_values == [3] and set(HEADLINE) <= set(report.systems["bm25"]["overall"])
    assert "| bm25 | " in to_markdown(report)


@pytest.mark.parametrize(("ks", "shown"), [(["0"], "0"), (["1", "0", "5"], "0"), (["-1"], "-1"), (["-3", "2"], "-3")])
def test_cutoffs_below_one_are_one_line_before_any_work(ks, shown, sample_training_data, tmp_path, monkeypatch):
    def work(*args, **kwargs):
        raise AssertionError("read the corpus before checking --k")

    monkeypatch.setattr("lex_dpr.evaluation.run.read_corpus", work)
    d = sample_training_data
    result = lex_dpr(["eval", "--passages", str(d["passages"]), "--pairs", str(d["valid_pairs"]), "--k", *ks,
                      "--output", str(tmp_path / "r.json")])
    assert result.exit_code == 2 and result.stdout == "" and type(result.exception) is SystemExit
    assert result.stderr == f"error: --k {shown}: cut-offs must be integers >= 1 (e.g. --k 1 5 10)\n"
    assert not list(tmp_path.iterdir())


def test_a_word_after_k_is_one_line(sample_training_data):
    d = sample_training_data
    result = lex_dpr(["eval", "--passages", str(d["passages"]), "--pairs", str(d["valid_pairs"]), "--k", "1", "ten"])
    assert result.exit_code == 2
    assert result.stderr == "error: unexpected argument(s) ten; cut-offs after --k must be integers >= 1\n"
