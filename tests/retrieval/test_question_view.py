"""Questions in the statutes' words and among the passages that answer them: the lexicon and the type filter."""

from __future__ import annotations

import pytest

from lex_dpr.errors import InputError
from lex_dpr.retrieval.questions import Lexicon, QuestionView, load_lexicon

QUESTION = "고의나 과실로 남에게 손해를 입히면 배상해야 하나요?"
STATEMENT = "불법행위로 인한 손해배상청구권의 소멸시효 기산점"


class Recorder:
    """A retriever over fixed passages that records what it was asked (ids ending in P are precedents)."""

    name = "recorder"

    def __init__(self, ids):
        self.ids, self.asked = list(ids), []

    def rank(self, queries, k):
        self.asked.append((list(queries), k))
        return [[(pid, float(len(self.ids) - i)) for i, pid in enumerate(self.ids)][:k] for _ in queries]


def test_an_entry_matches_when_all_its_everyday_morphemes_occur():
    lex = Lexicon.from_lines(["# comment", "", "결혼\t혼인, 혼인적령", "지갑 줍다\t습득, 유실물", "집주인\t임대인"])
    assert len(lex) == 3
    assert lex.terms("지갑을 주웠는데 주인이 안 나타나요?") == ["습득", "유실물"]  # 주웠 → 줍
    assert lex.terms("지갑을 잃어버렸어요?") == []  # 줍 missing: the whole entry must match
    assert lex.terms("결혼하면 혼인신고를 해야 하나요?") == ["혼인적령"]  # a term the query already has is not added
    assert lex.expand(STATEMENT) == STATEMENT


@pytest.mark.parametrize("line", ["결혼", "결혼\t", "\t혼인", "결혼\t , "])
def test_a_malformed_line_names_its_file_and_line(line, tmp_path):
    path = tmp_path / "lex.tsv"
    path.write_text(f"집주인\t임대인\n{line}\n", encoding="utf-8")
    with pytest.raises(InputError, match=rf"{path.name}:2: expected 'everyday words<TAB>legal term"):
        Lexicon.from_file(path)


def test_missing_and_non_utf8_lexicons_are_one_line(tmp_path):
    with pytest.raises(InputError, match="no such lexicon file"):
        load_lexicon(tmp_path / "none.tsv")
    cp949 = tmp_path / "cp949.tsv"
    cp949.write_bytes("결혼\t혼인\n".encode("cp949"))
    with pytest.raises(InputError, match="not UTF-8"):
        load_lexicon(cp949)
    assert load_lexicon(None) is None and load_lexicon("none") is None


def test_the_builtin_lexicon_loads_and_every_line_parses():
    lex = load_lexicon("builtin")
    assert len(lex) >= 300
    assert all(e.words and e.terms for e in lex.entries)


def test_questions_are_expanded_and_filtered_statements_pass_through():
    ids = [f"P{i}" for i in range(30)] + ["LAW_A", "LAW_B", "LAW_C"]
    inner = Recorder(ids)
    view = QuestionView(inner, Lexicon.from_lines(["과실\t과실상계"]), keep=lambda pid: pid.startswith("LAW"))
    statement, question = view.rank([STATEMENT, QUESTION], 2)
    assert [pid for pid, _ in statement] == ["P0", "P1"]  # unchanged
    assert [pid for pid, _ in question] == ["LAW_A", "LAW_B"]  # read deeper (8, then 32) until 2 were kept
    asked = [q for qs, _ in inner.asked for q in qs]
    assert STATEMENT in asked and QUESTION + "\n과실상계" in asked
    assert [k for _, k in inner.asked] == [2, 8, 32]


def test_the_terms_a_question_gets_do_not_depend_on_the_process_hash_seed():
    import os
    import subprocess
    import sys

    code = ("from lex_dpr.retrieval.questions import load_lexicon; lex = load_lexicon('builtin'); "
            "print([lex.terms(q) for q in ('집주인이 보증금을 안 돌려주고 이사 가래요. 결혼 전에 빌린 돈은요?', "
            "'통장을 빌려줬는데 대출 이자가 너무 높아요?')])")
    runs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("1", "2", "3")}
    assert len(runs) == 1 and "[]" not in runs.pop()[:3]
