"""Questions from an LLM: one prompt per (passage, type), one Korean question parsed from each reply.

The prompt gives the law, the article and its text, and asks for a single plain-language question of the
requested type that the article answers; :func:`parse_question` takes the question out of whatever the
model wrapped it in (a "질문:" label, quotes, a numbered list, a JSON object, a ``<think>`` block).

Example:
    >>> msgs = build_prompt({"title": "근로기준법", "article": "제2조", "heading": "정의",
    ...                      "text": '제2조(정의) "근로자"란 ...'}, "정의")
    >>> [m["role"] for m in msgs], "용어" in msgs[1]["content"]
    (['system', 'user'], True)
    >>> parse_question('질문: "근로기준법에서 말하는 근로자는 누구인가요?"\\n설명: 제2조에 ...')
    '근로기준법에서 말하는 근로자는 누구인가요?'
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

import orjson

from lex_dpr.llm.base import GenerationConfig, Generator, Message

MAX_PASSAGE_CHARS = 1500
MIN_PASSAGE_CHARS = 40  # shorter passages ("제5조 삭제") give nothing to ask about

SYSTEM = ("당신은 한국 법령을 잘 아는 상담원입니다. 일반인이 실제로 검색창이나 상담 게시판에 쓸 법한 "
          "자연스러운 한국어 질문을 만듭니다.")
INSTRUCTIONS = {
    "정의": "이 조문에 나오는 용어나 개념의 뜻을 묻는 질문",
    "프로세스": "이 조문이 정한 절차나 방법(신청, 신고, 등록, 제출 등)을 어떻게 밟는지 묻는 질문",
    "규정": "이 조문이 정한 의무, 금지, 요건이나 기준이 무엇인지 묻는 질문",
    "예시": "이 조문에 해당하는 구체적인 예나 경우를 묻는 질문",
    "비교": "이 조문에 나오는 두 개념이나 경우가 어떻게 다른지 묻는 질문",
    "적용": "구체적인 상황을 들어 이 조문이 그 상황에 적용되는지 묻는 질문",
}


def build_prompt(passage: dict, qtype: str) -> list[Message]:
    """The chat messages asking for one ``qtype`` question answered by ``passage``."""
    text = " ".join(passage.get("text", "").split())[:MAX_PASSAGE_CHARS]
    where = " ".join(x for x in (passage.get("title"), passage.get("article")) if x)
    heading = f"({passage['heading']})" if passage.get("heading") else ""
    user = (f"다음은 {where}{heading}입니다.\n\n{text}\n\n"
            f"이 조문을 읽고 답을 찾을 수 있는 {INSTRUCTIONS[qtype]}을 하나만 쓰세요. "
            "조문 번호를 쓰지 말고, 쉬운 말로 한 문장으로, 물음표로 끝내세요. 질문만 출력하세요.")
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


_THINK = re.compile(r"<think>.*?(?:</think>|$)", re.DOTALL)
_FENCE = re.compile(r"```[a-zA-Z]*")
_LABEL = re.compile(r"^(?:[-*•>#]+|\d{1,2}[.)]|Q\d*\s*[:.)]|[「\"'*]*(?:질문|생성된 질문)\s*\d*[」\"'*]*\s*[:：.)]|답변?\s*[:：])\s*")
_QUOTES = "\"'“”‘’「」『』`*"
_HANGUL = re.compile(r"[가-힣]")


def parse_question(reply: str) -> str | None:
    """The question in ``reply``: the first line with Hangul that asks something, or None.

    Example:
        >>> parse_question('<think>음...</think>\\n1. 「질문」: 신고는 언제까지 해야 하나요? 그리고')
        '신고는 언제까지 해야 하나요?'
        >>> parse_question('{"question": "과태료는 얼마인가요?"}'), parse_question("Sure! Here it is.")
        ('과태료는 얼마인가요?', None)
    """
    text = _FENCE.sub("", _THINK.sub("", reply or "")).strip()
    if text.startswith("{"):
        try:
            obj = orjson.loads(text[: text.rfind("}") + 1])
        except orjson.JSONDecodeError:
            obj = None
        if isinstance(obj, dict):
            value = next((obj[k] for k in ("question", "질문", "q") if isinstance(obj.get(k), str)), None)
            return parse_question(value) if value else None
    fallback = None
    for line in text.splitlines():
        line = line.strip().strip(_QUOTES).strip()
        for _ in range(3):
            line = _LABEL.sub("", line).strip().strip(_QUOTES).strip()
        if not _HANGUL.search(line):
            continue
        if "?" in line:
            return line[: line.index("?") + 1].strip().strip(_QUOTES).strip()
        if fallback is None and re.search(r"(?:요|까|가요|나요)[.。]?$", line):
            fallback = line.rstrip(".。") + "?"
    return fallback


class LlmQuestions:
    """Asks ``generator`` for questions; every passage with some text has one slot per type.

    Args:
        generator: an opened :class:`~lex_dpr.llm.base.Generator`.
        passages: passage id → record.
        spec: the ``--llm`` value, recorded as the pairs' ``meta.generator``.
    """

    def __init__(self, generator: Generator, passages: dict[str, dict], spec: str) -> None:
        self.generator, self.records, self.name = generator, passages, spec

    def slots(self, pid: str, qtype: str) -> int:
        return int(len(self.records[pid].get("text", "").strip()) >= MIN_PASSAGE_CHARS)

    def ask(self, tasks: Sequence[tuple[str, str]], config: GenerationConfig,
            temperature: float) -> list[tuple[str | None, str | None]]:
        """(question or None, error or None) for each (pid, qtype), sampled at ``temperature``."""
        config = replace(config, temperature=temperature, do_sample=temperature > 0)
        replies = self.generator.generate([build_prompt(self.records[pid], qtype) for pid, qtype in tasks], config)
        return [(None, g.error) if g.error else (parse_question(g.text), None) for g in replies]
