"""Rule-based question types: which answer shape a legal question asks for.

Six types, each with its own prompt template (:mod:`lex_dpr.rag.prompts`):

========  =====================================================================
정의      what a term means ("개인정보란 무엇인가요?")
프로세스  how to do something, step by step ("상속 포기 절차는?")
규정      what the rule is: requirements, duties, limits, sanctions (the default)
예시      concrete examples or kinds ("불공정거래행위에는 어떤 유형이 있나요?")
비교      how two things differ ("해제와 해지는 어떻게 다른가요?")
적용      a fact pattern to decide ("월세를 두 달 못 냈는데 해지될 수 있나요?")
========  =====================================================================

The rules are ordered cue patterns; the first that matches decides, and a question no rule matches is
``규정``. The order settles the usual overlaps: a comparison may narrate facts, a procedure question may
start from a grievance ("명예훼손을 당했는데 … 방법을 알려주세요"), and a told story ("…했는데") beats the
words of a definition or a rule. ``bench/bench_classify.py`` prints the accuracy on the labelled set in
``data/questions/questions.jsonl``.

Example:
    >>> classify("계약 해제와 해지는 효과가 어떻게 다른가요?")
    '비교'
    >>> classify("월세를 두 달째 못 냈는데 집주인이 계약을 끝낼 수 있나요?")
    '적용'
    >>> explain("노사협의회란 무엇인가요?")
    ('정의', "definition: '노사협의회란 무엇인가요'")
    >>> explain("주식 양도는 자유로운가요?")
    ('규정', 'default')
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from lex_dpr.errors import InputError
from lex_dpr.utils.text import fold

QUESTION_TYPES = ("정의", "프로세스", "규정", "예시", "비교", "적용")
DEFAULT_TYPE = "규정"

# Hangul syllables whose final consonant is ㅆ: the contracted past tense (했, 았, 었, 됐, 겼, 렸, 셨, …).
# 있 and 겠 are left out: "있어요" says what exists and "모르겠어요" what one thinks, not what happened.
_PAST = "[" + "".join(c for c in (chr(0xAC00 + i * 28 + 20) for i in range(19 * 21)) if c not in "있겠") + "]"
_NOT_HANGUL_BEFORE = r"(?<![가-힣])"


@dataclass(frozen=True)
class Rule:
    """One cue: questions matching ``pattern`` are of type ``qtype``; ``name`` is shown by :func:`explain`."""

    qtype: str
    name: str
    pattern: re.Pattern[str]


def _rule(qtype: str, name: str, *alternatives: str) -> Rule:
    return Rule(qtype, name, re.compile("|".join(f"(?:{a})" for a in alternatives)))


RULES: tuple[Rule, ...] = (
    _rule("비교", "comparison",
          r"차이", r"비교", r"구별", r"구분(되|하|이 되)", r"\bvs\b", r"다른 점", r"공통점",
          r"(어떻게|무엇이|뭐가|어떤 점이?|어디가|서로) (다르|달라|다릅)", r"다른가요", r"다른 건가요", r"다른지", r"달라요",
          r"다릅니", r"같은 (건가요|것인가요|거예요|가요)", r"어느 (쪽|것이|게)", r"둘 중", r"견주|견줘", r"똑같", r"갈리"),
    _rule("프로세스", "procedure-noun",
          r"절차", r"방법", r"순서", r"단계", r"서류", r"과정", r"밟아야", r"흐름", r"차례", r"어떤 식으로", r"해야 할 일"),
    _rule("예시", "example-request",
          _NOT_HANGUL_BEFORE + r"예(를|가|로|는|시|컨대|컨데)", r"사례", r"유형", r"종류", r"몇 (가지|개)", r"들어 ?주세요",
          r"어떤 (것|게|거)(들)?(이|으로|에는)? ?(있|포함|해당)", r"(뭐가|무엇이|뭐뭐|무엇무엇) (있|해당|포함)", r"뭐뭐", r"(무엇|뭐) ?(무엇|뭐)", r"나열", r"열거",
          r"어떤 \S+들(이|은|에는)", r"[가-힣]들(엔|에는|로는|은) (뭐|무엇|어떤)", r"구체적으로 (알려|어떤|설명)"),
    _rule("적용", "narrated-facts",
          _PAST + r"(어요|어서|는데|습니다|다면|더니|지만|으니|고 |는지)", r"(있|없)는데"),
    _rule("정의", "definition",
          r"(이)?란\s*(\S+\s+)?(무엇|뭐|뭔|어떤|누구)", r"뜻", r"정의(가|는|를|되|돼|하)", r"의미", r"개념",
          r"가리키", r"라고 (하면|부르|하는|하던데)", r"(이)?라는 (말|용어|단어|건|것은|게)", r"(이|가) 뭔지", r"용어",
          r"(을|를) 말(하나요|하는 건|하는 거|하는지|하는가|해요|하죠|합니까)", r"그게 (뭐|뭔|무엇|어떤)", r"무슨 말", r"어떤 (건지|걸 말|것을 말)",
          r"^(\S+\s){0,2}\S+(은|는|이|가|란) (뭐예요|뭔가요|뭐죠|뭐야|무엇인가요|무엇입니까|누구인가요|누구죠|누구예요)"),
    _rule("프로세스", "procedure-how",
          r"어떻게 ?(해야|하나|하면|하는|신청|진행|처리|요청|제출|통지|청구|신고|등록|할 수|받을 수|받나|밟)", r"어떻게 \S+면",
          r"(신청|청구|요청|신고|등록|제출|소집|통지|접수)(하려면|할 때|하는 법)",
          r"어디(에|에서|로) (신청|등록|신고|제출|내|접수|청구|문의)", r"누구에게 (신청|신고|청구|제출|요청)",
          r"(무엇|뭘|뭐)부터", r"그 ?다음", r"진행(되|하|은|이)", r"(뭘|무엇을) \S+하면 (되|돼)"),
    _rule("적용", "hypothetical-facts",
          r"(?:^|\s)(제가|저는|저희|제게|저한테|저에게)\s", r"(?:^|\s)(우리|제) (집|회사|아이|가게|차|돈|계좌|카드|가족)",
          r"(?:^|\s)([a-z]|갑|을|병)(가|이|는|은|에게|의)\s",
          r"(동료|친구|집주인|남편|아내|아들|딸|아버지|어머니|부모님|엄마|아빠|이웃|형|누나|언니|오빠|동생|사장님|상사)(가|이|는|은|에게|한테)\s",
          r"(?<!궁금해)(?<!싶어)(?<!주세)(?<!있어)(?<!있습니)(요|다)\.\s+\S",
          r"(한|된|인|진|난|받은|당한) 경우(에|라면|에도)?\s[^?]*(수 있|되나|하나요|까요|인가요|나요)"),
    _rule("규정", "rule-cue",
          r"요건", r"의무", r"해야 (하나|합니까|하는지|할까)", r"(야|여야) (하나|합니까|하는지)", r"금지", r"처벌", r"벌칙",
          r"과태료", r"과징금", r"기준", r"얼마", r"몇 ?(년|일|개월|달|살|번|회|명|퍼센트|%)", r"며칠", r"기간", r"언제까지",
          r"한도", r"최고", r"최소", r"최대", r"허용", r"(아|어|해)도 (되|돼)", r"되나요", r"가능한가요", r"효력", r"책임",
          r"자격", r"결격", r"무효", r"원칙", r"수 있나요"),
)


def explain(question: str) -> tuple[str, str]:
    """The type of ``question`` and why: ``"<rule name>: '<the matched text>'"``, or ``"default"``.

    Example:
        >>> explain("육아휴직 vs 육아기 근로시간 단축")
        ('비교', "comparison: 'vs'")
        >>> explain("개인회생을 신청할 때 내야 하는 서류는?")
        ('프로세스', "procedure-noun: '서류'")
    """
    text = fold(question)
    for rule in RULES:
        found = rule.pattern.search(text)
        if found:
            return rule.qtype, f"{rule.name}: {found.group(0).strip()!r}"
    return DEFAULT_TYPE, "default"


def classify(question: str) -> str:
    """One of :data:`QUESTION_TYPES` for ``question``; deterministic, :data:`DEFAULT_TYPE` when no cue matches.

    Example:
        >>> classify("민감정보에 해당하는 정보의 예시를 알려 주세요.")
        '예시'
    """
    return explain(question)[0]


def load_questions(path: str | Path) -> list[dict]:
    """The labelled questions of a JSONL file (``data/questions/questions.jsonl``), each checked for its keys.

    Each line is ``{"id", "question", "type", "positive_passages", "law"}`` plus optional ``split`` and
    ``in_sample``; a line without those keys or with an unknown type raises :class:`InputError` naming it.

    Example:
        >>> rows = load_questions(Path(__file__).parents[2] / "data" / "questions" / "questions.jsonl")  # doctest: +SKIP
        >>> rows[0]["type"] in QUESTION_TYPES  # doctest: +SKIP
        True
    """
    import orjson

    path = Path(path)
    try:
        lines = path.read_bytes().splitlines()
    except OSError as err:
        raise InputError(f"cannot read the question set {path}: {err.strerror or err}") from None
    rows = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = orjson.loads(line)
        except orjson.JSONDecodeError:
            raise InputError(f"{path}:{n}: not a JSON object; fix or remove the line") from None
        missing = [k for k in ("id", "question", "type", "positive_passages", "law") if not isinstance(row, dict) or k not in row]
        if missing:
            raise InputError(f"{path}:{n}: missing {', '.join(missing)}; each line needs id, question, type, "
                             "positive_passages and law")
        if row["type"] not in QUESTION_TYPES:
            raise InputError(f"{path}:{n}: type {row['type']!r} is not one of {', '.join(QUESTION_TYPES)}")
        rows.append(row)
    return rows
