"""The trainer's metrics.jsonl writer: an append-only journal (lex_dpr.utils.journal) that cuts a torn last line."""

from types import SimpleNamespace

import orjson

from lex_dpr.runs.record import read_metrics
from lex_dpr.training.callbacks import MetricsFile

STATE = SimpleNamespace(is_world_process_zero=True, global_step=3, epoch=1.0)
ROW = b'{"step":3,"epoch":1.0,"train/loss":1.5,"train/learning_rate":0.0001}\n'


def _log(path, logs=None):
    MetricsFile(path).on_log(None, STATE, None, logs=logs or {"loss": 1.5, "learning_rate": 1e-4})


def test_a_row_is_one_line_appended_to_a_clean_file(tmp_path):
    path = tmp_path / "metrics.jsonl"
    _log(path)
    assert path.read_bytes() == ROW  # created when missing
    _log(path)
    assert path.read_bytes() == ROW + ROW


def test_a_torn_last_line_is_cut_and_the_next_row_starts_its_own_line(tmp_path):
    path = tmp_path / "metrics.jsonl"
    kept = b'{"step": 1, "train/loss": 2.0}\n'
    path.write_bytes(kept + b'{"step": 2, "train/lo')  # killed in the middle of a row
    _log(path)
    assert path.read_bytes() == kept + ROW
    assert [r["step"] for r in read_metrics(tmp_path)] == [1, 3]


def test_the_health_check_writes_through_the_same_journal(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_bytes(b'{"step": 1}\n{"st')
    MetricsFile(path).write({"step": 2, "eval/score_std": 0.25})
    assert path.read_bytes() == b'{"step": 1}\n' + orjson.dumps({"step": 2, "eval/score_std": 0.25}) + b"\n"
