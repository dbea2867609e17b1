"""A flat dense search ranks and scores each query the same whichever queries share its batch."""

from __future__ import annotations

import numpy as np

from lex_dpr.retrieval.dense import DenseIndex


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_a_query_gets_the_same_bytes_alone_in_a_batch_and_in_another_batch():
    rng = np.random.default_rng(0)
    passages = _unit(rng.normal(size=(3000, 96)))
    passages[10] = passages[11]  # an exact tie: the lower row comes first
    queries = _unit(passages[:60] + rng.normal(scale=0.3, size=(60, 96)))
    queries[0] = passages[10]
    index = DenseIndex.build(passages)
    scores, rows = index.search(queries, 20)
    alone = [index.search(queries[i:i + 1], 20) for i in range(len(queries))]
    assert np.array_equal(rows, np.vstack([r for _, r in alone]))
    assert scores.tobytes() == np.vstack([s for s, _ in alone]).tobytes()
    some, some_rows = index.search(queries[5:17], 20)
    assert some.tobytes() == scores[5:17].tobytes() and np.array_equal(some_rows, rows[5:17])
    assert list(rows[0][:2]) == [10, 11]
    exact = passages.astype(np.float64) @ queries.astype(np.float64).T  # the true top 20, by float64 scores
    for q in range(len(queries)):
        want = np.lexsort((np.arange(len(passages)), -exact[:, q]))[:20]
        assert list(rows[q]) == list(want)


def test_fewer_passages_than_asked_pad_with_minus_one():
    passages = _unit(np.random.default_rng(1).normal(size=(5, 8)))
    scores, rows = DenseIndex.build(passages).search(passages[:2], 10)
    assert rows.shape == (2, 5) and (rows >= 0).all()  # k is cut to the passage count
    assert rows[0][0] == 0 and rows[1][0] == 1


def test_a_batch_read_in_blocks_or_reading_every_passage_ranks_as_one_query(monkeypatch):
    import lex_dpr.retrieval.dense as dense

    rng = np.random.default_rng(2)
    passages = _unit(rng.normal(size=(500, 32)))
    queries = _unit(rng.normal(size=(30, 32)))
    index = DenseIndex.build(passages)
    alone = np.vstack([index.search(queries[i:i + 1], 7)[1] for i in range(len(queries))])
    monkeypatch.setattr(dense, "BATCH_SCORES", 500 * 4)  # four queries' scores at a time: eight blocks
    assert np.array_equal(index.search(queries, 7)[1], alone)
    few = DenseIndex.build(passages[:20])  # k + 16 covers every passage
    want = np.vstack([few.search(queries[i:i + 1], 10)[1] for i in range(len(queries))])
    assert np.array_equal(few.search(queries, 10)[1], want)


def test_a_row_subset_is_searched_alone_alone_and_in_a_batch():
    rng = np.random.default_rng(2)
    passages = _unit(rng.normal(size=(2000, 64)))
    queries = _unit(passages[:20] + rng.normal(scale=0.3, size=(20, 64)))
    keep = rng.random(2000) < 0.4
    keep[:20] = False  # each query's own passage is left out: the subset must not leak it back
    index = DenseIndex.build(passages)
    within = index.subset(keep)
    scores, rows = index.search(queries, 15, within=within)  # a batch: the other rows at -inf
    alone = [index.search(queries[i:i + 1], 15, within=within) for i in range(len(queries))]
    assert np.array_equal(rows, np.vstack([r for _, r in alone]))
    assert scores.tobytes() == np.vstack([s for s, _ in alone]).tobytes()
    exact = passages.astype(np.float64) @ queries.astype(np.float64).T
    kept = np.flatnonzero(keep)
    for q in range(len(queries)):  # the true top 15 of the kept rows
        want = kept[np.lexsort((kept, -exact[kept, q]))[:15]]
        assert list(rows[q]) == list(want)
    few = index.subset(np.arange(2000) < 3)
    assert sorted(index.search(queries[:1], 10, within=few)[1][0].tolist()) == [0, 1, 2]  # k cut to the subset


def test_rows_read_in_blocks_give_what_the_whole_matrix_gave(monkeypatch):
    from lex_dpr.retrieval import dense

    rng = np.random.default_rng(3)
    passages = _unit(rng.normal(size=(2000, 48)))
    passages[1500] = passages[7]  # an exact tie across two blocks: the lower row first either way
    queries = _unit(passages[:30] + rng.normal(scale=0.3, size=(30, 48)))
    queries[0] = passages[7]
    index = DenseIndex.build(passages)
    keep = rng.random(2000) < 0.5
    keep[[7, 1500]] = True
    whole = [index.search(queries, 25), index.search(queries, 25, within=index.subset(keep))]
    monkeypatch.setattr(dense, "ROW_BLOCK", 300)  # 7 blocks, the last one short; 30 queries a pass
    monkeypatch.setattr(dense, "BATCH_SCORES", 300 * 30)
    blocks = [index.search(queries, 25), index.search(queries, 25, within=index.subset(keep))]
    for (s1, r1), (s2, r2) in zip(whole, blocks, strict=True):
        assert np.array_equal(r1, r2) and s1.tobytes() == s2.tobytes()
    assert list(blocks[0][1][0][:2]) == [7, 1500]
    assert all(keep[r] for r in blocks[1][1].ravel())


def test_a_subset_in_runs_reads_only_those_rows_and_ranks_as_a_mask_does(monkeypatch):
    from lex_dpr.retrieval import dense

    rng = np.random.default_rng(4)
    passages = _unit(rng.normal(size=(3000, 32)))
    queries = _unit(passages[::100] + rng.normal(scale=0.3, size=(30, 32)))
    keep = np.zeros(3000, dtype=bool)
    keep[100:900] = keep[1500:1501] = keep[2200:3000] = True  # three runs, one of a single row, one at the end
    index = DenseIndex.build(passages)
    within = index.subset(keep)
    assert within.runs.tolist() == [[100, 900], [1500, 1501], [2200, 3000]]
    read: list[tuple[int, int]] = []
    stored = index._stored()

    class Rows:  # the vectors, recording which rows a search multiplies by
        ctypes = stored.ctypes

        def __getitem__(self, key):
            if isinstance(key, slice):
                read.append((key.start, key.stop))
            return stored[key]

    monkeypatch.setattr(index, "_stored", Rows)
    monkeypatch.setattr(dense, "ROW_BLOCK", 500)  # the first and last runs are read in two blocks each
    runs = index.search(queries, 20, within=within)
    assert sorted(set(read)) == [(100, 600), (600, 900), (1500, 1501), (2200, 2700), (2700, 3000)]
    monkeypatch.setattr(dense, "MAX_RUNS", 2)  # too many runs: every row, the others masked
    read.clear()
    masked = index.search(queries, 20, within=within)
    assert sorted(set(read)) == [(0, 500), (500, 1000), (1000, 1500), (1500, 2000), (2000, 2500), (2500, 3000)]
    assert np.array_equal(runs[1], masked[1]) and runs[0].tobytes() == masked[0].tobytes()
    assert keep[runs[1].ravel()].all()


def test_unaligned_vectors_are_searched_by_faiss_and_rank_the_same(tmp_path):
    """FAISS's file holds a flat index's floats at an odd offset, where BLAS is slow: a few queries go to FAISS
    there, and with the aligned copy (``vectors``, as an opened index has ``embeddings.npy``) to numpy."""
    rng = np.random.default_rng(5)
    passages = _unit(rng.normal(size=(4000, 24)))
    queries = _unit(passages[:12] + rng.normal(scale=0.3, size=(12, 24)))
    DenseIndex.build(passages).save(tmp_path / "dense.faiss")
    mapped = DenseIndex.load(tmp_path / "dense.faiss", "flat")
    np.save(tmp_path / "embeddings.npy", passages)
    aligned = DenseIndex.load(tmp_path / "dense.faiss", "flat")
    aligned.vectors = np.load(tmp_path / "embeddings.npy", mmap_mode="r")
    assert aligned._aligned() and not mapped._aligned()
    keep = np.arange(4000) % 3 > 0
    for q in (queries[:1], queries[:5], queries):  # FAISS and numpy for a few queries, numpy for a batch
        for within in (None, "keep"):
            a = mapped.search(q, 10, within=mapped.subset(keep) if within else None)
            b = aligned.search(q, 10, within=aligned.subset(keep) if within else None)
            assert np.array_equal(a[1], b[1]) and a[0].tobytes() == b[0].tobytes()


def test_more_equal_vectors_than_it_reads_are_cut_by_row():
    """40 copies of one vector (a corpus's "제5조 삭제" articles): a query for it gets the first copies by row."""
    rng = np.random.default_rng(6)
    passages = _unit(rng.normal(size=(3000, 16)))
    copies = np.arange(7, 3000, 71)[:40]
    passages[copies] = passages[copies[0]]
    query = passages[copies[:1]]
    index = DenseIndex.build(passages)
    assert index.search(query, 5)[1][0].tolist() == copies[:5].tolist()
    batch = np.repeat(query, 20, axis=0)
    assert all(r.tolist() == copies[:5].tolist() for r in index.search(batch, 5)[1])
    keep = np.ones(3000, dtype=bool)
    keep[copies[:2]] = False
    assert index.search(query, 5, within=index.subset(keep))[1][0].tolist() == copies[2:7].tolist()
    assert index.search(query, 40)[1][0].tolist() == copies.tolist()


def test_an_empty_subset_or_index_finds_nothing():
    passages = _unit(np.random.default_rng(7).normal(size=(50, 8)))
    index = DenseIndex.build(passages)
    scores, rows = index.search(passages[:3], 5, within=index.subset(np.zeros(50, dtype=bool)))
    assert scores.shape == rows.shape == (3, 0)
    assert DenseIndex.build(np.zeros((0, 8), dtype=np.float32)).search(passages[:2], 5)[1].shape == (2, 0)
