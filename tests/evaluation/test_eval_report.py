"""`lex-dpr eval` end to end on the sample, the baselines and the report."""

import subprocess
import sys

import orjson
import pytest
from typer.testing import CliRunner

from lex_dpr.cli.main import app
from lex_dpr.evaluation.report import compare, evaluate, fingerprint
from lex_dpr.evaluation.systems import KnnLabelSystem, PopularitySystem
from lex_dpr.retrieval.bm25 import BM25Retriever
from lex_dpr.data.corpus import read_corpus, read_pairs

runner = CliRunner()


@pytest.mark.slow
def test_eval_cli_scores_every_system_on_one_set(sample_training_data, trained_run, tmp_path):
    d = sample_training_data
    result = runner.invoke(app, ["eval", "--passages", str(d["passages"]), "--pairs", str(d["valid_pairs"]),
                                 "--train-pairs", str(d["pairs"]), "--model", str(trained_run), "--k", "1", "5", "10",
                                 "--output", str(tmp_path / "r.json"), "--markdown", str(tmp_path / "r.md"), "-q"])
    assert result.exit_code == 0, result.output
    report = orjson.loads((tmp_path / "r.json").read_bytes())
    assert report["fingerprint"] == fingerprint(read_pairs(d["valid_pairs"]))
    names = list(report["systems"])
    assert names[:3] == ["bm25", "popularity", "knn-label"] and any(n.startswith("cli_run") for n in names)
    assert any("+bm25" in n for n in names) and report["k_values"] == [1, 5, 10]
    for entry in report["systems"].values():
        assert 0.0 <= entry["overall"]["ndcg_at_10"] <= 1.0 and entry["worst"]
    assert "## Overall" in (tmp_path / "r.md").read_text(encoding="utf-8")
    # the same set compares; a different set is refused
    again = runner.invoke(app, ["eval", "--passages", str(d["passages"]), "--pairs", str(d["valid_pairs"]),
                                "--baseline", "bm25", "--compare", str(tmp_path / "r.json"), "-q"])
    assert again.exit_code == 0 and "+0.0000" in again.output
    other = subprocess.run([sys.executable, "-m", "lex_dpr.cli.main", "eval", "--passages", str(d["passages"]),
                            "--pairs", str(d["pairs"]), "--baseline", "bm25", "--compare", str(tmp_path / "r.json"),
                            "-q"], capture_output=True, text=True)
    assert other.returncode == 2 and "cannot compare" in other.stderr and "Traceback" not in other.stderr


def test_baselines_and_breakdowns(sample_training_data):
    corpus = read_corpus(sample_training_data["passages"])
    train_pairs = read_pairs(sample_training_data["pairs"], corpus)
    valid = read_pairs(sample_training_data["valid_pairs"], corpus)
    report = evaluate([BM25Retriever(corpus), PopularitySystem(train_pairs), KnnLabelSystem(train_pairs)], valid,
                      corpus, train_pairs, [1, 10])
    popular = PopularitySystem(train_pairs).rank(["아무 질의", "다른 질의"], 3)
    assert popular[0] == popular[1] and popular[0][0][1] >= popular[0][-1][1]
    assert sum(v for k, v in report.subset_sizes.items() if k.startswith("type:")) == len(valid)
    seen = {pid for p in train_pairs for pid in p["positive_passages"]}
    never = [p for p in valid if p["meta"]["type"] != "fallback" and set(p["positive_passages"]) - seen]
    assert report.subset_sizes.get("never-seen positives", 0) == len(never)


def test_compare_refuses_other_sets():
    from lex_dpr.errors import ConfigError
    from lex_dpr.evaluation.report import Report

    with pytest.raises(ConfigError, match="cannot compare"):
        compare({"fingerprint": "x", "systems": {}}, Report("y", 1, [10]))


def test_a_broken_report_file_is_a_one_line_error(sample_training_data, tmp_path):
    d = sample_training_data
    (tmp_path / "broken.json").write_text('{"fingerprint": ', encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "lex_dpr.cli.main", "eval", "--passages", str(d["passages"]),
                           "--pairs", str(d["valid_pairs"]), "--baseline", "bm25", "--compare",
                           str(tmp_path / "broken.json"), "-q"], capture_output=True, text=True)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {tmp_path / 'broken.json'}") and "invalid JSON" in lines[0]
