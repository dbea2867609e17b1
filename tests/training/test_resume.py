"""--resume after a kill: checkpoints appear whole or not at all, and a changed run is refused."""

import os
import re
import shutil
import signal
import subprocess
import sys
import time

import orjson
import pytest

from lex_dpr.runs.record import read_record
from lex_dpr.training.config import load_config
from lex_dpr.training.train import TrainingError, checkpoints, train

STATIC = ["model.vocab_size=400", "model.embedding_dim=16", "trainer.batch_size=8", "trainer.logging_steps=1",
          "wandb.mode=disabled", "data.valid_pairs=null"]


def _items(data, out, *overrides):
    return [f"data.{k}={v}" for k, v in data.items() if k != "valid_pairs"] + [f"out_dir={out}"] + STATIC + list(overrides)


def _cfg(data, out, *overrides):
    return load_config(None, _items(data, out, *overrides))


# Trains with checkpoints every 3 steps; the second checkpoint's write blocks until the test kills it.
_BLOCK_IN_CHECKPOINT = """
import sys, time
from pathlib import Path
import lex_dpr.training.st_trainer as trainer
from lex_dpr.training.config import load_config
from lex_dpr.training.train import train

marker = Path(sys.argv[1])
real = trainer.write_metadata
def blocking(folder, meta):
    real(folder, meta)
    if folder.name == "checkpoint-6":  # inside the checkpoint write: model and state saved, not renamed yet
        marker.write_text(str(folder))
        time.sleep(600)
trainer.write_metadata = blocking
train(load_config(None, sys.argv[2:]), show_progress=False)
"""


@pytest.mark.slow
def test_sigkill_inside_a_checkpoint_write_leaves_no_half_checkpoint(sample_training_data, tmp_path):
    out = tmp_path / "run"
    marker = tmp_path / "inside"
    items = _items(sample_training_data, out, "trainer.max_steps=12", "trainer.eval_steps=3",
                   "trainer.save_total_limit=5")
    proc = subprocess.Popen([sys.executable, "-c", _BLOCK_IN_CHECKPOINT, str(marker), *items],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not marker.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
    assert marker.exists(), "the run never reached the second checkpoint"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    run = out / "bi_encoder"
    assert [p.name for p in checkpoints(run, complete=False)] == ["checkpoint-3"]  # 6 was never renamed in
    assert (run / ".staging" / "checkpoint-6").is_dir()
    assert read_record(run)["status"] == "running"  # SIGKILL: nothing could record it

    result = train(_cfg(sample_training_data, out, "trainer.max_steps=12", "trainer.eval_steps=3",
                        "trainer.save_total_limit=5"), resume=True, show_progress=False)
    assert result.steps == 12 and not (run / ".staging").exists()
    record = read_record(run)
    assert record["status"] == "finished" and record["resumed"][0]["from"] == "checkpoint-3"
    state = orjson.loads((checkpoints(run)[-1] / "trainer_state.json").read_bytes())
    assert state["global_step"] == 12


def test_resume_skips_a_checkpoint_cut_short(sample_training_data, tmp_path, caplog):
    out = tmp_path / "run"
    cfg = _cfg(sample_training_data, out, "trainer.max_steps=4", "trainer.eval_steps=2")
    train(cfg, show_progress=False)
    run = out / "bi_encoder"
    shutil.rmtree(run / "final")
    cut = run / "checkpoint-4"
    (cut / "trainer_state.json").unlink()  # as an older lex-dpr, killed mid-write, left it
    result = train(_cfg(sample_training_data, out, "trainer.max_steps=4", "trainer.eval_steps=2"), resume=True,
                   show_progress=False)
    assert "checkpoint-4: incomplete checkpoint (no readable trainer_state.json); skipped" in caplog.text
    assert result.steps == 4 and read_record(run)["resumed"][0]["from"] == "checkpoint-2"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", read_record(run)["resumed"][0]["at"])  # UTC


def test_resume_refuses_other_settings_and_data(sample_training_data, tmp_path):
    out = tmp_path / "run"
    train(_cfg(sample_training_data, out, "trainer.max_steps=4", "trainer.eval_steps=2"), show_progress=False)
    run = out / "bi_encoder"
    shutil.rmtree(run / "final")
    shutil.rmtree(run / "checkpoint-4")  # as if stopped after step 2
    started = read_record(run)
    with pytest.raises(TrainingError) as info:
        train(_cfg(sample_training_data, out, "trainer.max_steps=4", "trainer.eval_steps=2", "trainer.lr=0.05",
                   "trainer.batch_size=4"), resume=True, show_progress=False)
    message = str(info.value)
    assert "trainer.lr: 0.1 → 0.05" in message and "trainer.batch_size: 8 → 4" in message
    assert "--allow-changes" in message
    assert read_record(run)["config"] == started["config"]  # the provenance is untouched

    changed = tmp_path / "pairs_changed.jsonl"
    lines = sample_training_data["pairs"].read_bytes().splitlines(keepends=True)
    changed.write_bytes(b"".join(lines[:-1]))
    data = dict(sample_training_data, pairs=changed)
    with pytest.raises(TrainingError, match="pairs: .*pairs_changed.jsonl differs from the file the run started with"):
        train(_cfg(data, out, "trainer.max_steps=4", "trainer.eval_steps=2"), resume=True, show_progress=False)

    # logging and W&B settings may change; a deliberate change goes through and is recorded
    result = train(_cfg(sample_training_data, out, "trainer.max_steps=4", "trainer.eval_steps=2", "trainer.lr=0.05",
                        "trainer.logging_steps=2"), resume=True, show_progress=False, allow_changes=True)
    assert result.steps == 4
    record = read_record(run)
    assert record["resumed"][-1]["changes"] == ["trainer.lr: 0.1 → 0.05"]
    assert record["inputs"] == started["inputs"]


_HOLD = """
import sys, time
from lex_dpr.runs.record import run_lock
with run_lock(sys.argv[1]):
    print("held", flush=True)
    time.sleep(60)
"""


def test_two_trainings_on_one_folder_the_second_refuses(sample_training_data, tmp_path):
    from lex_dpr.errors import InputError

    run = tmp_path / "run" / "bi_encoder"
    holder = subprocess.Popen([sys.executable, "-c", _HOLD, str(run)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(InputError, match=rf"{run} is in use by another lex-dpr process \(pid {holder.pid}\)"):
            train(_cfg(sample_training_data, tmp_path / "run", "trainer.max_steps=2"), show_progress=False)
        assert not (run / "training_config.json").exists()  # the first run's record is not touched
    finally:
        holder.kill()
        holder.wait()
    # the lock dies with its holder, however it died
    result = train(_cfg(sample_training_data, tmp_path / "run", "trainer.max_steps=2"), show_progress=False)
    assert result.steps == 2


def test_disk_full_while_checkpointing_is_one_line_and_recorded(sample_training_data, tmp_path, monkeypatch):
    import errno

    import lex_dpr.training.st_trainer as trainer
    from lex_dpr.errors import InputError

    def full(folder, meta):
        raise OSError(errno.ENOSPC, "No space left on device", str(folder / "lexdpr_model.json"))

    monkeypatch.setattr(trainer, "write_metadata", full)
    with pytest.raises(InputError) as info:
        train(_cfg(sample_training_data, tmp_path / "run", "trainer.max_steps=2"), show_progress=False)
    assert "lexdpr_model.json: No space left on device while writing the run" in str(info.value)
    assert "\n" not in str(info.value)
    run = tmp_path / "run" / "bi_encoder"
    assert read_record(run)["status"] == "failed" and checkpoints(run, complete=False) == []


def test_an_out_dir_that_cannot_exist_is_one_line(sample_training_data, tmp_path):
    from lex_dpr.errors import InputError

    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    with pytest.raises(InputError, match="Not a directory"):
        train(_cfg(sample_training_data, blocker / "run", "trainer.max_steps=2"), show_progress=False)
