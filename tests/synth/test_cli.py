import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _cli import lex_dpr  # noqa: E402


def test_synth_command_writes_pairs_and_reports_rates(statute_passages, tmp_path):
    out = tmp_path / "synthetic.jsonl"
    r = lex_dpr(["synth", "--passages", str(statute_passages), "--out", str(out), "--n", "12", "--quiet"])
    assert r.exit_code == 0, r.output
    assert "12/12 questions" in r.output and "success rate" in r.output and "duplicate rate" in r.output
    assert len(out.read_bytes().splitlines()) == 12
    again = lex_dpr(["synth", "--passages", str(statute_passages), "--out", str(out), "--n", "12", "--quiet"])
    assert again.exit_code == 0 and "resumed:" in again.output  # the same command on a finished run: nothing to do
    assert len(out.read_bytes().splitlines()) == 12


def test_short_types_are_a_warning(statute_passages, tmp_path):
    r = lex_dpr(["synth", "--passages", str(statute_passages), "--out", str(tmp_path / "s.jsonl"), "--n", "40",
                 "--types", "예시,규정", "-q"])
    assert r.exit_code == 0 and "warning: 예시: fewer questions than the target" in r.output


def test_bad_flags_exit_2_with_one_line(statute_passages, tmp_path):
    r = lex_dpr(["synth", "--passages", str(statute_passages), "--out", str(tmp_path / "s.jsonl"),
                 "--types", "정의,usage", "--temperatures", "0.1,hot"])
    assert r.exit_code == 2
    assert r.output.count("error:") == 1 and "--temperatures '0.1,hot'" in r.output
    r = lex_dpr(["synth", "--passages", str(statute_passages), "--out", str(tmp_path / "s.jsonl"), "--types", "정의,usage"])
    assert r.exit_code == 2 and "--types '정의,usage': use some of 정의,프로세스,규정,예시,비교,적용" in r.output
    r = lex_dpr(["synth", "--passages", str(statute_passages), "--out", str(tmp_path / "s.jsonl"), "--llm", "gpt-4"])
    assert r.exit_code == 2 and "--llm 'gpt-4' is not one of" in r.output


def test_missing_passages_exit_1(tmp_path):
    r = lex_dpr(["synth", "--passages", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "s.jsonl")])
    assert r.exit_code == 1 and "nope.jsonl: file not found" in r.output


def test_a_model_that_never_asks_a_question_is_an_error_not_an_empty_success(statute_passages, tmp_path):
    """A real OpenAI-compatible HTTP server on 127.0.0.1 that answers every prompt with a statement."""
    from _cli import chat_server

    with chat_server(lambda messages: (200, "이 조문은 손해배상에 관한 규정입니다.")) as url:
        done = lex_dpr(["synth", "--passages", str(statute_passages), "--llm", f"openai:{url}", "--n", "6",
                        "--types", "정의,규정", "--out", str(tmp_path / "s.jsonl"), "--quiet"])
    assert done.exit_code == 1, done.output
    errors = [x for x in done.stderr.splitlines() if x.startswith("error:")]
    assert len(errors) == 1 and "no question kept" in errors[0] and "unparsed" in errors[0]
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == []  # no empty output left


def test_a_misspelt_passage_type_is_refused_not_silently_dropped(statute_passages, tmp_path):
    r = lex_dpr(["synth", "--passages", str(statute_passages), "--out", str(tmp_path / "s.jsonl"), "--n", "6",
                 "--passage-types", "law,amdin", "-q"])
    assert (r.exit_code, r.stderr) == (2, "error: --passage-types 'law,amdin': 'amdin' (did you mean 'admin'?) is not "
                                          "a passage type; use some of law,admin,prec\n")
    assert not (tmp_path / "s.jsonl").exists()
    r = lex_dpr(["synth", "--passages", str(statute_passages), "--out", str(tmp_path / "s.jsonl"), "--n", "6",
                 "--passage-types", "law,prec", "-q"])  # a real type this file lacks: a warning, the rest goes on
    assert r.exit_code == 0 and f"warning: --passage-types law,prec: {statute_passages} has no passage of type prec" in r.stderr


def test_a_run_that_keeps_nothing_leaves_no_output_journal_or_summary(statute_passages, tmp_path):
    r = lex_dpr(["synth", "--passages", str(statute_passages), "--out", str(tmp_path / "s.jsonl"), "--n", "6",
                 "--types", "비교", "--passage-types", "admin", "-q"])
    assert (r.exit_code, r.stderr) == (1, "error: no question kept (0 attempts: no passage gives these types); choose "
                                          "other --types or --passage-types; nothing was written\n")
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == []
