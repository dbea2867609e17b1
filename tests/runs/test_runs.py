"""`lex-dpr runs list|show|plot|check` on a real run folder (lex_dpr.runs.record and lex_dpr.runs.report)."""

import re
import subprocess
import sys

import orjson
from typer.testing import CliRunner

from lex_dpr.cli.main import app
from lex_dpr.runs.record import read_metrics, read_record

runner = CliRunner()


def _row(output: str, *cells: str) -> bool:
    """Whether a rich table row holds exactly these cells, left to right."""
    pattern = r"^│ " + r" +│ +".join(re.escape(c) for c in cells) + r" *│$"
    return re.search(pattern, output, re.MULTILINE) is not None


def test_runs_list_show_plot_check(trained_run, tmp_path):
    run = trained_run / "bi_encoder"
    record = read_record(run)
    rows = read_metrics(run)
    assert record["status"] == "finished"

    listed = runner.invoke(app, ["runs", "list", str(trained_run), "--json", str(tmp_path / "l.json")])
    assert listed.exit_code == 0, listed.output
    [summary] = orjson.loads((tmp_path / "l.json").read_bytes())
    ndcg = [r["eval/ndcg_at_10"] for r in rows if "eval/ndcg_at_10" in r]
    assert len(ndcg) == 3  # one evaluation per epoch
    assert summary == {"run": str(run), "status": "finished", "model": "static", "metric": "ndcg_at_10",
                       "best": max(ndcg), "steps": max(r["step"] for r in rows),
                       "wall_time_s": record["result"]["wall_time_s"]}

    shown = runner.invoke(app, ["runs", "show", str(trained_run)])
    assert shown.exit_code == 0, shown.output
    out = shown.output
    assert "(finished)" in out.split("┏", 1)[0]  # the title carries the status
    config = record["config"]
    assert config["model"]["vocab_size"] == 400 and config["trainer"]["epochs"] == 3.0
    short = [(f"{section}.{k}", str(v)) for section, values in config.items() if isinstance(values, dict)
             for k, v in values.items() if len(str(v)) < 30]
    assert len(short) > 30
    for key, value in short:  # every config key with its value (long paths are cut by the table)
        assert _row(out, key, value), (key, value)
    for key in ("data.pairs", "data.valid_pairs", "data.passages"):
        assert re.search(rf"^│ {re.escape(key)} +│ +/", out, re.MULTILINE), key
    for name, entry in record["inputs"].items():
        assert name in {"pairs", "valid_pairs", "passages"} and re.search(
            rf"^│ {name} +│ .+ │ {entry['sha256'][:16]} │$", out, re.MULTILINE), name
    assert _row(out, "git", str(record["git_commit"]))
    last = {}
    for r in rows:
        last.update({k: v for k, v in r.items() if k.startswith("eval/")})
    assert {"eval/ndcg_at_10", "eval/recall_at_10", "eval/mrr_at_10", "eval/loss"} <= set(last)
    for key, value in last.items():  # the last value logged for every eval metric
        assert _row(out, key, f"{value:.4f}"), (key, value)

    plotted = runner.invoke(app, ["runs", "plot", str(trained_run), str(trained_run), "--out", str(tmp_path / "p.png")])
    assert plotted.exit_code == 0 and (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"

    checked = runner.invoke(app, ["runs", "check", str(trained_run), "--json", str(tmp_path / "c.json")])
    verdicts = {c["name"]: c["verdict"] for c in orjson.loads((tmp_path / "c.json").read_bytes())}
    assert verdicts["finished"] == verdicts["checkpoint present"] == verdicts["loss finite"] == "PASS"
    assert verdicts["metrics recorded"] == verdicts["embeddings not collapsed"] == "PASS"
    assert "FAIL" not in verdicts.values() and checked.exit_code == 0
    worst = "WARN" if "WARN" in verdicts.values() else "PASS"
    assert checked.output.rstrip().splitlines()[-1] == worst


def _nan_run(tmp_path):
    """A run folder as training leaves it when the loss turns NaN at step 3 (orjson writes NaN as null)."""
    run = tmp_path / "bad" / "bi_encoder"
    run.mkdir(parents=True)
    (run / "training_config.json").write_bytes(orjson.dumps({"status": "failed", "error": "non-finite loss at step 3"}))
    (run / "metrics.jsonl").write_bytes(b"".join(orjson.dumps(row) + b"\n" for row in (
        {"step": 1, "train/loss": 2.0}, {"step": 2, "train/loss": 1.0}, {"step": 3, "train/loss": float("nan")})))
    return run


def test_runs_check_fails_a_failed_run_without_checkpoint(tmp_path):
    _nan_run(tmp_path)
    result = runner.invoke(app, ["runs", "check", str(tmp_path / "bad"), "--json", str(tmp_path / "c.json")])
    checks = {c["name"]: c for c in orjson.loads((tmp_path / "c.json").read_bytes())}
    assert result.exit_code == 1 and result.output.rstrip().splitlines()[-1] == "FAIL"
    assert checks["finished"] == {"name": "finished", "verdict": "FAIL",
                                  "detail": "status failed: non-finite loss at step 3"}
    assert checks["checkpoint present"] == {"name": "checkpoint present", "verdict": "FAIL", "detail": "none"}


def test_runs_check_flags_a_nan_loss(tmp_path):
    from lex_dpr.runs.report import check_run

    checks = {c.name: c for c in check_run(_nan_run(tmp_path))}
    assert checks["loss finite"].verdict == "FAIL" and checks["loss finite"].detail == "1 non-finite of 3"


def test_bad_run_files_are_one_line_errors(tmp_path):
    run = tmp_path / "run" / "bi_encoder"
    run.mkdir(parents=True)
    (run / "training_config.json").write_text("not json", encoding="utf-8")
    for args in (["runs", "show", str(tmp_path / "run")], ["runs", "check", str(tmp_path / "run")]):
        done = subprocess.run([sys.executable, "-m", "lex_dpr.cli.main", *args], capture_output=True, text=True)
        assert done.returncode == 1 and "Traceback" not in done.stderr, args
        lines = done.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"error: {run / 'training_config.json'}"), done.stderr
        assert "invalid JSON" in lines[0]
    missing = subprocess.run([sys.executable, "-m", "lex_dpr.cli.main", "runs", "show", str(tmp_path)],
                             capture_output=True, text=True)
    assert missing.returncode == 1 and missing.stderr.splitlines() == [
        f"error: {tmp_path}: not a lex-dpr run (no training_config.json in it or in bi_encoder/)"]


def test_runs_check_fails_a_final_folder_without_weights(trained_run, tmp_path):
    import shutil

    from lex_dpr.runs.report import check_run

    run = tmp_path / "copy"
    shutil.copytree(trained_run / "bi_encoder", run / "bi_encoder")
    (run / "bi_encoder" / "final" / "model.safetensors").unlink()
    ckpt = sorted((run / "bi_encoder").glob("checkpoint-*"))[0]
    (ckpt / "trainer_state.json").unlink()
    check = {c.name: c for c in check_run(run / "bi_encoder")}["checkpoint present"]
    assert check.verdict == "FAIL"
    assert "final has no weights (model.safetensors or adapter_model.safetensors)" in check.detail
    assert f"{ckpt.name} incomplete (no trainer_state.json)" in check.detail


def test_the_package_face_names_the_record_and_the_report():
    import lex_dpr.runs as runs
    from lex_dpr.runs import record, report

    assert all(getattr(runs, name) is getattr(record if hasattr(record, name) else report, name) for name in runs.__all__)
    assert {"RunCheck", "check_run", "read_record", "write_record"} <= set(runs.__all__)


def test_metrics_a_torn_last_row_is_left_out_and_a_damaged_one_named_once(tmp_path, caplog):
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.jsonl").write_bytes(b'{"step": 1, "train/loss": 2.0}\n{"step": 2, "tr\n[3]\n'
                                        b'{"step": 3, "train/loss": null}\n{"step": 4, "train/lo')
    for _ in range(2):  # the sweep agent reads it every poll: one warning per damaged line, not one per read
        rows = read_metrics(run)
        assert [r["step"] for r in rows] == [1, 3] and rows[1]["train/loss"] != rows[1]["train/loss"]  # NaN
    warned = [r.getMessage() for r in caplog.records]
    assert len(warned) == 2 and warned[0].startswith(f"{run / 'metrics.jsonl'}:2: invalid JSON (")
    assert warned[1] == f"{run / 'metrics.jsonl'}:3: not a JSON object; the row is left out"
    bad = []
    read_metrics(run, bad)
    assert [b.line for b in bad] == [2, 3]


def test_the_record_says_utc_and_one_process_holds_a_run(tmp_path):
    import os

    import pytest

    from lex_dpr.errors import InputError
    from lex_dpr.runs.record import RunStatus, run_lock, write_record

    write_record(tmp_path, RunStatus.RUNNING)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", read_record(tmp_path)["updated"])
    with run_lock(tmp_path):
        with pytest.raises(InputError) as caught:
            with run_lock(tmp_path):
                pass
    assert str(caught.value) == (f"{tmp_path} is in use by another lex-dpr process (pid {os.getpid()}); wait for it "
                                 "to end or choose another out_dir")
    with run_lock(tmp_path):  # released on exit
        pass


def test_the_report_reads_the_metric_key_metric_name_gives():
    """runs sits below evaluation and keeps its own copy of the key rule: it must agree with MetricName's."""
    from lex_dpr.evaluation.metric_name import DEFAULT, MetricName
    from lex_dpr.runs import report
    from lex_dpr.training.config import Metric

    assert report._DEFAULT_METRIC == DEFAULT.canonical
    for metric in Metric:
        assert report._metric_key(metric.value) == MetricName.parse(metric.value).key


def test_a_summary_reads_the_configured_metric(tmp_path):
    from lex_dpr.runs.report import summarize

    run = tmp_path / "run" / "bi_encoder"
    run.mkdir(parents=True)
    (run / "training_config.json").write_bytes(orjson.dumps({"status": "finished",
                                                             "config": {"eval": {"metric": "recall_at_5"}}}))
    (run / "metrics.jsonl").write_bytes(b'{"step": 1, "eval/recall_at_5": 0.5, "eval/ndcg_at_10": 0.9}\n'
                                        b'{"step": 2, "eval/recall_at_5": 0.7}\n')
    summary = summarize(run)
    assert (summary.metric, summary.best, summary.steps) == ("recall_at_5", 0.7, 2)


def test_the_plot_is_written_whole_with_no_temp_file_left(tmp_path):
    from lex_dpr.runs.report import plot_runs

    run = _nan_run(tmp_path)
    with (run / "metrics.jsonl").open("ab") as fh:
        fh.write(b'{"step": 3, "eval/loss": 1.0, "eval/ndcg_at_10": 0.5}\n')
    out = tmp_path / "plots" / "p.png"
    assert plot_runs([run], out) == out and out.read_bytes()[:4] == b"\x89PNG"
    assert [p.name for p in out.parent.iterdir()] == ["p.png"]
