"""판례 (court precedents) → 판결요지 item passages and 판결본문 chunks.

Precedents are keyed on 판례일련번호: 사건번호 is not unique in the Open API data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lex_dpr.data.records import Passage
from lex_dpr.data.sources.laws import ParseResult, Unit
from lex_dpr.utils.text import normalize_space, split_numbered_items, strip_html

BODY_CHUNK_CHARS = 800
_SENTENCE_END = re.compile(r"(?<=[.다])\s+")


@dataclass(frozen=True)
class Precedent:
    """The fields of one decision that lex-dpr uses."""

    id: str
    case_name: str
    case_number: str
    court: str
    decided: str
    holdings: str  # 판시사항
    summary: str  # 판결요지
    body: str  # 판결본문 / 판례내용
    references: str  # 참조조문

    @property
    def meta(self) -> dict[str, str]:
        return {"사건번호": self.case_number, "법원명": self.court, "선고일자": self.decided}


def read_precedent(doc: dict) -> Precedent:
    """Pick the precedent fields from a flat document (or one wrapped in ``PrecService``)."""
    doc = doc.get("PrecService", doc)
    pid = str(doc.get("판례일련번호") or doc.get("판례정보일련번호") or "").strip()
    if not pid:
        raise KeyError("판례일련번호")
    return Precedent(
        id=pid,
        case_name=normalize_space(strip_html(str(doc.get("사건명") or ""))),
        case_number=str(doc.get("사건번호") or "").strip(),
        court=str(doc.get("법원명") or "").strip(),
        decided=re.sub(r"\D", "", str(doc.get("선고일자") or "")),
        holdings=str(doc.get("판시사항") or ""),
        summary=str(doc.get("판결요지") or ""),
        body=str(doc.get("판결본문") or doc.get("판례내용") or ""),
        references=str(doc.get("참조조문") or ""),
    )


def summary_passages(prec: Precedent) -> list[Passage]:
    """One passage per numbered 판결요지 item: ``PREC_{id}_요지{n}``."""
    out = []
    for i, (labels, text) in enumerate(split_numbered_items(prec.summary), start=1):
        tag = "-".join(map(str, labels)) if labels else str(i)
        out.append(Passage(
            id=f"PREC_{prec.id}_요지{tag}", parent_id=f"PREC_{prec.id}", type="prec", source_id=prec.id,
            title=prec.case_name, paragraph=tag, effective_date=prec.decided, text=text,
            meta={**prec.meta, "section": "판결요지", "labels": list(labels)}))
    return out


def chunk_text(text: str, max_chars: int = BODY_CHUNK_CHARS) -> list[str]:
    """Pack paragraphs (then sentences) into chunks of at most ``max_chars``; never cuts a sentence
    unless the sentence alone is longer than a chunk."""
    pieces: list[str] = []
    for para in normalize_space(strip_html(text)).split("\n"):
        pieces.extend(s for s in _SENTENCE_END.split(para) if s) if len(para) > max_chars else pieces.append(para)
    chunks, current = [], ""
    for piece in pieces:
        while len(piece) > max_chars:
            chunks.append(piece[:max_chars])
            piece = piece[max_chars:]
        if current and len(current) + 1 + len(piece) > max_chars:
            chunks.append(current)
            current = piece
        else:
            current = f"{current}\n{piece}" if current else piece
    if current:
        chunks.append(current)
    return chunks


def parse_precedent(doc: dict, source: str, unit: Unit = "article", as_of: str | None = None) -> ParseResult:
    """Parse one precedent into passages (its 판결요지 items and 판결본문 chunks).

    Example:
        >>> doc = {"판례일련번호": "1", "사건명": "손해배상", "사건번호": "2020다1", "법원명": "대법원",
        ...        "선고일자": "20200101", "판결요지": "[1] 첫째 요지<br/>[2] 둘째 요지", "판결본문": ""}
        >>> [p.id for p in parse_precedent(doc, "1.json").passages]
        ['PREC_1_요지1', 'PREC_1_요지2']
    """
    prec = read_precedent(doc)
    result = ParseResult(passages=summary_passages(prec))
    for i, chunk in enumerate(chunk_text(prec.body), start=1):
        result.passages.append(Passage(
            id=f"PREC_{prec.id}_본문{i}", parent_id=f"PREC_{prec.id}", type="prec", source_id=prec.id,
            title=prec.case_name, paragraph=str(i), effective_date=prec.decided, text=chunk,
            meta={**prec.meta, "section": "판결본문"}))
    if not result.passages:
        result.drop("no 판결요지 or 판결본문 text")
    return result
