import re

import pytest

from lex_dpr.rag.classify import QUESTION_TYPES
from lex_dpr.synth.filters import is_korean
from lex_dpr.synth.offline import OfflineGenerator, conditions, defined_terms, josa, numbered_items

_LEFTOVER = re.compile(r"[{}]|은/는|이/가|을/를|과/와|\(이\)|None|\s[은는이가을를과와의]\s|\s\?|^\s|\s$|  ")


@pytest.fixture(scope="module")
def generator(statute_records):
    return OfflineGenerator(statute_records)


def _all_questions(generator, records, seed=0):
    for pid in records:
        for qtype in QUESTION_TYPES:
            for slot in range(generator.slots(pid, qtype)):
                yield pid, qtype, generator.question(pid, qtype, slot, seed)


def test_every_question_of_the_sample_reads_as_a_korean_question(generator, statute_records):
    questions = list(_all_questions(generator, statute_records))
    assert {qtype for _, qtype, _ in questions} == set(QUESTION_TYPES)  # the sample has every structure
    for pid, qtype, q in questions:
        assert q is not None and q.text.endswith("?"), (pid, qtype, q)
        assert is_korean(q.text), q.text
        assert not _LEFTOVER.search(q.text), f"template residue in {q.text!r}"
        assert q.positives[0] == pid and all(p in statute_records for p in q.positives)
        assert "제" + pid.rsplit("_제", 1)[-1] not in q.text  # never the article number: a user does not know it


def test_definition_questions_ask_for_a_term_the_article_defines(generator, statute_records):
    for pid, qtype, q in _all_questions(generator, statute_records):
        if qtype == "정의":
            term = next(t for t in defined_terms(statute_records[pid]["text"]) if t in q.text)
            assert f'"{term}"' in statute_records[pid]["text"] or f"“{term}”" in statute_records[pid]["text"]


def test_precedents_and_generic_articles_get_no_slots(generator, statute_records, sample_passages):
    import orjson

    prec = {r["id"]: r for r in map(orjson.loads, sample_passages["prec"].read_bytes().splitlines())}
    with_prec = OfflineGenerator({**statute_records, **prec})
    assert all(with_prec.slots(pid, t) == 0 for pid in prec for t in QUESTION_TYPES)
    purpose = next(pid for pid, r in statute_records.items() if r.get("heading") == "목적")
    assert [t for t in QUESTION_TYPES if generator.slots(purpose, t)] == ["규정"]  # "…은 무엇을 목적으로 하나요?"


def test_the_same_slot_gives_the_same_question_and_seeds_vary_the_wording(generator, statute_records):
    a = [q.text for _, _, q in _all_questions(generator, statute_records, seed=0)]
    assert a == [q.text for _, _, q in _all_questions(OfflineGenerator(statute_records), statute_records, seed=0)]
    b = [q.text for _, _, q in _all_questions(generator, statute_records, seed=1)]
    assert len(a) == len(b) and a != b


def test_a_heading_shared_by_two_articles_of_one_law_is_not_asked_about():
    text = "제{n}조(벌칙) 다음 각 호의 어느 하나에 해당하는 자는 1년 이하의 징역에 처한다. 1. 신고를 하지 아니한 자 2. 거짓으로 신고한 자"
    recs = {f"LAW_1_제{n}조": {"type": "law", "title": "가상법", "heading": "벌칙", "text": text.format(n=n)} for n in (70, 71)}
    recs["LAW_1_제72조"] = {"type": "law", "title": "가상법", "heading": "과태료", "text": text.format(n=72)}
    gen = OfflineGenerator(recs)
    assert gen.slots("LAW_1_제70조", "규정") == gen.slots("LAW_1_제70조", "예시") == 0
    assert gen.slots("LAW_1_제72조", "규정") == 1 and gen.slots("LAW_1_제72조", "예시") == 1


def test_comparison_of_contrasting_articles_has_both_positives():
    recs = {"LAW_1_제543조": {"type": "law", "title": "가상법", "heading": "계약의 해지", "text": "계약을 해지할 수 있다. " * 3},
            "LAW_1_제544조": {"type": "law", "title": "가상법", "heading": "계약의 해제", "text": "계약을 해제할 수 있다. " * 3}}
    gen = OfflineGenerator(recs)
    assert gen.slots("LAW_1_제543조", "비교") == 1 and gen.slots("LAW_1_제544조", "비교") == 0  # asked once
    q = gen.question("LAW_1_제543조", "비교", 0, seed=0)
    assert q.positives == ("LAW_1_제543조", "LAW_1_제544조")
    assert "계약의 해지" in q.text and "계약의 해제" in q.text


@pytest.mark.parametrize("word, pair, expected", [
    ("법률", "은/는", "법률은"), ("규정", "이/가", "규정이"), ("보호법", "을/를", "보호법을"), ("해제", "과/와", "해제와"),
    ("민법", "으로/로", "민법으로"), ("규칙", "으로/로", "규칙으로"), ("서울", "으로/로", "서울로"), ("‘근로자’", "이란/란", "‘근로자’란"),
    ("제3조", "은/는", "제3조는"), ("2", "이/가", "2가"), ("3", "이/가", "3이"), ("KYC", "은/는", "KYC는"),
])
def test_josa(word, pair, expected):
    assert josa(word, pair) == expected


def test_structure_readers_on_edge_cases():
    assert defined_terms('"제1호"란 ... "다음 각 호"란 ...') == []  # references, not terms
    assert defined_terms('금융감독원장(이하 "감독원장"이라 한다)') == []  # an abbreviation
    assert defined_terms('하는 행위(이하 "불공정영업행위"라 한다)') == ["불공정영업행위"]
    assert numbered_items("<개정 2021. 10. 14.>") == 0  # dates are not items
    assert numbered_items("2. 둘 3. 셋") == 0  # a list starts at 1
    assert conditions("1. 제3호에 해당하는 경우 2. 다음 각 호의 경우") == []
