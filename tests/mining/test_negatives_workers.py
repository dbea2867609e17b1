"""make-pairs' BM25 negatives searched in several processes are the ones one process finds."""

from __future__ import annotations

import numpy as np
import orjson

from lex_dpr.data.tokenize import tokenize_many
from lex_dpr.mining import negatives
from lex_dpr.retrieval.bm25 import BM25Index


def test_negatives_from_two_processes_are_one_process_s(sample_training_data, tmp_path, monkeypatch):
    passages = [orjson.loads(x) for x in sample_training_data["passages"].read_bytes().splitlines() if x.strip()]
    pairs = [orjson.loads(x) for x in sample_training_data["pairs"].read_bytes().splitlines() if x.strip()]
    queries = [p["query_text"] for p in pairs] * 30  # enough for two workers (1,000 queries each at least)
    index = BM25Index(tokenize_many([p["text"] for p in passages], workers=1))
    query_tokens = tokenize_many(queries, workers=1)
    query_tokens[5] = []  # a query with no morpheme finds nothing, in a worker too
    ids = [p["id"] for p in passages]
    keys = [(p["id"],) for p in passages]
    excluded = [set(p["positive_passages"]) for p in pairs] * 30
    one = negatives.bm25_negatives(index, query_tokens, ids, keys, excluded, 4, workers=1)
    monkeypatch.setattr(negatives, "PARALLEL_MIN_WORK", 0)
    rows = negatives.search_docs(index, query_tokens, 16, workers=2, scratch=tmp_path)
    assert [r.tolist() for r in rows] == [d.tolist() for d, _ in index.search(query_tokens, 16)]
    assert len(rows[5]) == 0 and all(len(r) for i, r in enumerate(rows) if i != 5)
    two = negatives.bm25_negatives(index, query_tokens, ids, keys, excluded, 4, workers=2, scratch=tmp_path)
    assert two == one
    assert all(len(n) <= 4 and not set(n) & skip for n, skip in zip(two, excluded, strict=True))
    assert sum(len(n) == 4 for n in two) > len(two) // 2
    assert list(tmp_path.iterdir()) == []  # the saved index is removed


def test_small_work_stays_in_one_process(monkeypatch):
    index = BM25Index([["민법", "손해"], ["형법", "사기"]])
    monkeypatch.setattr(negatives, "_open_shared", None)  # a worker would fail to start
    assert [r.tolist() for r in negatives.search_docs(index, [["손해"]] * 3000, 1, workers=4)] == [[0]] * 3000
    assert isinstance(negatives.search_docs(index, [["형법"]], 1, workers=4)[0], np.ndarray)


def test_a_worker_that_cannot_start_leaves_the_search_to_this_process(tmp_path, monkeypatch, caplog):
    index = BM25Index([["민법", "손해"], ["형법", "사기"], ["민법", "사기"]])
    queries = [["사기"], ["민법"]] * 1500
    monkeypatch.setattr(negatives, "PARALLEL_MIN_WORK", 0)
    monkeypatch.setattr(negatives, "_open_shared", _exit_at_start)  # spawned workers die in their initializer
    rows = negatives.search_docs(index, queries, 2, workers=2, scratch=tmp_path)
    assert [r.tolist() for r in rows] == [d.tolist() for d, _ in index.search(queries, 2)]
    assert "searching in this process instead" in caplog.text
    assert list(tmp_path.iterdir()) == []


def _exit_at_start(folder: str) -> None:
    import os

    os._exit(3)


def test_what_a_killed_run_left_in_the_scratch_folder_is_cleared(tmp_path, monkeypatch):
    index = BM25Index([["민법", "손해"], ["형법", "사기"]])
    left = tmp_path / negatives.SCRATCH_NAME / "bm25"
    left.mkdir(parents=True)
    (left / "params.index.json").write_text("{torn")  # a SIGKILLed run's half-saved index
    monkeypatch.setattr(negatives, "PARALLEL_MIN_WORK", 0)
    rows = negatives.search_docs(index, [["사기"]] * 2000, 1, workers=2, scratch=tmp_path)
    assert {r.tolist()[0] for r in rows} == {1}
    assert list(tmp_path.iterdir()) == []
