"""`rag batch --workers N`: N processes, one merged output with the bytes one worker writes; killed, resumed."""

import signal
import subprocess
import time

import orjson
import pytest

from lex_dpr.rag.batch import shard_rows
from lex_dpr.rag.questions_file import InputQuestion
from lex_dpr.rag.workers import parts_folder
from lex_dpr.utils.locks import try_lock
from tests._cli import lex_dpr
from tests.rag.conftest import batch_command

QUESTIONS = ["고의나 과실로 남에게 손해를 입히면 배상해야 하나요?", "계약을 해제하면 원상회복을 해야 하나요?",
             "채권의 소멸시효는 몇 년인가요?", "개인정보를 제3자에게 제공하려면 동의가 필요한가요?",
             "착오로 한 의사표시는 취소할 수 있나요?", "전세금을 올려 달라고 청구할 수 있나요?"]
# the first question in other words: the same after normalisation (spaces, punctuation), retrieved otherwise alone
VARIANT = "고의나과실로 남에게손해를 입히면배상해야하나요"


def _jsonl(path, rows):
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return path


def _rows(path):
    return [orjson.loads(x) for x in path.read_bytes().splitlines() if x.strip()]


def test_a_question_in_other_words_shares_its_shard():
    rows = [InputQuestion(i, f"q{i}", q) for i, q in enumerate([QUESTIONS[0], VARIANT, *QUESTIONS[1:], VARIANT])]
    shards = [[q.id for q in shard_rows(rows, (i, 3))] for i in (1, 2, 3)]
    assert shards == [["q0", "q1", "q4", "q7"], ["q2", "q5"], ["q3", "q6"]]
    assert sorted(sum(shards, [])) == sorted(q.id for q in rows)  # each row in exactly one shard


@pytest.mark.parametrize("suffix,fmt", [(".jsonl", "full"), (".csv", "submission")])
def test_workers_write_the_bytes_one_worker_writes(index_copy, tmp_path, suffix, fmt):
    rows = [{"id": f"q{i}", "question": q} for i, q in enumerate([QUESTIONS[0], VARIANT, *QUESTIONS[1:]] * 4)]
    inp = _jsonl(tmp_path / "q.jsonl", rows)
    base = ["rag", "batch", "--index", str(index_copy), "--input", str(inp), "--quiet", "--format", fmt, "--no-cache"]
    one, two = tmp_path / f"one{suffix}", tmp_path / f"two{suffix}"
    assert lex_dpr([*base, "--output", str(one)]).exit_code == 0
    done = lex_dpr([*base, "--output", str(two), "--workers", "2"])
    assert done.exit_code == 0, done.output
    assert two.read_bytes() == one.read_bytes()
    assert not parts_folder(two).exists()  # the parts are gone once merged
    summary = orjson.loads(two.with_name(two.name + ".summary.json").read_bytes())
    assert (summary["rows"], summary["answered"], summary["unique_questions"]) == (len(rows), len(rows), 6)
    if fmt == "full":  # the variant alone is answered otherwise: it had to share the first wording's shard
        alone = _jsonl(tmp_path / "alone.jsonl", [{"id": "v", "question": VARIANT}])
        assert lex_dpr(["rag", "batch", "--index", str(index_copy), "--input", str(alone), "--quiet",
                        "--output", str(tmp_path / "alone_out.jsonl")]).exit_code == 0
        first = _rows(one)[0]["context_ids"]
        assert _rows(tmp_path / "alone_out.jsonl")[0]["context_ids"] != first
        assert _rows(one)[1]["context_ids"] == first


def test_a_finished_output_resumed_with_workers_answers_only_the_rest(index_copy, tmp_path):
    rows = [{"id": f"q{i}", "question": q} for i, q in enumerate(QUESTIONS)]
    inp = _jsonl(tmp_path / "q.jsonl", rows[:4])
    base = ["rag", "batch", "--index", str(index_copy), "--quiet", "--no-cache"]
    out = tmp_path / "a.jsonl"
    assert lex_dpr([*base, "--input", str(inp), "--output", str(out)]).exit_code == 0
    changed = rows[:1] + [{"id": "q1", "question": QUESTIONS[5]}] + rows[2:5]  # q1 edited, q4 added
    _jsonl(inp, changed)
    again = lex_dpr([*base, "--input", str(inp), "--output", str(out), "--resume", "--workers", "2"])
    assert again.exit_code == 0, again.output
    s = orjson.loads((tmp_path / "a.jsonl.summary.json").read_bytes())
    assert (s["already_done"], s["edited"], s["answered"]) == (3, 1, 2)
    fresh = tmp_path / "fresh.jsonl"
    assert lex_dpr([*base, "--input", str(inp), "--output", str(fresh)]).exit_code == 0
    assert out.read_bytes() == fresh.read_bytes()


def test_bad_combinations_are_one_line(index_copy, tmp_path):
    inp = _jsonl(tmp_path / "q.jsonl", [{"id": "a", "question": QUESTIONS[0]}])
    base = ["rag", "batch", "--index", str(index_copy), "--input", str(inp), "--quiet"]
    both = lex_dpr([*base, "--output", str(tmp_path / "x.jsonl"), "--workers", "2", "--shard", "1/2"])
    assert both.exit_code == 2 and "--shard 1/2 and --workers 2" in both.stderr
    bad_key = lex_dpr([*base, "--output", str(tmp_path / "y.jsonl"), "--workers", "2", "--set", "retrieval.nope=1"])
    assert bad_key.exit_code == 2 and "retrieval.nope" in bad_key.stderr  # before any worker starts
    assert not parts_folder(tmp_path / "y.jsonl").exists()
    folder = parts_folder(tmp_path / "z.jsonl")
    folder.mkdir()
    (folder / "part-1-of-3.jsonl").write_bytes(b"")
    other = lex_dpr([*base, "--output", str(tmp_path / "z.jsonl"), "--workers", "2", "--resume"])
    assert other.exit_code == 1 and "--workers 3 --resume" in other.stderr
    not_index = lex_dpr(["rag", "batch", "--index", str(tmp_path), "--input", str(inp), "--quiet", "--output",
                         str(tmp_path / "w.jsonl"), "--workers", "2"])
    assert not_index.exit_code == 1 and "index" in not_index.stderr


@pytest.mark.slow
def test_sigkill_of_the_parent_stops_the_workers_and_resume_finishes(index_copy, tmp_path):
    cmd, env, clean = batch_command(index_copy, tmp_path, 1200)
    out = tmp_path / "killed.jsonl"
    folder = parts_folder(out)
    parts = [folder / f"part-{i}-of-2.jsonl" for i in (1, 2)]
    proc = subprocess.Popen([*cmd, "--output", str(out), "--workers", "2"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 180
    while time.time() < deadline and not all(p.exists() and p.read_bytes().count(b"\n") >= 40 for p in parts):
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    for part in parts:  # each worker died with its parent: its part's lock is free again
        lock = part.with_name(part.name + ".lock")
        deadline = time.time() + 30
        while (fh := try_lock(lock)) is None and time.time() < deadline:
            time.sleep(0.1)
        assert fh is not None, f"a worker still holds {lock}"
        fh.close()
    written = sum(p.read_bytes().count(b"\n") for p in parts)
    assert 80 <= written < 1200 and not out.exists()
    refused = subprocess.run([*cmd, "--output", str(out), "--workers", "2"], env=env, capture_output=True, timeout=300)
    assert refused.returncode == 1 and b"--resume" in refused.stderr and b"unfinished" in refused.stderr
    again = subprocess.run([*cmd, "--output", str(out), "--workers", "2", "--resume"], env=env, capture_output=True,
                           timeout=300)
    assert again.returncode == 0, again.stderr
    assert out.read_bytes() == clean
    s = orjson.loads((tmp_path / "killed.jsonl.summary.json").read_bytes())
    assert s["already_done"] >= 80 and s["already_done"] + s["answered"] == 1200


def test_a_resume_after_the_input_changed_keeps_every_answer(index_copy, tmp_path):
    """A question put before the others moves every later one to another shard: the rows are dealt again."""
    rows = [{"id": f"q{i}", "question": q} for i, q in enumerate(QUESTIONS[:4])]
    inp = _jsonl(tmp_path / "q.jsonl", rows)
    base = ["rag", "batch", "--index", str(index_copy), "--quiet", "--no-cache", "--workers", "2"]
    out = tmp_path / "a.jsonl"
    assert lex_dpr([*base, "--input", str(inp), "--output", str(out)]).exit_code == 0
    _jsonl(inp, [{"id": "new", "question": QUESTIONS[5]}, *rows])
    again = lex_dpr([*base, "--input", str(inp), "--output", str(out), "--resume"])
    assert again.exit_code == 0, again.output
    s = orjson.loads((tmp_path / "a.jsonl.summary.json").read_bytes())
    assert (s["already_done"], s["answered"], s["dropped"]) == (4, 1, 0)
    fresh = tmp_path / "fresh.jsonl"
    assert lex_dpr(["rag", "batch", "--index", str(index_copy), "--quiet", "--no-cache", "--input", str(inp),
                    "--output", str(fresh)]).exit_code == 0
    assert out.read_bytes() == fresh.read_bytes()


def test_other_settings_a_held_run_and_leftovers_are_one_line_about_the_output(index_copy, tmp_path):
    from lex_dpr.utils.locks import hold_lock

    inp = _jsonl(tmp_path / "q.jsonl", [{"id": f"q{i}", "question": q} for i, q in enumerate(QUESTIONS)])
    base = ["rag", "batch", "--index", str(index_copy), "--input", str(inp), "--quiet", "--no-cache", "--workers", "2"]
    out = tmp_path / "a.jsonl"
    assert lex_dpr([*base, "--output", str(out)]).exit_code == 0
    other = lex_dpr([*base, "--output", str(out), "--resume", "--k", "3"])
    assert other.exit_code == 1 and "other settings" in other.stderr
    assert str(out) in other.stderr and ".workers" not in other.stderr  # about the output, not a hidden part
    assert lex_dpr([*base, "--output", str(out), "--resume"]).exit_code == 0  # the original flags still resume
    with hold_lock(tmp_path / ".b.jsonl.workers.lock"):
        held = lex_dpr([*base, "--output", str(tmp_path / "b.jsonl")])
    assert held.exit_code == 1 and "being answered by another rag batch" in held.stderr
    leftovers = parts_folder(tmp_path / "c.jsonl")  # a run whose workers never wrote a part
    leftovers.mkdir()
    (leftovers / "part-1-of-2.jsonl.lock").write_text("")
    (leftovers / "part-2-of-2.jsonl.settings.json").write_text("{}")
    done = lex_dpr([*base, "--output", str(tmp_path / "c.jsonl")])
    assert done.exit_code == 0, done.output
    assert (tmp_path / "c.jsonl").read_bytes() == out.read_bytes()


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_rewording_answered_after_a_resume_gets_its_first_wordings_answer(index_copy, tmp_path, workers):
    """A run cut after the first wording of a question, before its rewording: resumed, the rewording still gets
    the first wording's contexts, as in a run from the start (it used to be answered from its own text)."""
    rows = [{"id": "q0", "question": QUESTIONS[0]}, *({"id": f"q{i}", "question": q} for i, q in
                                                        enumerate(QUESTIONS[1:], start=1)),
            {"id": "v", "question": VARIANT}]
    inp = _jsonl(tmp_path / "q.jsonl", rows)
    base = ["rag", "batch", "--index", str(index_copy), "--input", str(inp), "--quiet", "--no-cache"]
    clean = tmp_path / "clean.jsonl"
    assert lex_dpr([*base, "--output", str(clean)]).exit_code == 0
    assert _rows(clean)[-1]["context_ids"] == _rows(clean)[0]["context_ids"]
    cut = tmp_path / "cut.jsonl"
    cut.write_bytes(b"".join(clean.read_bytes().splitlines(keepends=True)[:3]))  # killed after three rows
    (tmp_path / "cut.jsonl.settings.json").write_bytes((tmp_path / "clean.jsonl.settings.json").read_bytes())
    extra = ["--workers", workers] if workers != "1" else []
    done = lex_dpr([*base, "--output", str(cut), "--resume", *extra])
    assert done.exit_code == 0, done.output
    assert cut.read_bytes() == clean.read_bytes()
