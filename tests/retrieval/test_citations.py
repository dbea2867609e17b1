"""Citations in free text, read against the sample corpus's own law names: every article of the sample is found
by name and number however it is spaced, and what is not a citation of the corpus finds nothing."""

from __future__ import annotations

import orjson
import pytest

from lex_dpr.retrieval.citations import CitationFinder, CitedFirst


@pytest.fixture(scope="module")
def records(sample_passages) -> list[dict]:
    return [orjson.loads(line) for key in ("law", "admin") for line in sample_passages[key].read_bytes().splitlines()]


@pytest.fixture(scope="module")
def finder(records) -> CitationFinder:
    return CitationFinder.from_records(records)


def _articles(records) -> dict[tuple[str, str], list[str]]:
    out: dict[tuple[str, str], list[str]] = {}
    for r in records:
        if not r.get("meta", {}).get("appendix") and r["article"].startswith("제"):
            out.setdefault((r["title"], r["article"]), []).append(r["id"])
    return out


def test_every_article_of_the_sample_is_found_by_name_and_number(records, finder):
    articles = _articles(records)
    assert len(articles) > 30 and {t for t, _ in articles} >= {"민법", "개인정보 보호법", "전자금융 공시 규정"}
    for (title, article), ids in articles.items():
        assert finder.find(f"{title} {article}에서 정한 요건의 의미") == ids, (title, article)
        spaced = article.replace("제", "제 ").replace("조", " 조 ").replace("-", " - ")
        assert finder.find(f"{title.replace(' ', '')}{spaced}가 적용되는지 여부") == ids, (title, article)


def test_articles_of_one_law_in_a_row_and_the_same_law(finder):
    assert finder.find("민법 제750조, 제751조 제1항 및 제763조에 따른 손해배상") == [
        "LAW_001706_제750조", "LAW_001706_제751조", "LAW_001706_제763조"]
    assert finder.find("민법상 사용자책임에 관하여 같은 법 제756조가 적용되는지") == ["LAW_001706_제756조"]
    assert finder.find("동법 제756조") == []  # no law named before it
    old = "구 민법(2011. 3. 7. 법률 제10429호로 개정되기 전의 것) 제2조의 해석"
    assert finder.find(old) == ["LAW_001706_제2조"]
    assert finder.find("전자금융 공시 규정 제2-3조, 개인정보 보호법 제15조") == ["ADM_2100000900002_제2-3조", "LAW_011357_제15조"]


def test_what_is_not_a_citation_of_the_corpus_finds_nothing(finder):
    assert finder.find("국가배상법 제2조") == []  # 상법/민법 inside another law's name
    assert finder.find("시민법 제750조") == []
    assert finder.find("민법 시행령 제5조") == []  # the decree is not in the sample
    assert finder.find("제750조의 불법행위") == []  # no law named
    assert finder.find("민법 제99999조") == []
    assert finder.find("민법상 불법행위에 관한 판례를 검토한 결과, 손해배상 책임의 범위는 제750조") == []  # too far
    assert finder.find("") == [] and finder.find("😀😀 제 조") == []


def test_cited_first_moves_the_cited_passages_to_the_top_and_keeps_the_rest():
    class Fixed:
        name = "fixed"

        def rank(self, queries, k):
            return [[("a", 0.9), ("LAW_001706_제750조", 0.5), ("b", 0.4)][:k] for _ in queries]

    records = [{"id": "LAW_001706_제750조", "type": "law", "title": "민법", "article": "제750조"},
               {"id": "LAW_001706_제751조", "type": "law", "title": "민법", "article": "제751조"}]
    retriever = CitedFirst(Fixed(), records)
    cited, plain = retriever.rank(["민법 제751조, 제750조의 관계", "불법행위"], 3)
    assert cited == [("LAW_001706_제751조", 0.9), ("LAW_001706_제750조", 0.9), ("a", 0.9)]
    assert plain == [("a", 0.9), ("LAW_001706_제750조", 0.5), ("b", 0.4)]
    assert retriever.name == "fixed"


def test_the_trie_finds_the_names_the_regular_expression_finds(records):
    """`name_spans` (a letter trie, no compile) against `pattern` (the names as one regex, the definition), on
    texts built from the corpus's names with spaces inside and Hangul, digits or nothing around them."""
    import random

    from lex_dpr.utils.text import law_name_key

    extra = [{"id": f"x{i}", "type": "law", "title": t, "article": "제1조"}
             for i, t in enumerate(["상법", "민법 시행령", "국가배상법", "법", "상법 시행규칙"])]
    finder = CitationFinder.from_records([*records, *extra])
    names = sorted({r["title"] for r in [*records, *extra] if r.get("type") in ("law", "admin")})
    rng = random.Random(0)
    pieces = ["", " ", "  ", "가", "의", "국가", "3", "(", "제750조", "법", "\n"]
    texts = []
    for _ in range(3000):
        parts = []
        for _ in range(rng.randint(1, 4)):
            name = rng.choice(names)
            if rng.random() < 0.5:  # spaces inside the name, or some removed
                name = "".join(c + (" " if rng.random() < 0.2 else "") for c in name.replace(" ", "" if rng.random() < 0.5 else " "))
            if rng.random() < 0.3:
                name = name[: rng.randint(1, len(name))]
            parts += [rng.choice(pieces), name, rng.choice(pieces)]
        texts.append("".join(parts))
    for text in texts:
        want = [(m.start(), m.end(), law_name_key(m.group())) for m in finder.pattern.finditer(text)]
        assert finder.name_spans(text) == want, text
    assert sum(len(finder.name_spans(t)) for t in texts) > 3000
