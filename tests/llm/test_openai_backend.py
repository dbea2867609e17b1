"""The openai backend against real loopback servers: a scripted ``http.server`` for the failures, and
``transformers serve`` over the tiny model for the real thing."""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from lex_dpr.errors import InputError
from lex_dpr.llm.base import Generation, GenerationConfig, Generator
from lex_dpr.llm.open import open_generator

FAST = {"timeout": 1.0, "max_retries": 0}


class Scripted(BaseHTTPRequestHandler):
    """Answers by the last user message: ``ok ...`` echoes it back, ``slow`` sleeps past the client's timeout,
    ``500`` is a server error, ``badjson`` a 200 with broken JSON, ``html`` a 200 web page, ``nochoices`` a completion with no choices.
    Requests carrying ``top_k`` get a 422, as from ``transformers serve``."""

    models = ["served-model", "other-model"]
    bodies: list[dict]
    in_flight: list[int]  # now, most at once
    lock: threading.Lock

    def log_message(self, *args):  # keep pytest output clean
        pass

    def _send(self, status: int, payload: bytes, kind: str = "application/json") -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up waiting ("slow")
            pass

    def do_GET(self):
        self._send(200, json.dumps({"object": "list", "data": [{"id": m, "object": "model", "created": 0,
                                                                "owned_by": "me"} for m in self.models]}).encode())

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.lock:
            self.bodies.append(body)
            self.in_flight[0] += 1
            self.in_flight[1] = max(self.in_flight)
        try:
            self._answer(body)
        finally:
            with self.lock:
                self.in_flight[0] -= 1

    def _answer(self, body: dict) -> None:
        if "top_k" in body:
            return self._send(422, b'{"detail": "Unexpected fields in the request: {\'top_k\'}"}')
        said = body["messages"][-1]["content"]
        if said == "slow":
            time.sleep(3)
        if said.startswith("ok"):
            time.sleep(0.2)  # long enough for a concurrent client to have several requests open
        if said == "500":
            return self._send(500, b'{"error": {"message": "CUDA out of memory", "type": "server_error"}}')
        if said == "html":
            return self._send(200, b"<html>proxy login</html>", "text/html")
        if said == "badjson":
            return self._send(200, b'{"id": "x", "choices": [{"message": {"content": "cut')
        choices = [] if said == "nochoices" else [{"index": 0, "finish_reason": "stop",
                                                   "message": {"role": "assistant", "content": f"답: {said}"}}]
        self._send(200, json.dumps({"id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                                    "choices": choices, "usage": {"prompt_tokens": 3, "completion_tokens": 2,
                                                                  "total_tokens": 5}}).encode())


@pytest.fixture
def scripted():
    """A scripted server on a free loopback port; yields its /v1 URL and the request bodies it received."""
    handler = type("Handler", (Scripted,), {"bodies": [], "in_flight": [0, 0], "lock": threading.Lock()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1", handler.bodies, server
    server.shutdown()
    server.server_close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ask(*texts: str) -> list[list[dict]]:
    return [[{"role": "user", "content": t}] for t in texts]


def test_the_first_listed_model_is_used_and_requests_carry_the_settings(scripted):
    url, bodies, _ = scripted
    gen = open_generator(f"openai:{url}", GenerationConfig(**FAST))
    assert isinstance(gen, Generator) and gen.model == "served-model"
    config = GenerationConfig(max_new_tokens=7, seed=3, banned_token_ids=[5, 9], repetition_penalty=1.0)
    assert gen.generate(_ask("ok 민법"), config) == [Generation("답: ok 민법", prompt_tokens=3, completion_tokens=2)]
    assert bodies[-1] == {"model": "served-model", "messages": _ask("ok 민법")[0], "max_tokens": 7, "seed": 3,
                          "temperature": 0.0, "logit_bias": {"5": -100.0, "9": -100.0}}


def test_sampling_settings_and_extras_are_mapped(scripted):
    url, bodies, _ = scripted
    gen = open_generator(f"openai:{url}", GenerationConfig(model="other-model", **FAST))
    config = GenerationConfig(do_sample=True, temperature=0.8, top_p=0.5, top_k=0, repetition_penalty=1.2,
                              banned_strings=["<image>"])
    gen.generate(_ask("ok"), config)
    assert {k: bodies[-1][k] for k in ("model", "temperature", "top_p", "repetition_penalty", "bad_words")} == {
        "model": "other-model", "temperature": 0.8, "top_p": 0.5, "repetition_penalty": 1.2, "bad_words": ["<image>"]}
    assert "top_k" not in bodies[-1]  # 0 is off: nothing to send


def test_a_server_rejecting_extras_gets_them_once_then_never(scripted, caplog):
    url, bodies, _ = scripted
    gen = open_generator(f"openai:{url}", GenerationConfig(**FAST))
    config = GenerationConfig(do_sample=True, temperature=1.0, top_k=5, concurrency=1)  # one at a time: one 422
    with caplog.at_level(logging.WARNING, logger="lex_dpr.llm.openai_backend"):
        out = gen.generate(_ask("ok 1", "ok 2", "ok 3"), config)
    assert [g.text for g in out] == ["답: ok 1", "답: ok 2", "답: ok 3"]
    assert [("top_k" in b) for b in bodies] == [True, False, False, False]
    assert [r.getMessage() for r in caplog.records] == [
        f"{url} rejected top_k/repetition_penalty/bad_words (HTTP 422: Unexpected fields in the request: "
        "{'top_k'}): sending requests without them"]


def test_a_batch_with_failing_requests_answers_every_item_in_order(scripted):
    url, _, server = scripted
    gen = open_generator(f"openai:{url}", GenerationConfig(**FAST))
    out = gen.generate(_ask("ok 1", "slow", "ok 2", "500", "badjson", "nochoices", "html", "ok 3"),
                       GenerationConfig(**FAST, concurrency=4))
    assert server.RequestHandlerClass.in_flight[1] > 1  # sent concurrently
    assert [g.text for g in out] == ["답: ok 1", "", "답: ok 2", "", "", "", "", "답: ok 3"]
    errors = [g.error for g in out]
    assert errors[0] is errors[2] is errors[7] is None
    assert errors[1] == f"no answer from {url} within 1 s: raise generation.timeout or lower generation.concurrency"
    assert errors[3] == f"HTTP 500 from {url}: CUDA out of memory"
    assert errors[4].startswith(f"malformed JSON in the answer from {url}: ")
    assert errors[5] == "the server answered with no choices"
    assert errors[6] == "the server's answer is not a chat completion: <html>proxy login</html>"
    assert all("\n" not in e for e in errors if e)


def test_server_errors_are_retried_then_reported(scripted):
    url, bodies, _ = scripted
    gen = open_generator(f"openai:{url}", GenerationConfig(**FAST))
    out = gen.generate(_ask("500", "ok"), GenerationConfig(timeout=1.0, max_retries=1))
    assert [b["messages"][0]["content"] for b in bodies].count("500") == 2
    assert [g.error for g in out] == [f"HTTP 500 from {url}: CUDA out of memory (after 1 retry)", None]


def test_a_server_that_goes_away_mid_run_fails_each_item_without_raising(scripted):
    url, _, server = scripted
    gen = open_generator(f"openai:{url}", GenerationConfig(**FAST))
    assert gen.generate(_ask("ok"), GenerationConfig())[0].text == "답: ok"
    server.shutdown()
    server.server_close()
    out = gen.generate(_ask("ok 1", "ok 2", "ok 3"), GenerationConfig())
    assert [g.text for g in out] == ["", "", ""]
    assert all(g.error.startswith(f"connection failed from {url}: ") and "refused" in g.error.lower() for g in out)


def test_a_closed_port_at_start_is_an_input_error():
    url = f"http://127.0.0.1:{_free_port()}/v1"
    with pytest.raises(InputError) as err:
        open_generator(f"openai:{url}", GenerationConfig(**FAST))
    assert str(err.value).startswith(f"cannot reach {url} (connection failed: ")
    assert str(err.value).endswith("): start the server or check --llm")


def test_a_server_listing_no_models_needs_generation_model(scripted, monkeypatch):
    url, _, server = scripted
    monkeypatch.setattr(server.RequestHandlerClass, "models", [])
    with pytest.raises(InputError, match=f"^{url} lists no models: set generation.model"):
        open_generator(f"openai:{url}", GenerationConfig(**FAST))
    assert open_generator(f"openai:{url}", GenerationConfig(model="mine", **FAST)).model == "mine"


def test_the_api_key_comes_from_config_then_the_environment(scripted, monkeypatch):
    url, _, _ = scripted
    monkeypatch.setenv("OPENAI_API_KEY", "from-env")
    assert open_generator(f"openai:{url}", GenerationConfig(**FAST)).client.api_key == "from-env"
    assert open_generator(f"openai:{url}", GenerationConfig(api_key="mine", **FAST)).client.api_key == "mine"
    monkeypatch.delenv("OPENAI_API_KEY")
    assert open_generator(f"openai:{url}", GenerationConfig(**FAST)).client.api_key == "EMPTY"


# ----- a real OpenAI-compatible server -----

@pytest.fixture(scope="module")
def served(tiny_lm, tmp_path_factory):
    """``transformers serve`` on a free loopback port, the tiny model in a private offline HF cache."""
    exe = Path(sys.executable).with_name("transformers")
    if not exe.is_file():
        pytest.skip(f"{exe} is not installed")
    home = tmp_path_factory.mktemp("hf_home")
    commit = "0" * 40
    repo = home / "hub" / "models--lexdpr--tiny-qwen2"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    shutil.copytree(tiny_lm, repo / "snapshots" / commit)
    port = _free_port()
    env = {**os.environ, "HF_HOME": str(home), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error"}
    log = home / "serve.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen([str(exe), "serve", "lexdpr/tiny-qwen2", "--host", "127.0.0.1", "--port", str(port),
                                 "--device", "cpu"], env=env, stdout=sink, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    tail = " | ".join(log.read_text(errors="replace").strip().splitlines()[-5:])
                    pytest.skip(f"transformers serve did not start (exit {proc.poll()}): {tail}")
                time.sleep(0.5)
        yield f"{url}/v1"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.mark.slow
def test_transformers_serve_answers_like_the_local_backend(served, tiny_generator):
    gen = open_generator(f"openai:{served}", GenerationConfig(timeout=60, max_retries=0))
    assert gen.model == "lexdpr/tiny-qwen2"  # found through GET /v1/models
    conversations = _ask("민법 제750조의 요건은?", "hi", "근로기준법 제23조") + [
        [{"role": "system", "content": "법률 도우미"}, {"role": "user", "content": "부당해고 구제신청"}]]
    config = GenerationConfig(max_new_tokens=6, repetition_penalty=1.0, concurrency=2)
    remote = gen.generate(conversations, config)
    local = tiny_generator.generate(conversations, config)
    assert [g.error for g in remote] == [None] * 4
    assert [g.text for g in remote] == [g.text for g in local]  # same template, same greedy decoding
    assert [g.prompt_tokens for g in remote] == [g.prompt_tokens for g in local]
    assert all(g.completion_tokens <= 6 for g in remote)


@pytest.mark.slow
def test_transformers_serve_rejects_extras_and_still_answers(served):
    gen = open_generator(f"openai:{served}", GenerationConfig(timeout=60, max_retries=0))
    config = GenerationConfig(max_new_tokens=4, do_sample=True, temperature=1.0, top_k=20, banned_token_ids=[5],
                              concurrency=2)
    out = gen.generate(_ask("하나", "둘", "셋"), config)
    assert [g.error for g in out] == [None] * 3 and all(g.completion_tokens for g in out)
    assert gen._send_extras is False  # HTTP 422 to top_k/repetition_penalty: asked again without them


@pytest.fixture
def silent_server():
    """A loopback socket that accepts connections and never sends a byte; yields its /v1 URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept():
        sock.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(sock.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    stop.set()
    thread.join(2)
    for conn in held:
        conn.close()
    sock.close()


def test_a_server_that_accepts_and_never_answers_fails_in_seconds_by_default(silent_server):
    started = time.monotonic()
    with pytest.raises(InputError) as err:
        open_generator(f"openai:{silent_server}", GenerationConfig())  # the defaults: 5 s, not 60 s x 3 tries
    assert 4.5 <= time.monotonic() - started < 10
    assert str(err.value) == (f"{silent_server} did not answer GET {silent_server}/models within 5 s (it accepts "
                              "connections but sends nothing back): is it still loading the model? Wait and retry, "
                              "raise --connect-timeout (generation.connect_timeout), or check --llm")


def test_an_answer_that_never_comes_is_not_retried_and_the_wait_is_announced(scripted, caplog):
    url, bodies, _ = scripted
    config = GenerationConfig(timeout=1.5, connect_timeout=0.5, max_retries=2)
    gen = open_generator(f"openai:{url}", config)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="lex_dpr.llm.openai_backend"):
        out = gen.generate(_ask("slow"), config)  # the server sleeps 3 s: past the timeout
    assert time.monotonic() - started < 2.9  # one try of 1.5 s, not three
    assert len(bodies) == 1
    assert out[0].error == f"no answer from {url} within 1.5 s: raise generation.timeout or lower generation.concurrency"
    assert [r.getMessage() for r in caplog.records] == [
        f"waiting for {url} (model served-model) to answer 1 question(s): nothing back after 0.5 s; giving up "
        "after 1.5 s (--llm-timeout, generation.timeout)"]
