import pytest

from lex_dpr.errors import InputError
from lex_dpr.data.corpus import Corpus
from lex_dpr.training.data import build_examples, pseudo_queries


def test_negatives_are_topped_up_but_never_positives():
    corpus = Corpus([f"p{i}" for i in range(6)], [f"text {i}" for i in range(6)], [{}] * 6)
    pairs = [{"query_text": "q", "positive_passages": ["p0", "p1"], "hard_negatives": ["p1", "p2"]}]
    ex = build_examples(pairs, corpus, n_negatives=3, multiply=2, seed=0)
    assert len(ex.columns["query"]) == 4  # 2 positives x multiply 2
    for label in ex.columns["label"]:
        negatives = label[1:4]
        assert len(set(negatives)) == 3 and not {0, 1} & set(negatives)
        assert label[4:] == [0, 1]


def test_a_corpus_too_small_for_the_negatives_is_a_clear_error():
    corpus = Corpus(["a", "b"], ["A", "B"], [{}, {}])
    with pytest.raises(InputError, match="too few for 2 negatives"):
        build_examples([{"query_text": "q", "positive_passages": ["a"]}], corpus, 2, 1, seed=0)


def test_inverse_cloze_sentence_is_removed_from_its_positive():
    text = "제3조(정의) 이 법에서 사용하는 용어의 뜻은 다음과 같다. 둘째 문장은 여기에서 끝난다. 셋째 문장도 길게 이어진다."
    corpus = Corpus(["LAW_1_제3조"], [text], [{"type": "law", "title": "민법", "heading": "정의"}])
    rows = pseudo_queries(corpus, per_article=1, seed=0)
    assert rows[0][0] == "민법 정의" and rows[0][1] == text
    query, positive, _ = rows[1]
    assert query in text and query not in positive
