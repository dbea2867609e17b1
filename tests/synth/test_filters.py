import random

import pytest

from lex_dpr.synth.filters import NearDuplicateIndex, QuestionFilter, is_korean, jaccard, shingles
from lex_dpr.utils.text import normalize_query as normalize  # the one definition of "the same question"


def test_normalize_ignores_spacing_punctuation_width_and_case():
    assert normalize("근로자란  무엇인가요?") == normalize("근로자란 무엇인가요 ？") == normalize("근로자란무엇인가요")
    assert normalize("ＫＹＣ 절차") == normalize("kyc절차")
    assert normalize("제1조") != normalize("제2조")


@pytest.mark.parametrize("text, korean", [
    ("전자금융업 등록 요건은 무엇인가요?", True),
    ("KYC 절차는 어떻게 되나요?", True),  # a Latin acronym inside a Korean question
    ("What is the registration requirement?", False),
    ("등록?", False),  # too short to tell
    ("ひらがなのしつもんですか", False),
    ("", False),
])
def test_is_korean(text, korean):
    assert is_korean(text) is korean


def _brute_force(kept: list[set[str]], s: set[str], t: float) -> bool:
    return any(jaccard(s, k) >= t for k in kept)


@pytest.mark.parametrize("threshold", [0.5, 0.7, 0.8, 0.95, 1.0])
def test_prefix_filtered_index_finds_exactly_what_brute_force_finds(threshold):
    """The index's prefix filter may never miss a near-duplicate: same answers as comparing every pair."""
    rng = random.Random(threshold)
    stems = ["근로자", "사용자", "전자금융업", "등록", "인가", "과징금", "해지", "해제", "보험", "계약"]
    tails = ["이란 무엇인가요?", "은 어떻게 해야 하나요?", "의 요건은?", "와 비교하면?", "에 해당하나요?"]
    texts = [" ".join(rng.sample(stems, rng.randint(1, 3))) + rng.choice(tails) + rng.choice(["", " 궁금", "요"])
             for _ in range(400)]
    index = NearDuplicateIndex(threshold)
    kept: list[set[str]] = []
    disagreements = 0
    for text in texts:
        s = shingles(text)
        found = index.find(text)
        expected = _brute_force(kept, s, threshold)
        disagreements += (found is not None) != expected
        if found is not None:
            assert jaccard(s, index.sets[found]) >= threshold
        if not expected:
            index.add(text)
            kept.append(s)
    assert disagreements == 0
    assert 0 < len(kept) < len(texts)  # the generated set has near-duplicates and distinct questions


def test_filter_reasons_in_order_of_checks():
    f = QuestionFilter(threshold=0.8)
    assert f.check(None) == "unparsed"
    assert f.check("짧음?") == "unparsed"
    assert f.check("가" * 201) == "unparsed"
    assert f.check("Is this a question about the law?") == "not_korean"
    assert f.check("개인정보 보호법에서 말하는 개인정보란 무엇인가요?") == "ok"
    assert f.check("개인정보 보호법에서 말하는 ‘개인정보’란 무엇인가요?") == "duplicate"  # quotes only
    assert f.check("개인정보 보호법에서 말하는 개인정보란 무엇인지요?") == "near_duplicate"
    assert f.check("민법에서 말하는 불법행위란 무엇인가요?") == "ok"


def test_threshold_is_checked():
    with pytest.raises(ValueError, match="threshold"):
        NearDuplicateIndex(0)
