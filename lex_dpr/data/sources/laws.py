"""법령 (statutes, decrees, rules) in the Open API layout → article or paragraph passages."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from lex_dpr.data.records import Passage
from lex_dpr.utils.text import as_list, clean, flatten_text, is_deletion_marker, join_nonempty

Unit = Literal["article", "paragraph"]


@dataclass
class ParseResult:
    """What one source file produced, plus the per-unit reasons for anything it dropped."""

    passages: list[Passage] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def drop(self, reason: str, n: int = 1) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + n


def _text(value: Any) -> str:
    return flatten_text(value).strip()


def _pick_version(versions: list[dict], as_of: str) -> dict:
    """The version in force on ``as_of``: newest 시행일자 not after it, else the earliest one."""
    def eff(v: dict) -> str:
        return str((v.get("기본정보") or {}).get("시행일자") or v.get("조문시행일자") or "")

    in_force = [v for v in versions if eff(v) <= as_of]
    return max(in_force, key=eff) if in_force else min(versions, key=eff)


_PROMULGATION = re.compile(r"(\d{4})\.\s*(\d{1,2})\.\s*(\d{1,2})")
_AFTER = re.compile(r"공포\s*후\s*(?:(\d+)\s*년)?\s*(?:(\d+)\s*(?:개월|월))?\s*이\s*경과한\s*날")
_ON = re.compile(r"(\d{4})\s*년\s*(\d{1,2})\s*월\s*(\d{1,2})\s*일\s*부터\s*시행")


def _add_months(d: date, months: int) -> date:
    y, m = divmod(d.month - 1 + months, 12)
    day = min(d.day, calendar.monthrange(d.year + y, m + 1)[1])
    return date(d.year + y, m + 1, day)


def numbering_since(law: dict) -> str:
    """Effective date of the oldest 부칙 the file carries.

    law.go.kr keeps 부칙 only since a law's enactment or its last 전부개정, so this is
    the date from which the corpus's article numbers apply (공정거래법: 2021-12-30).
    """
    units = as_list((law.get("부칙") or {}).get("부칙단위") if isinstance(law.get("부칙"), dict) else None)
    dated = [u for u in units if isinstance(u, dict) and str(u.get("부칙공포일자") or "").isdigit()]
    if not dated:
        return ""
    first = min(dated, key=lambda u: str(u["부칙공포일자"]))
    promulgated = str(first["부칙공포일자"])
    body = _text(first.get("부칙내용"))
    if m := _ON.search(body):
        year = int(m[1])
        year = year - 2333 if year > 3000 else year  # 단기 (Dangun era): 민법 "4293년 1월 1일"
        return f"{year:04d}{int(m[2]):02d}{int(m[3]):02d}"
    if (m := _AFTER.search(body)) and (m[1] or m[2]):
        p = date(int(promulgated[:4]), int(promulgated[4:6]), int(promulgated[6:8]))
        return _add_months(p, 12 * int(m[1] or 0) + int(m[2] or 0)).strftime("%Y%m%d")
    return promulgated


def _content(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("content") or "")
    return str(value or "")


def article_label(unit: dict) -> str:
    """'제23조의2' from 조문번호 23 and 조문가지번호 2."""
    branch = str(unit.get("조문가지번호") or "").strip()
    label = f"제{str(unit.get('조문번호')).strip()}조"
    return f"{label}의{int(branch)}" if branch.isdigit() and int(branch) > 0 else label


def _items_text(paragraph: dict) -> list[str]:
    """호 and 목 lines under one 항, deleted ones dropped."""
    lines: list[str] = []
    for item in as_list(paragraph.get("호")):
        if not isinstance(item, dict):
            continue
        text = _text(item.get("호내용"))
        if text and not is_deletion_marker(text):
            lines.append(text)
        for sub in as_list(item.get("목")):
            sub_text = _text(sub.get("목내용")) if isinstance(sub, dict) else ""
            if sub_text and not is_deletion_marker(sub_text):
                lines.append(sub_text)
    return lines


@dataclass
class _Paragraph:
    number: str
    text: str
    tags: list[str]


def _paragraphs(unit: dict) -> list[_Paragraph]:
    out: list[_Paragraph] = []
    for para in as_list(unit.get("항")):
        if not isinstance(para, dict):
            continue
        head = _text(para.get("항내용"))
        if head and is_deletion_marker(head):
            continue
        text, tags = clean(join_nonempty([head, *_items_text(para)]))
        if text:
            out.append(_Paragraph(str(para.get("항번호") or "").strip(), text, tags))
    return out


def parse_law(doc: dict, source: str, unit: Unit = "article", as_of: str | None = None) -> ParseResult:
    """Parse one law JSON document into passages.

    Args:
        doc: the decoded JSON (``{"법령": {...}}``); ``법령`` may be a list of versions.
        source: file name, used in messages.
        unit: ``article`` (one passage per 조) or ``paragraph`` (one per 항).
        as_of: YYYYMMDD; the version of each article in force on that date is kept.

    Example:
        >>> doc = {"법령": {"기본정보": {"법령ID": "001706", "법령명_한글": "민법", "시행일자": "20250131"},
        ...        "조문": {"조문단위": [{"조문번호": "750", "조문여부": "조문", "조문제목": "불법행위의 내용",
        ...        "조문내용": "제750조(불법행위의 내용) 고의 또는 과실로 인한 위법행위로 타인에게 손해를 가한 자는 그 손해를 배상할 책임이 있다."}]}}}
        >>> [p.id for p in parse_law(doc, "001706.json").passages]
        ['LAW_001706_제750조']
    """
    as_of = as_of or date.today().strftime("%Y%m%d")
    result = ParseResult()
    law = doc["법령"]
    if isinstance(law, list):
        law = _pick_version([v for v in law if isinstance(v, dict)], as_of)
    info = law.get("기본정보")
    if not isinstance(info, dict) or not info.get("법령ID"):
        raise KeyError("법령.기본정보.법령ID")
    law_id = str(info["법령ID"]).strip()
    name = str(info.get("법령명_한글") or "").strip()
    if not name:
        raise KeyError("법령.기본정보.법령명_한글")
    law_meta = {
        "법령ID": law_id,
        "법령명약칭": str(info.get("법령명약칭") or "").strip(),
        "법종구분": _content(info.get("법종구분")),
        "제개정구분": str(info.get("제개정구분") or ""),
        "공포일자": str(info.get("공포일자") or ""),
        "numbering_since": numbering_since(law),
    }
    units = as_list((law.get("조문") or {}).get("조문단위"))
    chapter = section = ""
    versions: dict[str, list[tuple[dict, str, str]]] = {}
    for u in units:
        if not isinstance(u, dict):
            result.drop("malformed unit")
            continue
        if u.get("조문여부") == "전문":
            # Headings open a chapter/section: kept as the following articles' meta.
            for line in _text(u.get("조문내용")).split("\n"):
                line, _ = clean(line)
                if re.match(r"^제\s*\d+\s*(?:편|장)", line):
                    chapter, section = line, ""
                elif re.match(r"^제\s*\d+\s*(?:절|관)", line):
                    section = line
            continue
        versions.setdefault(article_label(u), []).append((u, chapter, section))
    for label, candidates in versions.items():
        u, chap, sect = _pick_unit(candidates, as_of)
        _emit_article(result, u, label, chap, sect, law_id, name, info, law_meta, unit, as_of)
    return result


def _pick_unit(candidates: list[tuple[dict, str, str]], as_of: str) -> tuple[dict, str, str]:
    if len(candidates) == 1:
        return candidates[0]
    chosen = _pick_version([c[0] for c in candidates], as_of)
    return next(c for c in candidates if c[0] is chosen)


def _emit_article(result: ParseResult, u: dict, label: str, chapter: str, section: str, law_id: str,
                  name: str, info: dict, law_meta: dict, unit: Unit, as_of: str) -> None:
    head_raw = _text(u.get("조문내용"))
    if head_raw and is_deletion_marker(head_raw) and not u.get("항"):
        result.drop("deleted article")
        return
    head, head_tags = clean(head_raw)
    paragraphs = _paragraphs(u)
    effective = str(u.get("조문시행일자") or info.get("시행일자") or "")
    refs = clean(_text(u.get("조문참고자료")).replace("\n", " "))[1]
    meta = {**law_meta, "chapter": chapter, "section": section, "조문키": str(u.get("조문키") or ""),
            "amendments": head_tags + [t for p in paragraphs for t in p.tags] + refs}
    if effective > as_of:
        meta["in_force"] = False
        result.drop("not yet in force (kept, flagged)", 1)
    article_id = f"LAW_{law_id}_{label}"
    common = {"type": "law", "source_id": law_id, "title": name, "article": label,
                  "heading": str(u.get("조문제목") or "").strip(), "effective_date": effective}
    if unit == "paragraph" and len(paragraphs) > 1:
        seen: set[str] = set()
        for i, p in enumerate(paragraphs, start=1):
            number = p.number or str(i)
            if number in seen:
                number = f"{number}-{i}"
            seen.add(number)
            result.passages.append(Passage(
                id=f"{article_id}_{number}", parent_id=article_id, paragraph=number,
                text=join_nonempty([head, p.text], "\n"), meta=meta, **common))
        return
    text = join_nonempty([head, *(p.text for p in paragraphs)])
    if not text:
        result.drop("empty article")
        return
    result.passages.append(Passage(id=article_id, parent_id=f"LAW_{law_id}", text=text, meta=meta, **common))
