"""`lex-dpr serve` against a real uvicorn process on 127.0.0.1, driven by httpx and the `openai` client."""

from __future__ import annotations

import asyncio
import socket
import time

import numpy as np
import pytest

httpx = pytest.importorskip("httpx")

QUESTION = "불법행위로 인한 손해배상 책임은 언제 생기나요?"


def _post(server, path, body, timeout=30):
    if isinstance(body, bytes):
        return httpx.post(server.url + path, content=body, headers={"content-type": "application/json"},
                          timeout=timeout)
    return httpx.post(server.url + path, json=body, timeout=timeout)


def test_search_returns_ranked_passages_with_law_article_text_and_scores(server):
    r = _post(server, "/search", {"question": QUESTION, "k": 4})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["k"] == 4 and body["question"] == QUESTION and "dense+bm25" in body["retrieval"]
    results = body["results"]
    assert [x["rank"] for x in results] == [1, 2, 3, 4]
    assert all(x["id"] and x["text"] and {"law", "article"} <= set(x) for x in results)
    assert [x["score"] for x in results] == sorted((x["score"] for x in results), reverse=True)
    assert set(results[0]["scores"]) == {"dense", "bm25"}
    named = _post(server, "/search", {"question": "민법 제406조는 언제 적용되나요?", "k": 3}).json()["results"]
    assert named[0]["id"] == "LAW_001706_제406조" and set(named[0]["scores"]) == {"dense", "bm25"}  # named first
    for mode in ("rrf", "independent", "weighted"):
        r = _post(server, "/search", {"question": QUESTION, "k": 3, "retrieval": mode, "weight": 0.5}
                  if mode == "weighted" else {"question": QUESTION, "k": 3, "retrieval": mode})
        assert r.status_code == 200, r.text
        assert len(r.json()["results"]) == 3 and (mode in r.json()["retrieval"] or "w=0.50" in r.json()["retrieval"])


def test_a_question_nothing_matches_gets_no_results_and_a_flag_as_rag_ask_does(server):
    for path in ("/search", "/answer"):
        r = _post(server, path, {"question": "😀😀🔥🙏", "k": 3})
        assert r.status_code == 200, r.text
        d = r.json()
        assert d["flags"] == ["no_match"] and d.get("results", d.get("contexts")) == []
    assert _post(server, "/search", {"question": QUESTION, "k": 3}).json()["flags"] == []


def test_answer_is_rag_ask_json(server):
    r = _post(server, "/answer", {"question": QUESTION, "k": 3, "retrieval": "rrf"})
    assert r.status_code == 200, r.text
    d = r.json()
    assert {"question", "qtype", "contexts", "answer", "cited", "flags", "error", "settings"} <= set(d)
    assert len(d["contexts"]) == 3 and d["cited"] == [c["id"] for c in d["contexts"]]
    assert d["settings"]["llm"] == "none" and "rrf" in d["settings"]["retrieval"]
    assert all(c["id"] in d["answer"] for c in d["contexts"])  # without an LLM the answer lists the contexts


def test_embed_vectors_are_the_ones_search_compares(server):
    """The dense score of a search hit is the dot product of the /embed query vector and the passage's vector."""
    hit = _post(server, "/search", {"question": QUESTION, "k": 1, "retrieval": "weighted", "weight": 1.0}).json()
    top = hit["results"][0]
    q = _post(server, "/embed", {"texts": [QUESTION], "kind": "query"}).json()
    p = _post(server, "/embed", {"texts": [top["text"]], "kind": "passage"}).json()
    assert q["shape"][0] == 1 and q["count"] == 1
    qv, pv = np.array(q["embeddings"][0]), np.array(p["embeddings"][0])
    assert abs(np.linalg.norm(qv) - 1) < 1e-4
    assert abs(float(qv @ pv) - top["scores"]["dense"]) < 1e-4
    raw = _post(server, "/embed", {"texts": [QUESTION], "kind": "query", "normalize": False}).json()
    assert np.allclose(np.array(raw["embeddings"][0]) / np.linalg.norm(raw["embeddings"][0]), qv, atol=1e-5)


def test_the_predecessors_requests_get_the_predecessors_responses(server):
    """zae-park/LexDPR lex_dpr/cli/api.py: {texts, normalize, batch_size} in; {embeddings, shape, count} out."""
    texts = ["민법 제750조 불법행위", "근로기준법 해고 제한"]
    for path in ("/embed/passage", "/embed/query"):
        r = _post(server, path, {"texts": texts, "normalize": True, "batch_size": 64})
        assert r.status_code == 200, r.text
        body = r.json()
        assert set(body) == {"embeddings", "shape", "count"}
        assert body["count"] == 2 and body["shape"][0] == 2 and len(body["embeddings"][1]) == body["shape"][1]
    assert _post(server, "/embed/passage", {"texts": texts})  # normalize and batch_size are optional
    empty = _post(server, "/embed/query", {"texts": []})
    assert empty.status_code == 400 and empty.json() == {"error": "texts list cannot be empty"}
    health = httpx.get(server.url + "/health", timeout=10).json()
    assert health["status"] == "healthy" and health["model_loaded"] is True
    assert len(health["index"]["fingerprint"]) == 64 and len(health["model"]["fingerprint"]) == 64


def test_openai_client_embeddings_create_works_unchanged(server):
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="unused", timeout=30, max_retries=0)
    texts = ["민법 제750조 불법행위", "근로기준법 해고 제한", "임대차 보증금 반환"]
    got = client.embeddings.create(model="lex-dpr", input=texts)  # the client asks for base64 by default
    assert [d.index for d in got.data] == [0, 1, 2] and got.model == "lex-dpr"
    mine = np.array(_post(server, "/embed", {"texts": texts, "kind": "passage"}).json()["embeddings"])
    assert np.allclose(np.array([d.embedding for d in got.data]), mine, atol=1e-6)
    as_float = client.embeddings.create(model="lex-dpr", input=texts[0], encoding_format="float")
    assert np.allclose(as_float.data[0].embedding, mine[0], atol=1e-6)
    query = client.embeddings.create(model="lex-dpr-query", input=[texts[0]])
    q = _post(server, "/embed", {"texts": [texts[0]], "kind": "query"}).json()["embeddings"][0]
    assert np.allclose(query.data[0].embedding, q, atol=1e-6)
    with pytest.raises(openai.APIStatusError) as bad:
        client.embeddings.create(model="lex-dpr", input=[[1, 2, 3]])
    assert bad.value.status_code == 422 and "token ids" in bad.value.response.json()["error"]


def _one_line_error(r, status):
    assert r.status_code == status, (r.status_code, r.text)
    assert "\n" not in r.text and "Traceback" not in r.text
    body = r.json()
    assert list(body) == ["error"] and body["error"]
    return body["error"]


HOSTILE = [
    ("/search", {"question": ""}, 422, "empty"),
    ("/search", {"question": "   "}, 422, "empty"),
    ("/search", {"question": 123}, 422, "question"),
    ("/search", {"question": QUESTION, "k": "five"}, 422, "k"),
    ("/search", {"question": QUESTION, "k": 0}, 422, "k"),
    ("/search", {"question": QUESTION, "k": 51}, 422, "--max-k"),
    ("/search", {"question": QUESTION, "retrieval": "magic"}, 422, "retrieval"),
    ("/search", {"question": QUESTION, "weight": 2}, 422, "weight"),
    ("/search", {"question": QUESTION, "wieght": 0.5}, 422, "wieght"),
    ("/search", {}, 422, "question"),
    ("/search", [QUESTION], 422, "body"),
    ("/search", {"question": "가" * 2001}, 413, "--max-text-chars"),
    ("/answer", {"question": None}, 422, "question"),
    ("/search", rb'{"question": "\ubd88\ud800"}', 422, "not valid Unicode"),  # a lone surrogate, as JSON escapes it
    ("/embed", rb'{"texts": ["\udfff"]}', 422, "not valid Unicode"),
    ("/search", {"question": QUESTION, "k": 10**30}, 422, "--max-k"),
    ("/search", {"question": QUESTION, "k": 1.5}, 422, "integer"),
    ("/embed", {"texts": ["가"] * 10_000}, 413, "--max-texts"),
    ("/embed", {"texts": ["법", ""]}, 422, "texts[1] is empty"),
    ("/embed", {"texts": "법"}, 422, "texts"),
    ("/embed", {"texts": ["법"], "kind": "document"}, 422, "kind"),
    ("/embed/passage", {"texts": [1, 2]}, 422, "texts"),
    ("/v1/embeddings", {"input": ["법"] * 100}, 413, "--max-texts"),
    ("/v1/embeddings", {"input": ""}, 422, "empty"),
    ("/v1/embeddings", {"model": "lex-dpr"}, 422, "input"),
]


@pytest.mark.parametrize(("path", "body", "status", "says"), HOSTILE, ids=lambda x: str(x)[:30])
def test_hostile_requests_get_one_line_json_errors(server, path, body, status, says):
    assert says in _one_line_error(_post(server, path, body), status)


def test_bodies_that_are_not_json_too_large_or_too_slow_are_refused_and_the_server_stays_up(server):
    url = server.url
    assert "not valid JSON" in _one_line_error(httpx.post(url + "/search", content=b'{"question": ', timeout=10,
                                                          headers={"content-type": "application/json"}), 422)
    assert "Content-Type: application/json" in _one_line_error(
        httpx.post(url + "/search", content=b'{"question": "x"}', timeout=10,
                   headers={"content-type": "application/x-www-form-urlencoded"}), 422)
    deep = b'{"question": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"  # nesting past any parser's recursion limit
    assert _one_line_error(httpx.post(url + "/search", content=deep, timeout=10,
                                      headers={"content-type": "application/json"}), 400)
    huge = b'{"question": "' + b"a" * 1_000_000 + b'"}'
    assert "--max-body-bytes" in _one_line_error(httpx.post(url + "/search", content=huge, timeout=10,
                                                            headers={"content-type": "application/json"}), 413)

    def chunks():  # no Content-Length: cut off at the first byte past the limit
        for _ in range(100):
            yield b"a" * 10_000

    assert "--max-body-bytes" in _one_line_error(httpx.post(url + "/search", content=chunks(), timeout=10), 413)
    assert _one_line_error(httpx.get(url + "/nowhere", timeout=10), 404) == "Not Found"
    assert _one_line_error(httpx.get(url + "/search", timeout=10), 405)

    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as slow:  # promises 100 bytes, sends 10, waits
        slow.sendall(b"POST /search HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100"
                     b"\r\n\r\n" + b'{"questio')
        started = time.monotonic()
        reply = b""
        while chunk := slow.recv(4096):  # the server closes the connection after its answer
            reply += chunk
        reply = reply.decode()
        assert reply.startswith("HTTP/1.1 408") and time.monotonic() - started < 8, reply
        assert '{"error":"the body did not arrive within 1 s"}' in reply
    assert httpx.get(url + "/health", timeout=10).status_code == 200
    assert "Traceback" not in server.output()


def test_concurrent_requests_are_batched_and_answered_like_single_ones(server):
    questions = [QUESTION, "근로계약 해지 절차는?", "임대차 보증금 반환", "상속 포기 기간", "형법 사기죄 처벌"] * 8
    alone = {q: _post(server, "/search", {"question": q, "k": 3}).json()["results"] for q in set(questions)}
    before = httpx.get(server.url + "/health", timeout=10).json()["lanes"]["search"]

    async def burst():
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
            return await asyncio.gather(*(client.post("/search", json={"question": q, "k": 3}) for q in questions))

    replies = asyncio.run(burst())
    assert all(r.status_code == 200 for r in replies)
    for q, r in zip(questions, replies, strict=True):
        assert [x["id"] for x in r.json()["results"]] == [x["id"] for x in alone[q]]
        assert [x["score"] for x in r.json()["results"]] == pytest.approx([x["score"] for x in alone[q]], abs=1e-5)
    after = httpx.get(server.url + "/health", timeout=10).json()["lanes"]["search"]
    assert after["requests"] - before["requests"] == len(questions)
    assert after["batches"] - before["batches"] < len(questions)  # some requests shared an encode


def test_clients_that_leave_do_not_take_the_server_down(server):
    host, port = server.url.removeprefix("http://").split(":")
    body = ('{"question": "%s", "k": 5}' % QUESTION).encode()
    for _ in range(20):  # a full request, then the connection closes before the answer
        with socket.create_connection((host, int(port)), timeout=10) as s:
            s.sendall(b"POST /answer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "
                      + str(len(body)).encode() + b"\r\n\r\n" + body)
    assert _post(server, "/search", {"question": QUESTION, "k": 1}).status_code == 200
    assert "Traceback" not in server.output()


def test_docs_and_openapi_list_every_endpoint(server):
    assert httpx.get(server.url + "/docs", timeout=10).status_code == 200
    paths = httpx.get(server.url + "/openapi.json", timeout=10).json()["paths"]
    assert {"/search", "/answer", "/embed", "/embed/passage", "/embed/query", "/v1/embeddings", "/health",
            "/reload"} <= set(paths)
