"""A damaged sweep journal: a torn last line is set aside under Optuna's lock, damage elsewhere is one line
naming the file, the line and `lex-dpr sweep repair`, which keeps every record before it."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

SWEEP = """\
method: random
metric:
  name: eval/ndcg_at_10
  goal: maximize
run_cap: 3
parameters:
  trainer.lr:
    values: [0.1, 0.2]
fixed:
  data.pairs: p.jsonl
  data.passages: c.jsonl
  data.valid_pairs: v.jsonl
  wandb.mode: disabled
"""


def _cli(*args, cwd):
    env = dict(os.environ, HF_HUB_OFFLINE="1", COLUMNS="200")
    env.pop("LEX_DPR_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "lex_dpr.cli.main", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture
def sweep(tmp_path):
    """A created sweep (no trial run: nothing here needs one) and its journal."""
    for name in ("p.jsonl", "c.jsonl", "v.jsonl"):
        (tmp_path / name).write_text("")
    (tmp_path / "sweep.yaml").write_text(SWEEP)
    done = _cli("sweep", "create", "--config", "sweep.yaml", "--no-run-agent", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    sweep_id = next(line.split(": ", 1)[1] for line in (tmp_path / "sweep.yaml").read_text().splitlines()
                    if line.startswith("sweep_id:"))
    return sweep_id, tmp_path / "sweeps" / sweep_id / "journal.log"


def _records(journal: Path) -> list[dict]:
    data = journal.read_bytes()
    assert data.endswith(b"\n")
    return [json.loads(line) for line in data.decode("utf-8").splitlines()]  # every line a record


def _one_error(done, code=1) -> str:
    assert done.returncode == code, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    lines = [x for x in done.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    return lines[0]


def test_a_torn_last_line_is_set_aside_and_nothing_is_glued_onto_it(sweep, tmp_path):
    sweep_id, journal = sweep
    whole = journal.read_bytes()
    os.truncate(journal, len(whole) - 7)  # a write cut short: the last record loses its end and its newline
    torn = whole[whole.rstrip(b"\n").rfind(b"\n") + 1:len(whole) - 7]
    stopped = _cli("sweep", "stop", sweep_id, cwd=tmp_path)
    assert stopped.returncode == 0, stopped.stderr
    warning = [x for x in stopped.stderr.splitlines() if x.strip()]
    assert len(warning) == 1 and warning[0].startswith(f"warning: sweeps/{sweep_id}/journal.log line ")
    assert "a write cut short" in warning[0] and "set aside into journal.log.torn-" in warning[0]
    [kept] = journal.parent.glob("journal.log.torn-*")
    assert kept.read_bytes() == torn  # nothing is lost
    assert re.fullmatch(r"journal\.log\.torn-\d{8}T\d{6}Z", kept.name), kept.name  # named by UTC time
    records = _records(journal)  # before the fix: the stop record was glued onto the torn line
    assert records[-1]["user_attr"]["stop"]["why"] == "lex-dpr sweep stop"
    for args in (["status", sweep_id, "--no-plots"], ["create", "--config", "sweep.yaml", "--no-run-agent"]):
        done = _cli("sweep", *args, cwd=tmp_path)
        assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr


def test_a_torn_last_record_missing_only_its_newline_is_completed(sweep, tmp_path):
    sweep_id, journal = sweep
    before = _records(journal)
    os.truncate(journal, journal.stat().st_size - 1)
    done = _cli("sweep", "status", sweep_id, "--no-plots", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert _records(journal) == before and not list(journal.parent.glob("journal.log.torn-*"))


def test_a_torn_line_that_appears_under_a_running_agent_is_set_aside_before_its_next_append(sweep, tmp_path):
    import optuna

    from lex_dpr.sweep.storage import open_storage

    sweep_id, journal = sweep
    study = optuna.load_study(study_name=sweep_id, storage=open_storage(str(journal)))  # an agent, open
    with journal.open("ab") as fh:
        fh.write(b'{"op_code":5,"worker_id":"killed-mid-wri')  # another agent dies mid-write
    study.set_user_attr("after", 1)
    assert _records(journal)[-1]["user_attr"] == {"after": 1}
    assert len(list(journal.parent.glob("journal.log.torn-*"))) == 1
    assert study.user_attrs["after"] == 1


@pytest.mark.parametrize("where", ["last", "middle"])
def test_binary_garbage_is_one_line_naming_file_line_and_repair_which_keeps_the_records_before(sweep, tmp_path, where):
    sweep_id, journal = sweep
    good = journal.read_bytes()
    bad_line = good.count(b"\n") + 1
    damaged = good + b"\xff\xfe\x00\x81garbage\n" + (b'{"op_code":0,"worker_id":"w","study_name":"x","directions":[1]}\n'
                                                    if where == "middle" else b"")
    journal.write_bytes(damaged)
    for args in (["status", sweep_id], ["agent", sweep_id], ["stop", sweep_id],
                 ["create", "--config", "sweep.yaml", "--no-run-agent"]):
        line = _one_error(_cli("sweep", *args, cwd=tmp_path))
        assert line == (f"error: sweeps/{sweep_id}/journal.log line {bad_line}: not valid UTF-8 (binary data); the "
                        f"sweep cannot be read past it; repair it with `lex-dpr sweep repair {sweep_id}` (keeps "
                        f"every record before line {bad_line}, and the old file as a copy)"), args
    assert journal.read_bytes() == damaged  # nothing appended after the damage
    repaired = _cli("sweep", "repair", sweep_id, cwd=tmp_path)
    assert repaired.returncode == 0, repaired.stderr
    assert f"line {bad_line}: not valid UTF-8 (binary data); set aside with every line after it" in repaired.stderr
    assert journal.read_bytes() == good
    [backup] = journal.parent.glob("journal.log.bad-*")
    assert backup.read_bytes() == damaged and re.fullmatch(r"journal\.log\.bad-\d{8}T\d{6}Z", backup.name)
    assert _cli("sweep", "status", sweep_id, "--no-plots", cwd=tmp_path).returncode == 0
    again = _cli("sweep", "repair", sweep_id, cwd=tmp_path)
    assert again.returncode == 0 and "nothing to repair" in again.stdout


def test_repair_keeps_a_whole_record_an_older_version_glued_onto_a_torn_one(sweep, tmp_path):
    """The issue's sequence as lex-dpr wrote it before: truncate mid-line, then Optuna's own backend appends
    `sweep stop`'s record onto the torn line; status, create and agent then ended in JSONDecodeError."""
    import optuna
    from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

    sweep_id, journal = sweep
    os.truncate(journal, journal.stat().st_size - 7)
    torn_line = journal.read_bytes().count(b"\n") + 1
    plain = optuna.storages.JournalStorage(JournalFileBackend(str(journal), lock_obj=JournalFileOpenLock(str(journal))))
    optuna.load_study(study_name=sweep_id, storage=plain).set_user_attr("stop", True)
    line = _one_error(_cli("sweep", "agent", sweep_id, cwd=tmp_path))
    assert line.startswith(f"error: sweeps/{sweep_id}/journal.log line {torn_line}: not valid JSON")
    assert f"`lex-dpr sweep repair {sweep_id}`" in line
    repaired = _cli("sweep", "repair", sweep_id, cwd=tmp_path)
    assert repaired.returncode == 0, repaired.stderr
    assert f"line {torn_line}: dropped a torn record glued to the start of a whole one" in repaired.stderr
    assert _records(journal)[-1] == {"op_code": 2, "worker_id": _records(journal)[-1]["worker_id"], "study_id": 0,
                                     "user_attr": {"stop": True}}
    agent = _cli("sweep", "agent", sweep_id, cwd=tmp_path)  # the stop record was kept: the agent says so
    assert agent.returncode == 0 and "was stopped (lex-dpr sweep stop)" in agent.stderr, agent.stderr


def test_a_record_optuna_cannot_replay_is_one_line_and_repair_sets_it_aside(sweep, tmp_path):
    sweep_id, journal = sweep
    good = journal.read_bytes()
    bad_line = good.count(b"\n") + 1
    journal.write_bytes(good + b'{"op_code":4,"worker_id":"w"}\n')  # a trial record without its study
    line = _one_error(_cli("sweep", "status", sweep_id, cwd=tmp_path))
    assert line.startswith(f"error: sweeps/{sweep_id}/journal.log line {bad_line}: Optuna cannot replay it "
                           "(KeyError: 'study_id')")
    assert _cli("sweep", "repair", sweep_id, cwd=tmp_path).returncode == 0
    assert journal.read_bytes() == good


def test_repair_of_a_sweep_in_a_database_is_a_config_error(tmp_path):
    (tmp_path / "sweeps" / "db-1").mkdir(parents=True)
    (tmp_path / "sweeps" / "db-1" / "storage.txt").write_text("postgresql://u@localhost/x\n")
    line = _one_error(_cli("sweep", "repair", "db-1", cwd=tmp_path), code=2)
    assert line == "error: sweep repair mends journal files; this sweep is in a database"
