import json
from pathlib import Path

import pytest

from lex_dpr.mining.refs import parse_references

GOLDEN = json.loads((Path(__file__).parent / "refs_golden.json").read_text(encoding="utf-8"))


def _sig(r):
    return {"law": r.law, "article": r.article, "paragraph": r.paragraph, "item": r.item, "groups": list(r.groups),
            "old": r.old, "addendum": r.addendum, "current": [[c.law, c.article, c.paragraph] for c in r.current],
            "current_deleted": r.current_deleted}


def test_golden_strings_parse_into_every_kind_of_reference():
    """Parsed (not read from the file): the golden strings exercise every field, so a parser that lost one
    (and a golden file regenerated from it) would not pass."""
    refs = [r for case in GOLDEN for r in parse_references(case["text"])]
    assert all(parse_references(case["text"]) for case in GOLDEN)  # every string yields references
    assert len(refs) == sum(len(case["expected"]) for case in GOLDEN)
    assert all(r.law and r.article.startswith("제") and r.article.endswith(("조", *"0123456789")) for r in refs)
    assert any(r.old for r in refs) and any(not r.old for r in refs)
    assert any(r.addendum for r in refs)
    assert any(r.current for r in refs) and any(r.current_deleted for r in refs)
    assert all(c.law and c.article.startswith("제") for r in refs for c in r.current)
    assert any(r.paragraph is not None for r in refs) and any(r.item for r in refs)
    assert any(r.groups for r in refs) and any(not r.groups for r in refs)
    assert len({r.law for r in refs}) >= 20


@pytest.mark.parametrize("case", GOLDEN, ids=[str(i) for i in range(len(GOLDEN))])
def test_real_reference_strings(case):
    """Strings from the shared data with their reviewed parses."""
    assert [_sig(r) for r in parse_references(case["text"])] == case["expected"]


def test_bare_article_continues_previous_law_across_separators():
    refs = parse_references("[1]민법 제105조,제1115조 / [2]제1114조<br/>")
    assert [(r.law, r.article, r.groups) for r in refs] == [
        ("민법", "제105조", (1,)), ("민법", "제1115조", (1,)), ("민법", "제1114조", (2,))]


def test_same_law_and_its_decree_and_dongbeop():
    refs = parse_references("남녀고용평등과 일ㆍ가정 양립 지원에 관한 법률 제19조, 같은 법 시행령 제10조, 동법 시행규칙 제2조")
    assert [r.law for r in refs] == ["남녀고용평등과 일ㆍ가정 양립 지원에 관한 법률",
                                     "남녀고용평등과 일ㆍ가정 양립 지원에 관한 법률 시행령",
                                     "남녀고용평등과 일ㆍ가정 양립 지원에 관한 법률 시행규칙"]


def test_shared_labels_quotes_missing_je_and_branch():
    refs = parse_references("[1][2] 민법 460조, 「근로기준법」 제2조 제1항 제6호, 상법 제638조의3")
    assert [(r.law, r.article, r.paragraph, r.item, r.groups) for r in refs] == [
        ("민법", "제460조", None, "", (1, 2)), ("근로기준법", "제2조", 1, "6", (1, 2)), ("상법", "제638조의3", None, "", (1, 2))]


def test_old_law_with_current_note_and_conjunction_inside_law_name():
    ref = parse_references("구 독점규제 및 공정거래에 관한 법률(2020. 12. 29. 법률 제17799호로 전부 개정되기 전의 것) "
                           "제19조 제1항(현행 제40조 제1항 참조)")[0]
    assert ref.law == "독점규제 및 공정거래에 관한 법률" and ref.old and ref.wholly_amended
    assert [(c.law, c.article, c.paragraph) for c in ref.current] == [("독점규제 및 공정거래에 관한 법률", "제40조", 1)]


def test_addendum_is_never_a_main_article_and_continues():
    refs = parse_references("상표법 제75조, 부칙(2007. 1. 3.) 제7조, 제8조, 민법 제2조")
    assert [(r.article, r.addendum) for r in refs] == [("제75조", False), ("제7조", True), ("제8조", True), ("제2조", False)]


def test_empty_and_garbage_give_nothing():
    assert parse_references("") == []
    assert parse_references("[1] / [2] <br/>") == []
    assert parse_references("신용장통일규칙") == []
