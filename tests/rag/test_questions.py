"""The labelled question set (data/questions/questions.jsonl): schema, balance, Korean text, and answers that exist."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import orjson
import pytest

from lex_dpr.rag.classify import QUESTION_TYPES, load_questions
from lex_dpr.rag.prompts import hangul_ratio

QUESTIONS = Path(__file__).resolve().parents[2] / "data" / "questions" / "questions.jsonl"
SPLITS = {"dev", "test", "heldout1", "heldout2", "heldout3"}
KEYS = {"id", "question", "type", "positive_passages", "law", "split", "in_sample"}


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return load_questions(QUESTIONS)


def _ids(*paths: Path) -> set[str]:
    return {orjson.loads(line)["id"] for p in paths if p.exists() for line in p.read_bytes().splitlines() if line.strip()}


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


def test_balance_uniqueness_and_spread(rows):
    per_type = Counter(r["type"] for r in rows)
    assert min(per_type[t] for t in QUESTION_TYPES) >= 12, per_type
    assert len({r["id"] for r in rows}) == len(rows)
    assert len({" ".join(r["question"].split()) for r in rows}) == len(rows)
    assert len({r["law"] for r in rows}) >= 20
    assert sum(r["law"] != "민법" for r in rows) >= len(rows) // 2  # not a civil-code quiz
    assert any(p.startswith("ADM_") for r in rows for p in r["positive_passages"])  # admin rules too
    assert sum(r.get("in_sample", False) for r in rows) >= 6
    for split in SPLITS:
        assert {r["type"] for r in rows if r["split"] == split} == set(QUESTION_TYPES), split


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


@pytest.mark.shared_data
def test_every_positive_is_a_passage_of_the_shared_corpus(rows, shared_dir, tmp_path):
    from lex_dpr.data.preprocess import preprocess

    out = {k: tmp_path / f"{k}.jsonl" for k in ("law", "admin", "prec")}
    passages = set()
    for pattern in ("laws/**/*.json", "admin_rules/**/*.json"):  # precedents are not answers here; skip 20k files
        preprocess(shared_dir, out["law"], out["admin"], out["prec"], pattern=pattern)
        passages |= _ids(out["law"], out["admin"])
    assert len(passages) > 7000
    missing = {r["id"]: p for r in rows for p in r["positive_passages"] if p not in passages}
    assert not missing
