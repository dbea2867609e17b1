"""A parser for 참조조문 (the statutes a precedent cites).

Handles [n]/〔n〕 group labels (and shared labels such as [1][2]), ``,`` ``/`` ``<br/>``
separators, bare articles that continue the previous law, 같은 법/동법 (시행령), 「」,
조의N branches, 항/호/목, 부칙 citations, 구법 notes "(…개정되기 전의 것)" and
"(현행 … 참조)" / "[현행 …]" notes with balanced brackets, and a missing 제 ("민법 460조").
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, replace

from lex_dpr.utils.text import strip_html

_OPEN = {"(": ")", "[": "]", "〔": "〕", "{": "}", "（": "）"}
_CLOSE = {v: k for k, v in _OPEN.items()}
_LABEL = re.compile(r"^\s*\d+\s*$")
_MARK = "\x00"

_ARTICLE = re.compile(r"(?:제\s*)?(\d+(?:-\d+)?)\s*조(?:\s*의\s*(\d+))?")
_PARAGRAPH = re.compile(r"(?:제\s*)?(\d+)\s*항")
_ITEM = re.compile(r"(?:제\s*)?(\d+)\s*호(?:\s*의\s*(\d+))?")
_SUBITEM = re.compile(rf"(?:{_MARK}\d+{_MARK}|[가-힣])\s*목")
_FIRST_UNIT = re.compile(rf"부칙|같은\s*조|(?:제\s*)?\d+(?:-\d+)?\s*(?:조|항|호)|(?:{_MARK}\d+{_MARK}|\b[가-하])\s*목")
_SAME_LAW = re.compile(r"^(?:같은\s*법|동\s*법|同法)\s*(.*)$")
_SUFFIX = re.compile(r"\s*(시행령|시행규칙)$")


@dataclass(frozen=True)
class Reference:
    """One cited provision.

    ``law`` is the name as cited (spacing normalised, 「」 removed); ``article`` the
    article label ("제750조", "제23조의2", "제1-1조"); ``groups`` the [n] labels it is
    listed under; ``current`` the provisions named by a 현행 note (for old-law citations).
    """

    law: str
    article: str = ""
    paragraph: int | None = None
    item: str = ""
    subitem: bool = False
    groups: tuple[int, ...] = ()
    old: bool = False
    old_note: str = ""
    wholly_amended: bool = False
    addendum: bool = False
    current: tuple[Reference, ...] = ()
    current_deleted: bool = False
    raw: str = ""

    def to_dict(self) -> dict:
        d = asdict(self)
        d["current"] = [c.to_dict() for c in self.current]
        return {k: v for k, v in d.items() if v not in ("", None, False, (), [])}


@dataclass
class _Context:
    law: str = ""
    old: bool = False
    old_note: str = ""
    wholly_amended: bool = False
    addendum: bool = False
    article: str = ""
    paragraph: int | None = None
    groups: tuple[int, ...] = ()


@dataclass
class _Segment:
    text: str = ""
    notes: list[str] = field(default_factory=list)


def _tokenize(text: str) -> list[tuple[str, object]]:
    """Split into ("label", (1, 2)), ("sep", ","), ("seg", _Segment) at bracket depth 0."""
    tokens: list[tuple[str, object]] = []
    seg = _Segment()
    i, n = 0, len(text)

    def flush() -> None:
        nonlocal seg
        if seg.text.strip() or seg.notes:
            tokens.append(("seg", seg))
        seg = _Segment()

    while i < n:
        ch = text[i]
        if ch in _OPEN:
            j = _match(text, i)
            inner = text[i + 1 : j]
            if ch in "[〔" and _LABEL.match(inner) and not seg.text.strip():
                flush()
                labels = [int(inner)]
                k = j + 1
                while (m := re.match(r"\s*[\[〔]\s*(\d+)\s*[\]〕]", text[k:])) is not None:
                    labels.append(int(m.group(1)))
                    k += m.end()
                tokens.append(("label", tuple(labels)))
                i = k
                continue
            seg.text += f"{_MARK}{len(seg.notes)}{_MARK}"
            seg.notes.append(ch + inner)
            i = j + 1
            continue
        if ch in ",/\n;，":
            flush()
            tokens.append(("sep", ch))
        elif text.startswith(" 및 ", i) and _FIRST_UNIT.search(seg.text):
            # "제45조 제1항 및 공공주택 특별법 제49조" separates; "독점규제 및 공정거래" does not
            flush()
            tokens.append(("sep", "및"))
            i += 3
            continue
        else:
            seg.text += ch
        i += 1
    flush()
    return tokens


def _match(text: str, i: int) -> int:
    """Index of the bracket closing the one at ``i`` (balanced, mixed kinds); end of text if unclosed."""
    stack = [_OPEN[text[i]]]
    for j in range(i + 1, len(text)):
        c = text[j]
        if c in _OPEN:
            stack.append(_OPEN[c])
        elif c in _CLOSE and stack and c == stack[-1]:
            stack.pop()
            if not stack:
                return j
    return len(text) - 1


def _unmark(text: str, notes: list[str]) -> str:
    """Put the bracketed notes back (each note is stored with its opening bracket)."""
    def restore(m: re.Match) -> str:
        note = notes[int(m.group(1))]
        return note + _OPEN[note[0]]

    return re.sub(rf"{_MARK}(\d+){_MARK}", restore, text)


def clean_law_name(name: str) -> str:
    """'「 민법 」' → '민법'; collapses spaces."""
    name = re.sub(r"[「」『』]", "", name)
    return re.sub(r"\s+", " ", name).strip(" ,.·ㆍ")


def _law_from(text: str, notes: list[str], ctx: _Context) -> tuple[str, bool, str, bool] | None:
    """Parse the law part of a segment: (name, old, old_note, wholly_amended), or None if absent."""
    raw = text.strip()
    old = False
    if re.match(r"^구\s+|^구(?=[「\s])", raw):
        old, raw = True, re.sub(r"^구\s*", "", raw)
    old_note, wholly = "", False
    for m in re.finditer(rf"{_MARK}(\d+){_MARK}", raw):
        note = notes[int(m.group(1))][1:]
        if re.search(r"전의\s*것|폐지|개정된\s*후|제정", note):
            old_note = note
            wholly = wholly or bool(re.search(r"전부\s*개정", note))
            old = True
    name = clean_law_name(re.sub(rf"{_MARK}\d+{_MARK}", "", raw))
    if not name:
        return None
    if m := _SAME_LAW.match(name):
        base = _SUFFIX.sub("", ctx.law) if ctx.law else ""
        suffix = m.group(1).strip()
        name = f"{base} {suffix}".strip() if suffix else (ctx.law or base)
        return name, old, old_note, wholly
    return name, old, old_note, wholly


def _current_notes(notes: list[str], rest: str, ctx_law: str, groups: tuple[int, ...]) -> tuple[tuple[Reference, ...], bool]:
    """Parse '(현행 제116조 참조)' / '[현행 저작권법 제2조 제16호 참조]' notes after an article."""
    current: list[Reference] = []
    deleted = False
    for m in re.finditer(rf"{_MARK}(\d+){_MARK}", rest):
        note = notes[int(m.group(1))][1:].strip()
        if not note.startswith("현행"):
            continue
        body = re.sub(r"\s*참조\s*$", "", note[2:]).strip()
        if re.fullmatch(r"삭제", body):
            deleted = True
            continue
        for ref in parse_references(body, default_law=ctx_law):
            current.append(replace(ref, groups=groups))
    return tuple(current), deleted


def _segment_refs(seg: _Segment, ctx: _Context) -> list[Reference]:
    text = seg.text
    first = _FIRST_UNIT.search(text)
    law_part = text[: first.start()] if first else text
    units = text[first.start():] if first else ""
    law = _law_from(law_part, seg.notes, ctx) if law_part.strip() else None
    if law is not None:
        ctx.law, ctx.old, ctx.old_note, ctx.wholly_amended = law
        ctx.addendum = False
        ctx.article, ctx.paragraph = "", None
    if not units:
        return []
    addendum = ctx.addendum
    if units.startswith("부칙"):
        addendum = True
        units = re.sub(rf"^부칙\s*(?:{_MARK}\d+{_MARK})?", "", units).strip()
    ctx.addendum = addendum
    article = paragraph = None
    item = ""
    pos = 0
    if m := re.match(r"\s*같은\s*조", units):
        article, pos = ctx.article, m.end()
    elif m := _ARTICLE.match(units):
        article = f"제{m.group(1)}조" + (f"의{int(m.group(2))}" if m.group(2) else "")
        pos = m.end()
    rest = units[pos:]
    if m := re.match(r"\s*" + _PARAGRAPH.pattern, rest):
        paragraph, rest = int(m.group(1)), rest[m.end():]
    if m := re.match(r"\s*" + _ITEM.pattern, rest):
        item, rest = m.group(1) + (f"의{int(m.group(2))}" if m.group(2) else ""), rest[m.end():]
    subitem = False
    if m := re.match(r"\s*" + _SUBITEM.pattern, rest):
        subitem, rest = True, rest[m.end():]
    if article is None:
        if not ctx.article or not (paragraph or item or subitem):
            return []
        article = ctx.article
        if paragraph is None and (item or subitem):
            paragraph = ctx.paragraph
    ctx.article, ctx.paragraph = article, paragraph
    current, deleted = _current_notes(seg.notes, rest, ctx.law, ctx.groups) if ctx.old else ((), False)
    raw = _unmark(text, seg.notes).strip()
    return [Reference(law=ctx.law, article=article, paragraph=paragraph, item=item, subitem=subitem,
                      groups=ctx.groups, old=ctx.old, old_note=ctx.old_note, wholly_amended=ctx.wholly_amended,
                      addendum=addendum, current=current, current_deleted=deleted, raw=raw)]


def parse_references(text: str, default_law: str = "") -> list[Reference]:
    """Parse a 참조조문 string into references, in the order cited.

    Args:
        text: the 참조조문 field (HTML such as ``<br/>`` is fine).
        default_law: the law a leading bare "제3조" refers to (used for 현행 notes).

    Example:
        >>> [(r.law, r.article, r.paragraph, r.groups) for r in parse_references(
        ...     "[1] 민법 제750조, 제751조 제1항 / [2] 같은 법 시행령 제3조")]
        [('민법', '제750조', None, (1,)), ('민법', '제751조', 1, (1,)), ('민법 시행령', '제3조', None, (2,))]
    """
    text = strip_html(text).replace("\u00a0", " ")
    ctx = _Context(law=default_law)
    refs: list[Reference] = []
    for kind, value in _tokenize(text):
        if kind == "label":
            ctx.groups = value  # type: ignore[assignment]
        elif kind == "seg":
            refs.extend(_segment_refs(value, ctx))  # type: ignore[arg-type]
    return refs
