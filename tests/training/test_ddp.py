"""`lex-dpr train` under torchrun, two CPU processes on gloo: one run folder, written by rank 0."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def _torchrun(args: list[str], timeout: int = 300) -> subprocess.CompletedProcess:
    launcher = shutil.which("torchrun", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    if launcher is None:
        pytest.skip("torchrun is not installed beside this Python")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "WANDB_MODE": "disabled", "OMP_NUM_THREADS": "1"}
    return subprocess.run([launcher, "--standalone", "--nproc_per_node=2", "-m", "lex_dpr.cli.main", *args],
                          capture_output=True, text=True, timeout=timeout, env=env)


def _args(data: dict[str, Path], out: Path) -> list[str]:
    return ["train", "--config", "train", "--out-dir", str(out), "--quiet", f"data.pairs={data['pairs']}",
            f"data.valid_pairs={data['valid_pairs']}", f"data.passages={data['passages']}", "trainer.epochs=2",
            "trainer.batch_size=4", "model.vocab_size=400", "model.embedding_dim=16", "wandb.mode=disabled"]


def test_two_processes_train_into_one_run_folder_written_by_rank_0(sample_training_data, tmp_path):
    from lex_dpr.models.loading import load_encoder
    from lex_dpr.runs.record import read_metrics, read_record

    out = tmp_path / "ddp"
    done = _torchrun(_args(sample_training_data, out))
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("model: ") == 1  # rank 0 reports; rank 1 says nothing
    run = out / "bi_encoder"
    record = read_record(run)
    assert record["status"] == "finished" and record["result"]["steps"] > 0
    checkpoints = sorted(run.glob("checkpoint-*"))
    assert checkpoints and all({"rng_state_0.pth", "rng_state_1.pth"} <= {p.name for p in c.iterdir()}
                               for c in checkpoints)  # each rank's RNG state, in rank 0's committed checkpoint
    assert not list(run.glob(".staging*"))
    steps = [row["step"] for row in read_metrics(run) if "train/loss" in row]
    assert steps == sorted(set(steps))  # one writer: no line twice
    vectors = load_encoder(str(run / "final")).encode_query(["손해배상"])
    assert vectors.shape[0] == 1


def test_a_refused_start_ends_every_rank_instead_of_hanging(sample_training_data, tmp_path):
    out = tmp_path / "ddp"
    done = _torchrun([*_args(sample_training_data, out), "--resume"], timeout=120)  # nothing to resume: refused
    assert done.returncode != 0
    assert any("no checkpoint to resume from" in line for line in done.stderr.splitlines() if line.startswith("error:"))
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert errors and any("rank 1: rank 0 did not start the run" in line for line in errors), done.stderr[-2000:]


def test_a_killed_two_process_run_resumes_under_torchrun(sample_training_data, tmp_path):
    import contextlib
    import signal
    import time

    psutil = pytest.importorskip("psutil")

    from lex_dpr.runs.record import read_metrics, read_record

    launcher = shutil.which("torchrun", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    if launcher is None:
        pytest.skip("torchrun is not installed beside this Python")
    out = tmp_path / "ddp"
    # long enough to be killed in the middle (an epoch of the sample takes about 0.2 s), no early stop
    args = [a if a != "trainer.epochs=2" else "trainer.epochs=60" for a in _args(sample_training_data, out)]
    args.append("trainer.early_stopping_patience=0")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "WANDB_MODE": "disabled", "OMP_NUM_THREADS": "1"}
    command = [launcher, "--standalone", "--nproc_per_node=2", "-m", "lex_dpr.cli.main", *args]
    run = out / "bi_encoder"
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                            start_new_session=True)
    try:  # SIGKILL the launcher and both ranks once a checkpoint is committed, well before the last epoch
        deadline = time.monotonic() + 240
        while not list(run.glob("checkpoint-*/rng_state_1.pth")):
            assert proc.poll() is None, "the run ended before its first checkpoint"
            assert time.monotonic() < deadline, "no checkpoint within 240 s"
            time.sleep(0.2)
    finally:  # the launcher and its ranks (torchrun may start them in sessions of their own)
        tree = [proc.pid, *(c.pid for c in psutil.Process(proc.pid).children(recursive=True))]
        for pid in tree:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        proc.wait(timeout=30)
        psutil.wait_procs([p for p in map(_process, tree) if p is not None], timeout=30)
    assert read_record(run)["status"] != "finished"
    killed_at = max(int(p.name.split("-")[1]) for p in run.glob("checkpoint-*"))
    done = _torchrun([*args, "--resume"])
    assert done.returncode == 0, done.stderr[-3000:]
    record = read_record(run)
    assert record["status"] == "finished" and record["result"]["steps"] > killed_at
    steps = [row["step"] for row in read_metrics(run) if "train/loss" in row]
    assert max(steps) > killed_at and all(c.name != "checkpoint-0" for c in run.glob("checkpoint-*"))
    assert (run / "final" / "model.safetensors").is_file()


def _process(pid: int):
    import psutil

    try:
        return psutil.Process(pid)
    except psutil.NoSuchProcess:
        return None
