import json
import re

import pytest

from lex_dpr.data.sources.admin_rules import parse_admin_rule, split_articles
from lex_dpr.data.sources.laws import parse_law
from lex_dpr.utils.text import is_deletion_marker, split_numbered_items


def _load(path):
    return json.loads(path.read_text(encoding="utf-8"))


def _by_id(result):
    return {p.id: p for p in result.passages}


def test_law_articles_branches_deletions_and_tags(sample_dir):
    law = _by_id(parse_law(_load(sample_dir / "laws/011357.json"), "011357.json", as_of="20251121"))
    assert "LAW_011357_제39조" in law and "LAW_011357_제39조의3" not in law  # 삭제 article dropped
    kept = law["LAW_011357_제36조"]  # mentions 삭제 (the right to deletion) but is not deleted
    assert "삭제를 요구할 수 있다" in kept.text
    definitions = law["LAW_011357_제2조"]  # 항 is a dict without 항내용; 목내용 a nested list
    assert "가. 성명, 주민등록번호" in definitions.text and "4. 삭제" not in definitions.text
    assert "<개정" not in definitions.text and "<개정 2020. 2. 4.>" in definitions.meta["amendments"]
    assert law["LAW_011357_제1조"].meta["chapter"] == "제1장 총칙"
    assert law["LAW_011357_제71조"].meta["in_force"] is False  # effective 2027
    civil = _by_id(parse_law(_load(sample_dir / "laws/001706.json"), "001706.json"))
    assert "LAW_001706_제312조의2" in civil and civil["LAW_001706_제2조"].text.splitlines()[1].startswith("① ")
    assert civil["LAW_001706_제750조"].meta["numbering_since"] == "19600101"  # 단기 4293년


def test_paragraph_unit_ids_keep_circled_numbers(sample_dir):
    law = _by_id(parse_law(_load(sample_dir / "laws/001706.json"), "x", unit="paragraph"))
    p = law["LAW_001706_제751조_②"]
    assert p.parent_id == "LAW_001706_제751조" and p.paragraph == "②"
    assert p.text.startswith("제751조(재산 이외의 손해의 배상)\n② 법원은")
    assert "LAW_001706_제750조" in law  # no paragraphs: one passage with the article id


def test_as_of_picks_the_version_in_force():
    def unit(text, eff):
        return {"조문번호": "3", "조문여부": "조문", "조문제목": "t", "조문내용": text, "조문시행일자": eff}

    doc = {"법령": {"기본정보": {"법령ID": "1", "법령명_한글": "예시법"},
                   "조문": {"조문단위": [unit("제3조(t) 옛 문장", "20200101"), unit("제3조(t) 새 문장", "20300101")]}}}
    assert parse_law(doc, "x", as_of="20250101").passages[0].text.endswith("옛 문장")
    assert parse_law(doc, "x", as_of="20310101").passages[0].text.endswith("새 문장")


def test_admin_long_string_numbering_and_inline_references(sample_dir):
    rule = _by_id(parse_admin_rule(_load(sample_dir / "admin_rules/2100000900002.json"), "x"))
    assert sorted(rule) == ["ADM_2100000900002_제1-1조", "ADM_2100000900002_제1-2조",
                            "ADM_2100000900002_제2-1조", "ADM_2100000900002_제2-3조"]
    assert "다만 제2-1조(공시의 방법)에 따른" in rule["ADM_2100000900002_제1-2조"].text
    assert rule["ADM_2100000900002_제2-1조"].meta["chapter"] == "제2장 공시"


def test_admin_appendix_and_deleted_units(sample_dir):
    rule = _by_id(parse_admin_rule(_load(sample_dir / "admin_rules/2100000900001.json"), "x"))
    assert "ADM_2100000900001_별표1" in rule and "ADM_2100000900001_별표2" not in rule
    assert "ADM_2100000900001_제3조" not in rule and "ADM_2100000900001_제4조의2" in rule


def test_split_articles_ignores_backward_references():
    arts = split_articles("제1조(목적) 이 규정은 ... 한다.\n제2조(정의) 제1조(목적)에 따른다.\n제3조(기타) 끝.")
    assert [a[0] for a in arts] == ["제1조", "제2조", "제3조"]


def test_deletion_markers():
    assert is_deletion_marker("제5조 삭제 <2020. 2. 4.>") and is_deletion_marker("제45조 <삭 제>")
    assert not is_deletion_marker("제36조(정정ㆍ삭제) 삭제를 요구할 수 있다.")


def test_numbered_items_with_shared_and_tortoise_labels():
    assert split_numbered_items("〔1〕 가 〔2〕 나") == [((1,), "가"), ((2,), "나")]
    assert split_numbered_items("[1][2] 공통 쟁점<br/>[3] 별개") == [((1, 2), "공통 쟁점"), ((3,), "별개")]


LAW_ARTICLE = re.compile(r"제\d+조(의\d+)?")
ADMIN_UNIT = re.compile(r"제\d+(-\d+)?조(의\d+)?|별(표|지|첨)\d+(의\d+)?")


@pytest.mark.shared_data
def test_shared_law_and_admin_ids_are_unique_and_name_their_file(shared_dir):
    from lex_dpr.utils.io import read_json_file

    ids = []
    for kind, parse, prefix, unit in (("laws", parse_law, "LAW", LAW_ARTICLE),
                                      ("admin_rules", parse_admin_rule, "ADM", ADMIN_UNIT)):
        files = sorted((shared_dir / kind).glob("*.json"))
        sources = set()
        for f in files:
            for p in parse(read_json_file(f), f.name).passages:
                ids.append(p.id)
                sources.add(p.source_id)
                # PREFIX_{the file's id}_{article}: an id says which file and which article it came from
                assert p.id == f"{prefix}_{f.stem}_{p.article}" and p.parent_id == f"{prefix}_{f.stem}", p.id
                assert p.source_id == f.stem and unit.fullmatch(p.article), p.id
        assert sources == {f.stem for f in files}  # every file gives passages
    assert len(ids) == len(set(ids)) > 7000
    assert sum(i.startswith("LAW_") for i in ids) > 6000 and sum(i.startswith("ADM_") for i in ids) > 1000
