"""Saved indexes search exactly like the ones they were saved from: BM25 (bm25s, mmap) and dense (FAISS)."""

import numpy as np
import pytest

from lex_dpr.data.corpus import read_corpus
from lex_dpr.errors import ConfigError, InputError
from lex_dpr.retrieval.bm25 import BM25Index, BM25Retriever
from lex_dpr.retrieval.dense import DenseIndex
from lex_dpr.data.tokenize import tokenize_many

QUERIES = ["불법행위로 인한 손해배상 청구권의 소멸시효", "개인정보를 제3자에게 제공할 때 정보주체의 동의",
           "임대차 보증금 반환", "사용자의 피용자 행위에 대한 배상책임", "공시의 방법", "전혀 상관없는 우주선 발사"]


@pytest.fixture(scope="module")
def corpus(sample_training_data):
    return read_corpus(sample_training_data["passages"])


def _hits(index, k=10):
    return [(d.tolist(), s.tolist()) for d, s in index.search(tokenize_many(QUERIES), k)]


@pytest.mark.parametrize("mmap", [True, False])
def test_bm25_index_save_load_searches_the_same(corpus, tmp_path, mmap):
    built = BM25Index.from_texts(corpus.texts)
    before = _hits(built)
    assert all(d for d, _ in before[:5]) and before[5] == ([], [])  # a query without a shared term: no hits
    assert all(s == sorted(s, reverse=True) and min(s) > 0 for _, s in before[:5])
    built.save(tmp_path / "bm25")
    loaded = BM25Index.load(tmp_path / "bm25", mmap=mmap)
    assert loaded.size == built.size == len(corpus)
    assert _hits(loaded) == before
    assert _hits(loaded, k=len(corpus) + 5) == _hits(built, k=len(corpus) + 5)  # k past the corpus size
    retriever = BM25Retriever(corpus, index=loaded)
    assert retriever.rank(QUERIES, 5) == BM25Retriever(corpus, index=built).rank(QUERIES, 5)
    assert retriever.rank(QUERIES, 5)[0][0][0] == corpus.ids[before[0][0][0]]
    # saving again over the folder replaces it whole, no temporary folder left behind
    BM25Index.from_texts(corpus.texts[:10]).save(tmp_path / "bm25")
    assert BM25Index.load(tmp_path / "bm25", mmap=mmap).size == 10
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bm25"]


def test_loading_a_folder_that_is_not_a_bm25_index(corpus, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"empty: not a saved BM25 index \(no params.index.json\); build it again"):
        BM25Index.load(tmp_path / "empty")
    with pytest.raises(InputError, match="not a saved BM25 index"):
        BM25Index.load(tmp_path / "missing")
    broken = tmp_path / "broken"
    BM25Index.from_texts(corpus.texts[:10]).save(broken)
    (broken / "params.index.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(InputError, match=r"broken: cannot read the BM25 index \(.*\); build it again"):
        BM25Index.load(broken)
    cut = tmp_path / "cut"
    BM25Index.from_texts(corpus.texts[:10]).save(cut)
    for npy in cut.glob("*.npy"):
        npy.unlink()
    with pytest.raises(InputError, match="cut: cannot read the BM25 index"):
        BM25Index.load(cut)
    with pytest.raises(InputError, match=r"the BM25 index has 10 passages, the corpus \d+"):
        BM25Retriever(corpus, index=BM25Index.from_texts(corpus.texts[:10]))


def _vectors(n, dim, seed):
    v = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


DOCS = _vectors(500, 16, 0)
QUERY_VECTORS = np.vstack([DOCS[:5] + 0.05 * _vectors(5, 16, 1), _vectors(15, 16, 2)])
QUERY_VECTORS /= np.linalg.norm(QUERY_VECTORS, axis=1, keepdims=True)


def test_flat_index_is_exact_inner_product():
    scores, idx = DenseIndex.build(DOCS).search(QUERY_VECTORS, 10)
    exact = QUERY_VECTORS @ DOCS.T
    assert np.array_equal(idx, np.argsort(-exact, axis=1, kind="stable")[:, :10])
    assert np.allclose(scores, np.take_along_axis(exact, idx, axis=1), atol=1e-5)
    assert idx[:5, 0].tolist() == [0, 1, 2, 3, 4]  # a query near document i finds it first


@pytest.mark.parametrize(("kind", "faiss_type", "params"), [
    ("flat", "IndexFlatIP", {}),
    ("hnsw", "IndexHNSWFlat", {"m": 32, "ef_search": 16}),
    ("ivf", "IndexIVFFlat", {"lists": 12, "nprobe": 12}),  # 500 vectors: min(4·√500, 500 // 39) lists
])
def test_dense_index_build_save_load_round_trip(kind, faiss_type, params, tmp_path):
    index = DenseIndex.build(DOCS, kind)
    assert (index.kind, index.params, index.size) == (kind, params, 500)
    assert type(index.faiss_index).__name__ == faiss_type
    scores, idx = index.search(QUERY_VECTORS, 10)
    flat_idx = DenseIndex.build(DOCS).search(QUERY_VECTORS, 10)[1]
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(idx, flat_idx, strict=True)])
    assert recall >= 0.9 and idx[:5, 0].tolist() == [0, 1, 2, 3, 4]
    index.save(tmp_path / "dense.faiss")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dense.faiss"]  # no temporary file left
    loaded = DenseIndex.load(tmp_path / "dense.faiss", kind, index.params)
    assert (loaded.kind, loaded.params, loaded.size) == (kind, params, 500)
    again_scores, again_idx = loaded.search(QUERY_VECTORS, 10)
    assert np.array_equal(again_idx, idx) and np.array_equal(again_scores, scores)
    assert loaded.search(QUERY_VECTORS[:2], 1000)[1].shape == (2, 500)  # k is capped at the index size


def test_ivf_lists_and_load_params_are_applied(tmp_path):
    index = DenseIndex.build(DOCS, "ivf", ivf_lists=10)
    assert index.params == {"lists": 10, "nprobe": 10} and index.faiss_index.nlist == 10
    index.save(tmp_path / "ivf.faiss")
    assert DenseIndex.load(tmp_path / "ivf.faiss", "ivf", {"nprobe": 3}).faiss_index.nprobe == 3
    index = DenseIndex.build(DOCS, "hnsw", hnsw_m=8)
    index.save(tmp_path / "hnsw.faiss")
    loaded = DenseIndex.load(tmp_path / "hnsw.faiss", "hnsw", {"m": 8, "ef_search": 64})
    assert loaded.faiss_index.hnsw.efSearch == 64 and loaded.params == {"m": 8, "ef_search": 64}


def test_loading_a_file_that_is_not_a_dense_index(tmp_path):
    (tmp_path / "notes.txt").write_text("hello", encoding="utf-8")
    with pytest.raises(InputError, match=r"notes.txt: not a FAISS index \(.+\); build it again"):
        DenseIndex.load(tmp_path / "notes.txt")
    (tmp_path / "empty.faiss").write_bytes(b"")
    with pytest.raises(InputError, match="empty.faiss: not a FAISS index"):
        DenseIndex.load(tmp_path / "empty.faiss")
    with pytest.raises(InputError, match=r"missing.faiss: no dense index there; build it with `lex-dpr index build`"):
        DenseIndex.load(tmp_path / "missing.faiss")
    with pytest.raises(InputError, match="no dense index there"):
        DenseIndex.load(tmp_path)  # a folder, not a file
    with pytest.raises(ConfigError, match=r"faiss index 'pq' is not one of flat, hnsw, ivf, ivfpq"):
        DenseIndex.build(DOCS, "pq")


def test_ivfpq_rescored_from_the_vectors_finds_what_flat_finds(tmp_path):
    from lex_dpr.retrieval.dense import default_pq_m

    index = DenseIndex.build(DOCS, "ivfpq", ivf_lists=8)
    m = default_pq_m(DOCS.shape[1])
    assert type(index.faiss_index).__name__ == "IndexIVFPQ" and index.params == {"lists": 8, "nprobe": 8, "pq_m": m}
    assert index.faiss_index.code_size == m  # m bytes a vector instead of 4·d
    flat_scores, flat_idx = DenseIndex.build(DOCS).search(QUERY_VECTORS, 10)
    index.save(tmp_path / "pq.faiss")
    loaded = DenseIndex.load(tmp_path / "pq.faiss", "ivfpq", index.params)
    coded = loaded.search(QUERY_VECTORS, 10)  # the codes' approximate scores
    loaded.vectors = DOCS  # as open_index gives it: embeddings.npy, memory-mapped
    scores, idx = loaded.search(QUERY_VECTORS, 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(idx, flat_idx, strict=True)])
    assert recall >= 0.95 and np.allclose(scores[idx == flat_idx], flat_scores[idx == flat_idx], atol=1e-5)
    assert not np.allclose(coded[0], scores)  # the rescored scores are the exact ones, not the codes'
    with pytest.raises(ConfigError, match="does not divide"):
        DenseIndex.build(DOCS, "ivfpq", pq_m=DOCS.shape[1] + 1)
    with pytest.raises(ConfigError, match="too few"):
        DenseIndex.build(DOCS[:100], "ivfpq")
