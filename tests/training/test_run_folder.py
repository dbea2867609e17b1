"""A run folder's life without a training: held, opened, recorded however the body ends, resumed from a checkpoint."""

import errno
import re

import orjson
import pytest

from lex_dpr.errors import InputError
from lex_dpr.runs.record import METRICS_FILE, RunStatus, read_record, write_record
from lex_dpr.training.config import load_config
from lex_dpr.training.run_folder import (
    TrainingError,
    failure_reason,
    hold_run_folder,
    open_run,
    record_outcome,
    truncate_metrics,
)


def test_truncate_metrics_keeps_what_the_checkpoint_saw(tmp_path, caplog):
    path = tmp_path / METRICS_FILE
    path.write_bytes(b'{"step": 1}\n{"step": 2, "eval/ndcg_at_10": 0.5}\n{"step": 3}\n{"step": 4')
    truncate_metrics(path, 2)
    assert [orjson.loads(line)["step"] for line in path.read_bytes().splitlines()] == [1, 2]
    truncate_metrics(tmp_path / "none.jsonl", 2)  # no file: nothing to do
    path.write_bytes(b'{"step": 1}\n{"ste\n{"step": 2}\n{"step": 3}\n')  # damage is not a kill's doing
    truncate_metrics(path, 2)
    assert path.read_bytes() == b'{"step": 1}\n{"ste\n{"step": 2}\n'
    assert f"{path}:2: invalid JSON" in caplog.text and "left in place" in caplog.text


@pytest.mark.parametrize(("exc", "status", "error"), [
    (KeyboardInterrupt(), "interrupted", "interrupted"),
    (ValueError("bad\n value"), "failed", "ValueError: bad value"),
    (RuntimeError(), "failed", "RuntimeError"),
])
def test_record_outcome(tmp_path, exc, status, error):
    write_record(tmp_path, RunStatus.RUNNING)
    with pytest.raises(type(exc)), record_outcome(tmp_path):
        raise exc
    assert (read_record(tmp_path)["status"], read_record(tmp_path)["error"]) == (status, error)
    assert failure_reason(ValueError("x")) == "ValueError: x"


def test_a_full_disk_is_one_line_naming_the_file(tmp_path):
    with pytest.raises(InputError, match=r"^/x/metrics.jsonl: No space left on device while writing the run; "):
        with hold_run_folder(tmp_path / "run"):
            raise OSError(errno.ENOSPC, "No space left on device", "/x/metrics.jsonl")
    with pytest.raises(OSError), hold_run_folder(tmp_path / "run"):  # any other error goes on as it is
        raise OSError(errno.EIO, "I/O error")


def test_open_run_records_a_resume_in_utc(tmp_path):
    run = tmp_path / "bi_encoder"
    cfg = load_config(None, [f"out_dir={tmp_path}"])
    assert open_run(cfg, run, resume=False, allow_changes=False) is None
    assert read_record(run)["status"] == "running"
    with pytest.raises(TrainingError, match="no checkpoint to resume from"):
        open_run(cfg, run, resume=True, allow_changes=False)
    checkpoint = run / "checkpoint-2"
    checkpoint.mkdir()
    (checkpoint / "trainer_state.json").write_text('{"global_step": 2}')
    assert open_run(cfg, run, resume=True, allow_changes=False) == checkpoint
    resumed = read_record(run)["resumed"]
    assert resumed[0]["from"] == "checkpoint-2" and resumed[0]["changes"] == []
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", resumed[0]["at"])
    with pytest.raises(TrainingError, match="already holds a run; pass --resume"):
        open_run(cfg, run, resume=False, allow_changes=False)


def test_a_run_recorded_before_a_key_existed_resumes_as_if_it_held_the_default(tmp_path):
    """A record written before model.text_form, model.teacher and data.max_per_positive existed holds none of them:
    it ran with their defaults, so resuming with the defaults is no change; a non-default value still is."""
    from lex_dpr.training.run_folder import resume_changes
    from lex_dpr.utils.config import flatten

    cfg = load_config(None, ["trainer.lr=0.05", f"out_dir={tmp_path}"])
    old = cfg.to_dict()
    for section, key in (("model", "text_form"), ("model", "teacher"), ("data", "max_per_positive")):
        del old[section][key]
    assert "model.text_form" not in flatten(old)
    write_record(tmp_path, RunStatus.RUNNING, config=old)
    assert resume_changes(tmp_path, cfg, {}) == []
    changed = load_config(None, ["trainer.lr=0.05", f"out_dir={tmp_path}", "model.text_form=both", "trainer.lr=0.1"])
    assert resume_changes(tmp_path, changed, {}) == ["model.text_form: 'text' → 'both'", "trainer.lr: 0.05 → 0.1"]
