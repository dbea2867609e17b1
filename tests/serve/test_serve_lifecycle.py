"""SIGTERM drains, an index swapped by `index update` is served without a restart, bad flags fail before loading."""

from __future__ import annotations

import shutil
import signal
import threading
import time

import pytest

from tests._cli import chat_server, lex_dpr
from tests.serve.conftest import running_server

httpx = pytest.importorskip("httpx")

QUESTION = "불법행위로 인한 손해배상 책임은 언제 생기나요?"


def test_sigterm_answers_the_request_in_flight_then_exits_143(serve_index, tmp_path):
    asked = threading.Event()

    def slow_reply(messages):  # the LLM takes its time, so the request is in flight when SIGTERM comes
        asked.set()
        time.sleep(2)
        return 200, "불법행위자는 손해를 배상할 책임이 있습니다 [1]."

    with chat_server(slow_reply) as llm, running_server(serve_index, tmp_path / "serve.log", "--llm",
                                                        f"openai:{llm}") as server:
        result = {}
        client = threading.Thread(target=lambda: result.update(
            r=httpx.post(server.url + "/answer", json={"question": QUESTION, "k": 2}, timeout=60)))
        client.start()
        assert asked.wait(30), server.output()
        server.proc.send_signal(signal.SIGTERM)
        client.join(60)
        assert server.proc.wait(60) == 143, server.output()
    r = result["r"]
    assert r.status_code == 200, r.text
    assert r.json()["answer"].startswith("불법행위자는") and r.json()["settings"]["llm"].startswith("openai:")
    assert "interrupted: SIGTERM" in server.output() and "Traceback" not in server.output()


def _search_ids(url, question, k=50):
    return [x["id"] for x in httpx.post(url + "/search", json={"question": question, "k": k}, timeout=30).json()["results"]]


def test_an_index_swapped_by_update_is_served_without_a_restart(serve_index, tmp_path):
    from lex_dpr.retrieval.index import update_index

    index = shutil.copytree(serve_index, tmp_path / "index")
    lines = (index / "passages.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    removed = [__import__("json").loads(line) for line in lines[:3]]
    new_passages = tmp_path / "new.jsonl"
    new_passages.write_text("".join(lines[3:]), encoding="utf-8")
    with running_server(index, tmp_path / "serve.log", "--reload-interval", "0.3") as server:
        before = httpx.get(server.url + "/health", timeout=10).json()
        assert removed[0]["id"] in _search_ids(server.url, removed[0]["text"][:200])
        errors, stop = [], threading.Event()

        def hammer():  # requests keep coming while the folder is swapped: none may fail
            while not stop.is_set():
                r = httpx.post(server.url + "/search", json={"question": QUESTION, "k": 5}, timeout=30)
                if r.status_code != 200 or len(r.json()["results"]) != 5:
                    errors.append(r.text)

        threads = [threading.Thread(target=hammer) for _ in range(2)]
        for t in threads:
            t.start()
        try:
            update_index(index, new_passages)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                health = httpx.get(server.url + "/health", timeout=10).json()
                if health["index"]["fingerprint"] != before["index"]["fingerprint"]:
                    break
                time.sleep(0.1)
        finally:
            stop.set()
            for t in threads:
                t.join(30)
        assert health["reloads"] == 1 and health["index"]["passages"] == before["index"]["passages"] - 3
        assert not errors, errors[:3]
        assert all(p["id"] not in _search_ids(server.url, p["text"][:200]) for p in removed)
        forced = httpx.post(server.url + "/reload", timeout=60).json()
        assert forced["reloaded"] is True and forced["reloads"] == 2
        assert forced["index"]["fingerprint"] == health["index"]["fingerprint"]


def test_a_bad_flag_or_index_is_one_line_before_anything_listens(tmp_path):
    missing = lex_dpr(["serve", "--index", str(tmp_path / "nope"), "--port", "0"])
    assert missing.exit_code == 1 and "not a lex-dpr index" in missing.output and "Traceback" not in missing.output
    bad = lex_dpr(["serve", "--index", str(tmp_path / "nope"), "--max-k", "0", "--body-timeout", "-1"])
    assert bad.exit_code == 2 and "limits.max_k" in bad.output and "limits.body_timeout_s" in bad.output


def test_a_client_that_leaves_before_its_turn_costs_nothing(serve_index, tmp_path):
    """While one answer is being generated, 8 clients ask and hang up: none of them reaches the LLM."""
    import socket

    asked, release, calls = threading.Event(), threading.Event(), []

    def reply(messages):
        calls.append(messages[-1]["content"])
        asked.set()
        release.wait(30)
        return 200, "답변 [1]"

    with chat_server(reply) as llm, running_server(serve_index, tmp_path / "serve.log", "--llm",
                                                   f"openai:{llm}") as server:
        first = threading.Thread(target=lambda: httpx.post(server.url + "/answer", json={"question": QUESTION},
                                                           timeout=60))
        first.start()
        assert asked.wait(30)
        host, port = server.url.removeprefix("http://").split(":")
        body = '{"question": "근로계약 해지 절차는?"}'.encode()
        for _ in range(8):
            with socket.create_connection((host, int(port)), timeout=10) as s:
                s.sendall(b"POST /answer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "
                          + str(len(body)).encode() + b"\r\n\r\n" + body)
                time.sleep(0.05)  # the request is read and queued behind the one generating, then the client leaves
        time.sleep(0.5)  # the server notices the hang-ups
        release.set()
        first.join(60)
        lanes = httpx.get(server.url + "/health", timeout=10).json()["lanes"]["answer"]
    assert len(calls) == 1, calls
    assert lanes["requests"] == 1 and lanes["dropped"] == 8, lanes
