"""Resolve parsed references to passage ids of the corpus, with a reason for every miss."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from lex_dpr.mining.refs import Reference
from lex_dpr.utils.text import law_name_key

_CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳"


# Spacing-, bracket- and middle-dot-insensitive key: '남녀고용평등과 일ㆍ가정' == '남녀고용평등과일·가정'.
# The one rule lives in utils.text (law_name_key); this name is kept for importers of the old one.
normalize_law_name = law_name_key


@dataclass
class Source:
    """A law or rule of the corpus, as seen from its passages."""

    source_id: str
    name: str
    type: str
    numbering_since: str = ""
    articles: dict[str, list[str]] = field(default_factory=dict)  # 제750조 → passage ids


@dataclass(frozen=True)
class Resolution:
    """Outcome for one reference: passage ids (possibly empty) and why."""

    passage_ids: tuple[str, ...]
    reason: str  # "resolved", "resolved via 현행 note", or why not
    source_id: str = ""
    flagged: str = ""


class LawCatalog:
    """Look up cited laws (by full name or 법령명약칭, spacing-insensitive) and their articles.

    Example:
        >>> cat = LawCatalog.from_passages([{"id": "LAW_001706_제750조", "parent_id": "LAW_001706",
        ...     "type": "law", "source_id": "001706", "title": "민법", "article": "제750조", "meta": {}}])
        >>> from lex_dpr.mining.refs import parse_references
        >>> cat.resolve(parse_references("민법 제750조")[0], decided="20200101").passage_ids
        ('LAW_001706_제750조',)
    """

    def __init__(self) -> None:
        self.sources: dict[str, Source] = {}
        self.by_name: dict[str, str] = {}

    @classmethod
    def from_passages(cls, passages: Iterable[dict], include_admin: bool = True) -> LawCatalog:
        cat = cls()
        for p in passages:
            if p["type"] not in ("law", "admin") or (p["type"] == "admin" and not include_admin):
                continue
            if p.get("meta", {}).get("appendix"):
                continue
            src = cat.sources.get(p["source_id"])
            if src is None:
                meta = p.get("meta", {})
                src = Source(p["source_id"], p["title"], p["type"], meta.get("numbering_since", ""))
                cat.sources[src.source_id] = src
                for name in (p["title"], meta.get("법령명약칭", "")):
                    if name:
                        cat.by_name.setdefault(law_name_key(name), src.source_id)
            src.articles.setdefault(p["article"], []).append(p["id"])
        return cat

    def lookup(self, law: str) -> Source | None:
        sid = self.by_name.get(law_name_key(law))
        return self.sources.get(sid) if sid else None

    def _ids(self, src: Source, ref: Reference) -> tuple[str, ...]:
        ids = src.articles.get(ref.article, [])
        if ref.paragraph and len(ids) > 1 and 0 < ref.paragraph <= len(_CIRCLED):
            exact = [i for i in ids if i.endswith(f"_{_CIRCLED[ref.paragraph - 1]}")]
            if exact:
                return tuple(exact)
        return tuple(ids)

    def resolve(self, ref: Reference, decided: str, old_law: str = "same-number") -> Resolution:
        """Map one reference to passage ids.

        Rules: 부칙 never maps to a main article; an old-law citation maps to its current
        article through an explicit 현행 note, to the same number when ``old_law`` is
        "same-number" and the law was not wholly re-enacted, and nowhere otherwise; a
        citation decided before the law's current numbering began is dropped.
        """
        if ref.addendum:
            return Resolution((), "부칙 citation")
        if ref.old and ref.current:
            return self._via_current(ref, decided)
        src = self.lookup(ref.law)
        if src is None:
            return Resolution((), "law not in corpus")
        if ref.old:
            if ref.current_deleted:
                return Resolution((), "old provision deleted (현행 삭제)", src.source_id)
            if ref.wholly_amended:
                return Resolution((), "old law wholly re-enacted, no 현행 note", src.source_id)
            if old_law != "same-number":
                return Resolution((), "old law without 현행 note", src.source_id)
        if decided and src.numbering_since and decided < src.numbering_since:
            return Resolution((), "law renumbered after the decision", src.source_id)
        ids = self._ids(src, ref)
        if not ids:
            return Resolution((), "article not in corpus", src.source_id)
        return Resolution(ids, "resolved", src.source_id, "old law, same number" if ref.old else "")

    def _via_current(self, ref: Reference, decided: str) -> Resolution:
        ids: list[str] = []
        source_id = ""
        for cur in ref.current:
            src = self.lookup(cur.law)
            if src is None:
                continue
            source_id = src.source_id
            ids.extend(i for i in self._ids(src, cur) if i not in ids)
        if ids:
            return Resolution(tuple(ids), "resolved via 현행 note", source_id, "old law via 현행 note")
        return Resolution((), "현행 note names nothing in corpus", source_id)

