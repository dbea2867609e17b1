"""행정규칙 (administrative rules) → article passages and 별표 (appendix) passages.

Rules store articles as strings in 조문내용: usually one string per article or heading,
sometimes one long string for the whole rule, numbered 제1조 or "제1-1조" (chapter-article).
"""

from __future__ import annotations

import re

from lex_dpr.data.records import Passage
from lex_dpr.data.sources.laws import ParseResult, Unit
from lex_dpr.utils.text import as_list, clean, flatten_text, is_deletion_marker, join_nonempty, strip_html

# An article start: 제12조(제목), 제1-1조(목적), 제1조의2(금융회사등), "제1조의2 삭제".
_ARTICLE = re.compile(
    r"제\s*(?P<major>\d+)(?:-(?P<minor>\d+))?\s*조(?:\s*의\s*(?P<branch>\d+))?"
    r"\s*(?:\((?P<title>[^()]{1,80})\)|(?=<?\s*삭\s*제))"
)
_HEADING = re.compile(r"(?:^|\s)(제\s*\d+\s*(?:편|장|절|관)\s[^.]{0,80}?)\s*$")
# Words after which 제N조 is a cross-reference, never an article start.
_REF_BEFORE = re.compile(
    r"(?:(?:^|[\s(「,ㆍ])(?:다만|및|또는|내지|같은|동|이|법|영|규칙|규정|세칙|시행령|시행규칙)|[」ㆍ,(]|\d\s*[조항호목]|부터)\s*$"
)
_CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳"


def _key(m: re.Match) -> tuple[int, int, int]:
    minor = int(m["minor"]) if m["minor"] else 0
    return int(m["major"]), minor, int(m["branch"] or 0)


def _label(m: re.Match) -> str:
    number = f"{m['major']}-{m['minor']}" if m["minor"] else m["major"]
    return f"제{number}조" + (f"의{int(m['branch'])}" if m["branch"] else "")


def split_articles(text: str) -> list[tuple[str, str, str, str]]:
    """Split rule text into ``(label, title, body, heading)`` articles.

    An article start must follow a line break or the end of a sentence/heading, must not
    follow a referring word ("다만 제4-4조"), and must number after the previous article,
    so inline cross-references never split an article.

    Example:
        >>> [a[0] for a in split_articles("제1장 총칙 제1-1조(목적) 이 규정은 ... 다만 제4-4조(공시)의 경우 ... 한다. 제1-2조(정의) ...")]
        ['제1-1조', '제1-2조']
    """
    starts: list[re.Match] = []
    last = (0, 0, -1)
    for m in _ARTICLE.finditer(text):
        before = text[: m.start()]
        if before and not before[-1].isspace():
            continue
        if _REF_BEFORE.search(before[-20:]) and not before.endswith("\n"):
            continue
        key = _key(m)
        if key <= last:
            continue
        starts.append(m)
        last = key
    articles = []
    heading = ""
    for i, m in enumerate(starts):
        end = starts[i + 1].start() if i + 1 < len(starts) else len(text)
        body = text[m.start():end]
        next_heading = ""
        if h := _HEADING.search(body):
            next_heading, body = h.group(1).strip(), body[: h.start()]
        lead = text[:m.start()] if i == 0 else ""
        if i == 0 and (h0 := _HEADING.search(lead)):
            heading = h0.group(1).strip()
        articles.append((_label(m), (m["title"] or "").strip(), body.strip(), heading))
        heading = next_heading or heading
    return articles


def split_paragraphs(body: str) -> list[tuple[str, str]]:
    """Split an article body on ①, ②, ... taken in order; inline ①s out of order stay put."""
    cuts, expect = [], 0
    for i, ch in enumerate(body):
        if expect < len(_CIRCLED) and ch == _CIRCLED[expect]:
            cuts.append(i)
            expect += 1
    if len(cuts) < 2:
        return []
    head = body[: cuts[0]].strip()
    parts = []
    for j, start in enumerate(cuts):
        end = cuts[j + 1] if j + 1 < len(cuts) else len(body)
        parts.append((_CIRCLED[j], join_nonempty([head, body[start:end].strip()])))
    return parts


def parse_admin_rule(doc: dict, source: str, unit: Unit = "article", as_of: str | None = None) -> ParseResult:
    """Parse one ``{"AdmRulService": {...}}`` document into article and 별표 passages.

    Example:
        >>> doc = {"AdmRulService": {"행정규칙기본정보": {"행정규칙일련번호": "1", "행정규칙명": "예시규정"},
        ...        "조문내용": ["제1장 총칙", "제1조(목적) 이 규정은 목적을 정한다.", "제2조 삭제 <2020. 1. 1.>"]}}
        >>> [p.id for p in parse_admin_rule(doc, "1.json").passages]
        ['ADM_1_제1조']
    """
    result = ParseResult()
    svc = doc["AdmRulService"]
    info = svc.get("행정규칙기본정보")
    if not isinstance(info, dict) or not info.get("행정규칙일련번호"):
        raise KeyError("AdmRulService.행정규칙기본정보.행정규칙일련번호")
    rule_id = str(info["행정규칙일련번호"]).strip()
    name = str(info.get("행정규칙명") or "").strip()
    if not name:
        raise KeyError("AdmRulService.행정규칙기본정보.행정규칙명")
    effective = str(info.get("시행일자") or "")
    meta = {"행정규칙ID": str(info.get("행정규칙ID") or ""), "행정규칙종류": str(info.get("행정규칙종류") or ""),
            "발령일자": str(info.get("발령일자") or ""), "소관부처명": str(info.get("소관부처명") or "")}
    raw = svc.get("조문내용")
    text = "\n".join(flatten_text(x) for x in as_list(raw))
    text = strip_html(text)  # keep line breaks: article boundaries often sit on them
    seen: set[str] = set()
    for label, title, body, heading in split_articles(text):
        if is_deletion_marker(body):
            result.drop("deleted article")
            continue
        article_id = f"ADM_{rule_id}_{label}"
        if article_id in seen:
            result.drop("repeated article number")
            result.warnings.append(f"{source}: {label} appears twice; kept the first")
            continue
        seen.add(article_id)
        body_text, tags = clean(body)
        common = {"type": "admin", "source_id": rule_id, "title": name, "article": label, "heading": title,
                      "effective_date": effective, "meta": {**meta, "chapter": heading, "amendments": tags}}
        paragraphs = split_paragraphs(body_text) if unit == "paragraph" else []
        if paragraphs:
            for number, ptext in paragraphs:
                result.passages.append(Passage(id=f"{article_id}_{number}", parent_id=article_id,
                                               paragraph=number, text=ptext, **common))
        else:
            result.passages.append(Passage(id=article_id, parent_id=f"ADM_{rule_id}", text=body_text, **common))
    _appendices(result, svc, rule_id, name, effective, meta)
    return result


def _appendices(result: ParseResult, svc: dict, rule_id: str, name: str, effective: str, meta: dict) -> None:
    block = svc.get("별표")
    units = as_list(block.get("별표단위")) if isinstance(block, dict) else []
    used: set[str] = set()
    for u in units:
        if not isinstance(u, dict):
            result.drop("malformed 별표")
            continue
        body, tags = clean(flatten_text(u.get("별표내용")))
        if not body or is_deletion_marker(body) or str(u.get("별표제목") or "").strip() in {"삭제", "삭 제"}:
            result.drop("deleted 별표")
            continue
        kind = str(u.get("별표구분") or "별표").strip() or "별표"
        number = str(int(u["별표번호"])) if str(u.get("별표번호") or "").isdigit() else str(u.get("별표번호") or "")
        branch = str(u.get("별표가지번호") or "")
        label = f"{kind}{number}" + (f"의{int(branch)}" if branch.isdigit() and int(branch) else "")
        pid = f"ADM_{rule_id}_{label}"
        if pid in used:  # same number twice (e.g. a 별표 and its form): disambiguate by key
            pid = f"{pid}_{u.get('별표키') or len(used)}"
        used.add(pid)
        result.passages.append(Passage(
            id=pid, parent_id=f"ADM_{rule_id}", type="admin", source_id=rule_id, title=name, article=label,
            heading=str(u.get("별표제목") or "").strip(), effective_date=effective, text=body,
            meta={**meta, "appendix": True, "amendments": tags}))
