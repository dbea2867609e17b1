"""A saved dense index opens memory-mapped: the same results, without reading its vectors or lists into memory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lex_dpr.retrieval.dense import DenseIndex, write_flat


def _vectors(n: int, d: int, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.mark.parametrize("kind", ["flat", "ivf", "ivfpq"])
def test_mapped_and_read_indexes_give_the_same_results(tmp_path, kind):
    x = _vectors(3000, 32)
    DenseIndex.build(x, kind).save(tmp_path / "dense.faiss")
    params = {"nprobe": 8}
    read = DenseIndex.load(tmp_path / "dense.faiss", kind, params, mmap=False)
    mapped = DenseIndex.load(tmp_path / "dense.faiss", kind, params, mmap=True)
    for queries in (x[:1], x[:40]):  # one query (FAISS on one thread) and a batch (the numpy product for flat)
        a, b = read.search(queries, 10), mapped.search(queries, 10)
        assert np.array_equal(a[1], b[1]) and np.array_equal(a[0], b[0])


def test_an_ivf_index_searches_its_inverted_lists_on_disk(tmp_path):
    import faiss

    DenseIndex.build(_vectors(3000, 32), "ivfpq", pq_m=4).save(tmp_path / "dense.faiss")
    lists = lambda index: type(faiss.downcast_InvertedLists(faiss.extract_index_ivf(index.faiss_index).invlists))
    assert lists(DenseIndex.load(tmp_path / "dense.faiss", "ivfpq")).__name__ == "OnDiskInvertedLists"
    assert lists(DenseIndex.load(tmp_path / "dense.faiss", "ivfpq", mmap=False)).__name__ == "ArrayInvertedLists"


def test_a_mapped_flat_index_reads_its_vectors_from_the_file(tmp_path):
    psutil = pytest.importorskip("psutil")
    path = tmp_path / "dense.faiss"
    DenseIndex.build(_vectors(5000, 64), "flat").save(path)

    def mapped() -> bool:
        return any(Path(m.path) == path for m in psutil.Process().memory_maps())

    read = DenseIndex.load(path, "flat", mmap=False)
    assert not mapped()
    index = DenseIndex.load(path, "flat")
    assert mapped()  # the vectors are the file's pages, shared with every process that opens it
    assert index.size == read.size == 5000


def test_an_index_that_cannot_be_mapped_is_read_into_memory(tmp_path, monkeypatch):
    import faiss

    x = _vectors(500, 16)
    DenseIndex.build(x).save(tmp_path / "dense.faiss")
    real = faiss.read_index

    def no_mmap(path, flags=0):
        if flags:
            raise RuntimeError("Error: mmap failed")  # as FAISS says on a file system without mmap
        return real(path)

    monkeypatch.setattr(faiss, "read_index", no_mmap)
    index = DenseIndex.load(tmp_path / "dense.faiss")
    assert index.search(x[:1], 1)[1].tolist() == [[0]]


@pytest.mark.parametrize("n, dim", [(1, 8), (3000, 32), (70_000, 4)])  # 70,000 rows: more than one block
def test_a_flat_index_written_from_the_rows_is_the_file_faiss_writes(tmp_path, n, dim):
    x = _vectors(n, dim, seed=n)
    DenseIndex.build(x).save(tmp_path / "built.faiss")
    np.save(tmp_path / "rows.npy", x)
    written = write_flat(np.load(tmp_path / "rows.npy", mmap_mode="r"), tmp_path / "written.faiss")
    assert (tmp_path / "written.faiss").read_bytes() == (tmp_path / "built.faiss").read_bytes()
    assert written.kind == "flat" and written.size == n
    assert written.search(x[:2], 1)[1][:, 0].tolist() == list(range(min(2, n)))


def test_a_faiss_that_lays_flat_files_out_otherwise_gets_an_index_built_in_memory(tmp_path, monkeypatch):
    from lex_dpr.retrieval import dense

    monkeypatch.setattr(dense, "_flat_layout", lambda dim: None)
    x = _vectors(100, 8)
    DenseIndex.build(x).save(tmp_path / "built.faiss")
    write_flat(x, tmp_path / "written.faiss")
    assert (tmp_path / "written.faiss").read_bytes() == (tmp_path / "built.faiss").read_bytes()
