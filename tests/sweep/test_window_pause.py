"""A trial running when the time window closes is stopped at a checkpoint and resumed when it opens again."""

import time
from datetime import datetime, timezone

import pytest

from lex_dpr.sweep import agent as A
from lex_dpr.sweep.parse import parse_sweep
from lex_dpr.sweep.study import open_sweep
from lex_dpr.sweep.create import create_sweep
from lex_dpr.sweep.window import TimeWindow

pytestmark = pytest.mark.slow


def test_window_close_pauses_the_trial_and_resumes_it(sample_training_data, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    fixed = {"model.vocab_size": 400, "model.embedding_dim": 16, "trainer.batch_size": 8, "wandb.mode": "disabled",
             "trainer.eval_steps": 2, "trainer.max_steps": 8, "trainer.early_stopping_patience": 0,
             "trainer.save_total_limit": 5, "data.pairs": str(sample_training_data["pairs"]),
             "data.passages": str(sample_training_data["passages"]),
             "data.valid_pairs": str(sample_training_data["valid_pairs"])}
    spec = parse_sweep({"method": "random", "metric": {"name": "eval/ndcg_at_10", "goal": "maximize"}, "run_cap": 1,
                        "parameters": {"trainer.lr": {"values": [0.1]}}, "fixed": fixed}, "test")
    sweep_id = create_sweep(spec, tmp_path / "sweeps")
    now = [datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc).timestamp()]  # inside 09:00–18:00 UTC
    run = tmp_path / "sweeps" / sweep_id / "runs" / "trial-0000" / "bi_encoder"
    events = []

    def sleep(seconds):
        if now[0] < datetime(2026, 11, 23, 18, 0, tzinfo=timezone.utc).timestamp() and list(run.glob("checkpoint-*")):
            now[0] = datetime(2026, 11, 23, 19, 0, tzinfo=timezone.utc).timestamp()  # the window closes mid-trial
            return
        if seconds <= 0.2:  # the agent polling its running child: real time passes
            time.sleep(seconds)
        now[0] += seconds  # waiting for the window: the fake clock jumps

    options = A.AgentOptions(root=tmp_path / "sweeps", window=TimeWindow.parse("9-18", "UTC"), clock=lambda: now[0],
                             sleep=sleep, poll_s=0.2)
    result = A.run_agent(open_sweep(sweep_id, options=options), options, lambda kind, info: events.append(kind))
    assert result.completed == 1
    assert "pause" in events and "waiting" in events  # stopped at window close, waited for 09:00 the next day
    assert now[0] >= datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc).timestamp()
    log = (run.parent / "train.log").read_text()
    assert log.count("$ lex_dpr.cli.main train --quiet") == 2 and "$ lex_dpr.cli.main train --quiet --resume" in log
    from lex_dpr.runs.record import read_record

    record = read_record(run)
    assert record["status"] == "finished" and record["resumed"][0]["from"].startswith("checkpoint-")
