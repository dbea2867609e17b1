"""Statute passages for the synth tests: the sample's law and admin articles, preprocessed once."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "llm"))  # tiny_lm, shared with the LLM tests


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def statute_passages(sample_passages, tmp_path_factory) -> Path:
    """The sample's law + admin passages in one file (33 articles of 민법, 개인정보 보호법 and two admin rules)."""
    path = tmp_path_factory.mktemp("synth") / "statutes.jsonl"
    path.write_bytes(sample_passages["law"].read_bytes() + sample_passages["admin"].read_bytes())
    return path


@pytest.fixture(scope="session")
def statute_records(statute_passages) -> dict[str, dict]:
    import orjson

    return {r["id"]: r for r in map(orjson.loads, statute_passages.read_bytes().splitlines())}
