"""The rule-based question classifier: accuracy on the labelled set, each rule, and the order between rules."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from lex_dpr.errors import InputError
from lex_dpr.rag.classify import DEFAULT_TYPE, QUESTION_TYPES, RULES, classify, explain, load_questions

QUESTIONS = Path(__file__).resolve().parents[2] / "data" / "questions" / "questions.jsonl"


@pytest.fixture(scope="module")
def labelled() -> list[dict]:
    return load_questions(QUESTIONS)


def test_accuracy_on_the_questions_the_rules_were_written_against(labelled):
    # The rules were revised while looking at every dev question (Q001-Q169); bench/bench_classify.py measured
    # 169/169 there. These floors guard against regressions; they say nothing about unseen questions.
    dev = [r for r in labelled if int(r["id"][1:]) <= 169]
    right = Counter(r["type"] for r in dev if classify(r["question"]) == r["type"])
    total = Counter(r["type"] for r in dev)
    assert sum(right.values()) / len(dev) >= 0.95
    for qtype in QUESTION_TYPES:
        assert right[qtype] / total[qtype] >= 0.85, qtype


def test_accuracy_on_the_unseen_test_split_is_reported(labelled, capsys):
    # The test split was written after the rules and no rule was changed for it. Measured 162/203 (79.8%) with
    # bench/bench_classify.py; the floor is a conservative guard, not the figure (a wrong type only changes
    # the answer's layout, not retrieval).
    test = [r for r in labelled if r["split"] == "test"]
    right = Counter(r["type"] for r in test if classify(r["question"]) == r["type"])
    total = Counter(r["type"] for r in test)
    with capsys.disabled():
        print(f"\nclassifier on the test split: {sum(right.values())}/{len(test)} "
              + " ".join(f"{t} {right[t]}/{total[t]}" for t in QUESTION_TYPES))
    assert sum(right.values()) / len(test) >= 0.70


@pytest.mark.parametrize(("question", "qtype", "rule"), [
    ("임차권과 전세권의 차이점을 알려 주세요", "비교", "comparison"),
    ("지명채권 양도와 채무인수는 어떻게 다른가요?", "비교", "comparison"),
    ("정관 변경 절차가 궁금합니다", "프로세스", "procedure-noun"),
    ("사업자 등록에 필요한 서류", "프로세스", "procedure-noun"),
    ("부당해고의 예를 들어 주세요", "예시", "example-request"),
    ("과징금이 부과되는 행위 유형", "예시", "example-request"),
    ("회사가 월급을 석 달째 안 줬는데 받을 방도가 있을까요?", "적용", "narrated-facts"),
    ("계약서를 잃어버렸다면 계약은 무효가 되나요?", "적용", "narrated-facts"),
    ("채권양도란 무엇인가요?", "정의", "definition"),
    ("'선의의 제3자'의 의미를 알려 주세요", "정의", "definition"),
    ("대위변제는 뭐예요?", "정의", "definition"),
    ("지급명령은 어떻게 신청하나요?", "프로세스", "procedure-how"),
    ("소송을 하려면 어디에 접수해야 하나요?", "프로세스", "procedure-how"),
    ("제가 보증을 서 준 친구가 연락이 안 되면 제 책임인가요?", "적용", "hypothetical-facts"),
    ("갑이 을에게 토지를 팔기로 하고 잔금을 못 받으면 해제할 수 있나요?", "적용", "hypothetical-facts"),
    ("임대인이 보증금을 안 돌려줘요. 소송 말고 다른 길은 없나요?", "적용", "hypothetical-facts"),
    ("주택임대차에서 대항력의 요건은?", "규정", "rule-cue"),
    ("대표이사는 몇 명까지 둘 수 있나요?", "규정", "rule-cue"),
])
def test_each_rule_fires_on_new_phrasings(question, qtype, rule):
    got, why = explain(question)
    assert (got, why.split(":")[0]) == (qtype, rule), why


@pytest.mark.parametrize(("question", "qtype"), [
    # a comparison that narrates facts is still a comparison
    ("제가 계약금을 냈는데, 해제와 해지 중 어느 쪽이 맞는지 차이를 알려 주세요", "비교"),
    # a grievance followed by "how do I" is a procedure question
    ("명예훼손을 당했는데 글을 지워 달라고 하는 방법이 있나요?", "프로세스"),
    # a story beats the words of a definition or a rule
    ("집주인이 '묵시적 갱신'이라고 했는데 제 계약도 연장된 건가요?", "적용"),
    # 겠 and 있 carry ㅆ but tell no story
    ("소멸시효라는 게 뭔지 잘 모르겠어요", "정의"),
    ("궁금한 점이 있어요. 이사의 임기는 몇 년인가요?", "규정"),
    # 예 inside a word (유예, 예금) is not a request for examples
    ("집행유예가 선고되면 공무원이 될 수 없나요?", "규정"),
    ("예금보험금의 지급 한도는 얼마인가요?", "규정"),
    # "다른" that compares nothing
    ("개인정보를 다른 회사에 넘겨도 되나요?", "규정"),
])
def test_rule_order_settles_overlaps(question, qtype):
    assert classify(question) == qtype, explain(question)


def test_no_cue_gives_the_default_and_says_so():
    assert explain("주식 양도는 자유로운가요?") == (DEFAULT_TYPE, "default")
    assert explain("") == (DEFAULT_TYPE, "default")
    assert explain("   \n ") == (DEFAULT_TYPE, "default")


def test_whitespace_case_and_unicode_form_do_not_change_the_type():
    import unicodedata

    question = "육아휴직  VS\n육아기 근로시간 단축"
    assert classify(question) == "비교"
    decomposed = unicodedata.normalize("NFD", "노사협의회란 무엇인가요?")
    assert decomposed != "노사협의회란 무엇인가요?" and classify(decomposed) == "정의"


def test_every_rule_names_a_known_type_and_every_type_has_a_rule():
    assert {r.qtype for r in RULES} == set(QUESTION_TYPES)
    assert DEFAULT_TYPE in QUESTION_TYPES


def test_load_questions_names_the_bad_line(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text('{"id": "Q1", "question": "뜻은?", "type": "정의", "positive_passages": ["X"], "law": "민법"}\n'
                    '\n{"id": "Q2", "question": "x", "type": "정의"}\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"q\.jsonl:3: missing positive_passages, law"):
        load_questions(path)
    path.write_text('{"id": "Q1", "question": "x", "type": "설명", "positive_passages": [], "law": "민법"}\n',
                    encoding="utf-8")
    with pytest.raises(InputError, match=r"q\.jsonl:1: type '설명' is not one of 정의, 프로세스"):
        load_questions(path)
    path.write_text("not json\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"q\.jsonl:1: not a JSON object"):
        load_questions(path)
    with pytest.raises(InputError, match="cannot read the question set"):
        load_questions(tmp_path / "missing.jsonl")
