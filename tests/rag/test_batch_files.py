"""`rag batch`'s files without an index: the question reader, the answers file and the answer cache follow the
journal rule (a torn last line dropped and cut away, any other bad line named with its file and line)."""

from __future__ import annotations

import orjson
import pytest

from lex_dpr.errors import InputError
from lex_dpr.rag.answer import Answer
from lex_dpr.rag.batch import AnswerCache, InputQuestion, Output, read_questions
from lex_dpr.rag.prompts import Context


def _answer(question: str, error: str | None = None) -> Answer:
    return Answer(question, "정의", [Context("LAW_1", "본문", title="민법", article="제1조", score=0.5)], "답",
                  error=error)


def _row(qid: str, question: str, error: str | None = None) -> bytes:
    return orjson.dumps({"id": qid, "question": question, "error": error}) + b"\n"


def test_the_answers_file_drops_a_torn_row_and_names_a_damaged_one(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_bytes(_row("q1", "가") + _row("q2", "나", "timeout") + _row("q3", "다")[:20])
    out = Output(path)
    assert out.done_ids({"q1": "가", "q2": "나", "q3": "다"}) == ({"q1"}, 1, [], [])
    assert path.read_bytes() == _row("q1", "가")  # the failed row and the torn one are gone before appending
    out.open(append=True)
    out.write("q2", _answer("나"))
    out.close()
    assert [orjson.loads(line)["id"] for line in path.read_bytes().splitlines()] == ["q1", "q2"]
    path.write_bytes(_row("q1", "가") + b'{"id": \n' + _row("q3", "다"))
    with pytest.raises(InputError, match=rf"^{path}:2: invalid JSON \(.+\); this is not an output of rag batch"):
        out.done_ids()
    path.write_bytes(_row("q1", "가") + b'{"question": "x"}\n')
    with pytest.raises(InputError, match=rf"^{path}:2: a row without an id; "):
        out.done_ids()


def test_the_answer_cache_cuts_a_torn_line_and_warns_about_a_damaged_one(tmp_path, caplog):
    cache = AnswerCache(tmp_path, "fp")
    cache.put("가", _answer("가"))
    cache.put("나", _answer("나", error="timeout"))  # a failed answer is never cached
    cache.close()
    whole = (tmp_path / "fp.jsonl").read_bytes()
    (tmp_path / "fp.jsonl").write_bytes(b"[1]\n" + whole + '{"q": "다", "ans'.encode())
    cache = AnswerCache(tmp_path, "fp")
    assert cache.get("가") == _answer("가") and cache.get("나") is None
    assert "1 line(s) are not answer cache entries" in caplog.text
    assert "fp.jsonl:1: not an answer cache entry" in caplog.text
    cache.put("라", _answer("라"))
    cache.close()
    added = orjson.dumps({"q": "라", "answer": _answer("라").to_dict()}) + b"\n"
    assert (tmp_path / "fp.jsonl").read_bytes() == b"[1]\n" + whole + added  # not glued onto the torn line


def test_questions_keep_their_line_and_id(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_bytes(b'{"id": 7, "question": " \xea\xb0\x80 "}\n{"id": "x"}\n')
    bad = []
    assert read_questions(path, bad=bad) == [InputQuestion(1, 7, "가")] and [b.line for b in bad] == [2]
