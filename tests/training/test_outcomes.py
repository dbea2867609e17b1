"""Every training outcome is recorded, settings never leak between trainings, hard-negative share is real."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import orjson
import pytest

from lex_dpr.data.corpus import read_corpus, read_pairs
from lex_dpr.errors import ConfigError
from lex_dpr.runs.record import read_record
from lex_dpr.training.config import load_config
from lex_dpr.training.data import build_examples
from lex_dpr.training.train import train

STATIC = ["model.vocab_size=400", "model.embedding_dim=16", "trainer.batch_size=8", "trainer.logging_steps=1"]


def _cfg(data, out, *overrides):
    items = [f"data.{k}={v}" for k, v in data.items()] + [f"out_dir={out}"] + STATIC + list(overrides)
    return load_config(None, items)


def test_hard_negative_ratio_sets_the_share_of_mined_negatives(sample_training_data):
    corpus = read_corpus(sample_training_data["passages"])
    pairs = read_pairs(sample_training_data["pairs"], corpus)
    # rows come out pair by pair, one per positive: each row's own mined list
    mined = [{corpus.texts[corpus.index[n]] for n in p.get("hard_negatives") or [] if n in corpus.index}
             for p in pairs for _ in p["positive_passages"]]

    def share(ratio):
        cols = build_examples(pairs, corpus, 4, 1, seed=0, hard_ratio=ratio).columns
        hits = [cols[f"negative_{c}"][row] in mined[row] for row in range(len(mined)) for c in range(1, 5)]
        return sum(hits) / len(hits), cols

    full, cols_full = share(1.0)
    half, cols_half = share(0.5)
    none, _ = share(0.0)
    assert full > 0.95  # the sample's pairs carry >= 4 mined negatives almost everywhere
    # random passages are sometimes mined ones too: the sample corpus is small
    assert none < 0.2 and abs(half - (0.5 + none / 2)) < 0.06
    assert cols_full["negative_1"] != cols_half["negative_1"] or cols_full["negative_4"] != cols_half["negative_4"]
    assert share(0.5)[1] == cols_half  # deterministic


def test_two_ratios_give_different_losses(sample_training_data):
    import torch

    from lex_dpr.models.static import build_static_model
    from lex_dpr.training.losses import MaskedMultipleNegativesRankingLoss

    corpus = read_corpus(sample_training_data["passages"])
    pairs = read_pairs(sample_training_data["pairs"], corpus)[:16]
    model = build_static_model(corpus.texts, 400, 16, 64, seed=0)
    loss = MaskedMultipleNegativesRankingLoss(model, scale=20.0, n_negatives=2)
    values = []
    for ratio in (1.0, 0.0):
        cols = build_examples(pairs, corpus, 2, 1, seed=0, hard_ratio=ratio).columns
        features = [model.tokenize(cols[c]) for c in ("query", "positive", "negative_1", "negative_2")]
        with torch.no_grad():
            values.append(float(loss(features, torch.tensor(cols["label"]))))
    assert abs(values[0] - values[1]) > 1e-4


def test_a_late_config_problem_is_recorded_as_failed(sample_training_data, tmp_path):
    cfg = _cfg(sample_training_data, tmp_path / "run", "trainer.precision=bf16", "wandb.mode=disabled")
    with pytest.raises(ConfigError, match="needs a CUDA GPU"):  # found only when the device is known
        train(cfg, show_progress=False)
    record = read_record(tmp_path / "run" / "bi_encoder")
    assert record["status"] == "failed" and "trainer.precision=bf16 needs a CUDA GPU" in record["error"]
    assert "trainer.precision=bf16" in record["overrides"]


def test_ctrl_c_is_recorded_as_interrupted(sample_training_data, tmp_path, monkeypatch):
    from lex_dpr.training import callbacks

    def stop(self, args, state, control, **kwargs):
        if state.global_step == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(callbacks.NanGuard, "on_step_end", stop, raising=False)
    with pytest.raises(KeyboardInterrupt):
        train(_cfg(sample_training_data, tmp_path / "run", "trainer.epochs=3", "wandb.mode=disabled"),
              show_progress=False)
    record = read_record(tmp_path / "run" / "bi_encoder")
    assert record["status"] == "interrupted" and record["error"] == "interrupted"


def test_record_reproduces_the_run_from_its_override_list(sample_training_data, tmp_path):
    cfg = _cfg(sample_training_data, tmp_path / "run", "trainer.max_steps=2", "trainer.lr=0.05", "wandb.mode=disabled",
               "data.hard_negative_ratio=0.5")
    train(cfg, show_progress=False)
    record = read_record(tmp_path / "run" / "bi_encoder")
    assert record["status"] == "finished" and "error" not in record
    again = load_config(None, record["overrides"])
    assert again.to_dict() == record["config"] == cfg.to_dict()
    assert record["command"].startswith("lex-dpr train ") and "trainer.lr=0.05" in record["command"]
    assert f"data.valid_pairs={sample_training_data['valid_pairs']}" in record["overrides"]  # auto, resolved


_SUBPROCESS_TRAIN = """
import sys
import torch
torch.set_num_threads(int(sys.argv[1]))  # the parent's: a float sum's order depends on how many threads share it
from lex_dpr.training.config import load_config
from lex_dpr.training.train import train
train(load_config(None, sys.argv[2:]), show_progress=False)
"""


@pytest.mark.slow
def test_two_trainings_in_one_process_behave_as_in_two(sample_training_data, tmp_path):
    """Offline W&B then disabled, seed 3 then seed 7: the second run is what a fresh process makes."""
    import wandb

    # what lex-dpr used to set (sentence-transformers' trainer sets WANDB_PROJECT itself; wandb.init's
    # explicit project wins over it)
    ours = ("WANDB_MODE", "WANDB_DIR", "WANDB_SILENT")
    env_before = {k: os.environ.get(k) for k in ours}
    first = _cfg(sample_training_data, tmp_path / "a", "trainer.max_steps=3", "trainer.seed=3", "wandb.mode=offline",
                 f"wandb.dir={tmp_path / 'wb_a'}")
    train(first, show_progress=False)
    runs = list((tmp_path / "wb_a" / "wandb").glob("offline-run-*"))
    assert len(runs) == 1  # W&B really ran, offline, in the project the config names
    assert b"lex-dpr" in next(runs[0].glob("*.wandb")).read_bytes()
    second = _cfg(sample_training_data, tmp_path / "b", "trainer.max_steps=3", "trainer.seed=7", "wandb.mode=disabled",
                  f"wandb.dir={tmp_path / 'wb_b'}")
    result = train(second, show_progress=False)
    assert not (tmp_path / "wb_b").exists() and wandb.run is None  # no W&B run for the disabled training
    assert {k: os.environ.get(k) for k in ours} == env_before  # settings went to wandb.init, not the env
    overrides = [f"data.{k}={v}" for k, v in sample_training_data.items()] + STATIC + [
        f"out_dir={tmp_path / 'fresh'}", "trainer.max_steps=3", "trainer.seed=7", "wandb.mode=disabled"]
    import torch

    subprocess.run([sys.executable, "-c", _SUBPROCESS_TRAIN, str(torch.get_num_threads()), *overrides], check=True,
                   capture_output=True)
    fresh = tmp_path / "fresh" / "bi_encoder" / "final"
    assert (result.final_dir / "model.safetensors").read_bytes() == (fresh / "model.safetensors").read_bytes()


@pytest.mark.slow
def test_sigterm_stops_training_records_interrupted_and_exits_143(sample_training_data, tmp_path):
    run = tmp_path / "run" / "bi_encoder"
    cmd = [sys.executable, "-m", "lex_dpr.cli.main", "train", "--quiet", "--out-dir", str(tmp_path / "run"),
           *[f"data.{k}={v}" for k, v in sample_training_data.items()], *STATIC, "trainer.epochs=1000",
           "trainer.early_stopping_patience=0", "wandb.mode=disabled"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # wait until training has logged a step
        metrics = run / "metrics.jsonl"
        if metrics.is_file() and any("train/loss" in orjson.loads(x) for x in metrics.read_bytes().splitlines()[:3]):
            break
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "Traceback" not in err
    record = read_record(run)
    assert record["status"] == "interrupted" and "SIGTERM" in record["error"]
    # forked workers keep the parent's command line; none may outlive it
    left = subprocess.run(["pgrep", "-f", str(tmp_path / "run")], capture_output=True, text=True).stdout.split()
    assert left == []
    np.testing.assert_equal(record["config"]["trainer"]["epochs"], 1000.0)
