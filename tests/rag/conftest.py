"""An index over the sample corpus (the static model trained on the sample, and BM25), built once per session."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "llm"))  # tiny_lm, shared with the LLM tests


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    """No network: huggingface_hub reads $HF_HUB_OFFLINE once, at import, so its constant is set too."""
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)


@pytest.fixture(scope="session")
def sample_index(sample_training_data, trained_run, tmp_path_factory) -> Path:
    from lex_dpr.retrieval.index import build_index

    out = tmp_path_factory.mktemp("rag") / "index"
    build_index(sample_training_data["passages"], out, model=str(trained_run))
    return out


@pytest.fixture
def index_copy(sample_index, tmp_path) -> Path:
    """A private copy (tests that write the index's settings or cache)."""
    import shutil

    return Path(shutil.copytree(sample_index, tmp_path / "index"))
