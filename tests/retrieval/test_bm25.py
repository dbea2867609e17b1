import numpy as np
from rank_bm25 import BM25Okapi

from lex_dpr.retrieval.bm25 import BM25Index
from lex_dpr.data.tokenize import tokenize, tokenize_many


def test_kiwi_tokens_drop_particles_and_endings():
    tokens = tokenize("고의 또는 과실로 인한 위법행위로 타인에게 손해를 가한 자는")
    assert {"고의", "과실", "위법", "손해"} <= set(tokens) and "로" not in tokens and "는" not in tokens
    assert tokenize_many(["손해를 배상한다.", "손해를 배상한다."]) == [tokenize("손해를 배상한다.")] * 2


def test_bm25s_matches_rank_bm25_reference(sample_passages):
    import orjson

    texts = [orjson.loads(line)["text"] for line in sample_passages["law"].read_bytes().splitlines()]
    docs = tokenize_many(texts)
    queries = tokenize_many(["불법행위 손해배상 소멸시효", "계약 해제 원상회복 이자", "개인정보 제3자 제공 동의"])
    ours = BM25Index(docs, method="robertson").search(queries, k=3)
    reference = BM25Okapi(docs)
    for q, (idx, _) in zip(queries, ours, strict=True):
        expected = np.argsort(-reference.get_scores(q), kind="stable")[:3]
        assert idx[0] == expected[0] and set(idx) == set(expected)



def test_saved_index_bytes_do_not_depend_on_the_hash_seed(tmp_path):
    """bm25s numbers its vocabulary from a set; lex-dpr numbers tokens in order of appearance, so the same
    documents give the same files in every process."""
    import os
    import subprocess
    import sys

    code = ("import sys; from lex_dpr.retrieval.bm25 import BM25Index; "
            "BM25Index([['민법', '손해', '배상'], ['형법', '사기', '민법'], [], ['채권', '소멸시효', '손해']]).save(sys.argv[1])")
    for seed in ("1", "2"):
        subprocess.run([sys.executable, "-c", code, str(tmp_path / seed)], check=True,
                       env=dict(os.environ, PYTHONHASHSEED=seed))
    files = sorted(p.name for p in (tmp_path / "1").iterdir())
    assert files and files == sorted(p.name for p in (tmp_path / "2").iterdir())
    for name in files:
        assert (tmp_path / "1" / name).read_bytes() == (tmp_path / "2" / name).read_bytes(), name


def test_a_query_with_no_tokens_has_no_hits():
    from lex_dpr.retrieval.bm25 import BM25Index

    index = BM25Index([["민법", "손해"], ["형법", "사기"]])
    hits = index.search([[], ["민법"], ["없는말"]], k=2)
    assert [d.tolist() for d, _ in hits] == [[], [0], []]


def test_a_full_kiwi_memo_is_emptied_without_losing_the_batch_it_is_serving(monkeypatch):
    """A batch whose texts (and pieces) are partly remembered, arriving when the memo is full, is still tokenised
    whole: the memo is emptied after its lookups, not between them (a long training run hit KeyError here)."""
    from lex_dpr.data import tokenize as t

    monkeypatch.setattr(t, "_MEMO", {}), monkeypatch.setattr(t, "_PIECE_MEMO", {})
    monkeypatch.setattr(t, "_MEMO_SIZE", 3)
    first = ["불법행위로 인한 손해", "계약의 해제"]
    assert t.tokenize_many(first) == [t.tokenize(x) for x in first]
    batch = ["계약의 해제", "지갑을 주웠다", "통장을 빌려줬다", "8. 임대차\n계약의 해제"]  # one text, one piece known
    expected = [t._tokenize([x], workers=1) for x in batch]
    assert t.tokenize_many(batch) == [e[0] for e in expected]
    assert len(t._MEMO) <= 4 and len(t._PIECE_MEMO) <= 5


def test_the_kiwi_memo_emptied_by_another_thread_mid_batch_loses_nothing(monkeypatch):
    """serve's lanes tokenise on several threads: one may empty the memo while another is between its lookup and
    its read. Each remembered entry is read once, so the batch is still whole."""
    from lex_dpr.data import tokenize as t

    monkeypatch.setattr(t, "_MEMO", {}), monkeypatch.setattr(t, "_PIECE_MEMO", {})
    known = "민법 제750조"
    t.tokenize_many([known])
    real = t._tokenize

    def another_thread_empties_the_memos(*args, **kwargs):
        t._MEMO.clear(), t._PIECE_MEMO.clear()
        return real(*args, **kwargs)

    monkeypatch.setattr(t, "_tokenize", another_thread_empties_the_memos)
    assert t.tokenize_many([known, "계약의 해제"]) == [real([known], 1)[0], real(["계약의 해제"], 1)[0]]


def test_both_backends_give_the_same_rankings_ties_in_row_order(sample_training_data, monkeypatch):
    import orjson

    from lex_dpr.data.corpus import read_corpus
    from lex_dpr.retrieval import bm25

    corpus = read_corpus(sample_training_data["passages"])
    monkeypatch.setattr(bm25, "_NUMBA_CACHE", [False])  # numba cannot cache here: only large indexes use it
    small = bm25.BM25Retriever(corpus)
    monkeypatch.setattr(bm25, "NUMBA_MIN_PASSAGES", len(corpus))  # the sample counts as large
    large = bm25.BM25Retriever(corpus, index=small.index)
    assert (small.backend, large.backend) == ("numpy", "numba")
    monkeypatch.setattr(bm25, "NUMBA_MIN_PASSAGES", 500_000)
    monkeypatch.setattr(bm25, "_NUMBA_CACHE", [True])  # where it caches, every index uses it
    assert bm25.BM25Retriever(corpus, index=small.index).backend == "numba"
    monkeypatch.setattr(bm25, "NUMBA_MIN_QUERIES", 1)  # every call searches with the retriever's backend
    used: list[str] = []
    search = small.index.search
    monkeypatch.setattr(small.index, "search", lambda *a, **kw: used.append(kw["backend"]) or search(*a, **kw))
    queries = [orjson.loads(x)["query_text"] for x in sample_training_data["valid_pairs"].read_bytes().splitlines()]
    queries += ["손해배상", "😀", "없는낱말", "법", "조"]
    for k in (3, 10, len(corpus)):
        one, two = small.rank(queries, k), large.rank(queries, k)
        assert one == two  # the same ids in the same order, ties included
        for r in one:
            scores = [s for _, s in r]
            rows = [corpus.index[pid] for pid, _ in r]
            assert all((scores[i], -rows[i]) > (scores[i + 1], -rows[i + 1]) for i in range(len(r) - 1))
    assert set(used) == {"numpy", "numba"}
    ties = sum(len({s for _, s in r}) < len(r) for r in small.rank(queries, len(corpus)))
    assert ties > 0  # the queries do hit equal scores
    keep = np.array([i % 2 == 0 for i in range(len(corpus))])  # rank_kept's weight mask under numba too
    kept = large.rank_kept(queries, 5, keep)
    assert all(corpus.index[pid] % 2 == 0 for r in kept for pid, _ in r) and sum(map(len, kept)) > len(queries)
    assert kept == small.rank_kept(queries, 5, keep)


def test_a_few_queries_stay_on_numpy_below_a_large_index(sample_training_data, monkeypatch):
    from lex_dpr.data.corpus import read_corpus
    from lex_dpr.retrieval import bm25

    corpus = read_corpus(sample_training_data["passages"])
    monkeypatch.setattr(bm25, "_NUMBA_CACHE", [True])
    retriever = bm25.BM25Retriever(corpus)
    used: list[str] = []
    search = retriever.index.search
    monkeypatch.setattr(retriever.index, "search", lambda *a, **kw: used.append(kw["backend"]) or search(*a, **kw))
    retriever.rank(["손해배상"], 5)  # `rag ask`: loading numba's code would cost more than it saves
    retriever.rank(["손해배상"] * bm25.NUMBA_MIN_QUERIES, 5)  # a batch
    assert used == ["numpy", "numba"]


def test_more_ties_than_it_reads_are_still_cut_by_row(monkeypatch):
    """60 passages with the same text: the top 5 are the first five rows, alone or in a batch, on either backend."""
    from lex_dpr.data.corpus import Corpus
    from lex_dpr.retrieval import bm25

    corpus = Corpus([f"p{i}" for i in range(60)] + ["other"], ["민법 손해배상 책임"] * 60 + ["형법 사기"], [{}] * 61)
    monkeypatch.setattr(bm25, "_NUMBA_CACHE", [True])
    retriever = bm25.BM25Retriever(corpus)
    want = [f"p{i}" for i in range(5)]
    assert [pid for pid, _ in retriever.rank(["손해배상"], 5)[0]] == want  # numpy, one query
    assert all([pid for pid, _ in r] == want for r in retriever.rank(["손해배상"] * 40, 5))  # numba, a batch
    assert [pid for pid, _ in retriever.rank(["손해배상"], 60)[0]] == [f"p{i}" for i in range(60)]


def test_a_large_index_loads_numba_from_the_cache_too(sample_training_data, monkeypatch):
    """A large index uses numba whatever the cache: it must still turn the cache on, or it compiles every process."""
    from lex_dpr.data.corpus import read_corpus
    from lex_dpr.retrieval import bm25

    corpus = read_corpus(sample_training_data["passages"])
    monkeypatch.setattr(bm25, "NUMBA_MIN_PASSAGES", len(corpus))
    monkeypatch.setattr(bm25, "_NUMBA_CACHE", [])
    assert bm25.BM25Retriever(corpus).backend == "numba" and bm25._NUMBA_CACHE != []
    monkeypatch.setattr(bm25, "_NUMBA_CACHE", [])
    bm25.BM25Index([["민법"]]).search([["민법"]], 1, backend="numba")  # make-pairs' negatives search this way
    assert bm25._NUMBA_CACHE != []
