"""Prompts for the answerer and the checks on what comes back.

The templates are package data (``lex_dpr/resources/prompts/``): ``system.txt`` (the shared system prompt:
answer in Korean, only from the numbered contexts, cite each claim with ``[n]``, say so when the contexts
do not answer) and one user template per question type, named in :data:`TEMPLATE_FILES`. A folder passed
to :func:`load_templates` overrides the files it has. User templates must contain ``{question}`` and
``{contexts}``; those two placeholders are the only text replaced, so any other brace in a template, the
question or a passage is kept as written (no ``{{`` escaping, no ``str.format`` surprises).

Example:
    >>> templates = load_templates()
    >>> ctx = [Context("LAW_001706_제750조", "고의 또는 과실로 인한 위법행위로 타인에게 손해를 가한 자는 그 손해를 배상할 책임이 있다.",
    ...                title="민법", article="제750조")]
    >>> messages = build_messages("불법행위란 무엇인가요?", "정의", ctx, templates)
    >>> [m["role"] for m in messages]
    ['system', 'user']
    >>> "[1] 민법 제750조 (LAW_001706_제750조)" in messages[1]["content"]
    True
    >>> answer = "타인에게 고의나 과실로 위법하게 손해를 가하는 행위입니다 [1]."
    >>> cited(answer, ctx), check_answer(answer, ctx)
    (['LAW_001706_제750조'], [])
    >>> check_answer("It is a tort.", ctx)
    ['no_citation', 'not_korean']
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lex_dpr.errors import ConfigError
from lex_dpr.rag.classify import QUESTION_TYPES
from lex_dpr.resources import resource_text

SYSTEM_FILE = "system.txt"
TEMPLATE_FILES = {"정의": "definition.txt", "프로세스": "procedure.txt", "규정": "rule.txt", "예시": "example.txt",
                  "비교": "comparison.txt", "적용": "application.txt"}
PLACEHOLDERS = ("{question}", "{contexts}")
NO_CONTEXTS = "(검색된 문맥이 없습니다.)"
REFUSAL = "주어진 문맥만으로는 답할 수 없습니다"  # the sentence system.txt asks for when the contexts do not answer

_PLACEHOLDER = re.compile(r"\{(question|contexts)\}")
_MARKER = re.compile(r"\[\s*(\d+(?:\s*[,，]\s*\d+)*)\s*\]")
_HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")


@dataclass
class Context:
    """One retrieved passage as the prompt shows it: ``[n] <title> <article> (<pid>)`` then the text."""

    pid: str
    text: str
    title: str = ""
    article: str = ""
    score: float = 0.0


@dataclass
class Templates:
    """The system prompt and one user template per question type; ``origin`` says which file each came from."""

    system: str
    by_type: dict[str, str]
    origin: dict[str, str] = field(default_factory=dict)


def load_templates(folder: str | Path | None = None) -> Templates:
    """The bundled templates, with the files of ``folder`` (when given) in place of the bundled ones.

    ``folder`` may hold any of ``system.txt`` and the :data:`TEMPLATE_FILES`; other files are an error, as are
    a user template without ``{question}`` or ``{contexts}`` and an empty file.

    Raises:
        ConfigError: one line naming the folder or file and what to fix.

    Example:
        >>> sorted(load_templates().by_type) == sorted(QUESTION_TYPES)
        True
        >>> load_templates("no/such/folder")
        Traceback (most recent call last):
        ...
        lex_dpr.errors.ConfigError: prompts folder 'no/such/folder' does not exist; pass a folder holding system.txt and/or the per-type templates
    """
    names = {SYSTEM_FILE: "system", **{name: qtype for qtype, name in TEMPLATE_FILES.items()}}
    texts = {name: resource_text(f"prompts/{name}") for name in names}
    origin = {name: f"lex_dpr/resources/prompts/{name}" for name in names}
    if folder is not None:
        root = Path(folder)
        if not root.is_dir():
            raise ConfigError(f"prompts folder {str(folder)!r} does not exist; pass a folder holding "
                              f"{SYSTEM_FILE} and/or the per-type templates")
        for path in sorted(root.iterdir()):
            if path.name.startswith("."):
                continue
            if path.name not in names:
                raise ConfigError(f"{path}: unknown prompt file; a prompts folder holds only "
                                  f"{', '.join(sorted(names))}")
            try:
                texts[path.name] = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as err:
                raise ConfigError(f"{path}: cannot read it as UTF-8 text ({err}); save it as UTF-8") from None
            origin[path.name] = str(path)
    for name, text in texts.items():
        if not text.strip():
            raise ConfigError(f"{origin[name]}: the template is empty; write the prompt text or remove the file")
        if name != SYSTEM_FILE:
            missing = [p for p in PLACEHOLDERS if p not in text]
            if missing:
                raise ConfigError(f"{origin[name]}: missing placeholder {' and '.join(missing)}; a {names[name]} "
                                  "template needs {question} and {contexts}")
    by_type = {qtype: texts[name] for qtype, name in TEMPLATE_FILES.items()}
    return Templates(system=texts[SYSTEM_FILE].strip(), by_type=by_type,
                     origin={names[name]: where for name, where in origin.items()})


def render_contexts(contexts: Sequence[Context]) -> str:
    """The numbered passages as the model reads them; ``[n]`` in an answer refers to the n-th one.

    Example:
        >>> print(render_contexts([Context("LAW_001706_제2조", "권리는 남용하지 못한다.", "민법", "제2조"),
        ...                        Context("P9", "본문")]))
        [1] 민법 제2조 (LAW_001706_제2조)
        권리는 남용하지 못한다.
        <BLANKLINE>
        [2] (P9)
        본문
    """
    if not contexts:
        return NO_CONTEXTS
    blocks = []
    for n, ctx in enumerate(contexts, 1):
        head = " ".join([f"[{n}]", *(part for part in (ctx.title.strip(), ctx.article.strip()) if part), f"({ctx.pid})"])
        blocks.append(f"{head}\n{ctx.text.strip()}")
    return "\n\n".join(blocks)


def _fill(template: str, values: dict[str, str]) -> str:
    # One pass: a brace in the question or a passage is never read as a placeholder.
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


def build_messages(question: str, qtype: str, contexts: Sequence[Context], templates: Templates) -> list[dict[str, str]]:
    """``[system, user]`` chat messages for ``question`` of type ``qtype`` over ``contexts``.

    Raises:
        ConfigError: ``qtype`` has no template.
    """
    if qtype not in templates.by_type:
        raise ConfigError(f"no prompt template for question type {qtype!r}; types: {', '.join(QUESTION_TYPES)}")
    user = _fill(templates.by_type[qtype], {"question": question.strip(), "contexts": render_contexts(contexts)})
    return [{"role": "system", "content": templates.system}, {"role": "user", "content": user}]


def cited(answer: str, contexts: Sequence[Context]) -> list[str]:
    """The pids ``answer`` cites, by ``[n]`` (also ``[1, 3]``) or by writing a pid; first citation first, once each.

    A marker outside ``1..len(contexts)`` is ignored. A pid counts when written whole, a particle may follow it
    (``LAW_001706_제750조에 따라``), but ``LAW_001706_제750조의2`` does not cite ``LAW_001706_제750조``.

    Example:
        >>> ctx = [Context("A_제1조", "x"), Context("A_제2조", "y"), Context("A_제2조의2", "z")]
        >>> cited("A_제2조의2 참조. 또한 [1, 2] 그리고 [7] [1]", ctx)
        ['A_제2조의2', 'A_제1조', 'A_제2조']
    """
    found: list[tuple[int, int, str]] = []
    for marker in _MARKER.finditer(answer):
        for k, number in enumerate(re.split(r"\s*[,，]\s*", marker.group(1))):
            n = int(number)
            if 1 <= n <= len(contexts):
                found.append((marker.start(), k, contexts[n - 1].pid))
    for ctx in contexts:
        hit = re.search(rf"(?<![0-9A-Za-z_]){re.escape(ctx.pid)}(?![0-9A-Za-z_]|의\d)", answer) if ctx.pid else None
        if hit:
            found.append((hit.start(), 0, ctx.pid))
    seen: dict[str, None] = {}
    for _, _, pid in sorted(found, key=lambda x: x[:2]):
        seen.setdefault(pid)
    return list(seen)


def hangul_ratio(text: str) -> float:
    """Hangul letters over all letters (digits, punctuation and spaces left out); 0 when there are no letters.

    Example:
        >>> hangul_ratio("민법 제750조"), hangul_ratio("tort 불법"), hangul_ratio("123 [1]")
        (1.0, 0.3333333333333333, 0.0)
    """
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return 0.0
    return sum(1 for c in letters if _HANGUL.match(c)) / len(letters)


def check_answer(answer: str, contexts: Sequence[Context], min_hangul: float = 0.5) -> list[str]:
    """Flags for an answer: ``"empty"`` (alone), else ``"no_citation"`` and/or ``"not_korean"``; ``[]`` when fine.

    A refusal (:func:`is_refusal`) cites nothing and is still flagged ``no_citation``; callers that accept
    refusals check :func:`is_refusal` first.
    """
    if not answer.strip():
        return ["empty"]
    flags = []
    if not cited(answer, contexts):
        flags.append("no_citation")
    if hangul_ratio(answer) < min_hangul:
        flags.append("not_korean")
    return flags


def is_refusal(answer: str) -> bool:
    """Whether the answer says the contexts do not answer the question (the sentence ``system.txt`` asks for).

    Example:
        >>> is_refusal("주어진 문맥만으로는 답할 수 없습니다."), is_refusal("배상 책임이 있습니다 [1].")
        (True, False)
    """
    return REFUSAL.replace(" ", "") in answer.replace(" ", "")
