"""Text clean-up shared by every source: HTML, amendment tags, deletion markers, numbered items."""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable

_BR = re.compile(r"<\s*br\s*/?\s*>", re.IGNORECASE)
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9]*(?:\s[^<>]*)?/?>")
_SPACES = re.compile(r"[ \t\u00a0\u3000]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")

# <개정 2020. 2. 4.>, <신설 2011.3.7>, <개정 2004.1.29, 2007.1.26>, [본조신설 2007.12.21],
# [전문개정 2008.6.13], [제목개정 ...], [종전 제54조는 제63조로 이동 <2007.12.21>]
_AMEND_WORDS = r"(?:개정|신설|전문개정|본조신설|제목개정|단서신설|시행일|타법개정|일부개정|본조제목개정|종전[^\]>]*)"
_AMEND_TAG = re.compile(rf"<\s*{_AMEND_WORDS}[^<>]*>|\[\s*{_AMEND_WORDS}[^\[\]]*(?:<[^<>]*>)?[^\[\]]*\]")

# A unit whose whole text is a deletion marker: "제5조 삭제 <2020. 2. 4.>", "6. 삭제 <2020.2.4>",
# "③ 삭제", "가. 삭제", "<별표 1> 삭  제 <2014.11.4>", "제1조의2 삭제 <2020. 8. 4.>".
_DELETED = re.compile(
    r"^\s*(?:제\s*\d+(?:-\d+)?\s*조(?:의\s*\d+)?(?:\s*\([^)]*\))?|[①-⑳]|\d+(?:의\d+)?\.|[가-힣]\.|<별표[^>]*>|별표\s*\d*)?"
    r"\s*<?\s*삭\s*제\s*(?:[\d.\s]*>)?\s*(?:[<\[(][^>\])]*[>\])])*\s*$"
)


def strip_html(text: str) -> str:
    """Turn ``<br/>`` into newlines, drop other tags and unescape entities."""
    text = _BR.sub("\n", text)
    text = _TAG.sub("", text)
    return html.unescape(text)


def normalize_space(text: str) -> str:
    """Collapse runs of spaces inside lines and blank lines between them; trims each line."""
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n", "\n".join(line for line in lines if line)).strip()


def split_amendment_tags(text: str) -> tuple[str, list[str]]:
    """Remove amendment tags (<개정 ...>, [본조신설 ...]) and return them separately."""
    tags = [m.group(0).strip() for m in _AMEND_TAG.finditer(text)]
    return _AMEND_TAG.sub("", text), tags


def is_deletion_marker(text: str) -> bool:
    """True when the whole unit is only a deletion marker (not a provision that mentions 삭제)."""
    return bool(_DELETED.match(text.replace("\n", " ")))


def flatten_text(value: object) -> str:
    """Join a str or an arbitrarily nested list of str into newline-separated text."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple):
        return "\n".join(t for t in (flatten_text(v) for v in value) if t)
    if isinstance(value, int | float):
        return str(value)
    return ""


def as_list(value: object) -> list:
    """The Open API gives one child as a dict and several as a list; always get a list."""
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return value
    return [value]


def clean(text: str) -> tuple[str, list[str]]:
    """HTML-strip, pull out amendment tags and normalise whitespace."""
    text, tags = split_amendment_tags(strip_html(text))
    return normalize_space(text), tags


# Group labels of 판시사항/판결요지/참조조문: [1], 〔2〕, and shared labels such as [1][2].
_LABEL = r"(?:\[\s*\d+\s*\]|〔\s*\d+\s*〕)"
_LABEL_RUN = re.compile(rf"(?:(?<=^)|(?<=[\s/>.,]))({_LABEL}(?:\s*{_LABEL})*)")
_LABEL_NUM = re.compile(r"\d+")


def split_numbered_items(text: str) -> list[tuple[tuple[int, ...], str]]:
    """Split a 판시사항/판결요지 text into its numbered items.

    Returns ``[(labels, text), ...]``; labels is ``()`` when the text carries no
    numbering, and e.g. ``(1, 2)`` for an item headed by the shared label ``[1][2]``.

    Example:
        >>> split_numbered_items("[1] 첫째 쟁점<br/>[2][3] 둘째 쟁점")
        [((1,), '첫째 쟁점'), ((2, 3), '둘째 쟁점')]
    """
    text = strip_html(text)
    matches = list(_LABEL_RUN.finditer(text))
    if not matches:
        body = normalize_space(text)
        return [((), body)] if body else []
    items: list[tuple[tuple[int, ...], str]] = []
    lead = normalize_space(text[: matches[0].start()])
    if lead:
        items.append(((), lead))
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        body = normalize_space(text[m.end() : end])
        if body:
            labels = tuple(int(n) for n in _LABEL_NUM.findall(m.group(1)))
            items.append((labels, body))
    return items


def join_nonempty(parts: Iterable[str], sep: str = "\n") -> str:
    return sep.join(p for p in parts if p)


def fold(text: str) -> str:
    """Unicode compatibility forms folded (NFKC: fullwidth ``？`` → ``?``, ``①`` → ``1``), spaces collapsed,
    lower case: the text the question classifier's cues read.

    Example:
        >>> fold("  육아휴직  VS　육아기 근로시간 단축？")
        '육아휴직 vs 육아기 근로시간 단축?'
    """
    return " ".join(unicodedata.normalize("NFKC", text).split()).lower()


def normalize_query(text: str) -> str:
    """What "the same question" means everywhere: the split's leak check, the rag cache and resume, synth's
    dedupe, validate's duplicates. :func:`fold`, then only letters and digits (Hangul, Hanja, Latin, ...).

    Example:
        >>> normalize_query("손해배상 책임의 범위는?") == normalize_query("손해배상책임의 범위는")
        True
        >>> normalize_query("「근로기준법」상 ‘근로자’란 무엇인가요?  (Ｑ1)")
        '근로기준법상근로자란무엇인가요q1'
    """
    return _NOT_WORD.sub("", fold(text))


_NOT_WORD = re.compile(r"[\W_]+")


_QUESTION = re.compile(r"[?？]\s*$|(?:요|까|죠|나|니|냐|래|가)[.!~…\s]*$")


def is_question(text: str) -> bool:
    """Whether ``text`` is asked as a question (a ``?`` or a spoken question ending), as people write to a
    legal assistant, rather than stated as a 판시사항 issue ("...의 의미", "...인지 여부(적극)").

    Example:
        >>> is_question("길에서 지갑을 주웠는데 주인이 안 나타나면 제 거예요?"), is_question("통장 빌려줘도 되나요")
        (True, True)
        >>> is_question("불법행위로 인한 손해배상청구권의 단기소멸시효 기산점인 '손해 및 가해자를 안 날'의 의미")
        False
    """
    return bool(_QUESTION.search(text.strip()))


_LAW_NAME_NOISE = re.compile(r"[\s「」『』ㆍ·・‧･.,]")


def law_name_key(name: str) -> str:
    """A law name as a spacing-, bracket- and middle-dot-insensitive key (also an article label's: 제23조 의2).

    Example:
        >>> law_name_key("남녀고용평등과 일ㆍ가정 양립 지원에 관한 법률") == law_name_key("「남녀고용평등과일·가정양립지원에관한법률」")
        True
    """
    return _LAW_NAME_NOISE.sub("", name)
