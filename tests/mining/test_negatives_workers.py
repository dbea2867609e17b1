"""make-pairs' BM25 negatives searched in several processes are the ones one process finds."""

from __future__ import annotations

import numpy as np
import orjson
import pytest

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


def _exit_at_start(folder: str, backend: str) -> None:
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


def _same_up_to_ties(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> bool:
    """The same scores, and for each score the same rows (equal scores may come back in either order)."""
    (rows_a, scores_a), (rows_b, scores_b) = a, b
    if not np.array_equal(scores_a, scores_b):
        return False
    return all(set(rows_a[scores_a == s].tolist()) == set(rows_b[scores_b == s].tolist()) for s in np.unique(scores_a))


def _sample_search(sample_training_data):
    passages = [orjson.loads(x) for x in sample_training_data["passages"].read_bytes().splitlines() if x.strip()]
    pairs = [orjson.loads(x) for x in sample_training_data["pairs"].read_bytes().splitlines() if x.strip()]
    index = BM25Index(tokenize_many([p["text"] for p in passages], workers=1))
    query_tokens = tokenize_many([p["query_text"] for p in pairs], workers=1)
    return index, query_tokens


def test_numba_backend_scores_every_passage_as_numpy_does(sample_training_data):
    index, query_tokens = _sample_search(sample_training_data)
    query_tokens += [[], ["없는형태소"], ["민법", "없는형태소"]]  # nothing, a morpheme no passage holds, one of each
    numpy_hits = index.search(query_tokens, index.size)  # every passage with a score: no tie is cut at k
    numba_hits = index.search(query_tokens, index.size, backend="numba")
    from bm25s.numba import retrieve_utils

    assert retrieve_utils._retrieve_internal_jitted_serial.signatures  # numba compiled and ran it
    assert len(numba_hits) == len(query_tokens)
    assert all(_same_up_to_ties(a, b) for a, b in zip(numpy_hits, numba_hits, strict=True))
    assert sum(len(rows) for rows, _ in numba_hits) > 10 * len(query_tokens)  # they did find something
    assert len(numba_hits[-3][0]) == len(numba_hits[-2][0]) == 0
    assert all(np.all(np.diff(scores) <= 0) for _, scores in numba_hits)  # best first


def test_large_work_is_searched_with_numba(sample_training_data, monkeypatch):
    index, query_tokens = _sample_search(sample_training_data)
    asked = []
    search = BM25Index.search
    monkeypatch.setattr(BM25Index, "search", lambda self, *a, **kw: asked.append(kw.get("backend", "numpy")) or search(self, *a, **kw))
    small = negatives.search_docs(index, query_tokens, 8)
    assert asked and set(asked) == {"numpy"}
    asked.clear()
    monkeypatch.setattr(negatives, "NUMBA_MIN_WORK", len(query_tokens) * index.size)
    large = negatives.search_docs(index, query_tokens, 8)
    assert asked and set(asked) == {"numba"}
    for a, b, (rows, scores) in zip(small, large, index.search(query_tokens, index.size), strict=True):
        score = dict(zip(rows.tolist(), scores.tolist(), strict=True))
        assert sorted(score[d] for d in a.tolist()) == sorted(score[d] for d in b.tolist())  # the same top scores
        cut = score[a[-1]] if len(a) else 0.0  # and the same rows above the last one, which may tie with others
        assert {d for d in a.tolist() if score[d] > cut} == {d for d in b.tolist() if score[d] > cut}
    assert sum(len(r) for r in large) > len(large)


@pytest.mark.slow
def test_numba_in_two_worker_processes_finds_what_one_process_does(sample_training_data, tmp_path, monkeypatch):
    index, query_tokens = _sample_search(sample_training_data)
    query_tokens = query_tokens * 40  # 1,000 queries a worker at least
    monkeypatch.setattr(negatives, "PARALLEL_MIN_WORK", 0)
    monkeypatch.setattr(negatives, "NUMBA_MIN_WORK", 0)
    one = negatives.search_docs(index, query_tokens, 12, workers=1)
    two = negatives.search_docs(index, query_tokens, 12, workers=2, scratch=tmp_path)
    assert [r.tolist() for r in two] == [r.tolist() for r in one]  # numba in both: the same order, ties included
    assert list(tmp_path.iterdir()) == []


def test_a_backend_is_checked_and_a_float64_mask_is_accepted_by_both():
    index = BM25Index([["민법", "손해"], ["형법", "사기"], ["민법", "사기"]])
    with pytest.raises(ValueError, match="BM25 backend 'nubma': use 'numpy' or 'numba'"):
        index.search([["민법"]], 2, backend="nubma")
    mask = np.array([1.0, 1.0, 0.0])  # float64: numba's scoring is typed for float32
    for backend in ("numpy", "numba"):
        rows, scores = index.search([["민법", "사기"]], 3, weight_mask=mask, backend=backend)[0]
        assert sorted(rows.tolist()) == [0, 1] and len(scores) == 2
    assert index._bm25.backend == "numpy"  # the numba searches went through their own copy
