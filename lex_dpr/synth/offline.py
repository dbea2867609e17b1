"""Plain-language questions from a statute's own structure, without any model (``--llm none``).

Each question type reads one kind of structure, and a passage that lacks it is skipped for that type
rather than given a question it cannot answer:

- 정의: a defined term (``"근로자"란 ...을 말한다``, ``(이하 "불공정영업행위"라 한다)``) defined in one
  article of its law only.
- 프로세스: an article whose heading names a procedure (신청, 신고, 등록, 인가, 절차, 납부, ...).
- 규정: an article whose heading names a duty, a ban, a requirement or a sanction (의무, 금지, 요건,
  기준, 제한, 과태료, ...), or any other specific heading ("어떻게 정하고 있나요?").
- 예시: an article that lists cases or acts in numbered items (``1. ... 2. ...``).
- 적용: a condition the article turns on: a numbered "...경우" item or a "다만, ...경우에는" exception,
  or the article on the law's scope (적용범위).
- 비교: two defined terms of one article that share a stem, or two articles of one law whose headings
  contrast (해제/해지, 과태료/과징금, 인가/허가, ...) or neighbour each other and share a word; the
  question has both articles as positives and is asked only from the first of them.

Heading-based questions need the heading to be unique in its law (two "벌칙" articles would make the
positive a guess) and skip generic headings (목적 aside, 정의, 준용, 시행일, ...). The law is named in
full, by its short name (법령명약칭) or, when the heading or term appears in no other law, not at all.
Templates and law forms are drawn with a seeded generator per (passage, type, slot), so the same
passage gives the same question in any order and after any restart.

Example:
    >>> law = {"type": "law", "title": "근로기준법", "article": "제2조", "heading": "정의", "meta": {},
    ...        "text": '제2조(정의) ① 1. "근로자"란 임금을 목적으로 근로를 제공하는 사람을 말한다. '
    ...                '2. "사용자"란 사업주를 말한다.'}
    >>> gen = OfflineGenerator({"LAW_1_제2조": law})
    >>> gen.slots("LAW_1_제2조", "정의"), gen.slots("LAW_1_제2조", "프로세스")
    (2, 0)
    >>> q = gen.question("LAW_1_제2조", "정의", 0, seed=0)
    >>> "근로자" in q.text and q.text.endswith("?"), q.positives
    (True, ('LAW_1_제2조',))
"""

from __future__ import annotations

import os
import random
import re
from collections import Counter, defaultdict
from dataclasses import dataclass

NAME = "offline"

# --- Korean particles -------------------------------------------------------------------------------

_DIGIT_BATCHIM = {"0": True, "1": True, "2": False, "3": True, "4": False, "5": False, "6": True, "7": True,
                  "8": True, "9": False}
_DIGIT_RIEUL = {"1", "7", "8"}


def _last_sound(word: str) -> tuple[bool, bool]:
    """(has a final consonant, the final consonant is ㄹ) for the word's last pronounced character."""
    for ch in reversed(word.strip()):
        if "가" <= ch <= "힣":
            jong = (ord(ch) - 0xAC00) % 28
            return jong != 0, jong == 8
        if ch.isdigit():
            return _DIGIT_BATCHIM[ch], ch in _DIGIT_RIEUL
        if ch.isalpha():
            return ch.lower() in "lmnr", ch.lower() in "lr"
    return False, False


def josa(word: str, pair: str) -> str:
    """``word`` with the particle of ``pair`` ("은/는", "이/가", "을/를", "과/와", "으로/로", "이란/란") that fits it.

    Example:
        >>> josa("근로자", "은/는"), josa("과징금", "은/는"), josa("벌칙", "이/가"), josa("해지", "과/와")
        ('근로자는', '과징금은', '벌칙이', '해지와')
        >>> josa("민법", "으로/로"), josa("규칙", "으로/로"), josa("「상법」", "을/를")
        ('민법으로', '규칙으로', '「상법」을')
        >>> josa("벌", "으로/로"), josa("'정보통신망'", "이란/란")
        ('벌로', "'정보통신망'이란")
    """
    after_consonant, after_vowel = pair.split("/")
    final, rieul = _last_sound(word)
    if pair == "으로/로":
        return word + ("로" if not final or rieul else "으로")
    return word + (after_consonant if final else after_vowel)


# --- reading the structure ----------------------------------------------------------------------------

_TERM = re.compile(r"[\"“‘']([^\"”’'\n]{1,30})[\"”’']\s*(?:이)?란\s")
_INLINE_TERM = re.compile(r"이하\s*[\"“‘']([^\"”’'\n]{1,30})[\"”’']\s*(?:이)?라\s*한다")
_ITEM = re.compile(r"(?:^|\s)(\d{1,2})\.\s+(?=[^\d\s])")
_CASE_ITEM = re.compile(r"(?:^|\n|\s)\d{1,2}\.\s+([^\n]{6,48}?(?:경우|때))(?=\s*(?:\n|\d{1,2}\.\s|[가-하]\.\s|$))")
_PROVISO = re.compile(r"다만,\s*([^.,;]{6,48}?(?:경우|때))에는")
_REFERENCE = re.compile(r"제\s*\d+\s*(?:조|항|호)|각\s*호|다음|전항|같은\s*항|이\s*법|대통령령|총리령|부령|[「」<>]")
_PHRASE = re.compile(r"정하|고시|그\s*밖|에\s*따른|하는\s")  # "금융위원회가 정하여 고시하는 정보": a phrase quoted from elsewhere
_PAREN = re.compile(r"\([^()]*\)|\[[^\[\]]*\]")
_HEADING_TAIL = re.compile(r"\s*(?:등|및\s*기타)$")

GENERIC_HEADINGS = frozenset({
    "정의", "정의 등", "용어의 정의", "목적", "시행일", "준용", "준용규정", "규제의 재검토", "재검토기한", "다른 법률과의 관계",
    "벌칙 적용 시의 공무원 의제", "권한의 위임", "권한의 위탁", "권한의 위임ㆍ위탁", "업무의 위탁", "위임", "위탁", "삭제",
    "경과조치", "세부사항", "시행세칙", "적용 범위", "적용범위", "의의", "기타", "운영세칙", "고유식별정보의 처리",
    "민감정보 및 고유식별정보의 처리", "규제의 재검토 등",
})
SCOPE_HEADINGS = frozenset({"적용 범위", "적용범위", "적용 범위 등", "적용범위 등", "적용대상", "적용 대상"})
PROCESS_WORDS = ("신청", "절차", "신고", "등록", "인가", "허가", "승인", "제출", "통지", "청구", "보고", "납부",
                 "환급", "방법", "지정", "설립", "해산", "청산", "공고", "공시", "선임", "이의", "심사", "갱신", "폐업",
                 "휴업", "양도", "합병", "징수", "발급", "접수", "공탁", "상환", "반환", "교부", "송달")
RULE_WORDS = ("의무", "금지", "요건", "기준", "제한", "준수", "책임", "자격", "결격", "한도", "비율", "원칙", "벌칙",
              "과태료", "과징금", "손해배상", "양벌규정", "이행강제금", "보호", "비밀", "공개", "사항")
CONTRASTS = (("해제", "해지"), ("취소", "철회"), ("과태료", "과징금"), ("과태료", "벌칙"), ("인가", "허가"),
             ("등록", "신고"), ("등록", "인가"), ("위임", "위탁"), ("정지", "취소"), ("무효", "취소"), ("해산", "청산"),
             ("합병", "분할"), ("예비인가", "인가"), ("예비허가", "허가"), ("양도", "양수"), ("질권", "저당권"),
             ("보증", "연대보증"), ("상속", "유증"), ("조사", "검사"), ("시정명령", "시정권고"), ("정관", "규약"))


def clean_heading(heading: str) -> str:
    """The heading without parentheses and a trailing "등".

    Example:
        >>> clean_heading("등록의 방법 및 절차 등"), clean_heading("감독ㆍ검사 등"), clean_heading("과징금(課徵金)")
        ('등록의 방법 및 절차', '감독ㆍ검사', '과징금')
    """
    return " ".join(_HEADING_TAIL.sub("", _PAREN.sub("", heading or "")).split())


def defined_terms(text: str) -> list[str]:
    """Terms the text defines (``"X"란``, ``(이하 "X"라 한다)``), first occurrence order.

    A short name for the words just before it (``금융감독원장(이하 "감독원장"이라 한다)``) is an abbreviation,
    not a definition, and is left out.

    Example:
        >>> defined_terms('1. "근로자"란 ... 말한다. 2. "사용자"란 사업주(이하 "주"라 한다)를 말하며 '
        ...               '부당한 요구를 하는 행위(이하 "갑질"이라 한다) "근로자"란')
        ['근로자', '사용자', '갑질']
    """
    seen: dict[str, None] = {}
    found = [(m, False) for m in _TERM.finditer(text)] + [(m, True) for m in _INLINE_TERM.finditer(text)]
    for m, inline in sorted(found, key=lambda x: x[0].start()):
        term = " ".join(m.group(1).split())
        if not 2 <= len(term) <= 25 or _REFERENCE.search(term) or _PHRASE.search(term) or term.count(" ") > 2:
            continue
        if inline and _abbreviates(term, text[max(0, m.start() - 30): m.start()]):
            continue
        seen.setdefault(term, None)
    return list(seen)


def _abbreviates(term: str, before: str) -> bool:
    """True when ``term``'s characters appear in order in the last word(s) before "(이하"."""
    words = before.rstrip(" (").split()
    tail = "".join(words[-2:]) if words else ""
    it = iter(tail)
    return bool(tail) and all(ch in it for ch in term.replace(" ", ""))


def numbered_items(text: str) -> int:
    """How many numbered items ``1. 2. 3.`` the text lists in order (0 or 1: not a list).

    Example:
        >>> numbered_items("다음 각 호의 행위 1. 강요 2. 담보 요구 3. 편익 요구 <개정 2021. 10. 14.>")
        3
    """
    expected = 1
    for m in _ITEM.finditer(text):
        if int(m.group(1)) == expected:
            expected += 1
    return expected - 1


def conditions(text: str) -> list[str]:
    """Self-contained conditions the article turns on: "...경우" items and "다만, ...경우에는" exceptions.

    Conditions that point elsewhere (제1호, 각 호, 대통령령 ...) are left out: the question would not make sense.

    Example:
        >>> conditions("1. 속임수로 지정을 받은 경우 2. 제3항에 따른 기준에 미달한 경우 "
        ...            "다만, 정보주체에게 별도로 동의받은 경우에는 그러하지 아니하다.")
        ['속임수로 지정을 받은 경우', '정보주체에게 별도로 동의받은 경우']
    """
    found = [m.group(1) for m in _CASE_ITEM.finditer(text)] + [m.group(1) for m in _PROVISO.finditer(text)]
    out: dict[str, None] = {}
    for c in found:
        c = " ".join(c.split())
        if not _REFERENCE.search(c) and len(c) >= 8:
            out.setdefault(c, None)
    return list(out)


def _words(heading: str) -> set[str]:
    return {w for w in re.split(r"[\sㆍ·,]+|의\s|및", heading + " ") if len(w) >= 2}


def _shares_stem(a: str, b: str) -> bool:
    """Two terms that share a stem of 2+ characters at the start or the end, neither inside the other."""
    if a in b or b in a:
        return False
    return max(len(os.path.commonprefix([a, b])), len(os.path.commonprefix([a[::-1], b[::-1]]))) >= 2


# --- the generator ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Question:
    """One generated question and the passages that answer it (the source passage first)."""

    text: str
    positives: tuple[str, ...]


@dataclass(frozen=True)
class _Spec:
    kind: str  # what the slot asks about: term, heading, items, condition, scope, purpose, terms, articles
    subject: str = ""
    other: str = ""  # a second term or heading (비교), or the condition (적용)
    other_pid: str = ""
    unique: bool = False  # the subject appears in no other law: the law may go unnamed


class OfflineGenerator:
    """Templates over the structure of law and admin-rule passages; other passages get no slots.

    Args:
        passages: passage id → record (``title``, ``heading``, ``text``, ``type``, ``meta``), in file order.

    ``slots(pid, qtype)`` says how many different questions of that type the passage gives (0: skipped);
    ``question(pid, qtype, slot, seed)`` writes slot ``slot``'s question.
    """

    name = NAME

    def __init__(self, passages: dict[str, dict]) -> None:
        self.records = passages
        laws: dict[str, list[str]] = defaultdict(list)
        for pid, rec in passages.items():
            if (rec.get("type") in ("law", "admin") and rec.get("title") and rec.get("text")
                    and not str(rec.get("article") or "").startswith("별지")):  # forms: nothing to ask
                laws[rec["title"]].append(pid)
        heading_count: Counter[tuple[str, str]] = Counter()
        heading_laws: dict[str, set[str]] = defaultdict(set)
        term_count: Counter[tuple[str, str]] = Counter()
        term_laws: dict[str, set[str]] = defaultdict(set)
        self._terms: dict[str, list[str]] = {}
        for law, pids in laws.items():
            for pid in pids:
                h = clean_heading(passages[pid].get("heading") or "")
                heading_count[(law, h)] += 1
                heading_laws[h].add(law)
                self._terms[pid] = defined_terms(passages[pid]["text"])
                for term in self._terms[pid]:
                    term_count[(law, term)] += 1
                    term_laws[term].add(law)
        self._specs: dict[tuple[str, str], list[_Spec]] = {}
        for law, pids in laws.items():
            partners = _partners(law, pids, passages, heading_count)
            for pid in pids:
                rec = passages[pid]
                h = clean_heading(rec.get("heading") or "")
                ok_heading = bool(h) and heading_count[(law, h)] == 1 and h not in GENERIC_HEADINGS
                unique_h = len(heading_laws[h]) == 1
                terms = [t for t in self._terms[pid] if term_count[(law, t)] == 1]
                self._specs.update(_specs_for(pid, rec, h, ok_heading, unique_h, terms, term_laws, partners.get(pid, []),
                                              heading_count[(law, h)] == 1))

    def slots(self, pid: str, qtype: str) -> int:
        return len(self._specs.get((pid, qtype), ()))

    def question(self, pid: str, qtype: str, slot: int, seed: int) -> Question | None:
        specs = self._specs.get((pid, qtype), [])
        if not 0 <= slot < len(specs):
            return None
        spec = specs[slot]
        rng = random.Random(f"{seed}:{pid}:{qtype}:{slot}")
        rec = self.records[pid]
        law = _law_name(rec, spec.unique, rng)
        text = _TEMPLATES[qtype](spec, law, rng)
        positives = (pid, spec.other_pid) if spec.other_pid else (pid,)
        return Question(" ".join(text.split()), positives)


def _law_name(rec: dict, unique: bool, rng: random.Random) -> str:
    """The law's full title, its short name, or "" (only when the subject is unique to this law)."""
    short = (rec.get("meta") or {}).get("법령명약칭") or ""
    r = rng.random()
    if unique and r < 0.25:
        return ""
    if short and r < 0.6:
        return short
    return rec["title"]


def _partners(law: str, pids: list[str], passages: dict[str, dict],
              heading_count: Counter[tuple[str, str]]) -> dict[str, list[tuple[str, str, str]]]:
    """pid → [(its heading, partner heading, partner pid)], each pair once (from its first article)."""
    heads = [(pid, clean_heading(passages[pid].get("heading") or "")) for pid in pids]
    heads = [(pid, h) for pid, h in heads if h and h not in GENERIC_HEADINGS and heading_count[(law, h)] == 1]
    out: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    by_word: dict[str, list[int]] = defaultdict(list)
    for i, (_, h) in enumerate(heads):
        for a, b in CONTRASTS:
            for w in (a, b):
                if w in h:
                    by_word[w].append(i)
    pairs: set[tuple[int, int]] = set()
    for a, b in CONTRASTS:
        for i in by_word.get(a, []):
            for j in by_word.get(b, []):
                hi, hj = heads[i][1], heads[j][1]
                rest_i, rest_j = hi.replace(a, "").strip(), hj.replace(b, "").strip()
                if i != j and b not in rest_i and a not in rest_j and (rest_i == rest_j or max(len(hi), len(hj)) <= 6):
                    pairs.add((min(i, j), max(i, j)))
    for i in range(len(heads) - 1):  # neighbours sharing a word: 과징금의 부과 / 과징금의 징수
        (_, hi), (_, hj) = heads[i], heads[i + 1]
        if _words(hi) & _words(hj) and hi not in hj and hj not in hi and len(hi) <= 15 and len(hj) <= 15:
            pairs.add((i, i + 1))
    for i, j in sorted(pairs):
        out[heads[i][0]].append((heads[i][1], heads[j][1], heads[j][0]))
    return {pid: v[:2] for pid, v in out.items()}


def _specs_for(pid: str, rec: dict, h: str, ok_heading: bool, unique_h: bool, terms: list[str],
               term_laws: dict[str, set[str]], partners: list[tuple[str, str, str]],
               heading_unique_in_law: bool) -> dict[tuple[str, str], list[_Spec]]:
    text = rec["text"]
    specs: dict[str, list[_Spec]] = defaultdict(list)
    for term in terms[:8]:
        specs["정의"].append(_Spec("term", term, unique=len(term_laws[term]) == 1))
    if ok_heading and h.split()[-1].endswith(PROCESS_WORDS):  # the procedure is what the heading names
        specs["프로세스"].append(_Spec("heading", h, unique=unique_h))
    if h == "목적" and heading_unique_in_law:
        specs["규정"].append(_Spec("purpose", h))
    elif ok_heading:
        specs["규정"].append(_Spec("heading", h, unique=unique_h))
    items = numbered_items(text)
    if ok_heading and items >= 2:
        specs["예시"].append(_Spec("items", h, unique=unique_h))
    if ok_heading:
        for cond in conditions(text)[:2]:
            specs["적용"].append(_Spec("condition", h, cond, unique=unique_h))
    if clean_heading(rec.get("heading") or "") in SCOPE_HEADINGS and heading_unique_in_law:
        specs["적용"].append(_Spec("scope", h))
    pairs = [(a, b) for i, a in enumerate(terms) for b in terms[i + 1:] if _shares_stem(a, b)]
    for a, b in pairs[:2]:
        specs["비교"].append(_Spec("terms", a, b, unique=len(term_laws[a]) == 1 and len(term_laws[b]) == 1))
    for mine, theirs, other_pid in partners:
        specs["비교"].append(_Spec("articles", mine, theirs, other_pid, unique=unique_h))
    return {(pid, qtype): v for qtype, v in specs.items()}


def _with_law(law: str, form: str) -> str:
    """"{law}에서 " / "{law}상 " prefixes, or nothing when the law goes unnamed."""
    return f"{law}{form} " if law else ""


def _strip_suffix(h: str, *tails: str) -> str:
    for t in tails:
        if h.endswith(t) and len(h) > len(t) + 1:
            return h[: -len(t)].rstrip().removesuffix("의").rstrip()
    return h


def _definition(s: _Spec, law: str, rng: random.Random) -> str:
    t = s.subject
    return rng.choice([
        f"{_with_law(law, '에서')}말하는 {josa(f'‘{t}’', '이란/란')} 무엇인가요?",
        f"{_with_law(law, '에서')}{josa(t, '은/는')} 어떤 뜻인가요?",
        f"{_with_law(law, '상')}{josa(t, '은/는')} 무엇을 말하나요?",
        f"{_with_law(law, '에서')}{josa(t, '이/가')} 정확히 무슨 의미인지 알려 주시겠어요?",
        f"{_with_law(law, '에서 쓰는')}{josa(t, '이란/란')} 말은 법적으로 어떤 것을 가리키나요?",
    ])


def _process(s: _Spec, law: str, rng: random.Random) -> str:
    h = s.subject
    options = [
        f"{_with_law(law, '에서')}{josa(h, '은/는')} 어떻게 해야 하나요?",
        f"{_with_law(law, '상')}{josa(h, '은/는')} 어떤 절차로 진행되나요?",
    ]
    if not any(w in h for w in ("절차", "방법")):
        options.append(f"{_with_law(law, '에 따라')}{h}의 절차와 방법이 궁금한데 어떻게 되나요?")
    if h.endswith(("신청", "신고", "등록", "제출", "청구", "납부", "보고", "통지", "승인", "인가", "허가", "공고")):
        options.append(f"{_with_law(law, '에 따라')}{josa(h, '을/를')} 하려면 무엇을 어떻게 해야 하나요?")
    return rng.choice(options)


def _rule(s: _Spec, law: str, rng: random.Random) -> str:
    h = s.subject
    if s.kind == "purpose":
        return rng.choice([f"{josa(law, '은/는')} 무엇을 목적으로 하나요?",
                           f"{josa(law, '은/는')} 왜 만들어진 법인가요?"])
    if h.endswith("금지") and len(h) > 3:
        x = _strip_suffix(h, "금지")
        return rng.choice([f"{_with_law(law, '에서')}{x}{'는' if x.endswith('행위') else ' 행위는'} 금지되나요?",
                           f"{_with_law(law, '상')}{josa(x, '은/는')} 왜, 어떻게 금지되나요?"])
    if any(w in h for w in ("요건", "자격", "기준", "결격")):
        return rng.choice([f"{_with_law(law, '상')}{h}의 요건은 무엇인가요?" if "요건" not in h else
                           f"{_with_law(law, '상')}{josa(h, '은/는')} 무엇인가요?",
                           f"{_with_law(law, '에서')}{josa(h, '은/는')} 어떻게 정해져 있나요?"])
    if "의무" in h:
        return rng.choice([f"{_with_law(law, '상')}{josa(h, '은/는')} 누구에게 있고 무엇을 해야 하나요?",
                           f"{_with_law(law, '에서')}{josa(h, '은/는')} 어떤 내용인가요?"])
    if any(w in h for w in ("벌칙", "과태료", "과징금", "이행강제금", "양벌규정")):
        return rng.choice([f"{josa(law or '이 법', '을/를')} 위반하면 {josa(h, '은/는')} 어떻게 되나요?",
                           f"{_with_law(law, '상')}{josa(h, '은/는')} 어떤 경우에 얼마나 부과되나요?"])
    return rng.choice([f"{_with_law(law, '에서')}{h}에 관해서는 어떻게 정하고 있나요?",
                       f"{_with_law(law, '상')}{h}에 관한 규정은 어떤 내용인가요?",
                       f"{h}에 대해 {josa(law, '은/는') if law else '법은'} 어떻게 규정하나요?"])


def _example(s: _Spec, law: str, rng: random.Random) -> str:
    h = s.subject
    if h.endswith("금지") and len(h) > 3:
        x = _strip_suffix(h, "금지")
        return rng.choice([f"{_with_law(law, '에서')}금지하는 {x}에는 어떤 것들이 있나요?",
                           f"{_with_law(law, '상')}{x}의 구체적인 예를 들어 주실 수 있나요?"])
    return rng.choice([f"{_with_law(law, '에서')}{h}에 해당하는 것에는 어떤 것들이 있나요?",
                       f"{_with_law(law, '상')}{h}의 구체적인 예를 들어 주실 수 있나요?",
                       f"{josa(h, '과/와')} 관련해 {law + '에서는 ' if law else ''}어떤 경우들이 포함되나요?"])


def _application(s: _Spec, law: str, rng: random.Random) -> str:
    if s.kind == "scope":
        name = law or "이 법"
        return rng.choice([f"{josa(name, '은/는')} 어떤 경우에 적용되나요?",
                           f"{name}의 적용 대상은 누구인가요?"])
    h, cond = s.subject, s.other
    where = f"{law}상 " if law else ""
    return rng.choice([f"{cond}에는 {where}{h} 규정이 적용되나요?",
                       f"저희 회사가 {cond}에 해당하는데, {where}{h} 규정이 적용되나요?",
                       f"제가 겪은 일이 {cond}인데, {law + '에 따라 ' if law else ''}{h} 대상이 되나요?",
                       f"{cond}{'라면' if cond.endswith('경우') else '에는'} {where}{josa(h, '은/는')} 어떻게 적용되나요?"])


def _comparison(s: _Spec, law: str, rng: random.Random) -> str:
    a, b = s.subject, s.other
    if s.kind == "terms":
        a, b = f"‘{a}’", f"‘{b}’"
    return rng.choice([f"{_with_law(law, '에서')}{josa(a, '과/와')} {josa(b, '은/는')} 어떻게 다른가요?",
                       f"{_with_law(law, '상')}{josa(a, '과/와')} {b}의 차이가 무엇인가요?",
                       f"{josa(a, '과/와')} {josa(b, '을/를')} {law + '에서는 ' if law else ''}어떻게 구별하나요?"])


_TEMPLATES = {"정의": _definition, "프로세스": _process, "규정": _rule, "예시": _example, "적용": _application,
              "비교": _comparison}
