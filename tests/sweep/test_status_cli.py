"""`sweep status` at 80 columns and in a pipe, `--json -`, plots that cannot be written, and an agent started on a
stopped sweep: real CLI runs on the sample data. (A SIGKILLed agent's trial: tests/sweep/test_agent.py.)"""

import os
import re
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

SMALL = {"trainer.logging_steps": 1, "wandb.mode": "disabled"}
# the static preset's ten parameters, with ranges small enough for the sample data
TEN = """\
  trainer.lr:
    distribution: log_uniform_values
    min: 0.02
    max: 0.3
  trainer.temperature:
    distribution: uniform
    min: 0.02
    max: 0.1
  trainer.batch_size:
    values: [8, 16]
  trainer.epochs:
    values: [1, 2]
  data.hard_negatives:
    values: [1, 2]
  data.hard_negative_ratio:
    distribution: uniform
    min: 0.5
    max: 1.0
  data.multiply:
    values: [1, 2]
  data.pseudo_queries:
    values: [true, false]
  model.embedding_dim:
    values: [16, 24]
  model.vocab_size:
    values: [300, 400]
"""


def _cli(*args, cwd, columns="200", timeout=600):
    env = dict(os.environ, HF_HUB_OFFLINE="1", COLUMNS=columns)
    env.pop("LEX_DPR_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "lex_dpr.cli.main", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def _write_sweep(cwd: Path, data, parameters: str, run_cap: int, fixed: dict) -> Path:
    fixed = {**SMALL, **fixed, "data.pairs": data["pairs"], "data.passages": data["passages"],
             "data.valid_pairs": data["valid_pairs"]}
    path = cwd / "sweep.yaml"
    path.write_text("method: random\nmetric:\n  name: eval/ndcg_at_10\n  goal: maximize\n"
                    f"run_cap: {run_cap}\nparameters:\n{parameters}fixed:\n"
                    + "".join(f"  {k}: {v}\n" for k, v in fixed.items()), encoding="utf-8")
    done = _cli("sweep", "create", "--config", path, "--no-run-agent", cwd=cwd)
    assert done.returncode == 0, done.stderr
    return path


def _sweep_id(config: Path) -> str:
    return next(x.split(": ", 1)[1] for x in config.read_text().splitlines() if x.startswith("sweep_id:"))


def _json(cwd, sweep_id, *more):
    done = _cli("sweep", "status", sweep_id, "--json", "-", *more, cwd=cwd)
    assert done.returncode == 0, done.stderr
    return orjson.loads(done.stdout), done.stderr  # stdout is the JSON and nothing else


@pytest.fixture(scope="module")
def ten_param_sweep(sample_training_data, tmp_path_factory):
    """Two finished real trials of a sweep over the static preset's ten parameters, all ten different."""
    import optuna

    from lex_dpr.sweep.storage import open_storage

    cwd = tmp_path_factory.mktemp("ten")
    config = _write_sweep(cwd, sample_training_data, TEN, 2, {})
    study = optuna.load_study(study_name=_sweep_id(config),
                              storage=open_storage(str(cwd / "sweeps" / _sweep_id(config) / "journal.log")))
    for i in (0, 1):
        study.enqueue_trial({"trainer.lr": (0.05, 0.2)[i], "trainer.temperature": (0.03, 0.07)[i],
                             "trainer.batch_size": (8, 16)[i], "trainer.epochs": (1, 2)[i],
                             "data.hard_negatives": (1, 2)[i], "data.hard_negative_ratio": (0.6, 0.9)[i],
                             "data.multiply": (1, 2)[i], "data.pseudo_queries": (False, True)[i],
                             "model.embedding_dim": (16, 24)[i], "model.vocab_size": (300, 400)[i]})
    ran = _cli("sweep", "agent", "--config", config, cwd=cwd)
    assert ran.returncode == 0, ran.stderr
    return cwd, _sweep_id(config)


@pytest.mark.slow
def test_status_at_80_columns_in_a_pipe_keeps_trial_state_value_and_wall_time_whole(ten_param_sweep):
    from rich.cells import cell_len

    cwd, sweep_id = ten_param_sweep
    trials, _ = _json(cwd, sweep_id, "--no-plots")
    assert [t["state"] for t in trials] == ["complete", "complete"]
    done = _cli("sweep", "status", sweep_id, "--no-plots", cwd=cwd, columns="80")
    assert done.returncode == 0 and done.stderr == "", done.stderr
    lines = done.stdout.splitlines()
    assert all(cell_len(x) <= 80 for x in lines), done.stdout
    assert "…" not in done.stdout  # nothing cut (the bug: `tri…`, `sta…`, `0.7…`)
    cells = [[c.strip() for c in x.strip("│┃").split("│" if "│" in x else "┃")] for x in lines if x[:1] in "│┃"]
    assert cells[0][:4] == ["trial", "state", "value", "wall (s)"]
    for t in trials:
        assert [str(t["number"]), "complete", f"{t['value']:.4f}", str(t["wall_s"])] in [c[:4] for c in cells]
    # the parameters are all there, each under its shortest unique name, with whole values
    text = "".join(c[4] for c in cells[1:] if len(c) > 4).replace(" ", "")
    for t in trials:
        for key, value in t["values"].items():
            shown = f"{value:.4g}" if isinstance(value, float) else str(value)
            assert f"{key.rsplit('.', 1)[-1]}={shown}" in text, (key, done.stdout)
    wide = _cli("sweep", "status", sweep_id, "--no-plots", cwd=cwd, columns="400")  # room enough: a column each
    header = next(x for x in wide.stdout.splitlines() if x.startswith("┃"))
    assert [c.strip() for c in header.strip("┃").split("┃")][4:] == ["lr", "temperature", "batch_size", "epochs",
                                                                    "hard_negatives", "hard_negative_ratio",
                                                                    "multiply", "pseudo_queries", "embedding_dim",
                                                                    "vocab_size"]


@pytest.mark.slow
def test_json_dash_prints_only_the_json_and_a_path_still_writes_a_file(ten_param_sweep):
    cwd, sweep_id = ten_param_sweep
    trials, err = _json(cwd, sweep_id)
    assert f"wrote sweeps/{sweep_id}/plots/history.png" in err  # progress on stderr, never in the JSON
    assert _json(cwd, sweep_id, "--no-plots") == (trials, "")
    done = _cli("sweep", "status", sweep_id, "--json", "t.json", "--no-plots", cwd=cwd)
    assert done.returncode == 0 and "trial" in done.stdout
    assert orjson.loads((cwd / "t.json").read_bytes()) == trials


@pytest.mark.slow
def test_plots_that_cannot_be_written_are_one_warning_and_the_table_still_prints(ten_param_sweep):
    import shutil

    cwd, sweep_id = ten_param_sweep
    plots = cwd / "sweeps" / sweep_id / "plots"
    shutil.rmtree(plots, ignore_errors=True)
    plots.write_text("not a folder")  # unwritable for root too
    try:
        done = _cli("sweep", "status", sweep_id, cwd=cwd)
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr
        assert done.stderr.splitlines() == [f"warning: cannot write sweeps/{sweep_id}/plots (a part of the path is a "
                                            "file, not a folder); the plots were not written; skip them with "
                                            "--no-plots"]
        assert "best: trial" in done.stdout and "complete" in done.stdout
        quiet = _cli("sweep", "status", sweep_id, "--no-plots", cwd=cwd)
        assert quiet.returncode == 0 and quiet.stderr == "" and "best: trial" in quiet.stdout
    finally:
        plots.unlink()


@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only folder anyway")
def test_a_read_only_plots_folder_is_one_warning(ten_param_sweep):
    cwd, sweep_id = ten_param_sweep
    plots = cwd / "sweeps" / sweep_id / "plots"
    plots.mkdir(exist_ok=True)
    plots.chmod(0o555)
    try:
        done = _cli("sweep", "status", sweep_id, cwd=cwd)
        assert done.returncode == 0 and done.stderr.startswith(f"warning: cannot write sweeps/{sweep_id}/plots (no "
                                                               "permission)"), done.stderr
        assert len(done.stderr.splitlines()) == 1
    finally:
        plots.chmod(0o755)


# A SIGKILLed agent's trial (status: running while the agent lives, then `dead (agent gone)` in the JSON and in the
# 80-column table, the journal unchanged) is checked in tests/sweep/test_agent.py::
# test_killed_agents_restart_and_finish_without_repeating, on the agent it kills there (one trial process fewer).


def test_an_agent_on_a_stopped_sweep_says_when_and_how_to_resume(tmp_path):
    for name in ("p.jsonl", "c.jsonl", "v.jsonl"):
        (tmp_path / name).write_text("")
    config = _write_sweep(tmp_path, {"pairs": "p.jsonl", "passages": "c.jsonl", "valid_pairs": "v.jsonl"},
                          "  trainer.lr:\n    values: [0.1, 0.2]\n", 3, {})
    sweep_id = _sweep_id(config)
    assert _cli("sweep", "stop", sweep_id, cwd=tmp_path).returncode == 0
    at = (tmp_path / "sweeps" / sweep_id / "STOP").read_text().splitlines()[0]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", at), at  # UTC, ISO 8601 with Z
    done = _cli("sweep", "agent", sweep_id, cwd=tmp_path)
    assert done.returncode == 0 and done.stdout == ""
    assert done.stderr.splitlines() == [f"warning: sweep {sweep_id} was stopped at {at} (lex-dpr sweep stop); no "
                                        f"trial run; to continue: lex-dpr sweep agent {sweep_id} --resume"]
    assert not (tmp_path / "sweeps" / sweep_id / "runs").exists()
    resumed = _cli("sweep", "agent", sweep_id, "--resume", "--count", "1", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert "trial 0: trainer.lr=" in resumed.stderr and "count 1 reached" in resumed.stdout
    assert not (tmp_path / "sweeps" / sweep_id / "STOP").exists()
    import optuna

    from lex_dpr.sweep.storage import open_storage

    study = optuna.load_study(study_name=sweep_id, storage=open_storage(str(tmp_path / "sweeps" / sweep_id /
                                                                             "journal.log")))
    assert study.user_attrs["stop"] is False and len(study.trials) == 1
