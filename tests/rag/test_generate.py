"""Generated answers end to end: the tiny Qwen2 through `rag ask --llm transformers:...`, and `rag batch` against
a real OpenAI-compatible HTTP server on 127.0.0.1 that fails some requests (the batch goes on)."""

import orjson
import pytest

from tests._cli import chat_server as _chat_server
from tests._cli import lex_dpr

QUESTION = "고의나 과실로 남에게 손해를 입히면 배상해야 하나요?"


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory):
    from tiny_lm import build_tiny_lm

    return build_tiny_lm(tmp_path_factory.mktemp("tiny_lm") / "model")


@pytest.mark.slow
def test_ask_with_a_local_causal_lm(sample_index, tiny_lm):
    done = lex_dpr(["rag", "ask", QUESTION, "--index", str(sample_index), "--llm", f"transformers:{tiny_lm}",
                    "--set", "generation.max_new_tokens=12", "--json"])
    assert done.exit_code == 0, done.output
    ans = orjson.loads(done.stdout)
    ids = [c["id"] for c in ans["contexts"]]
    assert "LAW_001706_제750조" in ids and ans["error"] is None
    assert ans["answer"] and not ans["answer"].startswith("[1] ")  # generated, not the contexts list
    assert set(ans["cited"]) <= set(ids)
    assert ans["flags"]  # random weights: no citation, and hardly Korean
    assert set(ans["flags"]) <= {"no_citation", "not_korean", "empty"}


FAILING = {"on": True}  # the server fails questions that say 실패 while this is on


def _reply(messages):
    if FAILING["on"] and "실패" in messages[-1]["content"].split("문맥")[0]:
        return 500, "boom"
    return 200, "손해를 배상할 책임이 있습니다 [1]."


@pytest.fixture
def chat_server():
    FAILING["on"] = True
    with _chat_server(_reply) as url:
        yield url


def test_batch_against_a_served_model_keeps_going_past_failed_requests(index_copy, chat_server, tmp_path):
    questions = [QUESTION, "실패하는 질문: 계약 해제의 효과는?", "채권의 소멸시효는 몇 년인가요?"]
    inp = tmp_path / "q.jsonl"
    inp.write_bytes(b"".join(orjson.dumps({"id": f"q{i}", "question": q}) + b"\n" for i, q in enumerate(questions)))
    out = tmp_path / "a.jsonl"
    args = ["rag", "batch", "--index", str(index_copy), "--input", str(inp), "--output", str(out), "--quiet",
            "--llm", f"openai:{chat_server}", "--set", "generation.max_retries=0", "--set", "generation.timeout=5"]
    done = lex_dpr(args)
    assert done.exit_code == 1, done.output  # some answers failed: a meaningful exit code, every row written
    rows = [orjson.loads(x) for x in out.read_bytes().splitlines()]
    assert [r["id"] for r in rows] == ["q0", "q1", "q2"]
    ok, failed = rows[0], rows[1]
    assert ok["answer"] == "손해를 배상할 책임이 있습니다 [1]." and ok["cited"] == ok["context_ids"][:1]
    assert ok["flags"] == [] and ok["error"] is None
    assert failed["answer"] == "" and failed["flags"] == ["error"] and "500" in failed["error"]
    assert "\n" not in failed["error"]
    s = orjson.loads((tmp_path / "a.jsonl.summary.json").read_bytes())
    assert (s["answered"], s["errors"]) == (3, 1)
    # the failed answer is not cached: a second run asks the server again, the others come from the cache
    again = lex_dpr([*args[:7], str(tmp_path / "b.jsonl"), *args[8:]])
    assert again.exit_code == 1
    s = orjson.loads((tmp_path / "b.jsonl.summary.json").read_bytes())
    assert (s["cache_hits"], s["generated"]) == (2, 1)


def test_an_unreachable_server_stops_before_any_work(index_copy, tmp_path):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    inp = tmp_path / "q.jsonl"
    inp.write_bytes(orjson.dumps({"id": "a", "question": QUESTION}) + b"\n")
    done = lex_dpr(["rag", "batch", "--index", str(index_copy), "--input", str(inp), "--output",
                    str(tmp_path / "a.jsonl"), "--llm", f"openai:http://127.0.0.1:{port}/v1",
                    "--set", "generation.max_retries=0", "--set", "generation.timeout=2", "--quiet"])
    assert done.exit_code == 1 and "cannot reach" in done.stderr, done.output
    assert not (tmp_path / "a.jsonl").exists()


def test_resume_answers_failed_rows_again_in_input_order(index_copy, chat_server, tmp_path):
    questions = [QUESTION, "실패하는 질문: 계약 해제의 효과는?", "채권의 소멸시효는 몇 년인가요?"]
    inp = tmp_path / "q.jsonl"
    inp.write_bytes(b"".join(orjson.dumps({"id": f"q{i}", "question": q}) + b"\n" for i, q in enumerate(questions)))
    args = ["rag", "batch", "--index", str(index_copy), "--input", str(inp), "--quiet", "--no-cache",
            "--llm", f"openai:{chat_server}", "--set", "generation.max_retries=0"]
    out = tmp_path / "a.jsonl"
    assert lex_dpr([*args, "--output", str(out)]).exit_code == 1
    FAILING["on"] = False  # the server is fixed
    done = lex_dpr([*args, "--output", str(out), "--resume"])
    assert done.exit_code == 0, done.output
    rows = [orjson.loads(x) for x in out.read_bytes().splitlines()]
    assert [r["id"] for r in rows] == ["q0", "q1", "q2"] and all(r["error"] is None for r in rows)
    s = orjson.loads((tmp_path / "a.jsonl.summary.json").read_bytes())
    assert (s["already_done"], s["retried"], s["answered"]) == (2, 1, 1)
    clean = tmp_path / "clean.jsonl"
    assert lex_dpr([*args, "--output", str(clean)]).exit_code == 0
    assert out.read_bytes() == clean.read_bytes()


def test_ask_json_exits_1_when_generation_fails(index_copy, chat_server):
    done = lex_dpr(["rag", "ask", "실패하는 질문: 계약 해제의 효과는?", "--index", str(index_copy), "--llm", f"openai:{chat_server}",
                    "--set", "generation.max_retries=0", "--json"])
    assert done.exit_code == 1
    assert "500" in orjson.loads(done.stdout)["error"]
