"""`lex-dpr eval`, `train` and `runs` end to end on the sample."""

import subprocess
import sys

import orjson
import pytest
from typer.testing import CliRunner

from lex_dpr.cli.main import app
from lex_dpr.evaluation.report import compare, evaluate, fingerprint
from lex_dpr.evaluation.systems import KnnLabelSystem, PopularitySystem
from lex_dpr.retrieval.bm25 import BM25Retriever
from lex_dpr.retrieval.fusion import fuse
from lex_dpr.data.corpus import read_corpus, read_pairs

runner = CliRunner()


@pytest.fixture(scope="module")
def trained(sample_training_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("cli_run")
    args = ["train", *(f"data.{k}={v}" for k, v in sample_training_data.items()), "model.vocab_size=400",
            "model.embedding_dim=16", "trainer.batch_size=8", "trainer.epochs=3", "wandb.mode=disabled",
            "--out-dir", str(out), "--quiet"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return out


def test_eval_cli_scores_every_system_on_one_set(sample_training_data, trained, tmp_path):
    d = sample_training_data
    result = runner.invoke(app, ["eval", "--passages", str(d["passages"]), "--pairs", str(d["valid_pairs"]),
                                 "--train-pairs", str(d["pairs"]), "--model", str(trained), "--k", "1", "5", "10",
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


def test_fusion_normalises_each_list():
    assert fuse([("a", 3.0), ("b", 1.0)], [("b", 2.0), ("c", 0.0)], 0.5) == [("a", 0.5), ("b", 0.5), ("c", 0.0)]
    assert fuse([("a", 3.0), ("b", 1.0)], [("b", 2.0), ("c", 0.0)], 1.0)[0] == ("a", 1.0)


def test_compare_refuses_other_sets():
    from lex_dpr.errors import ConfigError
    from lex_dpr.evaluation.report import Report

    with pytest.raises(ConfigError, match="cannot compare"):
        compare({"fingerprint": "x", "systems": {}}, Report("y", 1, [10]))


def test_runs_list_show_plot_check(trained, tmp_path):
    listed = runner.invoke(app, ["runs", "list", str(trained), "--json", str(tmp_path / "l.json")])
    assert listed.exit_code == 0
    assert orjson.loads((tmp_path / "l.json").read_bytes())[0]["status"] == "finished"
    assert runner.invoke(app, ["runs", "show", str(trained)]).exit_code == 0
    plotted = runner.invoke(app, ["runs", "plot", str(trained), str(trained), "--out", str(tmp_path / "p.png")])
    assert plotted.exit_code == 0 and (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"
    checked = runner.invoke(app, ["runs", "check", str(trained), "--json", str(tmp_path / "c.json")])
    verdicts = {c["name"]: c["verdict"] for c in orjson.loads((tmp_path / "c.json").read_bytes())}
    assert verdicts["finished"] == verdicts["checkpoint present"] == verdicts["loss finite"] == "PASS"
    assert checked.exit_code == 0


def test_runs_check_fails_a_nan_run(tmp_path):
    run = tmp_path / "bad" / "bi_encoder"
    run.mkdir(parents=True)
    (run / "training_config.json").write_bytes(orjson.dumps({"status": "failed", "error": "non-finite loss at step 3"}))
    (run / "metrics.jsonl").write_text('{"step":1,"train/loss":2.0}\n{"step":2,"train/loss":1.0}\n'
                                       '{"step":3,"train/loss":NaN}\n', encoding="utf-8")
    result = runner.invoke(app, ["runs", "check", str(tmp_path / "bad"), "--json", str(tmp_path / "c.json")])
    verdicts = {c["name"]: c["verdict"] for c in orjson.loads((tmp_path / "c.json").read_bytes())}
    assert result.exit_code == 1 and verdicts["finished"] == "FAIL" and verdicts["checkpoint present"] == "FAIL"


def test_train_cli_kfold_table(sample_training_data, tmp_path):
    args = ["train", *(f"data.{k}={v}" for k, v in sample_training_data.items()), "model.vocab_size=400",
            "model.embedding_dim=16", "trainer.batch_size=8", "trainer.epochs=1", "wandb.mode=disabled",
            "--folds", "2", "--out-dir", str(tmp_path), "--quiet"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "k-fold (2)" in result.output and "fold-1" in result.output
    summary = orjson.loads((tmp_path / "kfold_summary.json").read_bytes())
    assert len(summary["folds"]) == 2 and summary["out_of_fold"]["ndcg_at_10"] >= 0
    assert (tmp_path / "fold-0" / "bi_encoder" / "final").is_dir() and (tmp_path / "ensemble" / "ensemble.json").is_file()


def test_bad_report_and_run_files_are_one_line_errors(sample_training_data, tmp_path):
    d = sample_training_data
    (tmp_path / "broken.json").write_text('{"fingerprint": ', encoding="utf-8")
    run = tmp_path / "run" / "bi_encoder"
    run.mkdir(parents=True)
    (run / "training_config.json").write_text("not json", encoding="utf-8")
    cli = [sys.executable, "-m", "lex_dpr.cli.main"]
    cases = [["eval", "--passages", str(d["passages"]), "--pairs", str(d["valid_pairs"]), "--baseline", "bm25",
              "--compare", str(tmp_path / "broken.json"), "-q"],
             ["runs", "show", str(tmp_path / "run")], ["runs", "check", str(tmp_path / "run")]]
    for args in cases:
        done = subprocess.run([*cli, *args], capture_output=True, text=True)
        assert done.returncode == 1 and "Traceback" not in done.stderr, args
        assert "invalid JSON" in done.stderr
