"""The labelled question set (data/questions/questions.jsonl): schema, size, splits, balance, Korean text,
answers that exist, and the "hard" flag (no content word shared with the answering articles)."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from pathlib import Path

import orjson
import pytest

from lex_dpr.rag.classify import QUESTION_TYPES, load_questions
from lex_dpr.rag.prompts import hangul_ratio

QUESTIONS = Path(__file__).resolve().parents[2] / "data" / "questions" / "questions.jsonl"
# dev: the 169 questions the classifier rules were written against (Q001-Q169), and questions written later to
# tune retrieval (Q373-), by a session that never read the file; test (Q170-Q372): written after the rules,
# as people ask, and seen by no rule, template or tuning decision.
SPLITS = ("dev", "test")
KEYS = {"id", "question", "type", "positive_passages", "law", "split", "in_sample", "hard"}
# Content words for the hard flag: nouns and verb/adjective stems, compared by surface form.
CONTENT_TAGS = {"NNG", "NNP", "VV", "VA"}


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return load_questions(QUESTIONS)


def _ids(*paths: Path) -> set[str]:
    return {orjson.loads(line)["id"] for p in paths if p.exists() for line in p.read_bytes().splitlines() if line.strip()}


def _normalised(question: str) -> str:
    return re.sub(r"[\W_]+", "", unicodedata.normalize("NFC", question)).lower()


def test_schema(rows):
    for row in rows:
        assert set(row) <= KEYS, row["id"]
        assert re.fullmatch(r"Q\d{3}", row["id"]), row["id"]
        assert row["type"] in QUESTION_TYPES and row["split"] in SPLITS, row["id"]
        assert isinstance(row["question"], str) and row["question"] == row["question"].strip(), row["id"]
        assert row["positive_passages"] and all(isinstance(p, str) and re.fullmatch(r"(LAW|ADM)_\d+_\S+", p)
                                                for p in row["positive_passages"]), row["id"]
        assert len(set(row["positive_passages"])) == len(row["positive_passages"]), row["id"]
        assert isinstance(row["law"], str) and row["law"], row["id"]
        assert row.get("in_sample", True) is True, row["id"]  # present only as true
        assert row.get("hard", True) is True, row["id"]  # present only as true


def test_size_splits_and_spread(rows):
    assert len(rows) >= 300
    assert len({r["id"] for r in rows}) == len(rows)
    per_split = Counter(r["split"] for r in rows)
    assert set(per_split) == set(SPLITS), per_split
    assert per_split["test"] >= 150, per_split
    # the rule-writing questions stay out of the test split
    assert all(r["split"] == "dev" for r in rows if int(r["id"][1:]) <= 169)
    laws = {r["law"] for r in rows}
    assert len(laws) >= 40, len(laws)
    assert len({r["law"] for r in rows if r["positive_passages"][0].startswith("ADM_")}) >= 8  # admin rules
    assert sum(r["law"] != "민법" for r in rows) >= len(rows) // 2  # not a civil-code quiz
    assert sum(r.get("in_sample", False) for r in rows) >= 6


@pytest.mark.parametrize("part", ["rules", "test"])
def test_types_are_balanced_where_the_classifier_is_measured(rows, part):
    # the classifier's rule-writing questions (Q001-Q169) and the test split; the later dev questions tune
    # retrieval and are as people ask (most of them about their own situation: 적용)
    chosen = [r for r in rows if (int(r["id"][1:]) <= 169 if part == "rules" else r["split"] == "test")]
    per_type = Counter(r["type"] for r in chosen)
    assert set(per_type) == set(QUESTION_TYPES), per_type
    mean = sum(per_type.values()) / len(QUESTION_TYPES)
    assert all(abs(n - mean) <= 3 for n in per_type.values()), per_type


def test_every_type_is_in_the_dev_split(rows):
    per_type = Counter(r["type"] for r in rows if r["split"] == "dev")
    assert set(per_type) == set(QUESTION_TYPES) and min(per_type.values()) >= 30, per_type


def test_hard_questions_are_in_the_test_split(rows):
    hard = [r for r in rows if r.get("hard")]
    assert all(r["split"] == "test" for r in hard), [r["id"] for r in hard if r["split"] != "test"]
    assert len(hard) >= 50, len(hard)


def test_no_duplicate_questions(rows):
    seen: dict[str, str] = {}
    for row in rows:
        key = _normalised(row["question"])
        assert key not in seen, (row["id"], seen.get(key))
        seen[key] = row["id"]


def test_questions_are_korean_questions(rows):
    for row in rows:
        assert hangul_ratio(row["question"]) >= 0.9, row["id"]
        assert 8 <= len(row["question"]) <= 120, row["id"]


def test_in_sample_marks_exactly_the_questions_the_sample_corpus_answers(rows, sample_passages):
    # the sample corpus as `bash scripts/pipeline.sh data/sample out/sample` builds it (law and admin passages)
    sample = _ids(sample_passages["law"], sample_passages["admin"])
    for row in rows:
        answered = all(p in sample for p in row["positive_passages"])
        assert answered == row.get("in_sample", False), row["id"]


@pytest.fixture(scope="module")
def shared_passages(shared_dir, tmp_path_factory) -> dict[str, str]:
    """Law and admin-rule passages of the shared corpus, id -> text (precedents are never answers here)."""
    from lex_dpr.data.preprocess import preprocess

    texts: dict[str, str] = {}
    for pattern in ("laws/**/*.json", "admin_rules/**/*.json"):  # skip the 20k precedent files
        out = tmp_path_factory.mktemp("shared")  # a fresh folder per pattern: preprocess never empties a file
        paths = {k: out / f"{k}.jsonl" for k in ("law", "admin", "prec")}
        preprocess(shared_dir, paths["law"], paths["admin"], paths["prec"], pattern=pattern)
        for path in (paths["law"], paths["admin"]):
            if path.exists():
                for line in path.read_bytes().splitlines():
                    if line.strip():
                        passage = orjson.loads(line)
                        texts[passage["id"]] = passage["text"]
    return texts


@pytest.mark.shared_data
def test_every_positive_is_a_passage_of_the_shared_corpus(rows, shared_passages):
    assert len(shared_passages) > 7000
    missing = {r["id"]: p for r in rows for p in r["positive_passages"] if p not in shared_passages}
    assert not missing


@pytest.mark.shared_data
def test_hard_questions_share_no_content_word_with_their_articles(rows, shared_passages):
    kiwipiepy = pytest.importorskip("kiwipiepy")
    kiwi = kiwipiepy.Kiwi()

    def content_words(text: str) -> set[str]:
        return {t.form for t in kiwi.tokenize(text) if t.tag.split("-")[0] in CONTENT_TAGS}

    hard = [r for r in rows if r.get("hard")]
    shared = {}
    for row in hard:
        article_words = set().union(*(content_words(shared_passages[p]) for p in row["positive_passages"]))
        overlap = content_words(row["question"]) & article_words
        if overlap:
            shared[row["id"]] = sorted(overlap)
    assert not shared
