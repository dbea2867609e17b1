"""`rag batch`: bad rows, dedupe and cache, input order and ids, CSV and submission, resume after SIGKILL."""

import csv
import io
import signal
import subprocess
import time

import orjson
import pytest

from tests._cli import lex_dpr
from tests.rag.conftest import batch_command

QUESTIONS = ["고의나 과실로 남에게 손해를 입히면 배상해야 하나요?", "계약을 해제하면 원상회복을 해야 하나요?",
             "채권의 소멸시효는 몇 년인가요?", "개인정보를 제3자에게 제공하려면 동의가 필요한가요?",
             "착오로 한 의사표시는 취소할 수 있나요?", "전세금을 올려 달라고 청구할 수 있나요?"]


def _jsonl(path, rows):
    path.write_bytes(b"".join((r if isinstance(r, bytes) else orjson.dumps(r)) + b"\n" for r in rows))
    return path


def _rows(path):
    return [orjson.loads(x) for x in path.read_bytes().splitlines() if x.strip()]


def test_bad_rows_are_reported_and_skipped_and_duplicates_answered_once(index_copy, tmp_path):
    inp = _jsonl(tmp_path / "q.jsonl", [
        {"id": "a", "question": QUESTIONS[0]},
        {"id": "b", "question": ""},  # empty
        {"question": QUESTIONS[1]},  # no id
        b'{"id": "c", "question": ',  # unreadable
        {"id": "d", "question": "  " + QUESTIONS[0].replace(" ", "  ") + " "},  # the same after normalisation
        {"id": "a", "question": QUESTIONS[2]},  # duplicate id
        {"id": 7, "question": QUESTIONS[3]},  # numeric ids are kept as text
        {"id": "e", "text": QUESTIONS[4]},  # no question key
        {"id": ["x"], "question": QUESTIONS[4]},  # not an id
        {"id": "f", "question": 123},  # not text
    ])
    out = tmp_path / "answers.jsonl"
    done = lex_dpr(["rag", "batch", "--index", str(index_copy), "--input", str(inp), "--output", str(out), "--quiet"])
    assert done.exit_code == 0, done.output
    rows = _rows(out)
    assert [r["id"] for r in rows] == ["a", "d", 7]  # ids kept as given
    assert rows[1]["question"] == QUESTIONS[0].replace(" ", "  ") and rows[1]["context_ids"] == rows[0]["context_ids"]
    assert "LAW_001706_제750조" in rows[0]["context_ids"]
    assert all(len(r["contexts"]) == 6 and r["contexts"][0]["id"] == r["context_ids"][0] for r in rows)
    warnings = [x for x in done.stderr.splitlines() if x.startswith("warning:")]
    assert len(warnings) == 7
    for line, why in ((2, "empty question"), (3, "no 'id'"), (4, ""), (6, "duplicate id 'a' (first on line 1)"),
                      (8, "no 'question'"), (9, "ids are text or whole numbers"), (10, "'question' is int, not text")):
        assert any(f"q.jsonl:{line}:" in w and why in w for w in warnings), (line, warnings)
    summary = orjson.loads((tmp_path / "answers.jsonl.summary.json").read_bytes())
    assert (summary["rows"], summary["bad_rows"], summary["answered"], summary["unique_questions"]) == (3, 7, 3, 2)


def test_csv_in_submission_out_with_named_columns(index_copy, tmp_path):
    inp = tmp_path / "test.csv"
    with inp.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["qid", "text"])
        w.writerows([[f"Q{i:03d}", q] for i, q in enumerate(QUESTIONS)])
    out = tmp_path / "submission.csv"
    done = lex_dpr(["rag", "batch", "--index", str(index_copy), "--input", str(inp), "--output", str(out),
                    "--format", "submission", "--id-column", "qid", "--question-column", "text", "--quiet"])
    assert done.exit_code == 0, done.output
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert rows[0] == ["id", "answer"] and [r[0] for r in rows[1:]] == [f"Q{i:03d}" for i in range(6)]
    assert "LAW_001706_제750조" in rows[1][1]
    missing = lex_dpr(["rag", "batch", "--index", str(index_copy), "--input", str(inp), "--output",
                       str(tmp_path / "x.csv"), "--quiet"])
    assert missing.exit_code == 1 and "no 'id' or 'question' column (columns: qid, text); name them with --id-column and --question-column" in missing.stderr


def test_full_csv_keeps_contexts_and_the_cache_answers_a_second_run(index_copy, tmp_path):
    inp = _jsonl(tmp_path / "q.jsonl", [{"id": f"q{i}", "question": q} for i, q in enumerate(QUESTIONS)])
    first = lex_dpr(["rag", "batch", "--index", str(index_copy), "--input", str(inp), "--output",
                     str(tmp_path / "a.csv"), "--quiet"])
    assert first.exit_code == 0, first.output
    rows = list(csv.DictReader(io.StringIO((tmp_path / "a.csv").read_text(encoding="utf-8"))))
    assert [r["id"] for r in rows] == [f"q{i}" for i in range(6)]
    assert [c["id"] for c in orjson.loads(rows[0]["contexts"])] == rows[0]["context_ids"].split(";")
    again = lex_dpr(["rag", "batch", "--index", str(index_copy), "--input", str(inp), "--output",
                     str(tmp_path / "b.csv"), "--quiet"])
    assert again.exit_code == 0, again.output
    s = orjson.loads((tmp_path / "b.csv.summary.json").read_bytes())
    assert (s["cache_hits"], s["generated"]) == (6, 0)
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    other = lex_dpr(["rag", "batch", "--index", str(index_copy), "--input", str(inp), "--output",
                     str(tmp_path / "c.csv"), "--k", "3", "--quiet"])  # other settings: not from the cache
    assert orjson.loads((tmp_path / "c.csv.summary.json").read_bytes())["generated"] == 6, other.output


def test_an_existing_output_needs_resume(index_copy, tmp_path):
    inp = _jsonl(tmp_path / "q.jsonl", [{"id": "a", "question": QUESTIONS[0]}])
    out = tmp_path / "answers.jsonl"
    out.write_text('{"id": "old"}\n')
    done = lex_dpr(["rag", "batch", "--index", str(index_copy), "--input", str(inp), "--output", str(out), "--quiet"])
    assert done.exit_code == 1 and "exists: pass --resume" in done.stderr
    assert out.read_text() == '{"id": "old"}\n'


def test_resume_drops_a_torn_last_row_and_skips_done_ids(index_copy, tmp_path):
    inp = _jsonl(tmp_path / "q.jsonl", [{"id": f"q{i}", "question": q} for i, q in enumerate(QUESTIONS)])
    full = tmp_path / "full.jsonl"
    assert lex_dpr(["rag", "batch", "--index", str(index_copy), "--input", str(inp), "--output", str(full),
                    "--no-cache", "--quiet"]).exit_code == 0
    lines = full.read_bytes().splitlines(keepends=True)
    part = tmp_path / "part.jsonl"
    part.write_bytes(b"".join(lines[:2]) + lines[2][:40])  # killed in the middle of the third row
    done = lex_dpr(["rag", "batch", "--index", str(index_copy), "--input", str(inp), "--output", str(part),
                    "--resume", "--no-cache", "--quiet"])
    assert done.exit_code == 0, done.output
    assert part.read_bytes() == full.read_bytes()
    s = orjson.loads((tmp_path / "part.jsonl.summary.json").read_bytes())
    assert (s["already_done"], s["answered"]) == (2, 4)


@pytest.mark.slow
def test_sigkill_mid_batch_then_resume_gives_the_same_file(index_copy, tmp_path):
    cmd, env, clean = batch_command(index_copy, tmp_path, 400)
    out = tmp_path / "killed.jsonl"
    proc = subprocess.Popen([*cmd, "--output", str(out)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and (not out.exists() or out.read_bytes().count(b"\n") < 40):
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    written = out.read_bytes().count(b"\n")
    assert 40 <= written < 400, written
    again = subprocess.run([*cmd, "--output", str(out), "--resume"], env=env, capture_output=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert out.read_bytes() == clean
    s = orjson.loads((tmp_path / "killed.jsonl.summary.json").read_bytes())
    assert s["already_done"] >= 40 and s["already_done"] + s["answered"] == 400


def test_questions_nothing_matches_are_flagged_and_the_rest_answered(index_copy, tmp_path):
    inp = _jsonl(tmp_path / "q.jsonl", [{"id": "p", "question": "???"}, {"id": "k", "question": "ㅋㅋ"},
                                        {"id": "e", "question": "What is a tort?"}, {"id": "a", "question": QUESTIONS[0]}])
    out = tmp_path / "a.jsonl"
    done = lex_dpr(["rag", "batch", "--index", str(index_copy), "--input", str(inp), "--output", str(out), "--quiet",
                    "--retrieval", "independent"])
    assert done.exit_code == 0, done.output
    rows = _rows(out)
    assert [r["id"] for r in rows] == ["p", "k", "e", "a"]
    # no word of the first three occurs in the index: no arbitrary six contexts, a flag instead
    assert [(len(r["context_ids"]), r["flags"]) for r in rows] == [(0, ["no_match"])] * 3 + [(6, [])]
    summary = orjson.loads((tmp_path / "a.jsonl.summary.json").read_bytes())
    assert summary["flags"] == {"no_match": 3}
    asked = lex_dpr(["rag", "ask", "???", "--index", str(index_copy), "--json"])
    assert asked.exit_code == 0 and orjson.loads(asked.stdout)["flags"] == ["no_match"]


def test_resume_refuses_other_settings(index_copy, tmp_path):
    inp = _jsonl(tmp_path / "q.jsonl", [{"id": f"q{i}", "question": q} for i, q in enumerate(QUESTIONS)])
    out = tmp_path / "a.jsonl"
    assert lex_dpr(["rag", "batch", "--index", str(index_copy), "--input", str(inp), "--output", str(out),
                    "--k", "2", "--quiet"]).exit_code == 0
    lines = out.read_bytes().splitlines(keepends=True)
    out.write_bytes(b"".join(lines[:3]))
    done = lex_dpr(["rag", "batch", "--index", str(index_copy), "--input", str(inp), "--output", str(out),
                    "--resume", "--quiet"])
    assert done.exit_code == 1 and "was answered with other settings" in done.stderr
    assert out.read_bytes() == b"".join(lines[:3])
    same = lex_dpr(["rag", "batch", "--index", str(index_copy), "--input", str(inp), "--output", str(out),
                    "--resume", "--k", "2", "--quiet"])
    assert same.exit_code == 0 and out.read_bytes() == b"".join(lines)


def test_submission_resume_drops_an_answer_cut_inside_its_quotes(index_copy, tmp_path):
    inp = _jsonl(tmp_path / "q.jsonl", [{"id": f"q{i}", "question": q} for i, q in enumerate(QUESTIONS)])
    full = tmp_path / "full.csv"
    args = ["rag", "batch", "--index", str(index_copy), "--input", str(inp), "--format", "submission", "--quiet"]
    assert lex_dpr([*args, "--output", str(full)]).exit_code == 0
    raw = full.read_bytes()
    second = raw.index(b"q1,")
    cut = raw.index(b"\n", second) + 1  # right after the first line break inside q1's quoted answer
    part = tmp_path / "part.csv"
    part.write_bytes(raw[:cut])
    part.with_name("part.csv.settings.json").write_bytes(full.with_name("full.csv.settings.json").read_bytes())
    assert lex_dpr([*args, "--output", str(part), "--resume"]).exit_code == 0
    assert part.read_bytes() == raw


@pytest.mark.parametrize("later, why", [
    (f'3,{QUESTIONS[2]}\n4,{QUESTIONS[3]}\n', "a quote opened on this line is never closed; the row is skipped"),
    (f'3,"{QUESTIONS[2]}"\n4,"여러 줄\n질문"\n', "a quote opened on this line is never closed properly (line 4: "
                                                  "',' expected after '\"'); the row is skipped"),
])
def test_a_csv_quote_never_closed_is_one_bad_row_and_the_rows_after_it_are_read(index_copy, tmp_path, later, why):
    inp = tmp_path / "q.csv"
    inp.write_text(f'id,question\n1,"손해배상 청구 기간은?\n2,{QUESTIONS[1]}\n{later}', encoding="utf-8")
    out = tmp_path / "a.jsonl"
    done = lex_dpr(["rag", "batch", "--index", str(index_copy), "--input", str(inp), "--output", str(out), "--quiet"])
    assert done.exit_code == 0, done.output
    assert [r["id"] for r in _rows(out)] == ["2", "3", "4"]
    if "여러" in later:
        assert _rows(out)[2]["question"] == "여러 줄\n질문"  # a quoted field that closes may still span lines
    warnings = [x for x in done.stderr.splitlines() if x.startswith("warning:")]
    assert warnings == [f"warning: skipped {inp}:2: {why}"], warnings
    s = orjson.loads((tmp_path / "a.jsonl.summary.json").read_bytes())
    assert (s["rows"], s["bad_rows"]) == (3, 1)


@pytest.mark.parametrize("fmt, name", [("full", "a.jsonl"), ("submission", "a.csv")])
def test_resume_answers_an_edited_question_again_and_drops_a_deleted_one(index_copy, tmp_path, fmt, name):
    inp = _jsonl(tmp_path / "q.jsonl", [{"id": f"q{i}", "question": q} for i, q in enumerate(QUESTIONS[:4])])
    out = tmp_path / name
    args = ["rag", "batch", "--index", str(index_copy), "--input", str(inp), "--output", str(out), "--format", fmt,
            "--quiet"]
    assert lex_dpr(args).exit_code == 0
    _jsonl(inp, [{"id": "q0", "question": QUESTIONS[0]}, {"id": "q1", "question": QUESTIONS[4]},  # q1 edited
                 {"id": "q3", "question": "  " + QUESTIONS[3]}])  # q2 deleted; q3 only re-spaced
    done = lex_dpr([*args, "--resume"])
    assert done.exit_code == 0, done.output
    assert "1 row(s) were answered for a question edited since" in done.stderr and "(ids q1)" in done.stderr
    assert "1 row(s) have an id no longer in" in done.stderr and "(ids q2): dropped" in done.stderr
    s = orjson.loads(out.with_name(name + ".summary.json").read_bytes())
    assert (s["already_done"], s["edited"], s["dropped"], s["answered"]) == (2, 1, 1, 1)
    fresh = tmp_path / ("fresh." + name.split(".")[1])
    assert lex_dpr([*args[:7], str(fresh), *args[8:]]).exit_code == 0
    if fmt == "full":
        assert [(r["id"], r["question"]) for r in _rows(out)] == [("q0", QUESTIONS[0]), ("q1", QUESTIONS[4]),
                                                                 ("q3", QUESTIONS[3])]
    assert out.read_bytes() == fresh.read_bytes()


@pytest.mark.parametrize("suffix,fmt", [(".jsonl", "full"), (".csv", "full"), (".csv", "submission")])
def test_shards_merged_are_the_bytes_one_worker_writes(index_copy, tmp_path, suffix, fmt):
    rows = [{"id": f"q{i}", "question": q} for i, q in enumerate(QUESTIONS * 3)]  # duplicates across shards too
    rows.append({"id": "odd", "question": "😀😀🔥"})
    inp = _jsonl(tmp_path / "q.jsonl", rows)
    base = ["rag", "batch", "--index", str(index_copy), "--input", str(inp), "--quiet", "--format", fmt]
    one = tmp_path / f"one{suffix}"
    assert lex_dpr([*base, "--output", str(one)]).exit_code == 0
    parts = [tmp_path / f"part{i}{suffix}" for i in (1, 2, 3)]
    for i, part in enumerate(parts, start=1):
        done = lex_dpr([*base, "--output", str(part), "--shard", f"{i}/3"])
        assert done.exit_code == 0, done.output
    merged = tmp_path / f"merged{suffix}"
    done = lex_dpr(["rag", "merge", *map(str, parts), "--input", str(inp), "--output", str(merged), "--format", fmt])
    assert done.exit_code == 0, done.output
    assert merged.read_bytes() == one.read_bytes()
    # the merged file resumes like one worker's: nothing left to answer
    again = lex_dpr([*base, "--output", str(merged), "--resume"])
    assert again.exit_code == 0 and merged.read_bytes() == one.read_bytes()


def test_a_merge_with_an_unfinished_or_missing_shard_is_one_line(index_copy, tmp_path):
    inp = _jsonl(tmp_path / "q.jsonl", [{"id": f"q{i}", "question": q} for i, q in enumerate(QUESTIONS)])
    base = ["rag", "batch", "--index", str(index_copy), "--input", str(inp), "--quiet"]
    p1, p2 = tmp_path / "p1.jsonl", tmp_path / "p2.jsonl"
    assert lex_dpr([*base, "--output", str(p1), "--shard", "1/2"]).exit_code == 0
    missing = lex_dpr(["rag", "merge", str(p1), str(p2), "--input", str(inp), "--output", str(tmp_path / "m.jsonl")])
    assert missing.exit_code == 1 and "p2.jsonl: no such file" in missing.stderr and "--shard 2/2" in missing.stderr
    assert lex_dpr([*base, "--output", str(p2), "--shard", "2/2"]).exit_code == 0
    p2.write_bytes(b"".join(p2.read_bytes().splitlines(keepends=True)[:-1]))  # its last row lost
    cut = lex_dpr(["rag", "merge", str(p1), str(p2), "--input", str(inp), "--output", str(tmp_path / "m.jsonl")])
    assert cut.exit_code == 1 and "1 question(s) of shard 2/2 not answered yet" in cut.stderr
    swapped = lex_dpr(["rag", "merge", str(p2), str(p1), "--input", str(inp), "--output", str(tmp_path / "m.jsonl")])
    assert swapped.exit_code == 1
    for bad in ("3/2", "0/2", "x"):
        done = lex_dpr([*base, "--output", str(tmp_path / "x.jsonl"), "--shard", bad])
        assert done.exit_code == 2 and "--shard" in done.stderr, bad
