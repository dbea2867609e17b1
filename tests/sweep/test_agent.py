"""Offline sweeps end to end on the sample: real agents in child processes, kills, two agents on one journal."""

import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from lex_dpr.training.config import load_config

pytestmark = pytest.mark.slow

SMALL = {"model.vocab_size": 400, "model.embedding_dim": 16, "trainer.batch_size": 8, "trainer.logging_steps": 1,
         "wandb.mode": "disabled"}


def _sweep_file(tmp_path, data, run_cap=3, name="sweep.yaml", extra=""):
    fixed = {**SMALL, "data.pairs": data["pairs"], "data.passages": data["passages"],
             "data.valid_pairs": data["valid_pairs"]}
    text = ("method: random\nmetric:\n  name: eval/ndcg_at_10\n  goal: maximize\n"
            f"run_cap: {run_cap}\n"
            "parameters:\n"
            "  trainer.lr:\n    distribution: log_uniform_values\n    min: 0.02\n    max: 0.3\n"
            "  trainer.epochs:\n    values: [1, 2, 3]\n"
            "fixed:\n" + "".join(f"  {k}: {v}\n" for k, v in fixed.items()) + extra)
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _cli(*args, cwd, columns="200", **kw):
    env = dict(os.environ, HF_HUB_OFFLINE="1", COLUMNS=columns)
    return subprocess.run([sys.executable, "-m", "lex_dpr.cli.main", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, **kw)


def _agent(config, cwd, *more):
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    return subprocess.Popen([sys.executable, "-m", "lex_dpr.cli.main", "sweep", "agent", "--config", str(config), *more],
                            cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _trials(cwd, config, *more):
    """`sweep status --json` run in this process (the CLI's own entry, exit code and one-line errors included): the
    trials as the next agent sees them, without the seconds of start-up a child process costs."""
    from tests._cli import lex_dpr

    done = lex_dpr(["sweep", "status", "--config", str(config), "--sweeps-dir", str(cwd / "sweeps"), "--json",
                    str(cwd / "trials.json"), *more])
    assert done.exit_code == 0, done.output
    return orjson.loads((cwd / "trials.json").read_bytes())


def test_two_agents_share_the_run_cap_then_status_plots_and_best_export(sample_training_data, tmp_path):
    """Two agents on one journal run three trials between them (none twice, none lost); status, plots and the best
    trial's export read the result; a third agent finds run_cap reached."""
    data = sample_training_data
    config = _sweep_file(tmp_path, data)
    created = _cli("sweep", "create", "--config", config, "--no-run-agent", cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    sweep_id = next(line.split(": ", 1)[1] for line in config.read_text().splitlines() if line.startswith("sweep_id:"))
    agents = [_agent(config, tmp_path) for _ in range(2)]
    for a in agents:
        _, err = a.communicate(timeout=300)
        assert a.returncode == 0, err
    trials = _trials(tmp_path, config)
    assert [t["state"] for t in trials] == ["complete"] * 3 and len(trials) == 3
    assert sorted(t["number"] for t in trials) == [0, 1, 2]  # no number twice, none lost
    assert len({(t["values"]["trainer.lr"], t["values"]["trainer.epochs"]) for t in trials}) == 3
    assert all(0 < t["value"] <= 1 for t in trials)
    plots = tmp_path / "sweeps" / sweep_id / "plots"
    assert {p.name for p in plots.glob("*.png")} >= {"history.png", "importances.png", "slice.png"}
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in plots.glob("*.png"))
    # the best trial's config is what `train` takes, and its value is the best logged
    best = _cli("sweep", "best", "--config", config, "--export", "best.yaml", cwd=tmp_path)
    assert best.returncode == 0, best.stderr
    top = max(trials, key=lambda t: t["value"])
    assert f"{top['value']:.4f}" in best.stdout
    check = _cli("train", "--config", "best.yaml", "--check", cwd=tmp_path)
    assert check.returncode == 0, check.stderr
    # the exported file trains the best trial's values exactly, and is the run `sweep best` printed as one line
    command = shlex.split(check.stdout.strip().splitlines()[-1])
    assert command[:2] == ["lex-dpr", "train"] and check.stdout.strip().splitlines()[-1] == best.stdout.strip().splitlines()[-1]
    for cfg in (load_config(tmp_path / "best.yaml"), load_config(None, command[2:])):
        assert (cfg.trainer.lr, cfg.trainer.epochs) == (top["values"]["trainer.lr"], top["values"]["trainer.epochs"])
        assert cfg.data.pairs == str(data["pairs"]) and cfg.out_dir == f"runs/{sweep_id}-best"
    # the agent stops at run_cap: a third agent runs nothing more
    again = _cli("sweep", "agent", "--config", config, cwd=tmp_path)
    assert again.returncode == 0 and "run_cap 3 reached" in again.stdout
    assert len(_trials(tmp_path, config)) == 3


def _wait_for_running_trial(cwd, sweep_root_glob="sweeps/*/runs/trial-*/bi_encoder/metrics.jsonl", n=1, timeout=180):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = sorted(Path(cwd).glob(sweep_root_glob))
        if len(found) >= n and b"train/loss" in found[n - 1].read_bytes():
            return found[n - 1]
        time.sleep(0.2)
    raise AssertionError("no trial started training")


def test_killed_agents_restart_and_finish_without_repeating(sample_training_data, tmp_path):
    """SIGTERM one agent mid-trial, SIGKILL the next mid-trial, then a third finishes the sweep. `sweep status`
    shows each trial running while its agent lives, and the SIGKILLed agent's trial dead without changing the
    journal (the re-queue is the next agent's)."""
    config = _sweep_file(tmp_path, sample_training_data, run_cap=3).read_text().replace("[1, 2, 3]", "[200, 201, 202]")
    path = tmp_path / "sweep.yaml"
    path.write_text(config.replace("fixed:\n", "fixed:\n  trainer.early_stopping_patience: 0\n  trainer.max_steps: 400\n"))
    assert _cli("sweep", "create", "--config", path, "--no-run-agent", cwd=tmp_path).returncode == 0
    killed = []
    for n, sig in enumerate((signal.SIGTERM, signal.SIGKILL), start=1):
        agent = _agent(path, tmp_path)
        metrics = _wait_for_running_trial(tmp_path, n=n)
        alive = [t["state"] for t in _trials(tmp_path, path, "--no-plots")]
        assert len(alive) == n and alive[-1] == "running" and "dead" not in alive, alive  # its agent lives: running
        os.kill(agent.pid, sig)
        _, err = agent.communicate(timeout=120)
        if sig == signal.SIGTERM:
            assert agent.returncode == 143 and "Traceback" not in err, err
            assert "interrupted: SIGTERM" in err
        else:
            assert agent.returncode == -signal.SIGKILL
        time.sleep(2)  # the trial's child died with its agent: no orphan keeps training
        orphans = subprocess.run(["pgrep", "-f", str(metrics.parent.parent)], capture_output=True, text=True).stdout
        assert orphans.strip() == ""
        journal = next((tmp_path / "sweeps").glob("*/journal.log"))
        before = journal.read_bytes()
        trials = _trials(tmp_path, path)
        running_or_failed = [t for t in trials if t["state"] in ("running", "failed", "dead")]
        assert len(running_or_failed) == n  # SIGTERM: failed at once; SIGKILL: "dead" (running, its agent gone)
        assert running_or_failed[-1]["state"] == ("failed" if sig == signal.SIGTERM else "dead")
        killed.append(running_or_failed[-1]["number"])
        if sig == signal.SIGKILL:  # the table at 80 columns in a pipe says so too
            table = _cli("sweep", "status", "--config", path, cwd=tmp_path, columns="80")
            rows = [[c.strip() for c in x.strip("│").split("│")] for x in table.stdout.splitlines() if x[:1] == "│"]
            assert table.returncode == 0 and [str(killed[-1]), "dead (agent gone)"] in [r[:2] for r in rows], table.stdout
            assert journal.read_bytes() == before  # status only reads; the next agent re-queues the trial
    # restart with short trials: the SIGKILLed trial is found dead by its heartbeat's pid and re-queued. Agents read
    # the spec `sweep create` stored (sweeps/ID/sweep.yaml; create refuses a changed `fixed`), so the stored copy is
    # the one shortened; the user's file alone would leave every remaining trial at 400 steps.
    for spec in (path, next((tmp_path / "sweeps").glob("*/sweep.yaml"))):
        text = spec.read_text()
        assert "  trainer.max_steps: 400\n" in text, text
        spec.write_text(text.replace("  trainer.max_steps: 400\n", "  trainer.max_steps: 3\n"))
    finished = _cli("sweep", "agent", "--config", path, cwd=tmp_path, timeout=300)
    assert finished.returncode == 0, finished.stderr
    trials = _trials(tmp_path, path)
    assert [t["state"] for t in trials].count("complete") == 3
    assert len({t["number"] for t in trials}) == len(trials)
    assert all(t["requeued_as_new_trial"] for t in trials if t["number"] in killed)
    assert all(t["state"] == "failed" for t in trials if t["number"] in killed)


def test_hyperband_prunes_a_real_trial_that_falls_behind_at_the_fourth_evaluation(sample_training_data, tmp_path):
    """Hyperband as W&B runs it (max_iter 9, s 1, eta 3: one band, history index 3, the 4th evaluation; with two
    trials the threshold is the better value there). Trial 1 cannot learn (lr 1e-9; no early stopping) and is cut
    at its 4th evaluation, against trial 0 which learned: the pruner sees what the child logs."""
    import optuna

    extra = "early_terminate:\n  type: hyperband\n  max_iter: 9\n  s: 1\n  eta: 3\nsweep_id: hb-0\n"
    config = _sweep_file(tmp_path, sample_training_data, run_cap=2, extra=extra)
    text = config.read_text().replace("  trainer.lr:\n    distribution: log_uniform_values\n    min: 0.02\n    max: 0.3\n",
                                      "  trainer.lr:\n    values: [0.3, 0.000000001]\n")
    text = text.replace("values: [1, 2, 3]", "values: [4, 30]")
    config.write_text(text.replace("fixed:\n", "fixed:\n  trainer.early_stopping_patience: 0\n"))
    assert _cli("sweep", "create", "--config", config, "--no-run-agent", cwd=tmp_path).returncode == 0
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(
        str(tmp_path / "sweeps" / "hb-0" / "journal.log")))
    study = optuna.load_study(study_name="hb-0", storage=storage)
    for lr, epochs in ((0.3, 4), (1e-9, 30)):
        study.enqueue_trial({"trainer.lr": lr, "trainer.epochs": epochs})
    ran = _cli("sweep", "agent", "--config", config, cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    trials = _trials(tmp_path, config)
    assert [(t["state"], t["values"]["trainer.lr"]) for t in trials] == [("complete", 0.3), ("pruned", 1e-9)]
    assert "trial 1: prune" in ran.stderr
    learned, stuck = (t.intermediate_values for t in optuna.load_study(study_name="hb-0", storage=storage).trials[:2])
    assert len(learned) == 4 and sorted(stuck) == [1, 2, 3, 4] and max(stuck.values()) < learned[4]
    rows = [orjson.loads(x) for x in (tmp_path / "sweeps" / "hb-0" / "runs" / "trial-0001" / "bi_encoder" /
                                      "metrics.jsonl").read_bytes().splitlines() if x.strip()]
    evals = [r for r in rows if "eval/ndcg_at_10" in r]
    assert 4 <= len(evals) < 30  # stopped long before its last epoch
