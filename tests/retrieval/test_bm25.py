import numpy as np
from rank_bm25 import BM25Okapi

from lex_dpr.retrieval.bm25 import BM25Index
from lex_dpr.retrieval.tokenize import tokenize, tokenize_many


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

