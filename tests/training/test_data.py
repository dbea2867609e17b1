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


def test_max_per_positive_caps_a_popular_passage_and_leaves_the_rest():
    corpus = Corpus([f"p{i}" for i in range(8)], [f"text {i}" for i in range(8)], [{}] * 8)
    pairs = [{"query_text": f"q{n}", "positive_passages": ["p0", f"p{1 + n % 3}"]} for n in range(10)]
    full = build_examples(pairs, corpus, n_negatives=1, multiply=1, seed=0)
    capped = build_examples(pairs, corpus, n_negatives=1, multiply=1, seed=0, max_per_positive=4)
    positives = [label[0] for label in capped.columns["label"]]
    assert positives.count(0) == 4 and [positives.count(p) for p in (1, 2, 3)] == [4, 3, 3]  # p1 had 4: all kept
    assert len(full.columns["query"]) == 20 and len(capped.columns["query"]) == 14
    again = build_examples(pairs, corpus, n_negatives=1, multiply=1, seed=0, max_per_positive=4)
    assert again.columns == capped.columns  # the same seed keeps the same rows
    other = build_examples(pairs, corpus, n_negatives=1, multiply=1, seed=1, max_per_positive=4)
    def kept(ex):
        return sorted(q for q, label in zip(ex.columns["query"], ex.columns["label"], strict=True) if label[0] == 0)

    assert kept(other) != kept(capped)  # another seed, another choice of p0's rows
