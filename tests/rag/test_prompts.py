"""Prompt templates (package data, folder overrides), the rendered messages and the answer checks."""

from __future__ import annotations

from importlib import resources

import pytest

from lex_dpr.errors import ConfigError
from lex_dpr.rag.classify import QUESTION_TYPES
from lex_dpr.rag.prompts import (NO_CONTEXTS, REFUSAL, SYSTEM_FILE, TEMPLATE_FILES, Context, build_messages,
                                 check_answer, cited, hangul_ratio, is_refusal, load_templates, render_contexts)

CONTEXTS = [
    Context("LAW_001706_제750조", "제750조(불법행위의 내용) 고의 또는 과실로 인한 위법행위로 타인에게 손해를 가한 자는 "
            "그 손해를 배상할 책임이 있다.", title="민법", article="제750조", score=0.91),
    Context("LAW_001706_제766조", "제766조(손해배상청구권의 소멸시효) ① 불법행위로 인한 손해배상의 청구권은 피해자나 그 "
            "법정대리인이 그 손해 및 가해자를 안 날로부터 3년간 이를 행사하지 아니하면 시효로 인하여 소멸한다.",
            title="민법", article="제766조", score=0.72),
    Context("LAW_011357_제2조", "제2조(정의) 1. \"개인정보\"란 살아 있는 개인에 관한 정보로서 ...", title="개인정보 보호법",
            article="제2조"),
]


def test_the_templates_ship_as_package_data():
    folder = resources.files("lex_dpr.resources").joinpath("prompts")
    assert sorted(p.name for p in folder.iterdir()) == sorted([SYSTEM_FILE, *TEMPLATE_FILES.values()])
    assert set(TEMPLATE_FILES) == set(QUESTION_TYPES)


def test_the_bundled_system_prompt_says_korean_contexts_only_cite_and_refuse():
    system = load_templates().system
    assert hangul_ratio(system) > 0.9
    for phrase in ("한국어", "문맥", "[1]", "근거", REFUSAL):
        assert phrase in system, phrase


@pytest.mark.parametrize(("qtype", "asks_for"), [
    ("정의", ["정의:", "출처:"]), ("프로세스", ["단계", "1., 2., 3."]), ("규정", ["요건:", "효과:"]),
    ("예시", ["구체적인 예", "글머리표"]), ("비교", ["차이점:", "기준별"]), ("적용", ["사실관계", "결론:"]),
])
def test_each_type_has_its_own_user_template(qtype, asks_for):
    messages = build_messages("손해배상은 언제까지 청구하나요?", qtype, CONTEXTS, load_templates())
    assert [m["role"] for m in messages] == ["system", "user"]
    user = messages[1]["content"]
    assert "질문: 손해배상은 언제까지 청구하나요?" in user and f"질문 유형: {qtype}" in user
    assert "{question}" not in user and "{contexts}" not in user
    for phrase in asks_for:
        assert phrase in user, phrase
    others = {t: build_messages("q", t, CONTEXTS, load_templates())[1]["content"] for t in QUESTION_TYPES}
    assert len(set(others.values())) == len(QUESTION_TYPES)


def test_render_contexts_numbers_the_passages_with_their_ids():
    text = render_contexts(CONTEXTS[:2] + [Context("P1", "  본문만 있는 문맥  ")])
    assert text.split("\n\n")[0] == ("[1] 민법 제750조 (LAW_001706_제750조)\n" + CONTEXTS[0].text)
    assert text.split("\n\n")[1].startswith("[2] 민법 제766조 (LAW_001706_제766조)\n제766조(")
    assert text.split("\n\n")[2] == "[3] (P1)\n본문만 있는 문맥"
    assert render_contexts([]) == NO_CONTEXTS
    assert NO_CONTEXTS in build_messages("질문", "정의", [], load_templates())[1]["content"]


def test_braces_in_templates_questions_and_passages_are_kept_as_written(tmp_path):
    (tmp_path / "rule.txt").write_text('JSON으로 답하십시오: {"답": "...", "근거": [1]} {name} {{x}} {0}\n'
                                       "질문: {question}\n문맥:\n{contexts}\n", encoding="utf-8")
    templates = load_templates(tmp_path)
    tricky = [Context("P{1}", "본문에 {question} 과 {contexts} 와 {0} 이 있다")]
    user = build_messages("질문에 {contexts} 와 {} 가 있으면?", "규정", tricky, templates)[1]["content"]
    assert user == ('JSON으로 답하십시오: {"답": "...", "근거": [1]} {name} {{x}} {0}\n'
                    "질문: 질문에 {contexts} 와 {} 가 있으면?\n문맥:\n"
                    "[1] (P{1})\n본문에 {question} 과 {contexts} 와 {0} 이 있다\n")


def test_a_folder_overrides_only_the_files_it_has(tmp_path):
    bundled = load_templates()
    (tmp_path / "definition.txt").write_text("뜻을 말하라. {question}\n{contexts}", encoding="utf-8")
    (tmp_path / SYSTEM_FILE).write_text("한국어로만 답하라.", encoding="utf-8")
    (tmp_path / ".DS_Store").write_bytes(b"\x00\x01")
    templates = load_templates(str(tmp_path))
    assert templates.system == "한국어로만 답하라."
    assert templates.by_type["정의"] == "뜻을 말하라. {question}\n{contexts}"
    assert {t: templates.by_type[t] for t in QUESTION_TYPES if t != "정의"} == \
        {t: bundled.by_type[t] for t in QUESTION_TYPES if t != "정의"}
    assert templates.origin["정의"] == str(tmp_path / "definition.txt")
    assert templates.origin["규정"] == "lex_dpr/resources/prompts/rule.txt"


def test_bad_template_folders_fail_with_one_line_naming_the_file(tmp_path):
    with pytest.raises(ConfigError, match="prompts folder .* does not exist"):
        load_templates(tmp_path / "missing")
    (tmp_path / "정의.txt").write_text("{question} {contexts}", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_templates(tmp_path)
    assert str(caught.value).startswith(f"{tmp_path / '정의.txt'}: unknown prompt file; a prompts folder holds only ")
    assert "application.txt" in str(caught.value) and "\n" not in str(caught.value)
    (tmp_path / "정의.txt").unlink()
    (tmp_path / "comparison.txt").write_text("질문: {question}\n차이를 설명하라", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_templates(tmp_path)
    assert str(caught.value) == (f"{tmp_path / 'comparison.txt'}: missing placeholder {{contexts}}; a 비교 template "
                                 "needs {question} and {contexts}")
    (tmp_path / "comparison.txt").write_text("{ question } {context}", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"missing placeholder \{question\} and \{contexts\}"):
        load_templates(tmp_path)
    (tmp_path / "comparison.txt").unlink()
    (tmp_path / SYSTEM_FILE).write_text("  \n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"system\.txt: the template is empty"):
        load_templates(tmp_path)
    (tmp_path / SYSTEM_FILE).write_bytes("한국어".encode("euc-kr"))
    with pytest.raises(ConfigError, match=r"system\.txt: cannot read it as UTF-8 text"):
        load_templates(tmp_path)


def test_build_messages_rejects_an_unknown_type():
    with pytest.raises(ConfigError, match="no prompt template for question type '설명'; types: 정의, 프로세스"):
        build_messages("질문", "설명", CONTEXTS, load_templates())


def test_cited_reads_markers_and_literal_ids_in_order_without_duplicates():
    assert cited("책임이 있습니다 [2]. 또한 [1][2] 참고.", CONTEXTS) == ["LAW_001706_제766조", "LAW_001706_제750조"]
    assert cited("근거: [3, 1]", CONTEXTS) == ["LAW_011357_제2조", "LAW_001706_제750조"]
    assert cited("근거: [ 2 ，3 ]", CONTEXTS) == ["LAW_001706_제766조", "LAW_011357_제2조"]
    assert cited("[0] [4] [99] 는 없는 번호", CONTEXTS) == []
    assert cited("LAW_011357_제2조에 따르면 ... [1]", CONTEXTS) == ["LAW_011357_제2조", "LAW_001706_제750조"]
    assert cited("LAW_001706_제750조의2 와 LAW_001706_제7660조", CONTEXTS) == []
    assert cited("[n] [가] [1-2]", CONTEXTS) == []
    assert cited("", CONTEXTS) == [] and cited("[1]", []) == []


def test_hangul_ratio_counts_letters_only():
    assert hangul_ratio("손해배상 [1]. 2024년") == 1.0
    assert hangul_ratio("The damages 배상") == pytest.approx(2 / 12)
    assert hangul_ratio("ㄱㄴ abc") == pytest.approx(2 / 5)
    assert hangul_ratio("") == hangul_ratio("[1] 123 ...") == 0.0


def test_check_answer_flags():
    good = "불법행위로 인한 손해배상청구권은 손해와 가해자를 안 날부터 3년 안에 행사해야 합니다 [2]."
    assert check_answer(good, CONTEXTS) == []
    assert check_answer("  \n", CONTEXTS) == ["empty"]
    assert check_answer("3년 안에 행사해야 합니다.", CONTEXTS) == ["no_citation"]
    assert check_answer("The claim expires after three years [2].", CONTEXTS) == ["not_korean"]
    assert check_answer("It expires.", CONTEXTS) == ["no_citation", "not_korean"]
    mixed = "The claim 시효 소멸 [2]"  # 4 Hangul letters of 12
    assert check_answer(mixed, CONTEXTS) == ["not_korean"]
    assert check_answer(mixed, CONTEXTS, min_hangul=0.3) == []
    assert check_answer(f"{REFUSAL}.", CONTEXTS) == ["no_citation"] and is_refusal(f"{REFUSAL}.")
    assert is_refusal("주어진 문맥만으로는  답할 수 없습니다") and not is_refusal(good)
